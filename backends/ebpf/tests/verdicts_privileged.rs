//! Crafted IPv4/IPv6 TCP/UDP/SCTP/ICMP packets through the real programs (BPF_PROG_TEST_RUN)
//! against hand-built map images. Every run is also checked against the userspace model.

mod common;

use std::net::IpAddr;

use common::{Harnesses, privileged, v4, v6};
use polc_ebpf::layout::precedence;
use polc_ebpf::packet::{self, Fragment, PacketSpec, Transport};
use polc_ebpf::{DatapathConfig, Direction, IpPrefix, IpcacheEntry, IpcacheImage, MatchKind, PolicyEntry, PolicyMapImage, Reason, port_range_blocks};

const TCP: u8 = packet::PROTOCOL_TCP;
const UDP: u8 = packet::PROTOCOL_UDP;
const SCTP: u8 = packet::PROTOCOL_SCTP;
const ICMP: u8 = packet::PROTOCOL_ICMP;
const ICMPV6: u8 = packet::PROTOCOL_ICMPV6;
const FRONTEND: u32 = 1000;
const OTHERS: u32 = 2000;
const ENDPOINT: u32 = 3000;

use Direction::{Egress, Ingress};

fn endpoint(family: u8) -> IpAddr {
    if family == 4 { v4(10, 0, 0, 10) } else { v6([0xfd00, 0, 0, 0, 0, 0, 0, 0x10]) }
}

/// Has identity FRONTEND (host prefix).
fn frontend(family: u8) -> IpAddr {
    if family == 4 { v4(10, 0, 1, 1) } else { v6([0xfd00, 1, 0, 0, 0, 0, 0, 1]) }
}

/// Inside the OTHERS prefix.
fn other(family: u8) -> IpAddr {
    if family == 4 { v4(10, 0, 1, 2) } else { v6([0xfd00, 1, 0, 0, 0, 0, 0, 2]) }
}

/// Unknown to the ipcache: world.
fn world(family: u8) -> IpAddr {
    if family == 4 { v4(192, 0, 2, 1) } else { v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]) }
}

/// The host (identity 1).
fn host(family: u8) -> IpAddr {
    if family == 4 { v4(10, 0, 0, 1) } else { v6([0xfd00, 0, 0, 0, 0, 0, 0, 1]) }
}

fn ipcache() -> IpcacheImage {
    let prefix = |address: IpAddr, length: u8| IpPrefix::new(address, length).expect("valid prefix");
    IpcacheImage::build(
        &[
            IpcacheEntry { prefix: IpPrefix::host(frontend(4)), identity: FRONTEND },
            IpcacheEntry { prefix: IpPrefix::host(frontend(6)), identity: FRONTEND },
            IpcacheEntry { prefix: prefix(v4(10, 0, 1, 0), 24), identity: OTHERS },
            IpcacheEntry { prefix: prefix(v6([0xfd00, 1, 0, 0, 0, 0, 0, 0]), 64), identity: OTHERS },
            IpcacheEntry { prefix: IpPrefix::host(endpoint(4)), identity: ENDPOINT },
            IpcacheEntry { prefix: IpPrefix::host(endpoint(6)), identity: ENDPOINT },
            IpcacheEntry { prefix: IpPrefix::host(host(4)), identity: 1 },
            IpcacheEntry { prefix: IpPrefix::host(host(6)), identity: 1 },
        ],
        0,
    )
    .expect("ipcache builds")
}

fn config() -> DatapathConfig {
    DatapathConfig { endpoint_identity: ENDPOINT, ..DatapathConfig::for_test_run() }
}

fn harness(entries: &[PolicyEntry]) -> Harnesses {
    harness_with(config(), entries)
}

/// The images loaded in both policy lookup modes.
fn harness_with(config: DatapathConfig, entries: &[PolicyEntry]) -> Harnesses {
    Harnesses::new(config, &PolicyMapImage::build(entries).expect("policy builds"), &ipcache())
}

/// An ingress packet from `source` to the endpoint.
fn inbound(source: IpAddr, transport: Transport) -> PacketSpec {
    let family = if source.is_ipv4() { 4 } else { 6 };
    PacketSpec::new(source, endpoint(family), transport)
}

