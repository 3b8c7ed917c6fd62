//! PRIVILEGED: the simulated cluster. One namespace per node (a router that holds the node's
//! own addresses and its rendering), one per pod (joined to its node by a veth pair), and one
//! `fabric` namespace that joins the nodes and owns every address outside the cluster.
//!
//! ```text
//!   pod ns ──veth── node ns (router, iptables + ipset) ──veth── fabric ns (outside addresses)
//!   pod ns ──veth──┘                                             │
//!                                        other node ns ──veth────┘
//! ```
//!
//! Links carry only link addresses: 169.254.1.1 / fe80::1:1 (fabric) and 169.254.1.2 /
//! fe80::1:2 (node) on the uplinks, 169.254.0.1 / fe80::1 (node) and 169.254.0.2 / fe80::2 (pod)
//! on the pod links. Pods route everything to their node,
//! nodes route their pods directly and everything else to the fabric, and the fabric routes
//! each node's addresses and pod addresses to that node. So pod-to-pod traffic on one node
//! crosses the node's FORWARD hook, traffic of the node itself its OUTPUT and INPUT hooks, and
//! traffic between nodes leaves one node and enters the other, each applying its own policy.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use polc_ir::{Endpoint, EndpointId, Flow, FlowEnd, PolicyIr};

use super::EngineError;
use super::netns::{NamespaceGroup, run_tool};
use crate::render::render_node;
use crate::sets::Family;

/// Which iptables implementation loads the rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Backend {
    /// `iptables-legacy-restore` (x_tables).
    Legacy,
    /// `iptables-nft-restore` (nf_tables with the xtables compatibility layer).
    Nft,
}

impl Backend {
    pub const ALL: [Backend; 2] = [Backend::Legacy, Backend::Nft];

    pub fn as_str(self) -> &'static str {
        match self {
            Backend::Legacy => "legacy",
            Backend::Nft => "nft",
        }
    }

    /// The restore tool of `family`.
    pub fn restore_tool(self, family: Family) -> &'static str {
        match (self, family) {
            (Backend::Legacy, Family::V4) => "iptables-legacy-restore",
            (Backend::Legacy, Family::V6) => "ip6tables-legacy-restore",
            (Backend::Nft, Family::V4) => "iptables-nft-restore",
            (Backend::Nft, Family::V6) => "ip6tables-nft-restore",
        }
    }

    /// Parses `legacy` or `nft`.
    pub fn parse(text: &str) -> Option<Backend> {
        Backend::ALL.into_iter().find(|backend| backend.as_str() == text)
    }
}

/// The IPv4 link addresses of the simulated links (see [`Link`]).
const LINK_ADDRESSES: [[u8; 4]; 4] = [[169, 254, 0, 1], [169, 254, 0, 2], [169, 254, 1, 1], [169, 254, 1, 2]];

/// Why an address cannot be placed in the simulated network, if it cannot.
pub fn unusable_reason(address: IpAddr) -> Option<&'static str> {
    match address {
        IpAddr::V4(v4) if v4.is_unspecified() || v4.is_broadcast() => Some("an unspecified or broadcast address"),
        IpAddr::V4(v4) if v4.is_loopback() => Some("a loopback address"),
        IpAddr::V4(v4) if v4.is_multicast() => Some("a multicast address"),
        IpAddr::V4(v4) if LINK_ADDRESSES.contains(&v4.octets()) => {
            Some("one of the link addresses of the test network (169.254.0.1, 169.254.0.2, 169.254.1.1, 169.254.1.2)")
        }
        IpAddr::V6(v6) if v6.is_unspecified() || v6.is_loopback() => Some("an unspecified or loopback address"),
        IpAddr::V6(v6) if v6.is_multicast() => Some("a multicast address"),
        IpAddr::V6(v6) if v6.segments()[0] & 0xFFC0 == 0xFE80 => Some("an IPv6 link-local address, which needs an interface to mean anything"),
        IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some() => Some("an IPv4-mapped IPv6 address"),
        _ => None,
    }
}

