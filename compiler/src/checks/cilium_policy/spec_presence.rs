//! A policy needs `spec` or `specs` (a CEL rule of the CRD); `specs: []` alone has no rule.
//!
//! Fix: give the rule in `spec`, or the rules in `specs`.

use super::PolicyScope;
use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::cilium_policy::Rule;
use crate::path::Path;

code!(
    SPEC_MISSING,
    "PLC3001",
    "policy-without-spec",
    Error,
    "a Cilium policy has neither `spec` nor `specs`",
    "A CiliumNetworkPolicy or CiliumClusterwideNetworkPolicy carries its rule in `spec`, or a list of rules in `specs`. The CRD rejects an object with neither (\"spec or specs must be provided\"); older Cilium versions accepted it and then ignored it with an \"empty policy\" log line.

Example:
  apiVersion: cilium.io/v2
  kind: CiliumNetworkPolicy
  metadata: {name: web}
  endpointSelector: {matchLabels: {app: web}}   # belongs under spec:

Fix: put the rule under `spec:` (or a list of rules under `specs:`)."
);

code!(
    SPECS_EMPTY,
    "PLC3002",
    "policy-specs-empty",
    Warning,
    "`specs` is an empty list and there is no `spec`",
    "The API server accepts `specs: []`, but the policy then has no rule at all and does nothing.

Fix: add the rules to `specs`, or delete the policy."
);

pub(super) fn check(scope: &PolicyScope<'_>, spec: Option<&Rule>, specs: Option<&[Rule]>, cx: &mut CheckCx<'_>) {
    match (spec, specs) {
        (None, None) => {
            cx.report(&SPEC_MISSING, &Path::root(), format!("this {} has neither `spec` nor `specs`", scope.kind)).help =
                Some("put the rule (`endpointSelector`, `ingress`, `egress`...) under `spec:`, or a list of rules under `specs:`".to_owned());
        }
        (None, Some([])) => {
            cx.report(&SPECS_EMPTY, &Path::root().key("specs"), format!("this {} has no rule: `specs` is empty and there is no `spec`", scope.kind)).help =
                Some("add rules to `specs`, or delete the policy".to_owned());
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::codes;

    #[test]
    fn policy_without_spec_is_an_error() {
        let text = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: a\n";
        assert!(codes(text).contains(&("PLC3001", 1)), "{:?}", codes(text));
    }

    #[test]
    fn empty_specs_is_a_warning() {
        let text = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: a\nspecs: []\n";
        assert_eq!(codes(text), vec![("PLC3002", 5)]);
    }

    #[test]
    fn spec_or_specs_is_fine() {
        let spec = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: a\nspec:\n  endpointSelector: {}\n  ingress: [{}]\n";
        assert_eq!(codes(spec), vec![]);
        let specs = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: a\nspecs:\n- endpointSelector: {}\n  ingress: [{}]\n";
        assert_eq!(codes(specs), vec![]);
    }
}