/// An egress packet from the endpoint to `destination`.
fn outbound(destination: IpAddr, transport: Transport) -> PacketSpec {
    let family = if destination.is_ipv4() { 4 } else { 6 };
    PacketSpec::new(endpoint(family), destination, transport)
}

fn tcp(port: u16) -> Transport {
    Transport::Tcp { source_port: 43210, destination_port: port }
}

fn udp(port: u16) -> Transport {
    Transport::Udp { source_port: 43210, destination_port: port }
}

fn sctp(port: u16) -> Transport {
    Transport::Sctp { source_port: 43210, destination_port: port }
}

fn icmp(icmp_type: u8) -> Transport {
    Transport::Icmp { icmp_type, code: 0, identifier: 9 }
}

#[test]
fn allow_rules_per_protocol_privileged() {
    if !privileged("allow_rules_per_protocol_privileged") {
        return;
    }
    let harness = harness(&[
        PolicyEntry::allow(FRONTEND, Ingress, TCP, 8080, 16),
        PolicyEntry::allow(FRONTEND, Ingress, UDP, 53, 16),
        PolicyEntry::allow(FRONTEND, Ingress, SCTP, 9999, 16),
        PolicyEntry::allow(FRONTEND, Ingress, ICMP, 8, 16),
        PolicyEntry::allow(FRONTEND, Ingress, ICMPV6, 128, 16),
        PolicyEntry::allow(OTHERS, Egress, TCP, 443, 16),
    ]);
    for family in [4, 6] {
        let source = frontend(family);
        let verdict = harness.expect(Ingress, &inbound(source, tcp(8080)), Reason::AllowL3);
        assert_eq!((verdict.remote_identity, verdict.match_kind, verdict.match_lpm_len), (FRONTEND, MatchKind::L3, 24));
        harness.expect(Ingress, &inbound(source, tcp(8081)), Reason::DropPolicy);
        harness.expect(Ingress, &inbound(source, udp(53)), Reason::AllowL3);
        harness.expect(Ingress, &inbound(source, udp(8080)), Reason::DropPolicy);
        harness.expect(Ingress, &inbound(source, sctp(9999)), Reason::AllowL3);
        harness.expect(Ingress, &inbound(source, sctp(8080)), Reason::DropPolicy);
        let echo = if family == 4 { 8 } else { 128 };
        let verdict = harness.expect(Ingress, &inbound(source, icmp(echo)), Reason::AllowL3);
        assert_eq!(verdict.policy_port, u16::from(echo), "the ICMP type is the policy port");
        let timestamp = if family == 4 { 13 } else { 139 };
        harness.expect(Ingress, &inbound(source, icmp(timestamp)), Reason::DropPolicy);
        // Other identities and the wrong direction are not allowed.
        harness.expect(Ingress, &inbound(other(family), tcp(8080)), Reason::DropPolicy);
        harness.expect(Ingress, &inbound(world(family), tcp(8080)), Reason::DropPolicy);
        harness.expect(Egress, &outbound(source, tcp(8080)), Reason::DropPolicy);
        // Egress uses the destination's identity.
        let verdict = harness.expect(Egress, &outbound(other(family), tcp(443)), Reason::AllowL3);
        assert_eq!(verdict.remote_identity, OTHERS);
        harness.expect(Egress, &outbound(frontend(family), tcp(443)), Reason::DropPolicy);
    }
}

