//! A NetworkPolicy needs `metadata.name`.
//!
//! Fix: name the policy.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::k8s_policy::NetworkPolicy;
use crate::path::Path;

code!(
    NAME_MISSING,
    "PLC3501",
    "network-policy-without-name",
    Error,
    "a NetworkPolicy has no `metadata.name`",
    "Every Kubernetes object needs a name (or `generateName`); the API server rejects a NetworkPolicy without one.

Fix: add `metadata: {name: allow-frontend}`."
);

pub(super) fn check(object: &NetworkPolicy, cx: &mut CheckCx<'_>) {
    let metadata = &object.metadata;
    let named = metadata.name.as_deref().is_some_and(|name| !name.is_empty()) || metadata.generate_name.as_deref().is_some_and(|name| !name.is_empty());
    if !named {
        cx.report(&NAME_MISSING, &Path::root().key("metadata"), "this NetworkPolicy has no `metadata.name`").help =
            Some("name the policy: `metadata: {name: my-policy}`".to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::codes;

    #[test]
    fn missing_name_is_an_error() {
        let text = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  namespace: prod\nspec:\n  podSelector: {}\n";
        assert_eq!(codes(text), vec![("PLC3501", 4)]);
    }

    #[test]
    fn named_policy_is_fine() {
        let text = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: a\nspec:\n  podSelector: {}\n";
        assert_eq!(codes(text), vec![]);
    }
}
