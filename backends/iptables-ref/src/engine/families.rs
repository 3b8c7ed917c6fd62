//! Addresses of a missing family for flows whose ends have none in common.
//!
//! The reference evaluator judges a flow by identities, never by address family: an IPv4-only
//! pod sending to an IPv6 address is judged by the pod's egress against the destination's
//! identity (and the destination's ingress against the pod's identity, when the destination is
//! an endpoint). A real packet needs one family at both ends, so before the engine builds its
//! network, [`with_addresses_for_flows`] gives every endpoint at the end of such a flow one extra
//! address of the family the flow needs. The address is added to the endpoint in a copy of the
//! IR, so the rendering dispatches it to the endpoint's own chains and the ipcache gives it the
//! endpoint's identity, which is exactly how the evaluator judges the flow.
//!
//! The extra addresses come from the benchmarking ranges (`198.18.0.0/15`, RFC 2544, and
//! `2001:2::/48`, RFC 5180), skipping any address the IR or the flows already use and any that
//! lies inside a CIDR identity or a reserved range (other than a `/0`), so that they carry no
//! meaning of their own.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use polc_ir::{EndpointId, Flow, FlowEnd, IdentityKind, IpPrefix, PolicyIr, Protocol};

use super::topology::unusable_reason;
use crate::sets::Family;

/// The first address of each benchmarking range.
const V4_BASE: u32 = u32::from_be_bytes([198, 18, 0, 0]);
const V4_SIZE: u32 = 1 << 17;
const V6_BASE: u128 = 0x2001_0002_0000_0000_0000_0000_0000_0000;
const V6_SIZE: u128 = 1 << 80;
/// How many candidates are tried per address before giving up (the flow then stays unsendable).
const MAX_TRIES: u32 = 1 << 16;

/// The usable address families of one end of a flow.
fn families_of(ir: &PolicyIr, end: FlowEnd) -> BTreeSet<Family> {
    match end {
        FlowEnd::Endpoint(id) => ir
            .endpoint(id)
            .map(|endpoint| {
                endpoint
                    .addresses
                    .iter()
                    .filter(|address| unusable_reason(**address).is_none())
                    .filter(|address| ir.endpoint_by_address(**address).is_some_and(|owner| owner.id == id))
                    .map(|address| Family::of(*address))
                    .collect()
            })
            .unwrap_or_default(),
        FlowEnd::Address(address) => [Family::of(address)].into(),
    }
}

/// The family `flow` must use, and the endpoints at its ends that lack it; `None` when the ends
/// already share the family the flow needs (or nothing can help it).
fn needed(ir: &PolicyIr, flow: &Flow) -> Option<(Family, Vec<EndpointId>)> {
    let source = families_of(ir, flow.source);
    let destination = families_of(ir, flow.destination);
    let family = match flow.protocol {
        Protocol::ICMP => Family::V4,
        Protocol::ICMPV6 => Family::V6,
        _ if source.intersection(&destination).next().is_some() => return None,
        // An address end fixes the family; otherwise the destination's first family decides.
        _ => match (flow.source, flow.destination) {
            (_, FlowEnd::Address(address)) | (FlowEnd::Address(address), _) => Family::of(address),
            _ => destination.iter().chain(&source).next().copied().unwrap_or(Family::V4),
        },
    };
    let mut lacking = Vec::new();
    for (end, families) in [(flow.source, &source), (flow.destination, &destination)] {
        match end {
            FlowEnd::Endpoint(id) if !families.contains(&family) && ir.endpoint(id).is_some() => {
                if !lacking.contains(&id) {
                    lacking.push(id);
                }
            }
            FlowEnd::Endpoint(_) => {}
            // An address of the other family cannot be sent from or to.
            FlowEnd::Address(address) if Family::of(address) != family => return None,
            FlowEnd::Address(_) => {}
        }
    }
    if lacking.is_empty() { None } else { Some((family, lacking)) }
}

/// Every address in use, and every prefix an extra address must stay out of.
struct Taken {
    addresses: BTreeSet<IpAddr>,
    prefixes: Vec<IpPrefix>,
}

impl Taken {
    fn new(ir: &PolicyIr, flows: &[Flow]) -> Taken {
        let mut addresses: BTreeSet<IpAddr> = ir.endpoints.iter().flat_map(|endpoint| endpoint.addresses.iter().copied()).collect();
        addresses.extend(ir.nodes.iter().flat_map(|node| node.addresses.iter().copied()));
        for end in flows.iter().flat_map(|flow| [flow.source, flow.destination]) {
            if let FlowEnd::Address(address) = end {
                addresses.insert(address);
            }
        }
        let cidrs = ir.identities.iter().filter_map(|identity| match &identity.kind {
            IdentityKind::Cidr { prefix } => Some(*prefix),
            _ => None,
        });
        let reserved = ir.reserved_addresses.iter().map(|reserved| reserved.prefix);
        let pod_cidrs = ir.nodes.iter().flat_map(|node| node.pod_cidrs.iter().copied());
        let prefixes = cidrs.chain(reserved).chain(pod_cidrs).filter(|prefix| prefix.length() > 0).collect();
        Taken { addresses, prefixes }
    }

    fn is_free(&self, address: IpAddr) -> bool {
        !self.addresses.contains(&address) && !self.prefixes.iter().any(|prefix| prefix.contains(address))
    }

    /// The next free address of `family` at or after `*cursor`, which moves past it.
    fn next(&mut self, family: Family, cursor: &mut u128) -> Option<IpAddr> {
        for _ in 0..MAX_TRIES {
            *cursor += 1;
            let address = match family {
                Family::V4 if *cursor < u128::from(V4_SIZE) => IpAddr::V4(Ipv4Addr::from(V4_BASE + *cursor as u32)),
                Family::V6 if *cursor < V6_SIZE => IpAddr::V6(Ipv6Addr::from(V6_BASE + *cursor)),
                _ => return None,
            };
            if self.is_free(address) {
                self.addresses.insert(address);
                return Some(address);
            }
        }
        None
    }
}

