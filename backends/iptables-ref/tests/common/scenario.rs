//! Generated scenarios for differential tests: a fixed two-node address plan with random
//! identities, CIDR identities, policies and flows, all from a seed.

use std::net::IpAddr;

use polc_ir::{
    AuthMode, DirectionPolicy, Endpoint, Flow, FlowEnd, HttpRule, IdentityInfo, ImplicitRule, L4Match, L7Rules, Peers, PolicyEntry, PolicyIr, PortRange,
    Protocol, ReservedAddress, RuleOrigin, RuleVerdict,
};

use super::*;

/// SplitMix64: small, seedable, good enough to pick test cases.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// Pods: (endpoint ID, node, addresses). Pod 4 has no IPv6 address.
pub const PODS: [(u16, &str, &[&str]); 4] = [
    (1, "node-a", &["10.244.1.1", "fd00:1::1"]),
    (2, "node-a", &["10.244.1.2", "fd00:1::2"]),
    (3, "node-b", &["10.244.2.3", "fd00:2::3"]),
    (4, "node-b", &["10.244.2.4"]),
];
/// Hosts: (endpoint ID, node, addresses).
pub const HOSTS: [(u16, &str, &[&str]); 2] = [(10, "node-a", &["192.168.10.11", "fd10::11"]), (11, "node-b", &["192.168.10.12", "fd10::12"])];
/// Addresses outside the cluster; 192.168.10.5 is the API server.
pub const EXTERNAL: [&str; 8] = ["203.0.113.7", "203.0.113.200", "198.51.100.9", "192.0.2.1", "192.168.10.5", "2001:db8::7", "2001:db8:1::9", "2001:db9::1"];
/// Prefixes CIDR identities may be made of.
const CIDR_POOL: [&str; 9] =
    ["203.0.113.0/24", "203.0.113.128/25", "203.0.113.0/28", "198.51.100.0/24", "192.0.0.0/8", "10.244.0.0/16", "2001:db8::/32", "2001:db8:1::/48", "::/1"];
const POD_IDENTITIES: [u32; 3] = [256, 257, 258];
const PORTS: [u16; 10] = [22, 53, 80, 443, 5000, 5432, 8080, 9000, 10250, 30000];
const ICMP_TYPES: [u16; 3] = [8, 13, 0];
const ICMPV6_TYPES: [u16; 4] = [128, 129, 1, 135];

/// Every address an endpoint or outside peer of the plan has.
pub fn all_addresses() -> Vec<IpAddr> {
    PODS.iter().chain(HOSTS.iter()).flat_map(|(_, _, addresses)| addresses.iter()).chain(EXTERNAL.iter()).map(|text| address(text)).collect()
}

pub fn external_addresses() -> Vec<IpAddr> {
    EXTERNAL.iter().map(|text| address(text)).collect()
}

/// One generated case.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub index: usize,
    pub ir: PolicyIr,
    pub flows: Vec<Flow>,
}

fn random_l4(rng: &mut Rng) -> L4Match {
    match rng.below(10) {
        0 | 1 => L4Match::Any,
        2..=6 => {
            let protocol = *rng.pick(&[Protocol::TCP, Protocol::TCP, Protocol::UDP, Protocol::SCTP]);
            let ports = match rng.below(4) {
                0 => PortRange::ALL,
                1 => {
                    let (a, b) = (*rng.pick(&PORTS), *rng.pick(&PORTS));
                    PortRange::new(a, b)
                }
                _ => PortRange::single(*rng.pick(&PORTS)),
            };
            L4Match::protocol(protocol, ports)
        }
        7 | 8 => L4Match::protocol(Protocol::ICMP, if rng.chance(30) { PortRange::ALL } else { PortRange::single(*rng.pick(&ICMP_TYPES)) }),
        _ => L4Match::protocol(Protocol::ICMPV6, if rng.chance(30) { PortRange::ALL } else { PortRange::single(*rng.pick(&ICMPV6_TYPES)) }),
    }
}

fn random_entry(rng: &mut Rng, peer_pool: &[u32], rule_path: String) -> PolicyEntry {
    let verdict = if rng.chance(30) { RuleVerdict::Deny } else { RuleVerdict::Allow };
    let peers = match rng.below(20) {
        0..=3 => Peers::Any,
        4 => Peers::Identities(Default::default()),
        _ => {
            let count = 1 + rng.below(3);
            Peers::Identities((0..count).map(|_| id(*rng.pick(peer_pool))).collect())
        }
    };
    let l4 = random_l4(rng);
    let mut entry = PolicyEntry { verdict, peers, l4, l7: None, auth: None, pending_fqdns: Vec::new(), origin: origin(&rule_path) };
    if verdict == RuleVerdict::Allow {
        if rng.chance(8) {
            entry.auth = Some(AuthMode::TestAlwaysFail);
        } else if rng.chance(5) {
            entry.auth = Some(AuthMode::Required);
        }
        if matches!(l4, L4Match::Protocol { protocol: Protocol::TCP, .. }) && rng.chance(15) {
            entry.l7 = Some(L7Rules::Http(vec![HttpRule { method: Some("GET".to_owned()), ..HttpRule::default() }]));
        }
    }
    entry
}

