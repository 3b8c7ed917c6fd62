//! The Gateway API talk examples (`shared/talk-examples/000-06`, `001-02` … `001-11`,
//! `004-00`): the broken ones get the precise code, line and help; the correct ones lint
//! clean. Their corrected versions under `policies/examples/gateway/` are tested in
//! `gateway_examples.rs`.

use polc_compiler::diag::Severity;

mod talk_support;
use talk_support::{Finding, lint_files, talk_example, talk_examples_dir};

/// Asserts that `finding` reports `field` one level too high in an HTTPRoute, with help
/// saying it belongs in the rule.
fn assert_misplaced_in_rule(finding: &Finding, field: &str, line: u32) {
    assert_eq!((finding.code, finding.severity, finding.line), ("PLC2001", Severity::Error, line), "{finding:#?}");
    assert_eq!(finding.message, format!("unknown field `{field}` in `spec`"));
    let help = finding.help.as_deref().unwrap_or_default();
    assert!(help.starts_with(&format!("`{field}` belongs in `spec.rules[]`, not in `spec`")), "{help}");
}

fn assert_clean(found: &[Finding]) {
    let problems: Vec<&Finding> = found.iter().filter(|finding| finding.severity != Severity::Note).collect();
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn talk_000_06_gateway_is_clean() {
    let Some(found) = talk_example("000-06-gateway.yaml") else { return };
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn talk_001_02_ingress_is_skipped_with_a_note() {
    let Some(found) = talk_example("001-02-ingress.yaml") else { return };
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!((found[0].code, found[0].severity, found[0].line), ("PLC1103", Severity::Note, 2));
    assert!(found[0].message.contains("`Ingress`"), "{}", found[0].message);
}

#[test]
fn talk_001_03_gateway_is_clean() {
    let Some(found) = talk_example("001-03-gateway.yaml") else { return };
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn talk_001_04_old_version_and_backends_outside_the_rule() {
    let Some(found) = talk_example("001-04-httproute.yaml") else { return };
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!((found[0].code, found[0].severity, found[0].line), ("PLC1102", Severity::Error, 1));
    assert_eq!(found[0].message, "`HTTPRoute` is not served at `gateway.networking.k8s.io/v1alpha2`");
    assert!(found[0].help.as_deref().unwrap_or_default().contains("`gateway.networking.k8s.io/v1`"), "{found:#?}");
    assert_misplaced_in_rule(&found[1], "backendRefs", 14);
}

#[test]
fn talk_001_05_gateway_is_clean() {
    let Some(found) = talk_example("001-05-gateway.yaml") else { return };
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn talk_001_06_backends_outside_the_rule() {
    let Some(found) = talk_example("001-06-httproute.yaml") else { return };
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_misplaced_in_rule(&found[0], "backendRefs", 15);
}

#[test]
fn talk_001_07_old_version_and_backends_outside_the_rule() {
    let Some(found) = talk_example("001-07-httproute.yaml") else { return };
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_eq!((found[0].code, found[0].line), ("PLC1102", 1));
    assert_misplaced_in_rule(&found[1], "backendRefs", 13);
}

#[test]
fn talk_001_08_backends_outside_the_second_rule() {
    let Some(found) = talk_example("001-08-httproute.yaml") else { return };
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_misplaced_in_rule(&found[0], "backendRefs", 18);
}

#[test]
fn talk_001_09_route_selected_by_label_attaches_nowhere() {
    let Some(found) = talk_example("001-09-httproute.yaml") else { return };
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!((found[0].code, found[0].severity, found[0].line), ("PLC4104", Severity::Warning, 7));
    assert_eq!(found[0].message, "this HTTPRoute has no `parentRefs`: it attaches to no Gateway and serves no traffic");
    let help = found[0].help.as_deref().unwrap_or_default();
    assert!(help.contains("parentRefs") && help.contains("Gateways do not select routes by label"), "{help}");
}

#[test]
fn talk_001_10_filters_and_backends_outside_the_rule() {
    let Some(found) = talk_example("001-10-httproute.yaml") else { return };
    assert_eq!(found.len(), 2, "{found:#?}");
    assert_misplaced_in_rule(&found[0], "filters", 13);
    assert_misplaced_in_rule(&found[1], "backendRefs", 19);
}

#[test]
fn talk_001_11_backends_outside_the_rule() {
    let Some(found) = talk_example("001-11-httproute.yaml") else { return };
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_misplaced_in_rule(&found[0], "backendRefs", 21);
}

#[test]
fn talk_004_00_route_is_clean() {
    let Some(found) = talk_example("004-00-httproute.yaml") else { return };
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn talk_examples_linted_together_warn_only_about_the_missing_gateway() {
    let Some(dir) = talk_examples_dir() else { return };
    let names = ["000-06-gateway.yaml", "001-02-ingress.yaml", "001-03-gateway.yaml", "001-05-gateway.yaml", "001-09-httproute.yaml", "004-00-httproute.yaml"];
    let found = lint_files(&names.iter().map(|name| dir.join(name)).collect::<Vec<_>>());
    let problems: Vec<&Finding> = found.iter().filter(|finding| finding.severity != Severity::Note).collect();
    // 001-09 still has no parents; and 004-00's Gateway `my-cilium-gateway` is not among
    // these inputs, which do hold Gateways of its namespace (`default`, where 001-03 and
    // 001-05 land).
    assert_eq!(problems.iter().map(|finding| finding.code).collect::<Vec<_>>(), ["PLC4104", "PLC4502"], "{problems:#?}");
    assert!(problems[1].message.contains("`default/my-cilium-gateway`"), "{:#?}", problems[1]);
    assert_clean(&lint_files(&[dir.join("000-06-gateway.yaml"), dir.join("001-03-gateway.yaml"), dir.join("001-05-gateway.yaml")]));
}
