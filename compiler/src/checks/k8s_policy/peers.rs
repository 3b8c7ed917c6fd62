//! A NetworkPolicy peer names pods (`podSelector` and/or `namespaceSelector`) or an address
//! block (`ipBlock`), never both, and never nothing.
//!
//! Fix: give the peer a selector or an `ipBlock`; split an `ipBlock` combined with selectors
//! into two peers.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::k8s_policy::NetworkPolicyPeer;
use crate::path::Path;

code!(
    PEER_EMPTY,
    "PLC3503",
    "network-policy-peer-empty",
    Error,
    "a NetworkPolicy peer names neither pods nor an address block",
    "Each item of `from`/`to` needs at least one of `podSelector`, `namespaceSelector` and `ipBlock`; the API server rejects an empty one (\"must specify a peer\"). To allow every peer, leave `from`/`to` out altogether.

Example:
  ingress:
  - from:
    - {}

Fix: add a selector (`podSelector: {}` is every pod of the namespace, `namespaceSelector: {}` every pod of the cluster), or remove `from` to allow every source."
);

code!(
    IP_BLOCK_WITH_SELECTOR,
    "PLC3504",
    "network-policy-ip-block-with-selector",
    Error,
    "a NetworkPolicy peer combines `ipBlock` with a selector",
    "A peer is either pods (selected by `podSelector` and/or `namespaceSelector`) or an address block; the API server rejects a peer with both (\"may not specify both ipBlock and another peer\").

Example:
  from:
  - ipBlock: {cidr: 10.0.0.0/8}
    podSelector: {matchLabels: {app: client}}

Fix: write them as two peers (each starting with `- `); peers of one list are alternatives (OR)."
);

pub(super) fn check(peer: &NetworkPolicyPeer, at: &Path, cx: &mut CheckCx<'_>) {
    let has_selector = peer.pod_selector.is_some() || peer.namespace_selector.is_some();
    match (has_selector, peer.ip_block.is_some()) {
        (false, false) => {
            cx.report(&PEER_EMPTY, at, "this peer has none of `podSelector`, `namespaceSelector` and `ipBlock`").help =
                Some("add a selector (`namespaceSelector: {}` is every pod of the cluster), or remove the whole list to allow every peer".to_owned());
        }
        (true, true) => {
            cx.report_key(&IP_BLOCK_WITH_SELECTOR, &at.key("ipBlock"), "a peer cannot combine `ipBlock` with `podSelector` or `namespaceSelector`").help =
                Some("make the `ipBlock` a peer of its own (start it with `- `); the peers of a list are alternatives".to_owned());
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{codes, netpol};

    #[test]
    fn empty_peer_is_an_error() {
        assert_eq!(codes(&netpol("  podSelector: {}\n  ingress:\n  - from:\n    - {}\n")), vec![("PLC3503", 10)]);
    }

    #[test]
    fn ip_block_with_selector_is_an_error() {
        let text = netpol("  podSelector: {}\n  egress:\n  - to:\n    - podSelector: {}\n      ipBlock: {cidr: 10.0.0.0/8}\n");
        assert_eq!(codes(&text), vec![("PLC3504", 11)]);
    }

    #[test]
    fn separate_peers_are_fine() {
        let text = netpol("  podSelector: {}\n  egress:\n  - to:\n    - podSelector: {}\n    - ipBlock: {cidr: 10.0.0.0/8}\n");
        assert_eq!(codes(&text), vec![]);
    }
}