#[test]
fn deny_beats_allow_privileged() {
    if !privileged("deny_beats_allow_privileged") {
        return;
    }
    // An L4-only deny beats a more specific L3 allow; an L3 deny is final over an L4-only
    // allow; a broad deny of one identity removes its narrower allows from the image.
    let harness = harness(&[
        PolicyEntry::allow(FRONTEND, Ingress, TCP, 22, 16),
        PolicyEntry::deny(0, Ingress, TCP, 22, 16),
        PolicyEntry::allow(0, Ingress, TCP, 80, 16),
        PolicyEntry::deny(OTHERS, Ingress, 0, 0, 0),
        PolicyEntry::deny(FRONTEND, Ingress, UDP, 0, 0),
        PolicyEntry::allow(FRONTEND, Ingress, UDP, 53, 16),
        PolicyEntry::allow(FRONTEND, Ingress, TCP, 443, 16),
    ]);
    for family in [4, 6] {
        let verdict = harness.expect(Ingress, &inbound(frontend(family), tcp(22)), Reason::DropPolicyDeny);
        assert_eq!(verdict.match_kind, MatchKind::L4Only);
        let verdict = harness.expect(Ingress, &inbound(other(family), tcp(80)), Reason::DropPolicyDeny);
        assert_eq!(verdict.match_kind, MatchKind::L3);
        harness.expect(Ingress, &inbound(frontend(family), tcp(80)), Reason::AllowL4Only);
        harness.expect(Ingress, &inbound(world(family), tcp(80)), Reason::AllowL4Only);
        harness.expect(Ingress, &inbound(frontend(family), udp(53)), Reason::DropPolicyDeny);
        harness.expect(Ingress, &inbound(frontend(family), tcp(443)), Reason::AllowL3);
    }
}

#[test]
fn l4_only_wildcard_against_l3_privileged() {
    if !privileged("l4_only_wildcard_against_l3_privileged") {
        return;
    }
    let harness = harness(&[
        PolicyEntry::allow(0, Ingress, TCP, 80, 16),
        PolicyEntry::allow(FRONTEND, Ingress, TCP, 0, 0),
        PolicyEntry::redirect(OTHERS, Ingress, TCP, 80, 16, 15001),
    ]);
    for family in [4, 6] {
        // Equal precedence: the longer prefix (the L4-only exact port) wins over L3 proto-only.
        let verdict = harness.expect(Ingress, &inbound(frontend(family), tcp(80)), Reason::AllowL4Only);
        assert_eq!(verdict.match_lpm_len, 24);
        let verdict = harness.expect(Ingress, &inbound(frontend(family), tcp(81)), Reason::AllowL3);
        assert_eq!(verdict.match_lpm_len, 8);
        // A redirect has a higher precedence than the plain L4-only allow.
        let verdict = harness.expect(Ingress, &inbound(other(family), tcp(80)), Reason::AllowRedirect);
        assert_eq!(verdict.match_kind, MatchKind::L3);
        harness.expect(Ingress, &inbound(world(family), tcp(80)), Reason::AllowL4Only);
        harness.expect(Ingress, &inbound(world(family), tcp(81)), Reason::DropPolicy);
    }
}

#[test]
fn port_ranges_through_masks_privileged() {
    if !privileged("port_ranges_through_masks_privileged") {
        return;
    }
    let mut entries = Vec::new();
    for block in port_range_blocks(1000, 1999) {
        entries.push(PolicyEntry::allow(FRONTEND, Ingress, TCP, block.port, block.prefix_len));
    }
    for block in port_range_blocks(30000, 32767) {
        entries.push(PolicyEntry::allow(0, Ingress, UDP, block.port, block.prefix_len));
    }
    let harness = harness(&entries);
    for family in [4, 6] {
        for (port, allowed) in [(999, false), (1000, true), (1023, true), (1024, true), (1500, true), (1999, true), (2000, false)] {
            let reason = if allowed { Reason::AllowL3 } else { Reason::DropPolicy };
            harness.expect(Ingress, &inbound(frontend(family), tcp(port)), reason);
        }
        for (port, allowed) in [(29999, false), (30000, true), (31000, true), (32767, true), (32768, false)] {
            let reason = if allowed { Reason::AllowL4Only } else { Reason::DropPolicy };
            harness.expect(Ingress, &inbound(other(family), udp(port)), reason);
        }
    }
}

