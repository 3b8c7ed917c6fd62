//! Generated policy sets and flows for the cross-engine tests: a small cluster (two nodes, a few
//! pods, CIDR identities, a reserved address range) whose endpoints get random policies per
//! direction, and random flows between pods, nodes and outside addresses.
//!
//! Drawn from small pools (identities, ports, ICMP types) so that flows hit entries, ranges
//! split into several blocks, denies overlap allows and L7 redirects meet plain allows. The
//! datapath's documented exceptions are not generated: ICMPv6 packet-too-big and neighbour
//! discovery (which pass before policy) and truncated or fragmented packets (a FlowTest flow is
//! a whole first packet). [`compare`] states what must agree.

#![allow(dead_code)]

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use polc_ebpf::engine::FlowRun;
use polc_ir::{
    AuthMode, DirectionPolicy, Endpoint, EndpointId, EndpointKind, Flow, FlowEnd, HttpRequest, HttpRule, IdentityInfo, IdentityKind, IpPrefix, L4Match,
    L7Request, L7Rules, Label, NodeInfo, NumericIdentity, Peers, PolicyEntry, PolicyIr, PortRange, Protocol, ReservedAddress, RuleOrigin, RuleVerdict,
    Settings,
};
use proptest::prelude::*;
use proptest::sample::select;

/// Endpoint identities pods draw from.
pub const POD_IDENTITIES: [u32; 4] = [300, 301, 302, 303];
/// The kube-apiserver's address (a reserved range outside the cluster).
pub const KUBE_APISERVER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
const PORTS: [u16; 11] = [1, 22, 53, 79, 80, 81, 443, 1023, 1024, 8080, 65535];
const ICMP_TYPES: [u16; 4] = [0, 3, 8, 13];
const ICMPV6_TYPES: [u16; 4] = [1, 128, 129, 143];

/// One generated policy entry.
#[derive(Clone, Debug)]
pub struct EntrySpec {
    pub deny: bool,
    /// `None`: any identity.
    pub peers: Option<Vec<u32>>,
    pub l4: L4Match,
    /// An HTTP method rule (allow entries on TCP only).
    pub http: Option<&'static str>,
    pub auth: Option<AuthMode>,
}

#[derive(Clone, Debug)]
pub struct DirectionSpec {
    pub enforced: bool,
    pub default_deny: bool,
    pub entries: Vec<EntrySpec>,
}

#[derive(Clone, Debug)]
pub struct PodSpec {
    pub identity: u32,
    /// 0 (`node-a`) or 1 (`node-b`).
    pub node: usize,
    pub ingress: DirectionSpec,
    pub egress: DirectionSpec,
}

/// One end of a generated flow; endpoint indexes are taken modulo the number of endpoints
/// (pods, then the two nodes), so shrinking the pods keeps every flow valid.
#[derive(Clone, Debug)]
pub enum EndSpec {
    Endpoint(usize),
    /// The endpoint's own address of the flow's family.
    EndpointAddress(usize),
    /// An outside address (index into the pool of the flow's family).
    Outside(usize),
}

#[derive(Clone, Debug)]
pub struct FlowSpec {
    pub source: EndSpec,
    pub destination: EndSpec,
    pub ipv6: bool,
    /// TCP, UDP, SCTP, or ICMP (ICMPv6 in an IPv6 flow).
    pub protocol: Protocol,
    pub port_choice: usize,
    pub http: Option<&'static str>,
}

#[derive(Clone, Debug)]
pub struct Case {
    pub dual_stack: bool,
    pub pods: Vec<PodSpec>,
    pub hosts: [DirectionSpec; 2],
    pub flows: Vec<FlowSpec>,
}

fn peer_pool(dual_stack: bool) -> Vec<u32> {
    let mut pool = vec![1, 6, 7, NumericIdentity::local(1).0, NumericIdentity::local(2).0, NumericIdentity::local(3).0];
    pool.extend(POD_IDENTITIES);
    if dual_stack {
        pool.extend([9, 10]);
    } else {
        pool.push(2);
    }
    pool
}

fn ports() -> impl Strategy<Value = PortRange> {
    prop_oneof![
        2 => Just(PortRange::ALL),
        4 => select(PORTS.to_vec()).prop_map(PortRange::single),
        3 => (select(PORTS.to_vec()), select(PORTS.to_vec())).prop_map(|(first, last)| PortRange::new(first, last)),
    ]
}

