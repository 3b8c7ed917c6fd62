//! The ends of the flows a diff enumerates: classes of equivalent pods, nodes, the local host
//! and remote nodes when no node is an endpoint, and the regions of outside addresses.
//!
//! Outside addresses are cut by every prefix either side gives an identity (CIDR identities and
//! reserved addresses such as the API server's): the addresses whose longest covering prefix is
//! the same behave alike on both sides, because an outside address's identity is that of its
//! longest prefix. Each region gets an example address that belongs to no endpoint of either
//! side; regions with the same identities on both sides are one end.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use polc_ir::{IdentityKind, IpPrefix, NumericIdentity, PolicyIr};

/// Some addresses outside the cluster: `prefix` without the more specific prefixes in `except`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Region {
    /// `0.0.0.0/0` or `::/0` for the world.
    pub prefix: IpPrefix,
    pub except: Vec<IpPrefix>,
}

impl Region {
    pub fn contains(&self, address: IpAddr) -> bool {
        self.prefix.contains(address) && !self.except.iter().any(|excluded| excluded.contains(address))
    }

    /// Whether the region is the world of a family (no prefix names it).
    pub fn is_world(&self) -> bool {
        self.prefix.length() == 0
    }

    /// `10.0.0.0/8`, `10.0.0.0/8 except 10.1.0.0/16`, `world (IPv4)` (without its exceptions).
    pub fn describe(&self) -> String {
        // The world's exceptions are every prefix a rule names: listing them says nothing.
        if self.is_world() {
            return if self.prefix.is_ipv4() { "world (IPv4)".to_owned() } else { "world (IPv6)".to_owned() };
        }
        let base = self.prefix.to_string();
        if self.except.is_empty() {
            return base;
        }
        const SHOWN: usize = 4;
        let mut listed: Vec<String> = self.except.iter().take(SHOWN).map(ToString::to_string).collect();
        if self.except.len() > SHOWN {
            listed.push(format!("{} more", self.except.len() - SHOWN));
        }
        format!("{base} except {}", listed.join(", "))
    }
}

/// What one end of a flow is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EndKind {
    /// Pods (`namespace/name`, sorted) that have the same identity and the same policy on both
    /// sides (and the same node, when nodes are endpoints).
    Pods { pods: Vec<String> },
    /// A node (its host endpoint): `host` to the pods on it, `remote-node` to the others.
    Node { name: String },
    /// The node a pod runs on, when no node of the inventory is an endpoint on both sides.
    LocalHost,
    /// Any other node, when no node of the inventory is an endpoint on both sides.
    RemoteNode,
    /// Addresses outside the cluster, and an address that stands for them.
    External { regions: Vec<Region>, example: IpAddr },
}

/// One end of the flows of a diff.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct End {
    pub kind: EndKind,
    /// The identity of the end on the old and the new side; for a node, `host`.
    pub identity: [NumericIdentity; 2],
    /// What the identity stands for on each side (labels, `world`, a CIDR).
    pub identity_description: [String; 2],
}

impl End {
    /// A short name: `default/web`, `default/web-0, default/web-1`, `node:node-a`, `world`.
    pub fn describe(&self) -> String {
        match &self.kind {
            EndKind::Pods { pods } => pods.join(", "),
            EndKind::Node { name } => format!("node:{name}"),
            EndKind::LocalHost => "host (the pod's own node)".to_owned(),
            EndKind::RemoteNode => "remote-node (any other node)".to_owned(),
            EndKind::External { regions, .. } => {
                if regions.len() > 1 && regions.iter().all(Region::is_world) {
                    return "world".to_owned();
                }
                let parts: Vec<String> = regions.iter().map(Region::describe).collect();
                parts.join(", ")
            }
        }
    }

    /// How many endpoints (or, for outside addresses and pseudo ends, 1) the end stands for.
    pub fn members(&self) -> u64 {
        match &self.kind {
            EndKind::Pods { pods } => pods.len() as u64,
            _ => 1,
        }
    }

