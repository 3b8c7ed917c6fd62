//! A rule needs at least one non-empty section: `ingress`, `ingressDeny`, `egress` or
//! `egressDeny` (a CRD `anyOf`, and Cilium's sanitizer rejects a rule whose sections are all
//! empty).
//!
//! Fix: add the rules; `ingress: [{}]` denies all ingress, `egress: [{}]` all egress.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::cilium_policy::Rule;
use crate::path::Path;

code!(
    RULE_WITHOUT_SECTIONS,
    "PLC3007",
    "rule-without-sections",
    Error,
    "a rule has no `ingress`, `ingressDeny`, `egress` or `egressDeny` items",
    "A rule says what its subject may send or receive. Without any item in `ingress`, `ingressDeny`, `egress` or `egressDeny`, Cilium refuses the whole policy (\"rule must have at least one of Ingress, IngressDeny, Egress, EgressDeny\"), and the CRD requires at least one of the fields.

Example:
  spec:
    endpointSelector: {matchLabels: {app: db}}
    # nothing else

Fix: add the traffic to allow. To deny all ingress, write `ingress: [{}]` (an item that allows nothing); to deny all egress, `egress: [{}]`."
);

pub(super) fn check(rule: &Rule, at: &Path, cx: &mut CheckCx<'_>) {
    let sections = [
        rule.ingress.as_ref().map(Vec::len),
        rule.ingress_deny.as_ref().map(Vec::len),
        rule.egress.as_ref().map(Vec::len),
        rule.egress_deny.as_ref().map(Vec::len),
    ];
    if sections.iter().flatten().any(|&length| length > 0) {
        return;
    }
    let given = sections.iter().any(Option::is_some);
    let message = if given {
        format!("every rule section of `{at}` is empty: the rule allows and denies nothing, and Cilium refuses it")
    } else {
        format!("the rule at `{at}` has no `ingress`, `ingressDeny`, `egress` or `egressDeny`")
    };
    cx.report_key(&RULE_WITHOUT_SECTIONS, at, message).help =
        Some("add the traffic to allow or deny; `ingress: [{}]` denies all ingress and `egress: [{}]` all egress".to_owned());
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{cnp, codes};

    #[test]
    fn rule_without_sections_is_an_error() {
        assert_eq!(codes(&cnp("  endpointSelector: {}\n")), vec![("PLC3007", 6)]);
        assert_eq!(codes(&cnp("  endpointSelector: {}\n  ingress: []\n  egress: []\n")), vec![("PLC3007", 6)]);
    }

    #[test]
    fn deny_only_rule_is_fine() {
        assert_eq!(codes(&cnp("  endpointSelector: {}\n  egressDeny:\n  - toEntities: [world]\n")), vec![]);
    }
}
