//! Checks of Kubernetes NetworkPolicy beyond the schema: what the API server's validation
//! enforces (peer shape, `ipBlock.except`, port names, `endPort`) and what the semantics make
//! surprising (rules of a direction `policyTypes` leaves out are ignored).
//!
//! Codes PLC3500–PLC3999. Each module below is one check. [`syntax`] holds the label, port-name
//! and CIDR rules shared with the Cilium policy checks.

use super::CheckCx;
use crate::diag::{Code, Diagnostic};
use crate::frontend::Object;
use crate::model::k8s_policy::{NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort};
use crate::path::Path;

mod ip_block;
mod label_selectors;
mod metadata;
mod peers;
mod policy_types;
mod ports;
pub mod syntax;

pub static CODES: &[&Code] = &[
    &metadata::NAME_MISSING,
    &label_selectors::INVALID_LABEL_SELECTOR,
    &peers::PEER_EMPTY,
    &peers::IP_BLOCK_WITH_SELECTOR,
    &ip_block::EXCEPT_NOT_INSIDE,
    &ip_block::CIDR_HOST_BITS,
    &ports::INVALID_PORT,
    &ports::END_PORT_WITH_NAMED_PORT,
    &ports::END_PORT_WITHOUT_PORT,
    &ports::END_PORT_REVERSED,
    &policy_types::RULES_IGNORED,
    &policy_types::POLICY_TYPES_DUPLICATE,
];

/// No cross-object checks for NetworkPolicy yet.
pub fn check_set(_objects: &[Object], _diagnostics: &mut Vec<Diagnostic>) {}

pub fn check_network_policy(object: &NetworkPolicy, cx: &mut CheckCx<'_>) {
    metadata::check(object, cx);
    label_selectors::check(&object.spec, cx);
    policy_types::check(&object.spec, cx);
    for (path, peer) in peers_of(object) {
        peers::check(peer, &path, cx);
        ip_block::check(peer, &path, cx);
    }
    for (path, port) in ports_of(object) {
        ports::check(port, &path, cx);
    }
}

/// Every peer of the policy with its path (`spec.ingress[0].from[1]`).
fn peers_of(object: &NetworkPolicy) -> Vec<(Path, &NetworkPolicyPeer)> {
    let spec = Path::root().key("spec");
    let mut out = Vec::new();
    for (index, rule) in object.spec.ingress().iter().enumerate() {
        for (peer_index, peer) in rule.from.iter().flatten().enumerate() {
            out.push((spec.key("ingress").index(index).key("from").index(peer_index), peer));
        }
    }
    for (index, rule) in object.spec.egress().iter().enumerate() {
        for (peer_index, peer) in rule.to.iter().flatten().enumerate() {
            out.push((spec.key("egress").index(index).key("to").index(peer_index), peer));
        }
    }
    out
}

/// Every port of the policy with its path (`spec.egress[0].ports[1]`).
fn ports_of(object: &NetworkPolicy) -> Vec<(Path, &NetworkPolicyPort)> {
    let spec = Path::root().key("spec");
    let mut out = Vec::new();
    for (index, rule) in object.spec.ingress().iter().enumerate() {
        for (port_index, port) in rule.ports.iter().flatten().enumerate() {
            out.push((spec.key("ingress").index(index).key("ports").index(port_index), port));
        }
    }
    for (index, rule) in object.spec.egress().iter().enumerate() {
        for (port_index, port) in rule.ports.iter().flatten().enumerate() {
            out.push((spec.key("egress").index(index).key("ports").index(port_index), port));
        }
    }
    out
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Helpers for the unit tests of the checks.

    use crate::frontend::{Options, parse};
    use crate::source::SourceMap;

    /// `(code, line)` of every finding for `text`.
    pub fn codes(text: &str) -> Vec<(&'static str, u32)> {
        let mut sources = SourceMap::new();
        sources.add("test.yaml", text);
        parse(&sources, &Options::default()).diagnostics.iter().map(|d| (d.code.id, d.location.as_ref().map_or(0, |l| l.span.start.line))).collect()
    }

    /// A NetworkPolicy in namespace `prod` with `body` as its `spec` (indented by the caller at
    /// two spaces). The spec starts on line 6.
    pub fn netpol(body: &str) -> String {
        format!("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: test\n  namespace: prod\nspec:\n{body}")
    }
}