    /// Whether an outside address belongs to this end.
    pub fn contains_address(&self, address: IpAddr) -> bool {
        matches!(&self.kind, EndKind::External { regions, .. } if regions.iter().any(|region| region.contains(address)))
    }
}

/// An address as a family flag and a number, for arithmetic.
fn number(address: IpAddr) -> (bool, u128) {
    match address {
        IpAddr::V4(v4) => (true, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (false, u128::from(v6)),
    }
}

fn address(ipv4: bool, value: u128) -> IpAddr {
    if ipv4 { IpAddr::V4(Ipv4Addr::from(value as u32)) } else { IpAddr::V6(Ipv6Addr::from(value)) }
}

/// The first and last address of a prefix, as numbers.
fn bounds(prefix: &IpPrefix) -> (u128, u128) {
    let (ipv4, first) = number(prefix.address());
    let width: u32 = if ipv4 { 32 } else { 128 };
    let host_bits = width - u32::from(prefix.length());
    let size_minus_one = if host_bits >= 128 { u128::MAX } else { (1u128 << host_bits) - 1 };
    (first, first.saturating_add(size_minus_one))
}

/// An address of `prefix` outside `except` (disjoint, sorted by first address) and not in
/// `taken`, searching from `start` upwards, then from the start of the prefix.
fn find_address(prefix: &IpPrefix, except: &[IpPrefix], taken: &BTreeSet<IpAddr>, start: Option<IpAddr>) -> Option<IpAddr> {
    let ipv4 = prefix.is_ipv4();
    let (low, high) = bounds(prefix);
    let excluded: Vec<(u128, u128)> = except.iter().map(bounds).collect();
    let start = start.filter(|start| prefix.contains(*start)).map(|start| number(start).1).unwrap_or(low);
    let scan = |from: u128, to: u128| -> Option<u128> {
        let mut candidate = from;
        while candidate <= to {
            let position = excluded.partition_point(|(first, _)| *first <= candidate);
            if let Some((_, last)) = position.checked_sub(1).map(|index| excluded[index]).filter(|(_, last)| *last >= candidate) {
                candidate = last.checked_add(1)?;
                continue;
            }
            if taken.contains(&address(ipv4, candidate)) {
                candidate = candidate.checked_add(1)?;
                continue;
            }
            return Some(candidate);
        }
        None
    };
    scan(start, high).or_else(|| if start > low { scan(low, start - 1) } else { None }).map(|value| address(ipv4, value))
}

/// The outside ends of a diff of `irs` (old, new): one per pair of identities, with its regions.
pub(crate) fn external_ends(irs: [&PolicyIr; 2]) -> Vec<End> {
    let mut prefixes: BTreeSet<IpPrefix> = BTreeSet::new();
    let mut taken: BTreeSet<IpAddr> = BTreeSet::new();
    for ir in irs {
        for identity in &ir.identities {
            if let IdentityKind::Cidr { prefix } = &identity.kind
                && prefix.length() > 0
            {
                prefixes.insert(*prefix);
            }
        }
        for reserved in &ir.reserved_addresses {
            if reserved.prefix.length() > 0 {
                prefixes.insert(reserved.prefix);
            }
        }
        for endpoint in &ir.endpoints {
            taken.extend(endpoint.addresses.iter().copied());
        }
    }
    let prefixes: Vec<IpPrefix> = prefixes.into_iter().collect();
    let world_v4 = IpPrefix::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
    let world_v6 = IpPrefix::new(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0);
    // The parent of each prefix: the longest other prefix covering it, else its family's world.
    let mut children: BTreeMap<IpPrefix, Vec<IpPrefix>> = BTreeMap::new();
    children.insert(world_v4, Vec::new());
    children.insert(world_v6, Vec::new());
    for prefix in &prefixes {
        children.entry(*prefix).or_default();
        let parent = prefixes
            .iter()
            .filter(|other| *other != prefix && other.covers(prefix))
            .max_by_key(|other| other.length())
            .copied()
            .unwrap_or(if prefix.is_ipv4() { world_v4 } else { world_v6 });
        children.entry(parent).or_default().push(*prefix);
    }
    let starts: [(IpPrefix, IpAddr); 2] =
        [(world_v4, IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1))), (world_v6, IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1)))];
    // Regions in order: the IPv4 world, the IPv6 world, then every prefix in order.
    let mut order: Vec<IpPrefix> = vec![world_v4, world_v6];
    order.extend(prefixes.iter().copied());
    let mut by_identities: BTreeMap<[NumericIdentity; 2], usize> = BTreeMap::new();
    let mut ends: Vec<End> = Vec::new();
    for prefix in order {
        let mut except = children.get(&prefix).cloned().unwrap_or_default();
        except.sort_by_key(|child| bounds(child).0);
        let start = starts.iter().find(|(world, _)| *world == prefix).map(|(_, start)| *start);
        let Some(example) = find_address(&prefix, &except, &taken, start) else { continue };
        let identity = [irs[0].identity_of_external_address(example), irs[1].identity_of_external_address(example)];
        let region = Region { prefix, except };
        match by_identities.get(&identity) {
            Some(index) => {
                if let EndKind::External { regions, .. } = &mut ends[*index].kind {
                    regions.push(region);
                }
            }
            None => {
                by_identities.insert(identity, ends.len());
                let identity_description = [describe_identity(irs[0], identity[0]), describe_identity(irs[1], identity[1])];
                ends.push(End { kind: EndKind::External { regions: vec![region], example }, identity, identity_description });
            }
        }
    }
    ends
}