#[test]
fn protocol_any_allows_every_protocol_privileged() {
    if !privileged("protocol_any_allows_every_protocol_privileged") {
        return;
    }
    let harness = harness(&[PolicyEntry::allow(FRONTEND, Ingress, 0, 0, 0), PolicyEntry::allow(0, Egress, 0, 0, 0)]);
    for family in [4, 6] {
        for transport in [tcp(1), udp(65535), sctp(7), icmp(if family == 4 { 8 } else { 128 }), Transport::Other { protocol: 47 }] {
            let verdict = harness.expect(Ingress, &inbound(frontend(family), transport), Reason::AllowL3);
            assert_eq!(verdict.match_lpm_len, 0);
            harness.expect(Ingress, &inbound(other(family), transport), Reason::DropPolicy);
            harness.expect(Egress, &outbound(world(family), transport), Reason::AllowL4Only);
        }
    }
}

#[test]
fn default_deny_against_allow_all_privileged() {
    if !privileged("default_deny_against_allow_all_privileged") {
        return;
    }
    let entries = [PolicyEntry::deny(0, Ingress, TCP, 23, 16), PolicyEntry::allow(FRONTEND, Egress, TCP, 80, 16)];
    let open = harness_with(DatapathConfig { default_deny_ingress: false, default_deny_egress: false, ..config() }, &entries);
    let closed = harness(&entries);
    for family in [4, 6] {
        open.expect(Ingress, &inbound(world(family), tcp(8080)), Reason::AllowDefault);
        open.expect(Ingress, &inbound(world(family), tcp(23)), Reason::DropPolicyDeny);
        open.expect(Egress, &outbound(other(family), udp(53)), Reason::AllowDefault);
        closed.expect(Ingress, &inbound(world(family), tcp(8080)), Reason::DropPolicy);
        closed.expect(Ingress, &inbound(world(family), tcp(23)), Reason::DropPolicyDeny);
        closed.expect(Egress, &outbound(other(family), udp(53)), Reason::DropPolicy);
        closed.expect(Egress, &outbound(frontend(family), tcp(80)), Reason::AllowL3);
    }
}

#[test]
fn proxy_redirect_marks_the_packet_privileged() {
    if !privileged("proxy_redirect_marks_the_packet_privileged") {
        return;
    }
    let harness = harness(&[PolicyEntry::redirect(FRONTEND, Ingress, TCP, 80, 16, 15001), PolicyEntry::redirect(0, Egress, UDP, 53, 16, 15053)]);
    for family in [4, 6] {
        let verdict = harness.expect(Ingress, &inbound(frontend(family), tcp(80)), Reason::AllowRedirect);
        assert_eq!(verdict.mark, 0x0200 | (15001 << 16));
        let verdict = harness.expect(Egress, &outbound(world(family), udp(53)), Reason::AllowRedirect);
        assert_eq!(verdict.mark, 0x0200 | (15053 << 16));
        let verdict = harness.expect(Ingress, &inbound(other(family), tcp(80)), Reason::DropPolicy);
        assert_eq!(verdict.mark, 0);
    }
}

#[test]
fn auth_localhost_icmp_control_and_audit_privileged() {
    if !privileged("auth_localhost_icmp_control_and_audit_privileged") {
        return;
    }
    let mut auth = PolicyEntry::allow(FRONTEND, Ingress, TCP, 443, 16);
    auth.auth_type = 1;
    auth.auth_explicit = true;
    let harness = harness(&[auth, PolicyEntry::deny(1, Ingress, TCP, 22, 16)]);
    for family in [4, 6] {
        harness.expect(Ingress, &inbound(frontend(family), tcp(443)), Reason::DropAuthRequired);
        // allow-localhost: the host reaches a default-deny endpoint, except where denied.
        let verdict = harness.expect(Ingress, &inbound(host(family), tcp(9090)), Reason::AllowLocalhost);
        assert_eq!(verdict.match_kind, MatchKind::Localhost);
        harness.expect(Ingress, &inbound(host(family), tcp(22)), Reason::DropPolicyDeny);
        harness.expect(Egress, &outbound(host(family), tcp(9090)), Reason::DropPolicy);
    }
    // Fragmentation needed (v4 3/4), packet too big (v6 2) and neighbour discovery pass.
    let control = |source: IpAddr, icmp_type: u8, code: u8| inbound(source, Transport::Icmp { icmp_type, code, identifier: 0 });
    harness.expect(Ingress, &control(world(4), 3, 4), Reason::AllowIcmpControl);
    harness.expect(Ingress, &control(world(4), 3, 3), Reason::DropPolicy);
    harness.expect(Ingress, &control(world(6), 2, 0), Reason::AllowIcmpControl);
    for neighbour_discovery in 133..=137 {
        harness.expect(Ingress, &control(world(6), neighbour_discovery, 0), Reason::AllowIcmpControl);
    }
    harness.expect(Ingress, &control(world(6), 138, 0), Reason::DropPolicy);

    let relaxed = harness_with(
        DatapathConfig { enforce_auth: false, allow_localhost: false, audit_mode: true, ..config() },
        &[auth, PolicyEntry::deny(0, Ingress, UDP, 0, 0)],
    );
    relaxed.expect(Ingress, &inbound(frontend(4), tcp(443)), Reason::AllowL3);
    relaxed.expect(Ingress, &inbound(host(4), tcp(9090)), Reason::AllowAudit);
    relaxed.expect(Ingress, &inbound(frontend(6), udp(53)), Reason::AllowAudit);
}

