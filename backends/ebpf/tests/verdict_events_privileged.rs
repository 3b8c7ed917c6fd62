//! Verdict events (`emit_verdict_events`): every packet that reaches a verdict, allowed or
//! dropped, writes one 24-byte record to `polc_drops` naming the generation slot that judged
//! it and carrying the first 8 bytes of its L4 payload. Packets go through the real programs
//! with BPF_PROG_TEST_RUN; the records are read back from the ring buffer.

mod common;

use std::net::IpAddr;

use common::{privileged, v4, v6};
use polc_ebpf::kernel::{Datapath, TC_ACT_OK, TC_ACT_SHOT};
use polc_ebpf::packet::{self, PacketSpec, Transport};
use polc_ebpf::{DatapathConfig, Direction, IpPrefix, IpcacheEntry, IpcacheImage, PolicyEntry, PolicyMapImage, Reason, VerdictEvent};

const TCP: u8 = packet::PROTOCOL_TCP;
const UDP: u8 = packet::PROTOCOL_UDP;
const ICMP: u8 = packet::PROTOCOL_ICMP;
const FRONTEND: u32 = 1000;
const ENDPOINT: u32 = 3000;

fn endpoint(family: u8) -> IpAddr {
    if family == 4 { v4(10, 0, 0, 10) } else { v6([0xfd00, 0, 0, 0, 0, 0, 0, 0x10]) }
}

fn frontend(family: u8) -> IpAddr {
    if family == 4 { v4(10, 0, 1, 1) } else { v6([0xfd00, 1, 0, 0, 0, 0, 0, 1]) }
}

fn ipcache() -> IpcacheImage {
    IpcacheImage::build(
        &[
            IpcacheEntry { prefix: IpPrefix::host(frontend(4)), identity: FRONTEND },
            IpcacheEntry { prefix: IpPrefix::host(frontend(6)), identity: FRONTEND },
            IpcacheEntry { prefix: IpPrefix::host(endpoint(4)), identity: ENDPOINT },
            IpcacheEntry { prefix: IpPrefix::host(endpoint(6)), identity: ENDPOINT },
        ],
        0,
    )
    .expect("ipcache builds")
}

/// FRONTEND may reach TCP 80 and ICMP echo; everything else on ingress is default-denied.
fn policy() -> PolicyMapImage {
    PolicyMapImage::build(&[PolicyEntry::allow(FRONTEND, Direction::Ingress, TCP, 80, 16), PolicyEntry::allow(FRONTEND, Direction::Ingress, ICMP, 8, 16)])
        .expect("policy builds")
}

fn config(emit_verdict_events: bool, policy_map_hash: bool) -> DatapathConfig {
    DatapathConfig { endpoint_identity: ENDPOINT, emit_verdict_events, policy_map_hash, ipcache_host_hash: policy_map_hash, ..DatapathConfig::for_test_run() }
}

/// The frame of `spec` with `payload` after the transport header (IP length fields updated)
/// and then `padding` bytes beyond the IP packet, like the Ethernet padding of a short frame.
fn frame_with_payload(spec: &PacketSpec, payload: &[u8], padding: usize) -> Vec<u8> {
    let mut frame = packet::build_frame(spec).expect("frame");
    frame.extend_from_slice(payload);
    if spec.source.is_ipv4() {
        let total = u16::from_be_bytes([frame[16], frame[17]]) + payload.len() as u16;
        frame[16..18].copy_from_slice(&total.to_be_bytes());
    } else {
        let total = u16::from_be_bytes([frame[18], frame[19]]) + payload.len() as u16;
        frame[18..20].copy_from_slice(&total.to_be_bytes());
    }
    frame.extend(std::iter::repeat_n(0xee, padding));
    frame
}

fn inbound(family: u8, transport: Transport) -> PacketSpec {
    PacketSpec::new(frontend(family), endpoint(family), transport)
}

fn tcp(port: u16) -> Transport {
    Transport::Tcp { source_port: 43210, destination_port: port }
}

fn udp(port: u16) -> Transport {
    Transport::Udp { source_port: 43210, destination_port: port }
}

fn run(datapath: &Datapath, frame: &[u8], expected_return: u32) {
    let result = datapath.test_run(Direction::Ingress, frame).expect("test run");
    assert_eq!(result.return_code, expected_return, "{result:?}");
}

fn assert_record(record: &VerdictEvent, reason: Reason, slot: u8, protocol: u8, port: u16, family: u8, payload: &[u8; 8]) {
    assert_eq!(record.event.reason, Some(reason), "{record:?}");
    assert_eq!(record.is_allowed(), !reason.is_drop());
    assert_eq!(record.event.generation_slot, slot, "{record:?}");
    assert_eq!((record.event.remote_identity, record.event.local_identity), (FRONTEND, ENDPOINT), "{record:?}");
    assert_eq!((record.event.protocol, record.event.policy_port, record.event.family), (protocol, port, family), "{record:?}");
    assert_eq!(record.event.direction, Direction::Ingress);
    assert_eq!(&record.payload_prefix, payload, "{record:?}");
}

