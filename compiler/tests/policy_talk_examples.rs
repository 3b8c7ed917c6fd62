//! The network-policy talk examples (`shared/talk-examples/001-01`, `002-08`, `002-09`,
//! `004-02` … `004-06`): the broken ones get the precise code, line and help; the correct ones,
//! and every corrected version under `policies/examples/cilium-policy/`, lint clean.

use std::path::{Path, PathBuf};

use polc_compiler::diag::Severity;
use polc_compiler::frontend::{Options, parse};
use polc_compiler::source::SourceMap;

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `shared/talk-examples`, or `None` (the test then says it is skipped).
fn talk_examples_dir() -> Option<PathBuf> {
    let from_corpus = std::env::var_os("POLC_CORPUS").map(|corpus| PathBuf::from(corpus).join("../talk-examples"));
    let candidates = from_corpus.into_iter().chain([workspace_root().join("../shared/talk-examples")]);
    for candidate in candidates {
        if candidate.join("001-01-ciliumnetworkpolicy.yaml").is_file() {
            return Some(candidate);
        }
    }
    eprintln!("skipped: the talk examples are absent (looked in ../shared/talk-examples and $POLC_CORPUS/../talk-examples)");
    None
}

/// One finding: code, severity, 1-based line, message, help.
#[derive(Debug)]
struct Finding {
    code: &'static str,
    severity: Severity,
    line: u32,
    message: String,
    help: Option<String>,
}

impl Finding {
    fn help(&self) -> &str {
        self.help.as_deref().unwrap_or("")
    }
}

fn lint_texts(texts: &[(String, String)]) -> Vec<Finding> {
    let mut sources = SourceMap::default();
    for (name, text) in texts {
        sources.add(name.clone(), text.clone());
    }
    parse(&sources, &Options::default())
        .diagnostics
        .into_iter()
        .map(|diagnostic| Finding {
            code: diagnostic.code.id,
            severity: diagnostic.severity,
            line: diagnostic.location.as_ref().map_or(0, |location| location.span.start.line),
            message: diagnostic.message,
            help: diagnostic.help,
        })
        .collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()))
}

/// The text of a talk example, or `None` when the talk examples are absent.
fn talk_text(name: &str) -> Option<String> {
    Some(read(&talk_examples_dir()?.join(name)))
}

fn lint_talk(name: &str) -> Option<Vec<Finding>> {
    Some(lint_texts(&[(name.to_owned(), talk_text(name)?)]))
}

#[test]
fn talk_001_01_authentication_ports_and_rules_outside_the_ingress_item() {
    let Some(found) = lint_talk("001-01-ciliumnetworkpolicy.yaml") else { return };
    assert_eq!(found.len(), 3, "{found:#?}");
    assert!(found.iter().all(|finding| finding.code == "PLC2001" && finding.severity == Severity::Error), "{found:#?}");
    assert_eq!((found[0].line, found[0].message.as_str()), (15, "unknown field `authentication` in `spec`"));
    assert!(found[0].help().contains("belongs in `spec.ingress[]`"), "{}", found[0].help());
    assert_eq!((found[1].line, found[1].message.as_str()), (17, "unknown field `toPorts` in `spec`"));
    assert!(found[1].help().contains("belongs in `spec.ingress[]`"), "{}", found[1].help());
    assert_eq!((found[2].line, found[2].message.as_str()), (21, "unknown field `rules` in `spec`"));
    assert!(found[2].help().contains("belongs in `spec.ingress[].toPorts[]`"), "{}", found[2].help());
}

