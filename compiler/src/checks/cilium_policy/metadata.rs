//! A policy needs `metadata.name`; a clusterwide policy has no namespace.
//!
//! Fix: name the policy; drop `metadata.namespace` from a CiliumClusterwideNetworkPolicy (or
//! make it a CiliumNetworkPolicy if it was meant for one namespace).

use super::PolicyScope;
use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::meta::ObjectMeta;
use crate::path::Path;

code!(
    NAME_MISSING,
    "PLC3003",
    "policy-without-name",
    Error,
    "a Cilium policy has no `metadata.name`",
    "Every Kubernetes object needs a name (or `generateName`), and Cilium refuses a policy without one (\"CiliumNetworkPolicy must have name\").

Example:
  apiVersion: cilium.io/v2
  kind: CiliumNetworkPolicy
  spec: ...                      # no metadata at all

Fix: add `metadata: {name: allow-frontend}` (and `namespace:` for a CiliumNetworkPolicy)."
);

code!(
    CLUSTERWIDE_NAMESPACE_IGNORED,
    "PLC3004",
    "clusterwide-policy-namespace-ignored",
    Warning,
    "a CiliumClusterwideNetworkPolicy names a namespace, which has no effect",
    "A CiliumClusterwideNetworkPolicy is cluster-scoped: `metadata.namespace` is dropped, and its rules apply in every namespace. A namespace here usually means the policy was meant to be a CiliumNetworkPolicy.

Fix: remove `metadata.namespace`, or use `kind: CiliumNetworkPolicy` to restrict the policy to that namespace (and add a namespace label to the selectors otherwise)."
);

pub(super) fn check(scope: &PolicyScope<'_>, metadata: &ObjectMeta, cx: &mut CheckCx<'_>) {
    let named = metadata.name.as_deref().is_some_and(|name| !name.is_empty()) || metadata.generate_name.as_deref().is_some_and(|name| !name.is_empty());
    if !named {
        cx.report(&NAME_MISSING, &Path::root().key("metadata"), format!("this {} has no `metadata.name`", scope.kind)).help =
            Some("name the policy: `metadata: {name: my-policy}`".to_owned());
    }
    if scope.clusterwide
        && let Some(namespace) = &metadata.namespace
    {
        cx.report_key(
            &CLUSTERWIDE_NAMESPACE_IGNORED,
            &Path::root().key("metadata").key("namespace"),
            format!("a CiliumClusterwideNetworkPolicy is not namespaced: namespace `{namespace}` is ignored and the rules apply in every namespace"),
        )
        .help = Some(format!("remove `namespace`, or use `kind: CiliumNetworkPolicy` to limit the policy to namespace `{namespace}`"));
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::codes;

    #[test]
    fn missing_name_is_an_error() {
        let text = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nspec:\n  endpointSelector: {}\n  ingress: [{}]\n";
        assert_eq!(codes(text), vec![("PLC3003", 1)]);
    }

    #[test]
    fn namespace_on_clusterwide_policy_is_a_warning() {
        let text = "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata:\n  name: a\n  namespace: prod\nspec:\n  endpointSelector: {}\n  ingress: [{}]\n";
        assert_eq!(codes(text), vec![("PLC3004", 5)]);
    }

    #[test]
    fn named_policies_are_fine() {
        let text = "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata:\n  name: a\nspec:\n  endpointSelector: {}\n  ingress: [{}]\n";
        assert_eq!(codes(text), vec![]);
    }
}
