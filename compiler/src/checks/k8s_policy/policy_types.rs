//! `policyTypes` decides which directions a NetworkPolicy applies to. When it is given, rules
//! of a direction it does not list are ignored; listing a type twice changes nothing.
//!
//! Fix: list every direction that has rules (or drop `policyTypes` to let Kubernetes derive it),
//! and each type once.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::k8s_policy::{NetworkPolicySpec, PolicyType};
use crate::path::Path;

code!(
    RULES_IGNORED,
    "PLC3511",
    "network-policy-rules-ignored",
    Warning,
    "a NetworkPolicy has rules for a direction that `policyTypes` leaves out",
    "When `policyTypes` is given, the policy only applies to the directions it lists: `egress` rules of a policy with `policyTypes: [Ingress]` are ignored, and so are `ingress` rules of one with `policyTypes: [Egress]`. Without `policyTypes`, Kubernetes uses `Ingress`, plus `Egress` when there are egress rules.

Example:
  spec:
    podSelector: {matchLabels: {app: web}}
    policyTypes: [Ingress]
    egress:                       # ignored
    - to: [{podSelector: {matchLabels: {app: db}}}]

Fix: add the direction to `policyTypes`, or remove the rules that have no effect."
);

code!(
    POLICY_TYPES_DUPLICATE,
    "PLC3512",
    "network-policy-types-duplicate",
    Warning,
    "`policyTypes` lists the same type twice",
    "Each of `Ingress` and `Egress` counts once; a repeated entry changes nothing and often hides a typo for the other type.

Fix: list each type once."
);

pub(super) fn check(spec: &NetworkPolicySpec, cx: &mut CheckCx<'_>) {
    let Some(types) = &spec.policy_types else { return };
    let at = Path::root().key("spec");
    for (index, policy_type) in types.iter().enumerate() {
        if types[..index].contains(policy_type) {
            cx.report(&POLICY_TYPES_DUPLICATE, &at.key("policyTypes").index(index), format!("`{}` is listed twice in `policyTypes`", policy_type.as_str()))
                .help = Some("list each type once".to_owned());
        }
    }
    if types.is_empty() {
        return;
    }
    for (direction, field, has_rules) in [
        (PolicyType::Ingress, "ingress", spec.ingress.as_ref().is_some_and(|rules| !rules.is_empty())),
        (PolicyType::Egress, "egress", spec.egress.as_ref().is_some_and(|rules| !rules.is_empty())),
    ] {
        if has_rules && !types.contains(&direction) {
            let listed = types.iter().map(|t| format!("`{}`", t.as_str())).collect::<Vec<_>>().join(", ");
            cx.report_key(&RULES_IGNORED, &at.key(field), format!("these `{field}` rules are ignored: `policyTypes` lists only {listed}")).help =
                Some(format!("add `{}` to `policyTypes`, or remove the `{field}` rules", direction.as_str()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{codes, netpol};

    #[test]
    fn rules_of_unlisted_direction_are_a_warning() {
        let text = netpol("  podSelector: {}\n  policyTypes: [Ingress]\n  egress:\n  - {}\n");
        assert_eq!(codes(&text), vec![("PLC3511", 9)]);
        let text = netpol("  podSelector: {}\n  policyTypes: [Egress]\n  ingress:\n  - {}\n");
        assert_eq!(codes(&text), vec![("PLC3511", 9)]);
    }

    #[test]
    fn duplicate_type_is_a_warning() {
        let text = netpol("  podSelector: {}\n  policyTypes:\n  - Ingress\n  - Ingress\n");
        assert_eq!(codes(&text), vec![("PLC3512", 10)]);
    }

    #[test]
    fn listed_directions_are_fine() {
        let text = netpol("  podSelector: {}\n  policyTypes: [Ingress, Egress]\n  ingress:\n  - {}\n  egress:\n  - {}\n");
        assert_eq!(codes(&text), vec![]);
        let text = netpol("  podSelector: {}\n  egress:\n  - {}\n");
        assert_eq!(codes(&text), vec![]);
    }
}