/// Where every address lives: the nodes with their own addresses and pods, and the addresses
/// outside the cluster. Built from an IR (every endpoint, or those some flows touch) plus
/// outside addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    nodes: BTreeMap<Option<String>, NodeLayout>,
    endpoints: BTreeSet<EndpointId>,
    external: BTreeSet<IpAddr>,
    /// Addresses that cannot be simulated, and why.
    unusable: BTreeMap<IpAddr, &'static str>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct NodeLayout {
    host: BTreeSet<IpAddr>,
    pods: BTreeMap<EndpointId, BTreeSet<IpAddr>>,
}

impl Layout {
    /// Every endpoint of `ir` on its node, and `external` (minus endpoint addresses) outside.
    /// An address shared by several endpoints goes to the one that owns it in the IR.
    pub fn new(ir: &PolicyIr, external: impl IntoIterator<Item = IpAddr>) -> Layout {
        Layout::build(ir, |_| true, external)
    }

    /// Only what `flows` touch: the endpoints they start or end at (by ID or by address), the
    /// nodes those run on, and their outside addresses. Much smaller than [`Layout::new`] for a
    /// large inventory.
    pub fn for_flows(ir: &PolicyIr, flows: &[Flow]) -> Layout {
        let mut touched: BTreeSet<EndpointId> = BTreeSet::new();
        let mut external: Vec<IpAddr> = Vec::new();
        for end in flows.iter().flat_map(|flow| [flow.source, flow.destination]) {
            match end {
                FlowEnd::Endpoint(id) => {
                    touched.insert(id);
                }
                FlowEnd::Address(address) => match ir.endpoint_by_address(address) {
                    Some(owner) => {
                        touched.insert(owner.id);
                    }
                    None => external.push(address),
                },
            }
        }
        Layout::build(ir, |endpoint| touched.contains(&endpoint.id), external)
    }

    fn build(ir: &PolicyIr, include: impl Fn(&Endpoint) -> bool, external: impl IntoIterator<Item = IpAddr>) -> Layout {
        let mut layout = Layout { nodes: BTreeMap::new(), endpoints: BTreeSet::new(), external: BTreeSet::new(), unusable: BTreeMap::new() };
        let mut placed: BTreeSet<IpAddr> = BTreeSet::new();
        for endpoint in ir.endpoints.iter().filter(|endpoint| include(endpoint)) {
            layout.endpoints.insert(endpoint.id);
            let node = layout.nodes.entry(endpoint.node.clone()).or_default();
            let mut owned = BTreeSet::new();
            for address in &endpoint.addresses {
                if let Some(reason) = unusable_reason(*address) {
                    layout.unusable.insert(*address, reason);
                    continue;
                }
                if ir.endpoint_by_address(*address).is_some_and(|owner| owner.id == endpoint.id) && placed.insert(*address) {
                    owned.insert(*address);
                }
            }
            if endpoint.is_host() {
                node.host.extend(owned);
            } else {
                node.pods.insert(endpoint.id, owned);
            }
        }
        for address in external {
            if ir.endpoint_by_address(address).is_some() {
                continue;
            }
            match unusable_reason(address) {
                Some(reason) => {
                    layout.unusable.insert(address, reason);
                }
                None => {
                    layout.external.insert(address);
                }
            }
        }
        layout
    }

    /// Why `address` cannot be used, if the layout refused it.
    pub fn unusable(&self, address: IpAddr) -> Option<&'static str> {
        self.unusable.get(&address).copied()
    }

    /// Whether `ir` places the endpoints of this layout exactly as it does, and owns none of
    /// its outside addresses.
    fn fits(&self, ir: &PolicyIr) -> bool {
        let again = Layout::build(ir, |endpoint| self.endpoints.contains(&endpoint.id), std::iter::empty());
        again.nodes == self.nodes && again.endpoints == self.endpoints && self.external.iter().all(|address| ir.endpoint_by_address(*address).is_none())
    }
}

/// How long loading one rendering took.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ApplyStats {
    pub ipset: Duration,
    pub iptables: Duration,
    pub ip6tables: Duration,
    pub rules: usize,
    pub set_entries: usize,
}