fn l4() -> impl Strategy<Value = L4Match> {
    prop_oneof![
        1 => Just(L4Match::Any),
        6 => (select(vec![Protocol::TCP, Protocol::UDP, Protocol::SCTP]), ports()).prop_map(|(protocol, ports)| L4Match::protocol(protocol, ports)),
        1 => prop_oneof![Just(PortRange::ALL), select(ICMP_TYPES.to_vec()).prop_map(PortRange::single)].prop_map(|ports| L4Match::protocol(Protocol::ICMP, ports)),
        1 => prop_oneof![Just(PortRange::ALL), select(ICMPV6_TYPES.to_vec()).prop_map(PortRange::single)].prop_map(|ports| L4Match::protocol(Protocol::ICMPV6, ports)),
    ]
}

/// Authentication modes `with_auth` allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthModes {
    /// No entry has an auth mode.
    None,
    /// `required` and `disabled`, which never change a verdict once mutual authentication
    /// succeeds, on any entry.
    NeverFailing,
    /// Every mode, `test-always-fail` included, on any entry: several modes meet on one flow, and
    /// the per-key rules of Cilium (the reference evaluator's `effective_auth`) decide.
    Every,
}

fn entry(dual_stack: bool, auth_modes: AuthModes) -> impl Strategy<Value = EntrySpec> {
    let peers = prop_oneof![1 => Just(None), 4 => prop::collection::vec(select(peer_pool(dual_stack)), 0..3).prop_map(Some)];
    let auth = match auth_modes {
        AuthModes::None => Just(None).boxed(),
        AuthModes::NeverFailing => prop_oneof![6 => Just(None), 1 => Just(Some(AuthMode::Required)), 1 => Just(Some(AuthMode::Disabled))].boxed(),
        AuthModes::Every => {
            prop_oneof![6 => Just(None), 1 => Just(Some(AuthMode::Required)), 1 => Just(Some(AuthMode::Disabled)), 1 => Just(Some(AuthMode::TestAlwaysFail))]
                .boxed()
        }
    };
    (prop::bool::weighted(0.25), peers, l4(), prop_oneof![3 => Just(None), 1 => select(vec!["GET", "POST"]).prop_map(Some)], auth).prop_map(
        |(deny, peers, l4, http, auth)| {
            let is_tcp = matches!(l4, L4Match::Protocol { protocol: Protocol::TCP, .. });
            EntrySpec { deny, peers, l4, http: if deny || !is_tcp { None } else { http }, auth: if deny { None } else { auth } }
        },
    )
}

fn direction(dual_stack: bool, auth_modes: AuthModes) -> impl Strategy<Value = DirectionSpec> {
    (prop::bool::weighted(0.85), prop::bool::weighted(0.75), prop::collection::vec(entry(dual_stack, auth_modes), 0..6))
        .prop_map(move |(enforced, default_deny, entries)| DirectionSpec { enforced, default_deny, entries })
}

fn end() -> impl Strategy<Value = EndSpec> {
    prop_oneof![
        4 => (0usize..8).prop_map(EndSpec::Endpoint),
        1 => (0usize..8).prop_map(EndSpec::EndpointAddress),
        2 => (0usize..6).prop_map(EndSpec::Outside),
    ]
}

fn flow() -> impl Strategy<Value = FlowSpec> {
    (
        end(),
        end(),
        prop::bool::weighted(0.3),
        prop_oneof![4 => Just(Protocol::TCP), 2 => Just(Protocol::UDP), 1 => Just(Protocol::SCTP), 2 => Just(Protocol::ICMP)],
        0usize..16,
        prop_oneof![3 => Just(None), 1 => select(vec!["GET", "PUT", "POST"]).prop_map(Some)],
    )
        .prop_map(|(source, destination, ipv6, protocol, port_choice, http)| FlowSpec {
            source,
            destination,
            ipv6,
            protocol,
            port_choice,
            http: if protocol == Protocol::TCP { http } else { None },
        })
}

/// A random cluster with 1 to `flows` random flows.
pub fn case(flows: usize, auth_modes: AuthModes) -> impl Strategy<Value = Case> {
    prop::bool::weighted(0.3).prop_flat_map(move |dual_stack| {
        let pod = (select(POD_IDENTITIES.to_vec()), 0usize..2, direction(dual_stack, auth_modes), direction(dual_stack, auth_modes))
            .prop_map(|(identity, node, ingress, egress)| PodSpec { identity, node, ingress, egress });
        (prop::collection::vec(pod, 1..6), direction(dual_stack, auth_modes), direction(dual_stack, auth_modes), prop::collection::vec(flow(), 1..=flows))
            .prop_map(move |(pods, host_a, host_b, flows)| Case { dual_stack, pods, hosts: [host_a, host_b], flows })
    })
}

const NODES: [&str; 2] = ["node-a", "node-b"];

fn node_addresses(node: usize) -> Vec<IpAddr> {
    vec![IpAddr::V4(Ipv4Addr::new(172, 16, 0, node as u8 + 1)), IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, node as u16 + 1))]
}

