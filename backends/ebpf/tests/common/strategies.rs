//! proptest strategies: random policy entries, ipcache entries, configurations and packets
//! drawn from small pools so that packets actually hit entries.

use std::net::IpAddr;

use polc_ebpf::layout::precedence;
use polc_ebpf::packet::{Fragment, PacketSpec, Transport};
use polc_ebpf::{DatapathConfig, Direction, IpPrefix, IpcacheEntry, PolicyEntry};
use proptest::prelude::*;
use proptest::sample::select;

use super::{v4, v6};

pub const IDENTITIES: [u32; 8] = [0, 1, 2, 1000, 1001, 2000, 3000, 16_777_217];
pub const PROTOCOLS: [u8; 7] = [0, 6, 17, 132, 1, 58, 47];
pub const PORTS: [u16; 12] = [0, 1, 22, 53, 80, 443, 1024, 1500, 8080, 8081, 32768, 65535];

pub fn direction() -> impl Strategy<Value = Direction> {
    prop_oneof![Just(Direction::Ingress), Just(Direction::Egress)]
}

/// A port block: `(port, prefix_len)` aligned to its prefix.
fn port_block() -> impl Strategy<Value = (u16, u8)> {
    (select(PORTS.to_vec()), prop_oneof![3 => Just(16u8), 1 => Just(0u8), 2 => 1u8..16]).prop_map(|(port, prefix_len)| {
        if prefix_len == 0 {
            (0, 0)
        } else {
            let host_bits = 16 - u32::from(prefix_len);
            let mask = !(((1u32 << host_bits) - 1) as u16);
            (port & mask, prefix_len)
        }
    })
}

#[derive(Clone, Copy, Debug)]
pub enum EntryKind {
    Allow,
    Deny,
    Redirect(u16),
}

/// A random, valid policy entry.
pub fn policy_entry(with_auth: bool) -> impl Strategy<Value = PolicyEntry> {
    let kind = prop_oneof![4 => Just(EntryKind::Allow), 2 => Just(EntryKind::Deny), 1 => (15001u16..15004).prop_map(EntryKind::Redirect)];
    let priority = prop_oneof![6 => Just(0u32), 1 => Just(5u32), 1 => Just(255u32)];
    let auth = if with_auth {
        prop_oneof![6 => Just((0u8, false)), 1 => Just((1u8, true)), 1 => Just((1u8, false)), 1 => Just((2u8, false))].boxed()
    } else {
        Just((0u8, false)).boxed()
    };
    (
        select(IDENTITIES.to_vec()),
        direction(),
        select(PROTOCOLS.to_vec()),
        port_block(),
        kind,
        priority,
        auth,
        prop_oneof![Just(0u32), 1u32..5],
        prop_oneof![Just(None), (1u8..=100).prop_map(Some)],
    )
        .prop_map(|(identity, direction, protocol, (port, port_prefix_len), kind, priority, (auth_type, auth_explicit), cookie, listener)| {
            let (port, port_prefix_len) = if protocol == 0 { (0, 0) } else { (port, port_prefix_len) };
            let base = PolicyEntry::allow(identity, direction, protocol, port, port_prefix_len);
            match kind {
                EntryKind::Allow => PolicyEntry { precedence: precedence::allow(priority), auth_type, auth_explicit, cookie, ..base },
                EntryKind::Deny => PolicyEntry { deny: true, precedence: precedence::deny(priority), cookie, ..base },
                EntryKind::Redirect(proxy_port) => {
                    PolicyEntry { proxy_port, precedence: precedence::redirect(priority, listener), auth_type, auth_explicit, cookie, ..base }
                }
            }
        })
}

/// Addresses of a small space: 10.0.{0,1}.{1,2,3,200} and fd00:{0,1}::{1,2,3,200}.
pub fn address(family: u8) -> impl Strategy<Value = IpAddr> {
    (0u8..2, select(vec![1u8, 2, 3, 200]))
        .prop_map(move |(subnet, host)| if family == 4 { v4(10, 0, subnet, host) } else { v6([0xfd00, u16::from(subnet), 0, 0, 0, 0, 0, u16::from(host)]) })
}

/// A random ipcache entry over the same address space (host bits masked off).
pub fn ipcache_entry() -> impl Strategy<Value = IpcacheEntry> {
    prop_oneof![Just(4u8), Just(6u8)].prop_flat_map(|family| {
        let lengths = if family == 4 { vec![0u8, 8, 16, 24, 30, 32] } else { vec![0u8, 32, 48, 64, 126, 128] };
        (address(family), select(lengths), select(IDENTITIES[1..].to_vec())).prop_map(|(address, length, identity)| IpcacheEntry {
            prefix: IpPrefix::new(mask(address, length), length).unwrap_or(IpPrefix::host(address)),
            identity,
        })
    })
}