fn random_direction(rng: &mut Rng, peer_pool: &[u32], endpoint: u16, direction: &str, pod_ingress: bool) -> DirectionPolicy {
    if !rng.chance(75) {
        return DirectionPolicy::default();
    }
    let default_deny = rng.chance(65);
    let count = rng.below(6);
    let mut entries: Vec<PolicyEntry> = (0..count).map(|index| random_entry(rng, peer_pool, format!("ep{endpoint}.{direction}[{index}]"))).collect();
    if pod_ingress && default_deny && rng.chance(70) {
        entries.push(PolicyEntry {
            verdict: RuleVerdict::Allow,
            peers: Peers::Identities([id(1)].into_iter().collect()),
            l4: L4Match::Any,
            l7: None,
            auth: None,
            pending_fqdns: Vec::new(),
            origin: RuleOrigin::Implicit(ImplicitRule::AllowLocalhost),
        });
    }
    policy(default_deny, entries)
}

fn random_end(rng: &mut Rng, family_v6: bool) -> IpAddr {
    let candidates: Vec<IpAddr> = all_addresses().into_iter().filter(|address| address.is_ipv6() == family_v6).collect();
    *rng.pick(&candidates)
}

/// Scenario `index` of the run with `seed`.
pub fn scenario(seed: u64, index: usize, n_flows: usize) -> Scenario {
    let mut rng = Rng::new(seed ^ (index as u64).wrapping_mul(0xA24B_AED4_963E_E407));
    let mut identities: Vec<IdentityInfo> = POD_IDENTITIES.iter().map(|number| endpoint_identity(*number, &format!("app{number}"))).collect();
    let mut cidr_ids: Vec<u32> = Vec::new();
    for (position, text) in CIDR_POOL.iter().enumerate() {
        if rng.chance(45) {
            let number = 16_777_217 + position as u32;
            identities.push(cidr_identity(number, text));
            cidr_ids.push(number);
        }
    }
    let mut peer_pool: Vec<u32> = vec![1, 2, 6, 7, 9, 10, 256, 257, 258];
    peer_pool.extend(&cidr_ids);
    let mut endpoints: Vec<Endpoint> = Vec::new();
    for (endpoint, node_name, addresses) in PODS {
        let identity = *rng.pick(&POD_IDENTITIES);
        let ingress = random_direction(&mut rng, &peer_pool, endpoint, "ingress", true);
        let egress = random_direction(&mut rng, &peer_pool, endpoint, "egress", false);
        endpoints.push(pod(endpoint, &format!("pod{endpoint}"), identity, node_name, addresses, ingress, egress));
    }
    for (endpoint, node_name, addresses) in HOSTS {
        let ingress = random_direction(&mut rng, &peer_pool, endpoint, "ingress", false);
        let egress = random_direction(&mut rng, &peer_pool, endpoint, "egress", false);
        endpoints.push(host(endpoint, node_name, addresses, ingress, egress));
    }
    let nodes = HOSTS.iter().map(|(_, name, addresses)| node(name, addresses)).collect();
    let mut ir = ir(identities, nodes, endpoints, vec![ReservedAddress { prefix: prefix("192.168.10.5/32"), identity: id(7) }]);
    ir.settings.dual_stack = rng.chance(30);

    let mut flows = Vec::new();
    while flows.len() < n_flows {
        let protocol = *rng.pick(&[Protocol::TCP, Protocol::TCP, Protocol::UDP, Protocol::UDP, Protocol::SCTP, Protocol::ICMP, Protocol::ICMPV6]);
        let v6 = match protocol {
            Protocol::ICMP => false,
            Protocol::ICMPV6 => true,
            _ => rng.chance(35),
        };
        let source = random_end(&mut rng, v6);
        let destination = random_end(&mut rng, v6);
        // Outside-to-outside flows meet no policy; keep the flows that test something.
        if ir.endpoint_by_address(source).is_none() && ir.endpoint_by_address(destination).is_none() {
            continue;
        }
        let port = match protocol {
            Protocol::ICMP => *rng.pick(&ICMP_TYPES),
            Protocol::ICMPV6 => *rng.pick(&ICMPV6_TYPES),
            _ => *rng.pick(&PORTS),
        };
        flows.push(Flow { source: FlowEnd::Address(source), destination: FlowEnd::Address(destination), protocol, port, l7: None });
    }
    Scenario { index, ir, flows }
}