/// A copy of `ir` in which every endpoint at the end of a flow of `flows` whose two ends have no
/// address family in common (or not the one its protocol needs: ICMP IPv4, ICMPv6 IPv6) holds
/// one extra address of the needed family. `None` when no flow needs one, so the caller keeps
/// `ir` as it is.
pub fn with_addresses_for_flows(ir: &PolicyIr, flows: &[Flow]) -> Option<PolicyIr> {
    let mut wanted: BTreeSet<(EndpointId, Family)> = BTreeSet::new();
    for flow in flows {
        if let Some((family, endpoints)) = needed(ir, flow) {
            wanted.extend(endpoints.into_iter().map(|id| (id, family)));
        }
    }
    if wanted.is_empty() {
        return None;
    }
    let mut taken = Taken::new(ir, flows);
    let mut cursors = [0u128; 2];
    let mut extended = ir.clone();
    for (id, family) in wanted {
        let cursor = &mut cursors[usize::from(family == Family::V6)];
        let Some(address) = taken.next(family, cursor) else { continue };
        if let Some(endpoint) = extended.endpoints.iter_mut().find(|endpoint| endpoint.id == id) {
            endpoint.addresses.push(address);
        }
    }
    Some(extended)
}

#[cfg(test)]
mod tests {
    use polc_ir::{DirectionPolicy, Endpoint, EndpointKind, IdentityInfo, NumericIdentity, Settings};

    use super::*;

    fn pod(id: u16, addresses: &[&str]) -> Endpoint {
        Endpoint {
            id: EndpointId(id),
            kind: EndpointKind::Pod { namespace: "default".to_owned(), name: format!("pod{id}") },
            identity: NumericIdentity(256 + u32::from(id)),
            node: Some("node-a".to_owned()),
            addresses: addresses.iter().map(|text| text.parse().unwrap()).collect(),
            ingress: DirectionPolicy::default(),
            egress: DirectionPolicy::default(),
        }
    }

    fn flow(source: FlowEnd, destination: FlowEnd, protocol: Protocol) -> Flow {
        Flow { source, destination, protocol, port: if protocol == Protocol::TCP { 443 } else { 2 }, l7: None }
    }

    fn ir() -> PolicyIr {
        let benchmark_cidr = IdentityInfo {
            id: NumericIdentity::local(1),
            kind: IdentityKind::Cidr { prefix: IpPrefix::parse("198.18.0.0/31").unwrap() },
            labels: Default::default(),
        };
        PolicyIr::new(
            Settings::default(),
            vec![benchmark_cidr],
            Vec::new(),
            vec![pod(1, &["10.0.0.1"]), pod(2, &["fd00::2"]), pod(3, &["10.0.0.3", "fd00::3"])],
            Vec::new(),
        )
    }

    fn addresses(ir: &PolicyIr, id: u16) -> Vec<String> {
        ir.endpoint(EndpointId(id)).unwrap().addresses.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn flows_whose_ends_share_a_family_change_nothing() {
        let ir = ir();
        let flows = [
            flow(FlowEnd::Endpoint(EndpointId(1)), FlowEnd::Endpoint(EndpointId(3)), Protocol::TCP),
            flow(FlowEnd::Endpoint(EndpointId(3)), FlowEnd::Address("2001:db8::1".parse().unwrap()), Protocol::TCP),
            // Two literal addresses of different families: nothing can make that packet.
            flow(FlowEnd::Address("10.0.0.1".parse().unwrap()), FlowEnd::Address("fd00::2".parse().unwrap()), Protocol::TCP),
        ];
        assert_eq!(with_addresses_for_flows(&ir, &flows), None);
    }

    #[test]
    fn an_endpoint_without_the_flows_family_gets_a_free_benchmarking_address() {
        let ir = ir();
        let flows = [
            flow(FlowEnd::Endpoint(EndpointId(1)), FlowEnd::Address("fd00::1".parse().unwrap()), Protocol::TCP),
            // ICMPv6 needs IPv6 at both ends even though both ends have IPv4 (pod 3 has both).
            flow(FlowEnd::Endpoint(EndpointId(1)), FlowEnd::Endpoint(EndpointId(3)), Protocol::ICMPV6),
            // An IPv6-only pod to an IPv4 address; 198.18.0.1 lies in a CIDR identity.
            flow(FlowEnd::Endpoint(EndpointId(2)), FlowEnd::Address("203.0.113.7".parse().unwrap()), Protocol::TCP),
            // Two endpoints without a common family: the destination's family wins.
            flow(FlowEnd::Endpoint(EndpointId(2)), FlowEnd::Endpoint(EndpointId(1)), Protocol::TCP),
        ];
        let extended = with_addresses_for_flows(&ir, &flows).expect("addresses are needed");
        assert_eq!(addresses(&extended, 1), ["10.0.0.1", "2001:2::1"]);
        assert_eq!(addresses(&extended, 2), ["fd00::2", "198.18.0.2"]);
        assert_eq!(addresses(&extended, 3), ["10.0.0.3", "fd00::3"]);
        // Each extra address belongs to its endpoint, so it carries the endpoint's identity.
        assert_eq!(extended.endpoint_by_address("198.18.0.2".parse().unwrap()).map(|endpoint| endpoint.id), Some(EndpointId(2)));
        // Applying it again changes nothing: every flow now has a common family.
        assert_eq!(with_addresses_for_flows(&extended, &flows), None);
    }
}