/// The simulated cluster for one backend: namespaces, links, addresses and routes. Dropping it
/// deletes every namespace.
#[derive(Debug)]
pub struct Cluster {
    backend: Backend,
    layout: Layout,
    namespaces: NamespaceGroup,
    routers: BTreeMap<Option<String>, usize>,
    pods: BTreeMap<EndpointId, usize>,
    address_namespace: BTreeMap<IpAddr, usize>,
}

const FABRIC: usize = 0;

fn host_length(address: IpAddr) -> u8 {
    if address.is_ipv4() { 32 } else { 128 }
}

fn add_address(lines: &mut String, address: IpAddr, device: &str) {
    let nodad = if address.is_ipv4() { "" } else { " nodad" };
    lines.push_str(&format!("addr add {address}/{} dev {device}{nodad}\n", host_length(address)));
}

/// The two kinds of link. Each has its own pair of link addresses, so that an ARP request
/// never comes from an address the receiver holds itself (Linux ignores those).
#[derive(Clone, Copy)]
enum Link {
    /// fabric (upper side) to node (lower side).
    Uplink,
    /// node (upper side) to pod (lower side).
    PodLink,
}

impl Link {
    fn upper(self) -> (&'static str, &'static str) {
        match self {
            Link::Uplink => ("169.254.1.1", "fe80::1:1"),
            Link::PodLink => ("169.254.0.1", "fe80::1"),
        }
    }

    fn lower(self) -> (&'static str, &'static str) {
        match self {
            Link::Uplink => ("169.254.1.2", "fe80::1:2"),
            Link::PodLink => ("169.254.0.2", "fe80::2"),
        }
    }
}

/// The lower side of a link: its link addresses and a default route to the upper side.
fn lower_side(lines: &mut String, device: &str, link: Link) {
    let (own_v4, own_v6) = link.lower();
    let (gateway_v4, gateway_v6) = link.upper();
    lines.push_str(&format!("link set {device} up\n"));
    lines.push_str(&format!("addr add {own_v4}/32 dev {device}\n"));
    lines.push_str(&format!("addr add {own_v6}/64 dev {device} nodad\n"));
    lines.push_str(&format!("route add 0.0.0.0/0 via {gateway_v4} dev {device} onlink\n"));
    lines.push_str(&format!("route add ::/0 via {gateway_v6} dev {device}\n"));
}

/// The upper side of a link: its link addresses.
fn upper_side(lines: &mut String, device: &str, link: Link) {
    let (own_v4, own_v6) = link.upper();
    lines.push_str(&format!("link set {device} up\n"));
    lines.push_str(&format!("addr add {own_v4}/32 dev {device}\n"));
    lines.push_str(&format!("addr add {own_v6}/64 dev {device} nodad\n"));
}

