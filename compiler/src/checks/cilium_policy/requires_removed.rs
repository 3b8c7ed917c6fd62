//! `fromRequires` and `toRequires` were removed in Cilium 1.19: the CRD allows no items any
//! more, so the API server rejects a policy that still uses them.
//!
//! Fix: add the required labels to the peer selectors themselves.

use super::Element;
use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};

code!(
    REQUIRES_REMOVED,
    "PLC3011",
    "requires-removed",
    Error,
    "`fromRequires`/`toRequires` were removed in Cilium 1.19",
    "`fromRequires` and `toRequires` added label requirements to every peer selector of the policy's subject. They were deprecated in Cilium 1.17 and removed in Cilium 1.19; the CRD now allows no items (`maxItems: 0`), so the API server rejects the policy.

Example:
  ingress:
  - fromRequires: [{matchLabels: {env: prod}}]
  - fromEndpoints: [{matchLabels: {app: frontend}}]

Fix: put the requirement into each peer selector:
  ingress:
  - fromEndpoints: [{matchLabels: {app: frontend, env: prod}}]"
);

pub(super) fn check(element: &Element<'_>, cx: &mut CheckCx<'_>) {
    let Some((name, items)) = element.requires() else { return };
    if items.is_empty() {
        return;
    }
    let peers = if element.is_ingress() { "`fromEndpoints`" } else { "`toEndpoints`" };
    cx.report_key(&REQUIRES_REMOVED, &element.path.key(name), format!("`{name}` was removed in Cilium 1.19 and is rejected by the API server")).help =
        Some(format!("add the required labels to the {peers} selectors themselves and delete `{name}`"));
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{cnp, codes};

    #[test]
    fn from_requires_is_an_error() {
        let text = cnp("  endpointSelector: {}\n  ingress:\n  - fromRequires:\n    - matchLabels: {env: prod}\n");
        assert_eq!(codes(&text), vec![("PLC3011", 9)]);
    }

    #[test]
    fn empty_requires_is_fine() {
        let text = cnp("  endpointSelector: {}\n  egress:\n  - toRequires: []\n");
        assert_eq!(codes(&text), vec![]);
    }
}
