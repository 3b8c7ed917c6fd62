//! Each rule selects its subject with exactly one of `endpointSelector` (pods) and
//! `nodeSelector` (nodes, host firewall); `nodeSelector` only in a clusterwide policy.
//!
//! Fix: keep one selector; move host rules into a CiliumClusterwideNetworkPolicy.

use super::PolicyScope;
use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::cilium_policy::Rule;
use crate::path::Path;

code!(
    SUBJECT_NOT_EXACTLY_ONE,
    "PLC3005",
    "rule-subject-not-exactly-one",
    Error,
    "a rule needs exactly one of `endpointSelector` and `nodeSelector`",
    "The subject of a rule is either endpoints (`endpointSelector`) or nodes (`nodeSelector`), never both, and it must be given: the CRD says so with a `oneOf`, and Cilium refuses the rule (\"rule must have one of EndpointSelector or NodeSelector\").

Example:
  spec:
    ingress:                   # which pods does this apply to?
    - fromEntities: [world]

Fix: add `endpointSelector:` (`{}` selects every pod of the namespace), or keep only one of the two selectors."
);

code!(
    NODE_SELECTOR_IN_NAMESPACED_POLICY,
    "PLC3006",
    "node-selector-in-namespaced-policy",
    Error,
    "`nodeSelector` is only allowed in a CiliumClusterwideNetworkPolicy",
    "Host policies select nodes, which belong to no namespace, so Cilium refuses `nodeSelector` in a CiliumNetworkPolicy (\"rule cannot have NodeSelector\").

Fix: move the rule into a CiliumClusterwideNetworkPolicy, or select pods with `endpointSelector`."
);

pub(super) fn check(scope: &PolicyScope<'_>, rule: &Rule, at: &Path, cx: &mut CheckCx<'_>) {
    match (&rule.endpoint_selector, &rule.node_selector) {
        (None, None) => {
            cx.report_key(&SUBJECT_NOT_EXACTLY_ONE, at, format!("the rule at `{at}` has no `endpointSelector` (or `nodeSelector`): it selects nothing")).help =
                Some("add `endpointSelector:` with the labels of the pods this rule applies to (`{}` for every pod)".to_owned());
        }
        (Some(_), Some(_)) => {
            cx.report_key(&SUBJECT_NOT_EXACTLY_ONE, &at.key("nodeSelector"), "a rule cannot have both `endpointSelector` and `nodeSelector`").help =
                Some("keep `endpointSelector` for pods or `nodeSelector` for nodes, and put the other in a rule of its own".to_owned());
        }
        _ => {}
    }
    if !scope.clusterwide && rule.node_selector.is_some() {
        cx.report_key(&NODE_SELECTOR_IN_NAMESPACED_POLICY, &at.key("nodeSelector"), "a CiliumNetworkPolicy cannot select nodes with `nodeSelector`").help =
            Some("move this rule into a CiliumClusterwideNetworkPolicy, or select pods with `endpointSelector`".to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{cnp, codes};

    #[test]
    fn no_selector_is_an_error() {
        assert_eq!(codes(&cnp("  ingress: [{}]\n")), vec![("PLC3005", 6)]);
    }

    #[test]
    fn both_selectors_are_an_error() {
        let text = "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata:\n  name: a\nspec:\n  endpointSelector: {}\n  nodeSelector: {}\n  ingress: [{}]\n";
        assert_eq!(codes(text), vec![("PLC3005", 7)]);
    }

    #[test]
    fn node_selector_in_namespaced_policy_is_an_error() {
        assert_eq!(codes(&cnp("  nodeSelector: {}\n  ingress: [{}]\n")), vec![("PLC3006", 7)]);
    }

    #[test]
    fn node_selector_in_clusterwide_policy_is_fine() {
        let text = "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata:\n  name: a\nspec:\n  nodeSelector: {}\n  ingress: [{}]\n";
        assert_eq!(codes(text), vec![]);
    }
}