fn pod_addresses(index: usize, node: usize) -> Vec<IpAddr> {
    vec![IpAddr::V4(Ipv4Addr::new(10, 0, node as u8, index as u8 + 1)), IpAddr::V6(Ipv6Addr::new(0xfd00, 0x10, node as u16, 0, 0, 0, 0, index as u16 + 1))]
}

fn outside(index: usize, ipv6: bool) -> IpAddr {
    let v4 = [
        Ipv4Addr::new(203, 0, 113, 5),
        Ipv4Addr::new(203, 0, 113, 200),
        Ipv4Addr::new(198, 51, 100, 7),
        KUBE_APISERVER,
        Ipv4Addr::new(8, 8, 8, 8),
        Ipv4Addr::new(203, 0, 113, 129),
    ];
    let v6 = [
        Ipv6Addr::new(0x2001, 0xdb8, 1, 0, 0, 0, 0, 5),
        Ipv6Addr::new(0x2001, 0xdb8, 1, 0xff, 0, 0, 0, 9),
        Ipv6Addr::new(0x2001, 0xdb8, 2, 0, 0, 0, 0, 9),
        Ipv6Addr::new(0x2606, 0x4700, 0, 0, 0, 0, 0, 0x1111),
        Ipv6Addr::new(0x2001, 0xdb8, 1, 7, 0, 0, 0, 1),
        Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1),
    ];
    if ipv6 { IpAddr::V6(v6[index % v6.len()]) } else { IpAddr::V4(v4[index % v4.len()]) }
}

fn label(source: &str, key: &str, value: &str) -> Label {
    Label::new(source, key, value)
}

fn origin(owner: &str, direction: &str, index: usize) -> RuleOrigin {
    RuleOrigin::Policy {
        kind: "CiliumNetworkPolicy".to_owned(),
        namespace: Some("default".to_owned()),
        name: format!("{owner}-{direction}"),
        rule_path: format!("spec.{direction}[{index}]"),
        location: None,
    }
}

fn direction_policy(spec: &DirectionSpec, owner: &str, direction: &str) -> DirectionPolicy {
    let entries: Vec<PolicyEntry> = spec
        .entries
        .iter()
        .enumerate()
        .map(|(index, entry)| PolicyEntry {
            verdict: if entry.deny { RuleVerdict::Deny } else { RuleVerdict::Allow },
            peers: match &entry.peers {
                None => Peers::Any,
                Some(ids) => Peers::Identities(ids.iter().map(|id| NumericIdentity(*id)).collect()),
            },
            l4: entry.l4,
            l7: entry.http.map(|method| L7Rules::Http(vec![HttpRule { method: Some(method.to_owned()), path: None, host: None, headers: Vec::new() }])),
            auth: entry.auth,
            pending_fqdns: Vec::new(),
            origin: origin(owner, direction, index),
        })
        .collect();
    let selected_by = if spec.enforced { vec![origin(owner, direction, 0)] } else { Vec::new() };
    DirectionPolicy { enforced: spec.enforced, default_deny: spec.enforced && spec.default_deny, entries, selected_by }
}

impl Case {
    /// The IR of the generated cluster.
    pub fn ir(&self) -> PolicyIr {
        let settings = Settings { dual_stack: self.dual_stack, ..Settings::default() };
        let mut identities: Vec<IdentityInfo> = NumericIdentity::RESERVED
            .iter()
            .map(|id| IdentityInfo {
                id: *id,
                kind: IdentityKind::Reserved,
                labels: [Label::reserved(id.reserved_name().unwrap_or("reserved"))].into_iter().collect(),
            })
            .collect();
        for id in POD_IDENTITIES {
            let labels: BTreeSet<Label> =
                [label("k8s", "app", &format!("app-{id}")), label("k8s", "io.kubernetes.pod.namespace", "default")].into_iter().collect();
            identities.push(IdentityInfo { id: NumericIdentity(id), kind: IdentityKind::Endpoint, labels });
        }
        let cidrs = [(1, "203.0.113.0/24"), (2, "203.0.113.128/25"), (3, "2001:db8:1::/48")];
        for (index, text) in cidrs {
            let prefix = IpPrefix::parse(text).unwrap_or_else(|| IpPrefix::host(IpAddr::V4(Ipv4Addr::UNSPECIFIED)));
            let labels: BTreeSet<Label> = [label("cidr", &prefix.to_string(), ""), Label::reserved("world")].into_iter().collect();
            identities.push(IdentityInfo { id: NumericIdentity::local(index), kind: IdentityKind::Cidr { prefix }, labels });
        }
        let nodes: Vec<NodeInfo> = NODES
            .iter()
            .enumerate()
            .map(|(index, name)| NodeInfo { name: (*name).to_owned(), addresses: node_addresses(index), pod_cidrs: Vec::new() })
            .collect();
        let mut endpoints: Vec<Endpoint> = self
            .pods
            .iter()
            .enumerate()
            .map(|(index, pod)| {
                let owner = format!("pod-{index}");
                Endpoint {
                    id: EndpointId(index as u16 + 1),
                    kind: EndpointKind::Pod { namespace: "default".to_owned(), name: owner.clone() },
                    identity: NumericIdentity(pod.identity),
                    node: Some(NODES[pod.node].to_owned()),
                    addresses: pod_addresses(index, pod.node),
                    ingress: direction_policy(&pod.ingress, &owner, "ingress"),
                    egress: direction_policy(&pod.egress, &owner, "egress"),
                }
            })
            .collect();
        for (index, host) in self.hosts.iter().enumerate() {
            let owner = format!("host-{}", NODES[index]);
            endpoints.push(Endpoint {
                id: EndpointId(100 + index as u16),
                kind: EndpointKind::Host { node: NODES[index].to_owned() },
                identity: NumericIdentity::HOST,
                node: Some(NODES[index].to_owned()),
                addresses: node_addresses(index),
                ingress: direction_policy(host, &owner, "ingress"),
                egress: direction_policy(host, &owner, "egress"),
            });
        }
        let reserved = vec![ReservedAddress { prefix: IpPrefix::host(IpAddr::V4(KUBE_APISERVER)), identity: NumericIdentity::KUBE_APISERVER }];
        PolicyIr::new(settings, identities, nodes, endpoints, reserved)
    }