#[test]
fn talk_002_08_clusterwide_policy_is_clean() {
    let Some(found) = lint_talk("002-08-ciliumclusterwidenetworkpolicy.yaml") else { return };
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn talk_002_09_auth_is_called_authentication() {
    let Some(found) = lint_talk("002-09-ciliumnetworkpolicy.yaml") else { return };
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!((found[0].code, found[0].severity, found[0].line), ("PLC2001", Severity::Error, 13));
    assert_eq!(found[0].message, "unknown field `auth` in `spec.ingress[]`");
    assert!(found[0].help().contains("`authentication: {mode: required}`"), "{}", found[0].help());
}

#[test]
fn talk_004_02_to_004_04_are_clean() {
    for name in ["004-02-ciliumnetworkpolicy.yaml", "004-03-ciliumnetworkpolicy.yaml", "004-04-ciliumnetworkpolicy.yaml"] {
        let Some(found) = lint_talk(name) else { return };
        assert!(found.is_empty(), "{name}: {found:#?}");
    }
}

#[test]
fn talk_004_05_placeholder_is_not_yaml() {
    let Some(found) = lint_talk("004-05-ciliumnetworkpolicy.yaml") else { return };
    assert_eq!(found.len(), 1, "{found:#?}");
    // `[...]` on line 3 stands for elided metadata; the parser gives up where `specs:` follows.
    assert_eq!((found[0].code, found[0].severity, found[0].line), ("PLC1001", Severity::Error, 4));
}

#[test]
fn talk_004_05_with_metadata_shows_the_misplaced_fields_and_the_pattern() {
    let Some(text) = talk_text("004-05-ciliumnetworkpolicy.yaml") else { return };
    // Replace the slide's `[...]` with metadata on the same line, so line numbers stay.
    let text = text.replacen("[...]", "metadata: {name: fqdn, namespace: default}", 1);
    let found = lint_texts(&[("004-05.yaml".to_owned(), text)]);
    assert_eq!(found.len(), 3, "{found:#?}");
    assert_eq!((found[0].code, found[0].line), ("PLC2001", 6));
    assert_eq!(found[0].message, "unknown field `matchLabels` in `specs[]`");
    assert!(found[0].help().contains("belongs in `specs[].endpointSelector`"), "{}", found[0].help());
    assert_eq!((found[1].code, found[1].line), ("PLC2005", 10));
    assert!(found[1].help().contains("use `matchPattern`"), "{}", found[1].help());
    assert_eq!((found[2].code, found[2].line), ("PLC2001", 11));
    assert_eq!(found[2].message, "unknown field `toPorts` in `specs[]`");
    assert!(found[2].help().contains("belongs in `specs[].egress[]`"), "{}", found[2].help());
}

#[test]
fn talk_004_06_to_endpoints_outside_the_list() {
    let Some(found) = lint_talk("004-06-ciliumnetworkpolicy.yaml") else { return };
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!((found[0].code, found[0].severity, found[0].line), ("PLC1001", Severity::Error, 22));
}

#[test]
fn talk_004_06_as_a_list_item_shows_the_labels_outside_match_labels() {
    let Some(text) = talk_text("004-06-ciliumnetworkpolicy.yaml") else { return };
    // Make `toEndpoints` the third egress item, as meant; the labels stay one level too high.
    let text = text.replacen("\n    toEndpoints:", "\n    - toEndpoints:", 1);
    let found = lint_texts(&[("004-06.yaml".to_owned(), text)]);
    assert_eq!(found.len(), 2, "{found:#?}");
    for (finding, (line, label)) in found.iter().zip([(24, "class"), (25, "org")]) {
        assert_eq!((finding.code, finding.line), ("PLC2001", line), "{finding:#?}");
        assert_eq!(finding.message, format!("unknown field `{label}` in `spec.egress[].toEndpoints[]`"));
        assert!(finding.help().contains("indent it under `matchLabels:`"), "{}", finding.help());
    }
}

fn corrected_examples() -> Vec<PathBuf> {
    let dir = workspace_root().join("policies/examples/cilium-policy");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("reading {}: {error}", dir.display()))
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.file_name().and_then(|name| name.to_str()).is_some_and(|name| name.starts_with("talk-")))
        .collect();
    paths.sort();
    paths
}

#[test]
fn corrected_talk_examples_are_clean() {
    let paths = corrected_examples();
    let names: Vec<String> = paths.iter().filter_map(|path| path.file_name()?.to_str().map(str::to_owned)).collect();
    for expected in [
        "talk-001-01-ciliumnetworkpolicy.yaml",
        "talk-002-08-ciliumclusterwidenetworkpolicy.yaml",
        "talk-002-09-ciliumnetworkpolicy.yaml",
        "talk-004-02-ciliumnetworkpolicy.yaml",
        "talk-004-03-ciliumnetworkpolicy.yaml",
        "talk-004-04-ciliumnetworkpolicy.yaml",
        "talk-004-05-ciliumnetworkpolicy.yaml",
        "talk-004-06-ciliumnetworkpolicy.yaml",
    ] {
        assert!(names.iter().any(|name| name == expected), "missing corrected example {expected}");
    }
    for path in &paths {
        let found = lint_texts(&[(path.display().to_string(), read(path))]);
        assert!(found.is_empty(), "{}: {found:#?}", path.display());
    }
}