fn mask(address: IpAddr, length: u8) -> IpAddr {
    match address {
        IpAddr::V4(v4) => {
            let bits = u32::from(v4);
            let kept = if length == 0 { 0 } else { bits & (u32::MAX << (32 - u32::from(length.min(32)))) };
            IpAddr::V4(kept.into())
        }
        IpAddr::V6(v6) => {
            let bits = u128::from(v6);
            let kept = if length == 0 { 0 } else { bits & (u128::MAX << (128 - u32::from(length.min(128)))) };
            IpAddr::V6(kept.into())
        }
    }
}

/// Random knobs; conntrack off and verdict recording on (the model is stateless).
pub fn config() -> impl Strategy<Value = DatapathConfig> {
    (any::<[bool; 12]>(), select(vec![1u32, 3000]), select(vec![2u32, 9]), select(vec![2u32, 10]), select(vec![0x0200u32, 0x0a00])).prop_map(
        |(flags, endpoint_identity, world_ipv4, world_ipv6, proxy_mark_magic)| DatapathConfig {
            endpoint_identity,
            default_deny_ingress: flags[0],
            default_deny_egress: flags[1],
            allow_localhost: flags[2],
            enable_icmp_rule: flags[3],
            allow_icmp_frag_needed: flags[4],
            allow_icmpv6_neighbour_discovery: flags[5],
            enforce_auth: flags[6],
            audit_mode: flags[7] && flags[8],
            emit_drop_events: flags[8],
            policy_map_hash: flags[9],
            emit_verdict_events: flags[10],
            ipcache_host_hash: flags[11],
            world_identity_ipv4: world_ipv4,
            world_identity_ipv6: world_ipv6,
            proxy_mark_magic,
            ..DatapathConfig::for_test_run()
        },
    )
}

fn transport(family: u8) -> impl Strategy<Value = Transport> {
    let port = prop_oneof![3 => select(PORTS.to_vec()), 1 => any::<u16>()];
    let icmp_types = if family == 4 { vec![0u8, 3, 8, 11, 13] } else { vec![1u8, 2, 128, 129, 133, 135, 137, 143] };
    prop_oneof![
        (port.clone(), any::<u16>()).prop_map(|(destination_port, source_port)| Transport::Tcp { source_port, destination_port }),
        (port.clone(), any::<u16>()).prop_map(|(destination_port, source_port)| Transport::Udp { source_port, destination_port }),
        (port, any::<u16>()).prop_map(|(destination_port, source_port)| Transport::Sctp { source_port, destination_port }),
        (select(icmp_types), 0u8..6, any::<u16>()).prop_map(|(icmp_type, code, identifier)| Transport::Icmp { icmp_type, code, identifier }),
        select(vec![47u8, 50, 0, 1, 58]).prop_map(|protocol| Transport::Other { protocol }),
    ]
}

/// A random packet between two addresses of the small space, with occasional fragments,
/// IPv4 options, IPv6 extension headers and truncated transport headers.
pub fn packet() -> impl Strategy<Value = (Direction, PacketSpec)> {
    prop_oneof![Just(4u8), Just(6u8)].prop_flat_map(|family| {
        (
            direction(),
            address(family),
            address(family),
            transport(family),
            prop_oneof![8 => Just(Fragment::Whole), 1 => Just(Fragment::First), 1 => (1u16..100).prop_map(|offset_units| Fragment::Later { offset_units })],
            prop::collection::vec(select(vec![0u8, 43, 51, 60]), 0..3),
            prop_oneof![4 => Just(0u8), 1 => Just(8u8)],
            prop_oneof![9 => Just(None), 1 => (1usize..4).prop_map(Some)],
        )
            .prop_map(move |(direction, source, destination, transport, fragment, extensions, options, cut)| {
                let mut spec = PacketSpec::new(source, destination, transport);
                spec.fragment = fragment;
                spec.ipv6_extension_headers = extensions;
                spec.ipv4_options_len = options;
                // Cut inside the transport header only: the kernel's test run refuses
                // frames shorter than the IP header.
                if let Some(cut) = cut {
                    let header = if family == 4 { 14 + 20 + usize::from(options) } else { 14 + 40 };
                    spec.truncate_to = Some(header + cut);
                }
                (direction, spec)
            })
    })
}