    /// The IR flows of the generated flows.
    pub fn flows(&self, ir: &PolicyIr) -> Vec<Flow> {
        let count = ir.endpoints.len().max(1);
        self.flows
            .iter()
            .map(|spec| {
                let end = |end: &EndSpec| match end {
                    EndSpec::Endpoint(index) => FlowEnd::Endpoint(ir.endpoints[index % count].id),
                    EndSpec::EndpointAddress(index) => {
                        let endpoint = &ir.endpoints[index % count];
                        let address = endpoint.addresses.iter().copied().find(|address| address.is_ipv6() == spec.ipv6);
                        address.map(FlowEnd::Address).unwrap_or(FlowEnd::Endpoint(endpoint.id))
                    }
                    EndSpec::Outside(index) => FlowEnd::Address(outside(*index, spec.ipv6)),
                };
                let (protocol, port) = match spec.protocol {
                    Protocol::ICMP if spec.ipv6 => (Protocol::ICMPV6, ICMPV6_TYPES[spec.port_choice % ICMPV6_TYPES.len()]),
                    Protocol::ICMP => (Protocol::ICMP, ICMP_TYPES[spec.port_choice % ICMP_TYPES.len()]),
                    protocol => (protocol, PORTS[spec.port_choice % PORTS.len()]),
                };
                let l7 = spec.http.map(|method| L7Request::Http(HttpRequest { method: method.to_owned(), ..HttpRequest::default() }));
                Flow { source: end(&spec.source), destination: end(&spec.destination), protocol, port, l7 }
            })
            .collect()
    }
}

/// Checks one engine's runs against the reference evaluator: the same verdict on every flow,
/// and per direction the same program ran and allowed or dropped. A flow the engine could not
/// turn into a packet is a failure too (the generator only makes flows with a common family).
pub fn compare(ir: &PolicyIr, flows: &[Flow], runs: &[Result<FlowRun, String>], engine: &str) -> Result<(), String> {
    if runs.len() != flows.len() {
        return Err(format!("{engine}: {} runs for {} flows", runs.len(), flows.len()));
    }
    for (index, (flow, run)) in flows.iter().zip(runs).enumerate() {
        let reference = polc_ir::evaluate(ir, flow);
        let run = run.as_ref().map_err(|message| format!("{engine}: flow {index} {flow:?} was not run: {message}"))?;
        let direction = |verdict: &Option<polc_ir::DirectionVerdict>| verdict.as_ref().map(|direction| direction.allowed);
        let ran = |run: &Option<polc_ebpf::engine::DirectionRun>| run.as_ref().map(|direction| direction.allowed());
        let (reference_egress, reference_ingress) = (direction(&reference.egress), direction(&reference.ingress));
        if run.allowed != reference.allowed || ran(&run.egress) != reference_egress || ran(&run.ingress) != reference_ingress {
            return Err(format!(
                "{engine} and the reference disagree on flow {index}: {flow:?}\n  reference: {} (egress {:?}, ingress {:?}): {}\n  {engine}: {} (egress {:?}, ingress {:?}): {}",
                reference.allowed,
                reference_egress,
                reference_ingress,
                reference.reason,
                run.allowed,
                ran(&run.egress),
                ran(&run.ingress),
                run.reason
            ));
        }
    }
    Ok(())
}
