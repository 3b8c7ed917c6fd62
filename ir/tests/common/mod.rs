//! A small hand-built cluster for the evaluator tests: two nodes, three pods, one CIDR identity.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::net::IpAddr;

use polc_ir::*;

pub const FRONTEND: EndpointId = EndpointId(1);
pub const BACKEND: EndpointId = EndpointId(2);
pub const DB: EndpointId = EndpointId(3);
pub const HOST_A: EndpointId = EndpointId(4);
pub const HOST_B: EndpointId = EndpointId(5);

pub const FRONTEND_ID: NumericIdentity = NumericIdentity(256);
pub const BACKEND_ID: NumericIdentity = NumericIdentity(257);
pub const DB_ID: NumericIdentity = NumericIdentity(258);
pub const CIDR_ID: NumericIdentity = NumericIdentity((1 << 24) | 1);

pub fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

fn pod(id: EndpointId, name: &str, identity: NumericIdentity, node: &str, address: &str) -> Endpoint {
    Endpoint {
        id,
        kind: EndpointKind::Pod { namespace: "default".to_owned(), name: name.to_owned() },
        identity,
        node: Some(node.to_owned()),
        addresses: vec![ip(address)],
        ingress: DirectionPolicy::default(),
        egress: DirectionPolicy::default(),
    }
}

fn host(id: EndpointId, node: &str, address: &str) -> Endpoint {
    Endpoint {
        id,
        kind: EndpointKind::Host { node: node.to_owned() },
        identity: NumericIdentity::HOST,
        node: Some(node.to_owned()),
        addresses: vec![ip(address)],
        ingress: DirectionPolicy::default(),
        egress: DirectionPolicy::default(),
    }
}

pub fn endpoints() -> Vec<Endpoint> {
    vec![
        pod(FRONTEND, "frontend", FRONTEND_ID, "node-a", "10.0.1.10"),
        pod(BACKEND, "backend", BACKEND_ID, "node-b", "10.0.2.20"),
        pod(DB, "db", DB_ID, "node-a", "10.0.1.30"),
        host(HOST_A, "node-a", "192.168.0.1"),
        host(HOST_B, "node-b", "192.168.0.2"),
    ]
}

pub fn identities() -> Vec<IdentityInfo> {
    let mut identities: Vec<IdentityInfo> =
        NumericIdentity::RESERVED.iter().map(|id| IdentityInfo { id: *id, kind: IdentityKind::Reserved, labels: BTreeSet::new() }).collect();
    for (id, app) in [(FRONTEND_ID, "frontend"), (BACKEND_ID, "backend"), (DB_ID, "db")] {
        identities.push(IdentityInfo { id, kind: IdentityKind::Endpoint, labels: [Label::new("k8s", "app", app)].into_iter().collect() });
    }
    identities.push(IdentityInfo { id: CIDR_ID, kind: IdentityKind::Cidr { prefix: IpPrefix::parse("203.0.113.0/24").unwrap() }, labels: BTreeSet::new() });
    identities
}

pub fn nodes() -> Vec<NodeInfo> {
    vec![
        NodeInfo { name: "node-a".to_owned(), addresses: vec![ip("192.168.0.1")], pod_cidrs: vec![IpPrefix::parse("10.0.1.0/24").unwrap()] },
        NodeInfo { name: "node-b".to_owned(), addresses: vec![ip("192.168.0.2")], pod_cidrs: vec![IpPrefix::parse("10.0.2.0/24").unwrap()] },
    ]
}

/// The cluster with the given endpoints (policies filled in by the caller).
pub fn ir_with(endpoints: Vec<Endpoint>) -> PolicyIr {
    PolicyIr::new(Settings::default(), identities(), nodes(), endpoints, Vec::new())
}

pub fn origin(name: &str, rule_path: &str) -> RuleOrigin {
    RuleOrigin::Policy {
        kind: "CiliumNetworkPolicy".to_owned(),
        namespace: Some("default".to_owned()),
        name: name.to_owned(),
        rule_path: rule_path.to_owned(),
        location: None,
    }
}

pub fn entry(verdict: RuleVerdict, peers: Peers, l4: L4Match, name: &str) -> PolicyEntry {
    PolicyEntry { verdict, peers, l4, l7: None, auth: None, pending_fqdns: Vec::new(), origin: origin(name, "spec.ingress[0]") }
}

pub fn peers(ids: &[NumericIdentity]) -> Peers {
    Peers::Identities(ids.iter().copied().collect())
}

pub fn tcp(port: u16) -> L4Match {
    L4Match::protocol(Protocol::TCP, PortRange::single(port))
}

pub fn flow(source: FlowEnd, destination: FlowEnd, port: u16) -> Flow {
    Flow { source, destination, protocol: Protocol::TCP, port, l7: None }
}

pub fn enforce(policy: &mut DirectionPolicy, entries: Vec<PolicyEntry>) {
    policy.enforced = true;
    policy.default_deny = true;
    policy.selected_by = entries.iter().map(|entry| entry.origin.clone()).collect();
    policy.entries = entries;
}
