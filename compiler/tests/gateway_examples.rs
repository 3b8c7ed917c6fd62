//! The curated Gateway API examples (`policies/examples/gateway/`): each file, and all of
//! them together, lint without errors or warnings; together they use every Gateway API kind;
//! each corrected talk example says what was fixed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use polc_compiler::diag::Severity;
use polc_compiler::{Options, SourceMap, parse};

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/examples/gateway")
}

fn example_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples_dir())
        .expect("policies/examples/gateway exists")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "yaml"))
        .collect();
    files.sort();
    files
}

fn lint(paths: &[PathBuf]) -> polc_compiler::Parsed {
    let mut sources = SourceMap::new();
    for path in paths {
        let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
        sources.add(path.display().to_string(), text);
    }
    parse(&sources, &Options::default())
}

fn problems(parsed: &polc_compiler::Parsed) -> Vec<String> {
    parsed
        .diagnostics
        .iter()
        .filter(|diagnostic| diagnostic.severity != Severity::Note)
        .map(|diagnostic| {
            let line = diagnostic.location.as_ref().map_or(0, |location| location.span.start.line);
            format!("{} line {line}: {}", diagnostic.code.id, diagnostic.message)
        })
        .collect()
}

#[test]
fn every_example_lints_clean_alone() {
    let files = example_files();
    assert!(files.len() >= 15, "{files:?}");
    for file in &files {
        let parsed = lint(std::slice::from_ref(file));
        assert!(problems(&parsed).is_empty(), "{}: {:#?}", file.display(), problems(&parsed));
        assert!(!parsed.objects.is_empty(), "{}: no object decoded", file.display());
    }
}

#[test]
fn all_examples_together_lint_clean_and_attach() {
    let parsed = lint(&example_files());
    assert!(problems(&parsed).is_empty(), "{:#?}", problems(&parsed));
    // Together, every route names a Gateway of the set: the cross-object checks had
    // something to check.
    let gateways: BTreeSet<(String, String)> = parsed
        .objects
        .iter()
        .filter(|object| object.kind() == "Gateway")
        .map(|object| (object.namespace().unwrap_or("default").to_owned(), object.name().to_owned()))
        .collect();
    let routes = parsed.objects.iter().filter(|object| matches!(object.kind(), "HTTPRoute" | "GRPCRoute" | "TLSRoute")).count();
    assert!(routes >= 12 && gateways.len() >= 8, "{routes} routes, gateways {gateways:?}");
}

#[test]
fn the_examples_use_every_gateway_api_kind() {
    let parsed = lint(&example_files());
    let kinds: BTreeSet<&str> = parsed.objects.iter().map(|object| object.kind()).collect();
    for kind in ["GatewayClass", "Gateway", "HTTPRoute", "GRPCRoute", "TLSRoute", "ReferenceGrant"] {
        assert!(kinds.contains(kind), "no {kind} among {kinds:?}");
    }
    let classes: Vec<&polc_compiler::Object> = parsed.objects.iter().filter(|object| object.kind() == "GatewayClass").collect();
    assert_eq!(classes.len(), 1);
    assert_eq!(classes[0].name(), "cilium");
}

#[test]
fn the_examples_live_with_the_other_examples_without_findings_of_this_area() {
    let mut files = Vec::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/examples");
    let mut pending = vec![root];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().filter_map(Result::ok) {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|extension| extension == "yaml" || extension == "yml") {
                files.push(path);
            }
        }
    }
    files.sort();
    let parsed = lint(&files);
    let gateway_findings: Vec<String> = problems(&parsed).into_iter().filter(|problem| problem.starts_with("PLC4")).collect();
    assert!(gateway_findings.is_empty(), "{gateway_findings:#?}");
}

#[test]
fn every_talk_example_is_corrected_and_says_what_was_fixed() {
    for id in ["000-06", "001-02", "001-03", "001-04", "001-05", "001-06", "001-07", "001-08", "001-09", "001-10", "001-11", "004-00"] {
        let file = example_files()
            .into_iter()
            .find(|file| file.file_name().is_some_and(|name| name.to_string_lossy().starts_with(&format!("talk-{id}-"))))
            .unwrap_or_else(|| panic!("no corrected version of talk example {id}"));
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let first = text.lines().next().unwrap_or_default();
        assert!(first.starts_with(&format!("# Talk example {id} (")), "{}: {first}", file.display());
        let header: String = text.lines().take_while(|line| line.starts_with('#')).collect::<Vec<_>>().join("\n");
        assert!(header.contains("Fixed") || header.contains("Nothing") || header.contains("rewritten"), "{}: the header says what was fixed", file.display());
    }
}