impl Cluster {
    /// Builds the namespaces, links, addresses and routes of `layout`.
    pub fn new(layout: &Layout, backend: Backend) -> Result<Cluster, EngineError> {
        let mut roles: Vec<String> = vec!["fabric".to_owned()];
        let mut routers = BTreeMap::new();
        let mut pods = BTreeMap::new();
        for (index, (node, node_layout)) in layout.nodes.iter().enumerate() {
            routers.insert(node.clone(), roles.len());
            roles.push(format!("n{index}"));
            for pod in node_layout.pods.keys() {
                pods.insert(*pod, roles.len());
                roles.push(format!("p{}", pod.0));
            }
        }
        let namespaces = NamespaceGroup::create(&roles)?;

        // Sysctls first: links created afterwards inherit `default` (no duplicate address
        // detection, no reverse-path filter).
        for (index, namespace) in namespaces.iter().enumerate() {
            let forwarding = if index == FABRIC || routers.values().any(|router| *router == index) { "1" } else { "0" };
            namespace.enter(|| {
                let settings = [
                    ("net/ipv6/conf/all/accept_dad", "0"),
                    ("net/ipv6/conf/default/accept_dad", "0"),
                    ("net/ipv4/conf/all/rp_filter", "0"),
                    ("net/ipv4/conf/default/rp_filter", "0"),
                    ("net/ipv4/ip_forward", forwarding),
                    ("net/ipv6/conf/all/forwarding", forwarding),
                    ("net/ipv4/icmp_ratelimit", "0"),
                    ("net/ipv6/icmp/ratelimit", "0"),
                ];
                for (key, value) in settings {
                    std::fs::write(std::path::Path::new("/proc/sys").join(key), value)
                        .map_err(|error| EngineError::new(format!("cannot set sysctl `{key}` in a test namespace: {error}")))?;
                }
                Ok(())
            })?;
        }

        // The veth pairs, created straight into their namespaces.
        let mut links = String::new();
        for (index, (node, node_layout)) in layout.nodes.iter().enumerate() {
            let router = namespaces.get(routers[node]).name();
            links.push_str(&format!("link add n{index} netns {} type veth peer name up0 netns {router}\n", namespaces.get(FABRIC).name()));
            for pod in node_layout.pods.keys() {
                links.push_str(&format!("link add p{} netns {router} type veth peer name eth0 netns {}\n", pod.0, namespaces.get(pods[pod]).name()));
            }
        }
        if !links.is_empty() {
            run_tool("ip", &["-batch", "-"], &links)?;
        }

        let mut address_namespace: BTreeMap<IpAddr, usize> = BTreeMap::new();
        // The fabric: outside addresses, and a route to every node's addresses.
        let mut fabric = String::from("link set lo up\n");
        for address in &layout.external {
            add_address(&mut fabric, *address, "lo");
            address_namespace.insert(*address, FABRIC);
        }
        for (index, (node, node_layout)) in layout.nodes.iter().enumerate() {
            let device = format!("n{index}");
            upper_side(&mut fabric, &device, Link::Uplink);
            let addresses = node_layout.host.iter().chain(node_layout.pods.values().flatten());
            for address in addresses {
                match address {
                    IpAddr::V4(_) => fabric.push_str(&format!("route add {address}/32 via {} dev {device} onlink\n", Link::Uplink.lower().0)),
                    IpAddr::V6(_) => fabric.push_str(&format!("route add {address}/128 via {} dev {device}\n", Link::Uplink.lower().1)),
                }
            }
            // Each node: its own addresses, its uplink, its pods.
            let mut router = String::from("link set lo up\n");
            for address in &node_layout.host {
                add_address(&mut router, *address, "lo");
                address_namespace.insert(*address, routers[node]);
            }
            lower_side(&mut router, "up0", Link::Uplink);
            for (pod, addresses) in &node_layout.pods {
                let device = format!("p{}", pod.0);
                upper_side(&mut router, &device, Link::PodLink);
                for address in addresses {
                    router.push_str(&format!("route add {address}/{} dev {device}\n", host_length(*address)));
                }
                let mut pod_lines = String::from("link set lo up\n");
                for address in addresses {
                    add_address(&mut pod_lines, *address, "eth0");
                    address_namespace.insert(*address, pods[pod]);
                }
                lower_side(&mut pod_lines, "eth0", Link::PodLink);
                namespaces.get(pods[pod]).run_tool("ip", &["-batch", "-"], &pod_lines)?;
            }
            namespaces.get(routers[node]).run_tool("ip", &["-batch", "-"], &router)?;
        }
        namespaces.get(FABRIC).run_tool("ip", &["-batch", "-"], &fabric)?;
        Ok(Cluster { backend, layout: layout.clone(), namespaces, routers, pods, address_namespace })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    pub(crate) fn namespaces(&self) -> &NamespaceGroup {
        &self.namespaces
    }

    /// The namespace that owns `address`, if the layout placed it.
    pub(crate) fn namespace_of(&self, address: IpAddr) -> Option<usize> {
        self.address_namespace.get(&address).copied()
    }

    /// The namespace of endpoint `id` (a pod's own, or its node's for a host endpoint).
    pub(crate) fn endpoint_namespace(&self, ir: &PolicyIr, id: EndpointId) -> Option<usize> {
        let endpoint = ir.endpoint(id)?;
        if endpoint.is_host() { self.routers.get(&endpoint.node).copied() } else { self.pods.get(&id).copied() }
    }

    /// Loads the rendering of every node of `ir` into that node's namespace: `ipset -exist
    /// restore`, then the IPv4 and IPv6 tables (which replace the previous ones). `ir` must have
    /// the layout this cluster was built with.
    pub fn apply(&self, ir: &PolicyIr) -> Result<ApplyStats, EngineError> {
        if !self.layout.fits(ir) {
            return Err(EngineError::new("the IR's endpoints, nodes or addresses differ from the ones this test network was built for"));
        }
        let mut stats = ApplyStats::default();
        for (node, router) in &self.routers {
            let rendering = render_node(ir, node.as_deref());
            stats.rules += rendering.stats.rules_ipv4 + rendering.stats.rules_ipv6;
            stats.set_entries += rendering.stats.set_entries;
            let backend = self.backend;
            let timings = self.namespaces.get(*router).enter(|| {
                let started = Instant::now();
                run_tool("ipset", &["-exist", "restore"], &rendering.ipset)?;
                let ipset = started.elapsed();
                let mut wait: Vec<&str> = Vec::new();
                if backend == Backend::Legacy {
                    wait.extend(["-w", "10"]);
                }
                let started = Instant::now();
                run_tool(backend.restore_tool(Family::V4), &wait, &rendering.iptables)?;
                let iptables = started.elapsed();
                let started = Instant::now();
                run_tool(backend.restore_tool(Family::V6), &wait, &rendering.ip6tables)?;
                Ok((ipset, iptables, started.elapsed()))
            })?;
            stats.ipset += timings.0;
            stats.iptables += timings.1;
            stats.ip6tables += timings.2;
        }
        Ok(stats)
    }

    /// The rules a namespace holds now, as `iptables-save` prints them (for tests).
    pub fn saved_rules(&self, node: Option<&str>, family: Family) -> Result<String, EngineError> {
        let router = self.routers.get(&node.map(str::to_owned)).ok_or_else(|| EngineError::new("no such node in the test network"))?;
        let tool = match (self.backend, family) {
            (Backend::Legacy, Family::V4) => "iptables-legacy-save",
            (Backend::Legacy, Family::V6) => "ip6tables-legacy-save",
            (Backend::Nft, Family::V4) => "iptables-nft-save",
            (Backend::Nft, Family::V6) => "ip6tables-nft-save",
        };
        self.namespaces.get(*router).enter(|| {
            let program = super::netns::find_tool(tool).ok_or_else(|| EngineError::new(format!("`{tool}` is not installed")))?;
            let output = std::process::Command::new(program)
                .args(["-t", "filter"])
                .output()
                .map_err(|error| EngineError::new(format!("cannot run `{tool}`: {error}")))?;
            if !output.status.success() {
                return Err(EngineError::new(format!("`{tool}` failed: {}", String::from_utf8_lossy(&output.stderr).trim())));
            }
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_the_links_or_the_kernel_reserve_are_refused() {
        for text in ["0.0.0.0", "127.0.0.1", "224.0.0.1", "169.254.0.1", "255.255.255.255", "::", "::1", "fe80::1", "ff02::1", "::ffff:10.0.0.1"] {
            assert!(unusable_reason(text.parse().unwrap()).is_some(), "{text}");
        }
        for text in ["10.0.0.1", "192.0.2.7", "169.254.169.254", "2001:db8::1", "fd00::1"] {
            assert!(unusable_reason(text.parse().unwrap()).is_none(), "{text}");
        }
    }

    #[test]
    fn backends_name_their_restore_tools() {
        assert_eq!(Backend::Nft.restore_tool(Family::V6), "ip6tables-nft-restore");
        assert_eq!(Backend::parse("legacy"), Some(Backend::Legacy));
        assert_eq!(Backend::parse("xt"), None);
    }
}
