//! The CiliumNetworkPolicy, CiliumClusterwideNetworkPolicy and NetworkPolicy documents of the
//! public corpus (`../shared/corpus` or `$POLC_CORPUS`): what must be accepted is accepted, what
//! must be rejected is rejected with the right codes, and every error polc reports in a policy
//! document is one of the genuine problems listed here. Without the corpus the tests say they
//! are skipped and pass.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use polc_compiler::diag::Severity;
use polc_compiler::frontend::{Options, parse};
use polc_compiler::source::{SourceId, SourceMap};
use polc_compiler::yaml::{Limits, Value, parse_stream};

const POLICY_KINDS: &[&str] = &["CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy", "NetworkPolicy"];

fn corpus_dir() -> Option<PathBuf> {
    let candidates = std::env::var_os("POLC_CORPUS").map(PathBuf::from).into_iter().chain([Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus")]);
    for candidate in candidates {
        if candidate.join("cilium/cilium/examples/policies").is_dir() {
            return Some(candidate);
        }
    }
    eprintln!("skipped: the corpus is absent (set POLC_CORPUS or provide ../shared/corpus)");
    None
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut paths: Vec<PathBuf> = entries.filter_map(|entry| entry.ok().map(|entry| entry.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            yaml_files(&path, out);
        } else if path.extension().is_some_and(|extension| extension == "yaml" || extension == "yml") {
            out.push(path);
        }
    }
}

/// One finding: code, severity, line, and the kind of the document it is in (if known).
#[derive(Debug)]
struct Finding {
    code: &'static str,
    severity: Severity,
    line: u32,
    kind: Option<String>,
    message: String,
}

/// The `kind` of each document of `text`, by document index.
fn document_kinds(text: &str) -> BTreeMap<usize, String> {
    let stream = parse_stream(SourceId(0), text, &Limits::default());
    let mut kinds = BTreeMap::new();
    for document in stream.documents {
        if let Some(kind) = document.root.get("kind").and_then(|kind| match &kind.value {
            Value::Scalar(scalar) => Some(scalar.text.clone()),
            _ => None,
        }) {
            kinds.insert(document.index, kind);
        }
    }
    kinds
}

fn lint(path: &Path) -> (String, Vec<Finding>) {
    let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
    let kinds = document_kinds(&text);
    let mut sources = SourceMap::default();
    sources.add(path.display().to_string(), text.clone());
    let findings = parse(&sources, &Options::default())
        .diagnostics
        .into_iter()
        .map(|diagnostic| {
            let location = diagnostic.location.as_ref();
            Finding {
                code: diagnostic.code.id,
                severity: diagnostic.severity,
                line: location.map_or(0, |location| location.span.start.line),
                kind: location.and_then(|location| location.document).and_then(|document| kinds.get(&document).cloned()),
                message: diagnostic.message,
            }
        })
        .collect();
    (text, findings)
}

fn relative(corpus: &Path, path: &Path) -> String {
    path.strip_prefix(corpus).unwrap_or(path).display().to_string()
}

fn has_policy_document(text: &str) -> bool {
    document_kinds(text).values().any(|kind| POLICY_KINDS.contains(&kind.as_str()))
}

/// Errors of policy documents (or of no known document, like YAML syntax errors).
fn policy_errors(findings: &[Finding]) -> Vec<&Finding> {
    findings.iter().filter(|finding| finding.severity == Severity::Error && finding.kind.as_deref().is_none_or(|kind| POLICY_KINDS.contains(&kind))).collect()
}

/// Genuine problems of upstream policy files that are not templates: (file, code).
const GENUINE_ERRORS: &[(&str, &str)] = &[
    // `auth: {type: "null"}` is the pre-1.14 spelling of `authentication: {mode: ...}`.
    ("cilium/cilium/examples/policies/auth/auth.yaml", "PLC2001"),
    // `description` written in `metadata`; it is a field of `spec`.
    ("cilium/cilium/examples/policies/kubernetes/clustermesh/cross-cluster-policy.yaml", "PLC2001"),
    // `operator: "in"`: the CRD's enum is `In`, `NotIn`, `Exists`, `DoesNotExist`.
    ("cilium/cilium/examples/policies/l3/match-expressions/and-statement.yaml", "PLC2004"),
    ("cilium/cilium/examples/policies/l3/match-expressions/or-statement.yaml", "PLC2004"),
    // `fromRequires` was removed in Cilium 1.19.
    ("cilium/cilium/examples/policies/l3/requires/requires.yaml", "PLC3011"),
    // Deliberately broken upstream: `description` at the top level, `podSelector`, `egress` as a map.
    ("cilium/cilium/examples/minikube/malformed_policy.yaml", "PLC2001"),
    ("cilium/cilium/examples/minikube/malformed_policy.yaml", "PLC2002"),
    // Deliberately broken upstream: HTTP rules on a UDP port.
    ("cilium/cilium/test/k8s/manifests/invalid_cnp.yaml", "PLC3040"),
];

/// Placeholders that a test harness substitutes before applying the file.
fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("NODE_WITHOUT_CILIUM_IP")
}

#[test]
fn examples_policies_are_accepted_except_genuine_upstream_bugs() {
    let Some(corpus) = corpus_dir() else { return };
    let mut files = Vec::new();
    yaml_files(&corpus.join("cilium/cilium/examples/policies"), &mut files);
    assert!(files.len() > 40, "expected the policy examples, found {} files", files.len());
    let mut found = BTreeSet::new();
    for path in &files {
        let (_, findings) = lint(path);
        for finding in findings.iter().filter(|finding| finding.severity == Severity::Error) {
            found.insert((relative(&corpus, path), finding.code));
        }
    }
    let expected: BTreeSet<(String, &str)> =
        GENUINE_ERRORS.iter().filter(|(file, _)| file.starts_with("cilium/cilium/examples/policies/")).map(|(file, code)| (file.to_string(), *code)).collect();
    assert_eq!(found, expected);
}

#[test]
fn malformed_policy_is_rejected() {
    let Some(corpus) = corpus_dir() else { return };
    let (_, findings) = lint(&corpus.join("cilium/cilium/examples/minikube/malformed_policy.yaml"));
    let errors: Vec<(&str, u32)> = findings.iter().filter(|finding| finding.severity == Severity::Error).map(|finding| (finding.code, finding.line)).collect();
    // `description` at the top level, `podSelector` instead of `endpointSelector`, `egress` a map.
    assert_eq!(errors, vec![("PLC2001", 4), ("PLC2001", 8), ("PLC2002", 12)], "{findings:#?}");
    assert_eq!(findings[1].message, "unknown field `podSelector` in `spec`");
}

#[test]
fn invalid_cnp_is_rejected_for_http_on_udp() {
    let Some(corpus) = corpus_dir() else { return };
    let (_, findings) = lint(&corpus.join("cilium/cilium/test/k8s/manifests/invalid_cnp.yaml"));
    let errors: Vec<(&str, u32)> = findings.iter().filter(|finding| finding.severity == Severity::Error).map(|finding| (finding.code, finding.line)).collect();
    assert_eq!(errors, vec![("PLC3040", 16)], "{findings:#?}");
    assert!(findings[0].message.contains("not `UDP`"), "{}", findings[0].message);
}

#[test]
fn every_policy_document_error_is_a_known_genuine_problem() {
    let Some(corpus) = corpus_dir() else { return };
    let mut files = Vec::new();
    yaml_files(&corpus, &mut files);
    let mut policy_files = 0;
    let mut found = BTreeSet::new();
    let mut template_files_with_errors = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        // Templates that do not parse still count when they name a policy kind.
        let templated_policy = is_template(&text) && POLICY_KINDS.iter().any(|kind| text.contains(&format!("kind: {kind}")));
        if !(has_policy_document(&text) || templated_policy) {
            continue;
        }
        policy_files += 1;
        let (text, findings) = lint(path);
        let errors = policy_errors(&findings);
        assert!(errors.iter().all(|finding| finding.code != "PLC2099"), "{}: decode failure {errors:#?}", path.display());
        if is_template(&text) {
            // Template placeholders: every error other than a YAML syntax error must sit on a
            // line holding a placeholder.
            for finding in &errors {
                if finding.code == "PLC1001" {
                    continue;
                }
                let line = text.lines().nth(finding.line.saturating_sub(1) as usize).unwrap_or("");
                assert!(line.contains("{{") || line.contains("NODE_WITHOUT_CILIUM_IP"), "{}:{}: {finding:#?}", path.display(), finding.line);
            }
            template_files_with_errors += usize::from(!errors.is_empty());
            continue;
        }
        for finding in errors {
            found.insert((relative(&corpus, path), finding.code));
        }
    }
    assert!(policy_files > 150, "expected the corpus policy files, found {policy_files}");
    assert!(template_files_with_errors > 10, "expected the templated connectivity-test manifests to fail, found {template_files_with_errors}");
    let expected: BTreeSet<(String, &str)> = GENUINE_ERRORS.iter().map(|(file, code)| (file.to_string(), *code)).collect();
    assert_eq!(found, expected);
}

#[test]
fn network_policy_recipes_and_kubernetes_docs_are_clean() {
    let Some(corpus) = corpus_dir() else { return };
    let mut files = Vec::new();
    yaml_files(&corpus.join("ahmetb/kubernetes-network-policy-recipes"), &mut files);
    yaml_files(&corpus.join("kubernetes/website"), &mut files);
    let mut checked = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if !has_policy_document(&text) {
            continue;
        }
        checked += 1;
        let (_, findings) = lint(path);
        let problems: Vec<&Finding> = findings
            .iter()
            .filter(|finding| finding.severity != Severity::Note && finding.kind.as_deref().is_none_or(|kind| POLICY_KINDS.contains(&kind)))
            .collect();
        assert!(problems.is_empty(), "{}: {problems:#?}", path.display());
    }
    assert!(checked >= 15, "expected the recipes and the Kubernetes docs, found {checked} policy files");
}