#[test]
fn icmp_rules_switched_off_use_port_zero_privileged() {
    if !privileged("icmp_rules_switched_off_use_port_zero_privileged") {
        return;
    }
    let entries = [PolicyEntry::allow(FRONTEND, Ingress, ICMP, 8, 16), PolicyEntry::allow(FRONTEND, Ingress, ICMPV6, 0, 0)];
    let harness = harness_with(DatapathConfig { enable_icmp_rule: false, ..config() }, &entries);
    let verdict = harness.expect(Ingress, &inbound(frontend(4), icmp(8)), Reason::DropPolicy);
    assert_eq!(verdict.policy_port, 0);
    harness.expect(Ingress, &inbound(frontend(6), icmp(128)), Reason::AllowL3);
}

#[test]
fn fragments_extension_headers_and_malformed_frames_privileged() {
    if !privileged("fragments_extension_headers_and_malformed_frames_privileged") {
        return;
    }
    let harness = harness(&[PolicyEntry::allow(FRONTEND, Ingress, TCP, 80, 16), PolicyEntry::allow(OTHERS, Ingress, UDP, 0, 0)]);
    for family in [4, 6] {
        let mut first = inbound(frontend(family), tcp(80));
        first.fragment = Fragment::First;
        harness.expect(Ingress, &first, Reason::AllowL3);
        let mut later = inbound(frontend(family), tcp(80));
        later.fragment = Fragment::Later { offset_units: 3 };
        let verdict = harness.expect(Ingress, &later, Reason::DropFragmentNotSupported);
        assert_eq!(verdict.policy_port, 0);
        // A protocol-wide entry does not need the port, so later fragments pass.
        let mut later_udp = inbound(other(family), udp(5000));
        later_udp.fragment = Fragment::Later { offset_units: 100 };
        harness.expect(Ingress, &later_udp, Reason::AllowL3);
        let mut truncated = inbound(frontend(family), tcp(80));
        truncated.truncate_to = Some(if family == 4 { 14 + 20 + 3 } else { 14 + 40 + 3 });
        harness.expect(Ingress, &truncated, Reason::DropInvalid);
        // BPF_PROG_TEST_RUN on 6.18 refuses IP frames shorter than the IP header itself
        // (EINVAL), so only truncated transport headers can be crafted here.
        let datapath_refuses =
            harness.0[0].datapath.test_run(Ingress, &packet::build_frame(&PacketSpec { truncate_to: Some(14 + 10), ..truncated.clone() }).expect("frame"));
        assert!(datapath_refuses.is_err());
        let mut truncated_extension = inbound(frontend(6), tcp(80));
        truncated_extension.ipv6_extension_headers = vec![60];
        truncated_extension.truncate_to = Some(14 + 40 + 1);
        if family == 6 {
            let verdict = harness.expect(Ingress, &truncated_extension, Reason::DropInvalid);
            assert_eq!(verdict.protocol, 0, "the protocol is only known after the extension headers");
        }
    }
    let mut options = inbound(frontend(4), tcp(80));
    options.ipv4_options_len = 12;
    harness.expect(Ingress, &options, Reason::AllowL3);
    let mut extensions = inbound(frontend(6), tcp(80));
    extensions.ipv6_extension_headers = vec![0, 43, 60, 51];
    harness.expect(Ingress, &extensions, Reason::AllowL3);
    extensions.ipv6_extension_headers = vec![60; 7];
    harness.expect(Ingress, &extensions, Reason::DropInvalid);
    harness.run_frame(Ingress, &packet::arp_frame());
    assert_eq!(harness.run_frame(Ingress, &packet::arp_frame()).reason, Reason::AllowNonIp);
    assert_eq!(harness.run_frame(Egress, &packet::ethertype_frame(0x88cc)).reason, Reason::DropUnknownL3);
}