/// What an identity stands for on one side.
pub(crate) fn describe_identity(ir: &PolicyIr, identity: NumericIdentity) -> String {
    if identity == NumericIdentity::ANY {
        return "any identity".to_owned();
    }
    match ir.identity(identity) {
        Some(info) => info.describe(),
        None => identity.reserved_name().map(str::to_owned).unwrap_or_else(|| format!("identity {}", identity.0)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn prefix(text: &str) -> IpPrefix {
        IpPrefix::parse(text).unwrap()
    }

    #[test]
    fn addresses_are_found_outside_exceptions_and_taken_addresses() {
        let taken: BTreeSet<IpAddr> = ["10.0.0.0".parse().unwrap(), "10.0.0.1".parse().unwrap()].into_iter().collect();
        let found = find_address(&prefix("10.0.0.0/8"), &[prefix("10.0.0.0/30")], &taken, None);
        assert_eq!(found, Some("10.0.0.4".parse().unwrap()));
        let found = find_address(&prefix("10.0.0.0/31"), &[], &taken, None);
        assert_eq!(found, None, "both addresses of the /31 are taken");
        let found = find_address(&prefix("10.0.0.0/24"), &[prefix("10.0.0.128/25")], &BTreeSet::new(), Some("10.0.0.200".parse().unwrap()));
        assert_eq!(found, Some("10.0.0.0".parse().unwrap()), "a start inside an exception wraps around");
        let world = IpPrefix::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);
        let found = find_address(&world, &[prefix("192.0.2.0/24")], &BTreeSet::new(), Some("192.0.2.1".parse().unwrap()));
        assert_eq!(found, Some("192.0.3.0".parse().unwrap()));
        assert_eq!(find_address(&prefix("::/0"), &[], &BTreeSet::new(), None), Some("::".parse().unwrap()));
    }

    #[test]
    fn regions_describe_their_exceptions() {
        let region = Region { prefix: prefix("10.0.0.0/8"), except: vec![prefix("10.1.0.0/16")] };
        assert_eq!(region.describe(), "10.0.0.0/8 except 10.1.0.0/16");
        assert!(region.contains("10.2.0.1".parse().unwrap()));
        assert!(!region.contains("10.1.0.1".parse().unwrap()));
    }
}
