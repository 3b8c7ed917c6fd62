//! End-to-end behaviour of the front end's core: documents, headers, lists, and locations.

use polc_compiler::{Options, SourceMap, codes, parse};

fn lint(text: &str) -> polc_compiler::Parsed {
    let mut sources = SourceMap::new();
    sources.add("input.yaml", text);
    parse(&sources, &Options::default())
}

fn codes_of(parsed: &polc_compiler::Parsed) -> Vec<&'static str> {
    parsed.diagnostics.iter().map(|d| d.code.id).collect()
}

#[test]
fn unmodeled_kinds_are_skipped_with_a_note() {
    let parsed = lint("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n");
    assert_eq!(codes_of(&parsed), [codes::UNMODELED_KIND.id]);
    assert!(!parsed.has_errors());
    assert_eq!(parsed.skipped, [("Deployment".to_owned(), 1)]);
}

#[test]
fn missing_header_is_an_error() {
    let parsed = lint("metadata: {name: x}\n");
    assert_eq!(codes_of(&parsed), [codes::MISSING_HEADER.id]);
}

#[test]
fn wrong_api_version_names_the_accepted_ones() {
    let parsed = lint("apiVersion: cilium.io/v1\nkind: CiliumNetworkPolicy\nmetadata: {name: x}\nspec: {endpointSelector: {}, ingress: [{}]}\n");
    assert_eq!(codes_of(&parsed), [codes::UNSUPPORTED_API_VERSION.id]);
    assert!(parsed.objects.is_empty(), "an object at an unaccepted version is not passed on");
    assert!(parsed.diagnostics[0].help.as_deref().unwrap_or("").contains("cilium.io/v2"));
}

#[test]
fn a_kind_in_the_wrong_case_is_an_error_with_the_right_spelling() {
    let parsed = lint("apiVersion: cilium.io/v2\nkind: CiliumNetworkpolicy\nmetadata: {name: x}\n");
    assert!(parsed.has_errors());
    assert!(parsed.diagnostics[0].help.as_deref().unwrap_or("").contains("CiliumNetworkPolicy"));
}

#[test]
fn lists_are_unpacked_and_paths_include_the_item() {
    let text = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: apps/v1\n  kind: Deployment\n- apiVersion: cilium.io/v2\n  kind: CiliumNetworkPolicy\n  metadata: {name: x, bogus: 1}\n";
    let parsed = lint(text);
    let unknown: Vec<_> = parsed.diagnostics.iter().filter(|d| d.code.id == codes::UNKNOWN_FIELD.id).collect();
    assert_eq!(unknown.len(), 1, "{:?}", parsed.diagnostics);
    let location = unknown[0].location.as_ref().unwrap();
    assert_eq!(location.path.as_ref().unwrap().to_string(), "items[1].metadata.bogus");
    assert_eq!(location.span.start.line, 8);
}

#[test]
fn every_finding_of_a_document_is_reported_at_once() {
    let text = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: x\n  namespace: Not_Valid\n  labels: {a: 1}\n  bogus: true\n";
    let parsed = lint(text);
    let found = codes_of(&parsed);
    assert!(found.contains(&codes::PATTERN_MISMATCH.id), "{found:?}");
    assert!(found.contains(&codes::WRONG_TYPE.id), "{found:?}");
    assert!(found.contains(&codes::UNKNOWN_FIELD.id), "{found:?}");
    let lines: Vec<u32> = parsed.diagnostics.iter().map(|d| d.location.as_ref().unwrap().span.start.line).collect();
    assert_eq!(lines, [5, 6, 7]);
}

#[test]
fn a_document_that_is_not_a_mapping_is_reported() {
    let parsed = lint("- a\n- b\n");
    assert_eq!(codes_of(&parsed), [codes::NOT_A_MAPPING.id]);
}

#[test]
fn documents_before_a_syntax_error_are_still_checked() {
    let parsed = lint("apiVersion: v1\nkind: Bogus\n---\na: [1, 2\n");
    let found = codes_of(&parsed);
    assert!(found.contains(&codes::UNMODELED_KIND.id), "{found:?}");
    assert!(found.contains(&codes::YAML_SYNTAX.id), "{found:?}");
}

#[test]
fn nul_bytes_are_not_text() {
    let parsed = lint("apiVersion: v1\u{0}\n");
    assert_eq!(codes_of(&parsed), [codes::NOT_UTF8.id]);
}

#[test]
fn output_is_deterministic() {
    let text = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: x, a: 1, b: 2, c: 3}\n";
    let first = format!("{:?}", lint(text).diagnostics);
    for _ in 0..5 {
        assert_eq!(format!("{:?}", lint(text).diagnostics), first);
    }
}

#[test]
fn a_field_one_level_too_high_gets_indentation_advice_naming_a_sibling() {
    let text = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r, namespace: default}\nspec:\n  parentRefs: [{name: gw}]\n  rules:\n  - matches:\n    - path: {type: PathPrefix, value: /}\n  backendRefs:\n  - {name: web, port: 80}\n";
    let parsed = lint(text);
    let unknown = parsed.diagnostics.iter().find(|d| d.code.id == codes::UNKNOWN_FIELD.id).expect("unknown field reported");
    assert_eq!(unknown.location.as_ref().unwrap().span.start.line, 9);
    assert_eq!(
        unknown.help.as_deref(),
        Some("`backendRefs` belongs in `spec.rules[]`, not in `spec`: indent it into each item of `spec.rules`, beside `matches`")
    );
}

#[test]
fn a_field_one_level_too_low_gets_outdent_advice() {
    let text = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: {name: r, namespace: default}\nspec:\n  parentRefs: [{name: gw}]\n  rules:\n  - matches:\n    - path: {type: PathPrefix, value: /}\n      backendRefs:\n      - {name: web, port: 80}\n";
    let parsed = lint(text);
    let unknown = parsed.diagnostics.iter().find(|d| d.code.id == codes::UNKNOWN_FIELD.id).expect("unknown field reported");
    assert_eq!(
        unknown.help.as_deref(),
        Some("`backendRefs` belongs in `spec.rules[]`, not in `spec.rules[].matches[]`: outdent it to `spec.rules[]`, beside `matches`")
    );
}
