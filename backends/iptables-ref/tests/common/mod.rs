//! Helpers shared by the integration tests: small hand-built IRs.

#![allow(dead_code)]

pub mod scenario;

use std::collections::BTreeSet;
use std::net::IpAddr;

use polc_ir::{
    AuthMode, DirectionPolicy, Endpoint, EndpointId, EndpointKind, IdentityInfo, IdentityKind, IpPrefix, L4Match, L7Rules, Label, NodeInfo, NumericIdentity,
    Peers, PolicyEntry, PolicyIr, PortRange, Protocol, ReservedAddress, RuleOrigin, RuleVerdict, Settings,
};

pub fn address(text: &str) -> IpAddr {
    text.parse().unwrap_or_else(|_| panic!("`{text}` is not an address"))
}

pub fn prefix(text: &str) -> IpPrefix {
    IpPrefix::parse(text).unwrap_or_else(|| panic!("`{text}` is not a prefix"))
}

pub fn id(number: u32) -> NumericIdentity {
    NumericIdentity(number)
}

pub fn origin(rule_path: &str) -> RuleOrigin {
    RuleOrigin::Policy {
        kind: "CiliumNetworkPolicy".to_owned(),
        namespace: Some("default".to_owned()),
        name: "test".to_owned(),
        rule_path: rule_path.to_owned(),
        location: None,
    }
}

pub fn peers(identities: &[u32]) -> Peers {
    Peers::Identities(identities.iter().map(|number| NumericIdentity(*number)).collect())
}

pub fn tcp(first: u16, last: u16) -> L4Match {
    L4Match::protocol(Protocol::TCP, PortRange::new(first, last))
}

pub fn udp(first: u16, last: u16) -> L4Match {
    L4Match::protocol(Protocol::UDP, PortRange::new(first, last))
}

pub fn entry(verdict: RuleVerdict, peers: Peers, l4: L4Match, rule_path: &str) -> PolicyEntry {
    PolicyEntry { verdict, peers, l4, l7: None, auth: None, pending_fqdns: Vec::new(), origin: origin(rule_path) }
}

pub fn allow(peers: Peers, l4: L4Match, rule_path: &str) -> PolicyEntry {
    entry(RuleVerdict::Allow, peers, l4, rule_path)
}

pub fn deny(peers: Peers, l4: L4Match, rule_path: &str) -> PolicyEntry {
    entry(RuleVerdict::Deny, peers, l4, rule_path)
}

pub fn with_l7(mut entry: PolicyEntry, rules: L7Rules) -> PolicyEntry {
    entry.l7 = Some(rules);
    entry
}

pub fn with_auth(mut entry: PolicyEntry, auth: AuthMode) -> PolicyEntry {
    entry.auth = Some(auth);
    entry
}

pub fn policy(default_deny: bool, entries: Vec<PolicyEntry>) -> DirectionPolicy {
    let selected_by: Vec<RuleOrigin> = entries.iter().map(|entry| entry.origin.clone()).collect();
    DirectionPolicy { enforced: true, default_deny, entries, selected_by }
}

pub fn open() -> DirectionPolicy {
    DirectionPolicy::default()
}

pub fn pod(id: u16, name: &str, identity: u32, node: &str, addresses: &[&str], ingress: DirectionPolicy, egress: DirectionPolicy) -> Endpoint {
    Endpoint {
        id: EndpointId(id),
        kind: EndpointKind::Pod { namespace: "default".to_owned(), name: name.to_owned() },
        identity: NumericIdentity(identity),
        node: Some(node.to_owned()),
        addresses: addresses.iter().map(|text| address(text)).collect(),
        ingress,
        egress,
    }
}

pub fn host(id: u16, node: &str, addresses: &[&str], ingress: DirectionPolicy, egress: DirectionPolicy) -> Endpoint {
    Endpoint {
        id: EndpointId(id),
        kind: EndpointKind::Host { node: node.to_owned() },
        identity: NumericIdentity::HOST,
        node: Some(node.to_owned()),
        addresses: addresses.iter().map(|text| address(text)).collect(),
        ingress,
        egress,
    }
}

pub fn endpoint_identity(number: u32, app: &str) -> IdentityInfo {
    IdentityInfo { id: NumericIdentity(number), kind: IdentityKind::Endpoint, labels: [Label::new("k8s", "app", app)].into_iter().collect() }
}

pub fn cidr_identity(number: u32, text: &str) -> IdentityInfo {
    let prefix = prefix(text);
    IdentityInfo { id: NumericIdentity(number), kind: IdentityKind::Cidr { prefix }, labels: [Label::new("cidr", text, "")].into_iter().collect() }
}

pub fn reserved_identities() -> Vec<IdentityInfo> {
    NumericIdentity::RESERVED
        .iter()
        .map(|id| IdentityInfo {
            id: *id,
            kind: IdentityKind::Reserved,
            labels: [Label::reserved(id.reserved_name().unwrap_or("reserved"))].into_iter().collect(),
        })
        .collect()
}

pub fn node(name: &str, addresses: &[&str]) -> NodeInfo {
    NodeInfo { name: name.to_owned(), addresses: addresses.iter().map(|text| address(text)).collect(), pod_cidrs: Vec::new() }
}

/// An IR from its parts; the reserved identities are always present.
pub fn ir(mut identities: Vec<IdentityInfo>, nodes: Vec<NodeInfo>, endpoints: Vec<Endpoint>, reserved_addresses: Vec<ReservedAddress>) -> PolicyIr {
    identities.extend(reserved_identities());
    PolicyIr::new(Settings::default(), identities, nodes, endpoints, reserved_addresses)
}

pub fn identity_set(numbers: &[u32]) -> BTreeSet<NumericIdentity> {
    numbers.iter().map(|number| NumericIdentity(*number)).collect()
}