#[test]
fn no_generation_drops_then_counters_and_drop_events_privileged() {
    if !privileged("no_generation_drops_then_counters_and_drop_events_privileged") {
        return;
    }
    let config = config();
    let mut datapath = polc_ebpf::kernel::Datapath::load(&config).expect("datapath loads");
    let frame = packet::build_frame(&inbound(frontend(4), tcp(80))).expect("frame");
    let before = datapath.test_run(Ingress, &frame).expect("test run");
    assert_eq!(before.verdict.map(|verdict| verdict.reason), Some(Reason::DropNoGeneration));

    let policy = PolicyMapImage::build(&[PolicyEntry::allow(FRONTEND, Ingress, TCP, 80, 16), PolicyEntry::deny(0, Egress, UDP, 53, 16)]).expect("policy");
    datapath.install(&policy, &ipcache()).expect("install");
    datapath.test_run(Ingress, &frame).expect("test run");
    datapath.test_run(Ingress, &frame).expect("test run");
    let denied = packet::build_frame(&outbound(world(6), udp(53))).expect("frame");
    datapath.test_run(Egress, &denied).expect("test run");

    let counters = datapath.counters().expect("counters");
    let count = |reason: Reason, direction: Direction| counters.get(&(reason, direction)).map(|counter| counter.packets).unwrap_or(0);
    assert_eq!(count(Reason::DropNoGeneration, Ingress), 1);
    assert_eq!(count(Reason::AllowL3, Ingress), 2);
    assert_eq!(count(Reason::DropPolicyDeny, Egress), 1);
    assert_eq!(counters.values().map(|counter| counter.packets).sum::<u64>(), 4);
    assert_eq!(counters.get(&(Reason::AllowL3, Ingress)).map(|counter| counter.bytes), Some(2 * frame.len() as u64));

    let events = datapath.drain_drop_events().expect("drop events");
    assert_eq!(events.len(), 2, "{events:?}");
    assert_eq!(events[0].reason, Some(Reason::DropNoGeneration));
    let deny = events[1];
    assert_eq!(deny.reason, Some(Reason::DropPolicyDeny));
    assert_eq!((deny.remote_identity, deny.local_identity), (2, ENDPOINT));
    assert_eq!((deny.protocol, deny.policy_port, deny.family), (UDP, 53, 6));
    assert_eq!(deny.direction, Egress);
    assert!(datapath.drain_drop_events().expect("drop events").is_empty());
}

#[test]
fn precedence_tiers_decide_between_l3_and_l4_only_privileged() {
    if !privileged("precedence_tiers_decide_between_l3_and_l4_only_privileged") {
        return;
    }
    // A deny at a lower priority (priority 5) is not final: an L4-only allow of priority 0
    // has a higher precedence and wins.
    let mut low_deny = PolicyEntry::deny(FRONTEND, Ingress, TCP, 0, 0);
    low_deny.precedence = precedence::deny(5);
    let harness = harness(&[low_deny, PolicyEntry::allow(0, Ingress, TCP, 8080, 16)]);
    harness.expect(Ingress, &inbound(frontend(4), tcp(8080)), Reason::AllowL4Only);
    harness.expect(Ingress, &inbound(frontend(4), tcp(8081)), Reason::DropPolicyDeny);
}