#[test]
fn every_verdict_is_recorded_with_its_generation_and_payload_prefix_privileged() {
    if !privileged("every_verdict_is_recorded_with_its_generation_and_payload_prefix_privileged") {
        return;
    }
    for policy_map_hash in [false, true] {
        let mut datapath = Datapath::load(&config(true, policy_map_hash)).expect("datapath loads");
        datapath.install(&policy(), &ipcache()).expect("install");

        let allowed = frame_with_payload(&inbound(4, tcp(80)), b"GEN-0001 and more", 0);
        let dropped = packet::build_frame(&inbound(4, udp(53))).expect("frame"); // payload `polc-udp`
        run(&datapath, &allowed, TC_ACT_OK);
        run(&datapath, &dropped, TC_ACT_SHOT);
        let records = datapath.drain_verdict_events().expect("verdict events");
        assert_eq!(records.len(), 2, "{records:?}");
        assert_record(&records[0], Reason::AllowL3, 0, TCP, 80, 4, b"GEN-0001");
        assert_record(&records[1], Reason::DropPolicy, 0, UDP, 53, 4, b"polc-udp");

        // The next generation is judged in slot 1; the drop still yields exactly one record
        // (no separate 16-byte drop event).
        datapath.install(&policy(), &ipcache()).expect("second install");
        run(&datapath, &allowed, TC_ACT_OK);
        run(&datapath, &dropped, TC_ACT_SHOT);
        let drops = datapath.drain_drop_events().expect("drop events");
        assert_eq!(drops.len(), 1, "{drops:?}");
        assert_eq!((drops[0].reason, drops[0].generation_slot), (Some(Reason::DropPolicy), 1));

        // Short payloads are zero-filled and the padding after the IP packet is not payload;
        // IPv6 and ICMP (payload after the 8-byte header) too.
        run(&datapath, &frame_with_payload(&inbound(4, tcp(80)), b"abc", 20), TC_ACT_OK);
        run(&datapath, &frame_with_payload(&inbound(6, tcp(80)), b"v6-payload", 0), TC_ACT_OK);
        run(&datapath, &packet::build_frame(&inbound(4, tcp(80))).expect("frame"), TC_ACT_OK);
        let echo = Transport::Icmp { icmp_type: 8, code: 0, identifier: 9 };
        run(&datapath, &frame_with_payload(&inbound(4, echo), b"ping-data", 0), TC_ACT_OK);
        run(&datapath, &frame_with_payload(&inbound(6, tcp(81)), b"denied!!", 0), TC_ACT_SHOT);
        let records = datapath.drain_verdict_events().expect("verdict events");
        assert_eq!(records.len(), 5, "{records:?}");
        assert_record(&records[0], Reason::AllowL3, 1, TCP, 80, 4, b"abc\0\0\0\0\0");
        assert_record(&records[1], Reason::AllowL3, 1, TCP, 80, 6, b"v6-paylo");
        assert_record(&records[2], Reason::AllowL3, 1, TCP, 80, 4, &[0; 8]);
        assert_record(&records[3], Reason::AllowL3, 1, ICMP, 8, 4, b"ping-dat");
        assert_record(&records[4], Reason::DropPolicy, 1, TCP, 81, 6, b"denied!!");
        assert!(datapath.drain_verdict_events().expect("verdict events").is_empty());
    }
}

#[test]
fn without_the_mode_allowed_packets_write_nothing_privileged() {
    if !privileged("without_the_mode_allowed_packets_write_nothing_privileged") {
        return;
    }
    let mut datapath = Datapath::load(&config(false, false)).expect("datapath loads");
    datapath.install(&policy(), &ipcache()).expect("install");
    run(&datapath, &frame_with_payload(&inbound(4, tcp(80)), b"GEN-0001", 0), TC_ACT_OK);
    assert!(datapath.drain_drop_events().expect("drop events").is_empty());
    run(&datapath, &frame_with_payload(&inbound(4, tcp(80)), b"GEN-0001", 0), TC_ACT_OK);
    run(&datapath, &packet::build_frame(&inbound(4, udp(53))).expect("frame"), TC_ACT_SHOT);
    let drops = datapath.drain_drop_events().expect("drop events");
    assert_eq!(drops.len(), 1, "{drops:?}");
    assert_eq!(drops[0].reason, Some(Reason::DropPolicy));
    run(&datapath, &frame_with_payload(&inbound(4, tcp(80)), b"GEN-0001", 0), TC_ACT_OK);
    run(&datapath, &packet::build_frame(&inbound(4, udp(53))).expect("frame"), TC_ACT_SHOT);
    assert!(datapath.drain_verdict_events().expect("verdict events").is_empty(), "a 16-byte drop event is not a verdict event");
}
