//! Crafted Ethernet frames for BPF_PROG_TEST_RUN, and the parser the userspace model uses.
//!
//! The builder writes Ethernet + IPv4/IPv6 (+ IPv6 extension headers, fragments) + TCP, UDP,
//! SCTP, ICMP/ICMPv6 or a bare protocol. The IPv4 header checksum is computed; transport
//! checksums are left zero, since the policy programs do not read them.
//!
//! [`parse_frame`] follows `parse_ipv4`/`parse_ipv6`/`parse_l4` of the C datapath step for
//! step, including which fields are already set when it gives up, so that the model's
//! verdict record can be compared with the kernel's field for field.

use std::net::IpAddr;

use crate::config::DatapathConfig;
use crate::verdict::Reason;

pub const ETHERTYPE_IPV4: u16 = 0x0800;
pub const ETHERTYPE_IPV6: u16 = 0x86dd;
pub const ETHERTYPE_ARP: u16 = 0x0806;
pub const PROTOCOL_ICMP: u8 = 1;
pub const PROTOCOL_TCP: u8 = 6;
pub const PROTOCOL_UDP: u8 = 17;
pub const PROTOCOL_ICMPV6: u8 = 58;
pub const PROTOCOL_SCTP: u8 = 132;

const ETHERNET_HEADER_LEN: usize = 14;
const IPV6_EXT_HOP_BY_HOP: u8 = 0;
const IPV6_EXT_ROUTING: u8 = 43;
const IPV6_EXT_FRAGMENT: u8 = 44;
const IPV6_EXT_AUTH: u8 = 51;
const IPV6_EXT_DESTINATION: u8 = 60;
/// Extension headers the datapath skips before it refuses the packet.
pub const MAX_IPV6_EXTENSION_HEADERS: usize = 6;

/// The transport part of a crafted packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    Tcp {
        source_port: u16,
        destination_port: u16,
    },
    Udp {
        source_port: u16,
        destination_port: u16,
    },
    Sctp {
        source_port: u16,
        destination_port: u16,
    },
    /// ICMP in an IPv4 packet, ICMPv6 in an IPv6 packet.
    Icmp {
        icmp_type: u8,
        code: u8,
        identifier: u16,
    },
    /// Any other protocol, with an 8-byte zero payload.
    Other {
        protocol: u8,
    },
}

impl Transport {
    /// The IP protocol number for a packet of `family` (4 or 6).
    pub fn protocol(&self, family: u8) -> u8 {
        match self {
            Transport::Tcp { .. } => PROTOCOL_TCP,
            Transport::Udp { .. } => PROTOCOL_UDP,
            Transport::Sctp { .. } => PROTOCOL_SCTP,
            Transport::Icmp { .. } => {
                if family == 6 {
                    PROTOCOL_ICMPV6
                } else {
                    PROTOCOL_ICMP
                }
            }
            Transport::Other { protocol } => *protocol,
        }
    }
}

/// Fragment position of a crafted packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Fragment {
    /// Not fragmented.
    Whole,
    /// First fragment (offset 0, more fragments follow): the transport header is present.
    First,
    /// A later fragment at `offset_units` × 8 bytes: no transport header.
    Later { offset_units: u16 },
}

/// A packet to craft.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PacketSpec {
    pub source: IpAddr,
    pub destination: IpAddr,
    pub transport: Transport,
    pub fragment: Fragment,
    /// IPv6 extension headers (0, 43, 51, 60; 44 is added for fragments) before the
    /// transport header. Ignored for IPv4.
    pub ipv6_extension_headers: Vec<u8>,
    /// Bytes of IPv4 options (rounded up to a multiple of 4, at most 40).
    pub ipv4_options_len: u8,
    /// Cut the frame to this many bytes (to craft truncated packets).
    pub truncate_to: Option<usize>,
}

impl PacketSpec {
    /// A whole, unoptioned packet.
    pub fn new(source: IpAddr, destination: IpAddr, transport: Transport) -> Self {
        PacketSpec { source, destination, transport, fragment: Fragment::Whole, ipv6_extension_headers: Vec::new(), ipv4_options_len: 0, truncate_to: None }
    }

    pub fn tcp(source: IpAddr, destination: IpAddr, destination_port: u16) -> Self {
        PacketSpec::new(source, destination, Transport::Tcp { source_port: 40000, destination_port })
    }

    pub fn udp(source: IpAddr, destination: IpAddr, destination_port: u16) -> Self {
        PacketSpec::new(source, destination, Transport::Udp { source_port: 40000, destination_port })
    }

    pub fn sctp(source: IpAddr, destination: IpAddr, destination_port: u16) -> Self {
        PacketSpec::new(source, destination, Transport::Sctp { source_port: 40000, destination_port })
    }

    pub fn icmp(source: IpAddr, destination: IpAddr, icmp_type: u8, code: u8) -> Self {
        PacketSpec::new(source, destination, Transport::Icmp { icmp_type, code, identifier: 77 })
    }
}

/// Why a frame could not be crafted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PacketError {
    message: String,
}

impl PacketError {
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for PacketError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for PacketError {}

fn ethernet_header(ethertype: u16) -> Vec<u8> {
    let mut frame = vec![0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01];
    frame.extend_from_slice(&ethertype.to_be_bytes());
    frame
}

/// A minimal ARP request frame.
pub fn arp_frame() -> Vec<u8> {
    let mut frame = ethernet_header(ETHERTYPE_ARP);
    frame.extend_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    frame.extend_from_slice(&[0x02, 0, 0, 0, 0, 0x01, 10, 0, 0, 1]);
    frame.extend_from_slice(&[0, 0, 0, 0, 0, 0, 10, 0, 0, 2]);
    frame
}

/// A frame with an arbitrary EtherType and a 46-byte zero payload.
pub fn ethertype_frame(ethertype: u16) -> Vec<u8> {
    let mut frame = ethernet_header(ethertype);
    frame.extend_from_slice(&[0u8; 46]);
    frame
}

fn transport_bytes(transport: &Transport) -> Vec<u8> {
    match *transport {
        Transport::Tcp { source_port, destination_port } => {
            let mut bytes = Vec::with_capacity(20);
            bytes.extend_from_slice(&source_port.to_be_bytes());
            bytes.extend_from_slice(&destination_port.to_be_bytes());
            bytes.extend_from_slice(&1u32.to_be_bytes()); // sequence
            bytes.extend_from_slice(&0u32.to_be_bytes()); // acknowledgement
            bytes.extend_from_slice(&[5 << 4, 0x02]); // data offset 5, SYN
            bytes.extend_from_slice(&65535u16.to_be_bytes()); // window
            bytes.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent pointer
            bytes
        }
        Transport::Udp { source_port, destination_port } => {
            let mut bytes = Vec::with_capacity(16);
            bytes.extend_from_slice(&source_port.to_be_bytes());
            bytes.extend_from_slice(&destination_port.to_be_bytes());
            bytes.extend_from_slice(&16u16.to_be_bytes());
            bytes.extend_from_slice(&[0, 0]);
            bytes.extend_from_slice(b"polc-udp");
            bytes
        }
        Transport::Sctp { source_port, destination_port } => {
            let mut bytes = Vec::with_capacity(12);
            bytes.extend_from_slice(&source_port.to_be_bytes());
            bytes.extend_from_slice(&destination_port.to_be_bytes());
            bytes.extend_from_slice(&[0u8; 8]); // verification tag, checksum
            bytes
        }
        Transport::Icmp { icmp_type, code, identifier } => {
            let mut bytes = vec![icmp_type, code, 0, 0];
            bytes.extend_from_slice(&identifier.to_be_bytes());
            bytes.extend_from_slice(&1u16.to_be_bytes()); // sequence
            bytes
        }
        Transport::Other { .. } => vec![0u8; 8],
    }
}

fn ipv4_checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for pair in header.chunks(2) {
        let word = u16::from_be_bytes([pair[0], pair.get(1).copied().unwrap_or(0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Crafts the frame `spec` describes.
pub fn build_frame(spec: &PacketSpec) -> Result<Vec<u8>, PacketError> {
    let mut frame = match (spec.source, spec.destination) {
        (IpAddr::V4(source), IpAddr::V4(destination)) => {
            let options_len = (usize::from(spec.ipv4_options_len).div_ceil(4) * 4).min(40);
            let header_len = 20 + options_len;
            let payload = match spec.fragment {
                Fragment::Later { .. } => vec![0u8; 8],
                _ => transport_bytes(&spec.transport),
            };
            let total_len = (header_len + payload.len()) as u16;
            let fragment_field: u16 = match spec.fragment {
                Fragment::Whole => 0x4000, // don't fragment
                Fragment::First => 0x2000, // more fragments
                Fragment::Later { offset_units } => offset_units & 0x1fff,
            };
            let mut header = Vec::with_capacity(header_len);
            header.push(0x40 | (header_len / 4) as u8);
            header.push(0);
            header.extend_from_slice(&total_len.to_be_bytes());
            header.extend_from_slice(&0x1234u16.to_be_bytes());
            header.extend_from_slice(&fragment_field.to_be_bytes());
            header.push(64);
            header.push(spec.transport.protocol(4));
            header.extend_from_slice(&[0, 0]);
            header.extend_from_slice(&source.octets());
            header.extend_from_slice(&destination.octets());
            header.resize(header_len, 1); // options: NOP
            let checksum = ipv4_checksum(&header);
            header[10..12].copy_from_slice(&checksum.to_be_bytes());
            let mut frame = ethernet_header(ETHERTYPE_IPV4);
            frame.extend_from_slice(&header);
            frame.extend_from_slice(&payload);
            frame
        }
        (IpAddr::V6(source), IpAddr::V6(destination)) => {
            let mut extensions: Vec<u8> = spec.ipv6_extension_headers.clone();
            if spec.fragment != Fragment::Whole && !extensions.contains(&IPV6_EXT_FRAGMENT) {
                extensions.push(IPV6_EXT_FRAGMENT);
            }
            let payload = match spec.fragment {
                Fragment::Later { .. } => vec![0u8; 8],
                _ => transport_bytes(&spec.transport),
            };
            let protocol = spec.transport.protocol(6);
            let mut chain = Vec::new();
            for (index, extension) in extensions.iter().enumerate() {
                let next = extensions.get(index + 1).copied().unwrap_or(protocol);
                match *extension {
                    IPV6_EXT_FRAGMENT => {
                        let field: u16 = match spec.fragment {
                            Fragment::Later { offset_units } => (offset_units & 0x1fff) << 3,
                            _ => 1, // offset 0, more fragments
                        };
                        chain.extend_from_slice(&[next, 0]);
                        chain.extend_from_slice(&field.to_be_bytes());
                        chain.extend_from_slice(&0xabcd_0001u32.to_be_bytes());
                    }
                    IPV6_EXT_AUTH => {
                        // 16 bytes: payload length field (4-octet units) − 2 = 2.
                        chain.extend_from_slice(&[next, 2, 0, 0]);
                        chain.extend_from_slice(&[0u8; 12]);
                    }
                    _ => {
                        // Hop-by-hop, routing, destination options: 8 bytes, length field 0.
                        chain.extend_from_slice(&[next, 0]);
                        chain.extend_from_slice(&[0u8; 6]);
                    }
                }
            }
            let first_next = extensions.first().copied().unwrap_or(protocol);
            let payload_len = (chain.len() + payload.len()) as u16;
            let mut frame = ethernet_header(ETHERTYPE_IPV6);
            frame.extend_from_slice(&[0x60, 0, 0, 0]);
            frame.extend_from_slice(&payload_len.to_be_bytes());
            frame.push(first_next);
            frame.push(64);
            frame.extend_from_slice(&source.octets());
            frame.extend_from_slice(&destination.octets());
            frame.extend_from_slice(&chain);
            frame.extend_from_slice(&payload);
            frame
        }
        _ => {
            return Err(PacketError { message: format!("source `{}` and destination `{}` are of different families", spec.source, spec.destination) });
        }
    };
    if let Some(length) = spec.truncate_to {
        frame.truncate(length.max(ETHERNET_HEADER_LEN));
    }
    Ok(frame)
}

/// What the datapath's parser extracts from a frame (C `struct polc_packet`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ParsedPacket {
    pub source: [u8; 16],
    pub destination: [u8; 16],
    /// Conntrack ports in network order (TCP/UDP/SCTP ports, ICMP echo id).
    pub conntrack_source_port: u16,
    pub conntrack_destination_port: u16,
    /// The policy port, host order (destination port or ICMP type).
    pub policy_port: u16,
    /// 4, 6, or 0 when not (yet) known.
    pub family: u8,
    pub protocol: u8,
    pub nonfirst_fragment: bool,
    pub conntrack_create: bool,
    pub conntrack_reply: bool,
    pub icmp_control: bool,
}

/// The result of parsing: the packet as far as the parser got, and the verdict when it
/// stopped early (non-IP, unknown EtherType, malformed headers).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ParseOutcome {
    pub packet: ParsedPacket,
    pub early_verdict: Option<Reason>,
}

fn load<const N: usize>(frame: &[u8], offset: usize) -> Option<[u8; N]> {
    let end = offset.checked_add(N)?;
    frame.get(offset..end)?.try_into().ok()
}

fn parse_l4(frame: &[u8], offset: usize, packet: &mut ParsedPacket, config: &DatapathConfig) -> Option<Reason> {
    if packet.nonfirst_fragment {
        return None;
    }
    match packet.protocol {
        PROTOCOL_TCP | PROTOCOL_UDP | PROTOCOL_SCTP => {
            let Some(ports) = load::<4>(frame, offset) else {
                return Some(Reason::DropInvalid);
            };
            packet.conntrack_source_port = u16::from_be_bytes([ports[0], ports[1]]);
            packet.conntrack_destination_port = u16::from_be_bytes([ports[2], ports[3]]);
            packet.policy_port = packet.conntrack_destination_port;
            packet.conntrack_create = true;
            packet.conntrack_reply = true;
            None
        }
        PROTOCOL_ICMP | PROTOCOL_ICMPV6 => {
            let is_v4 = packet.protocol == PROTOCOL_ICMP && packet.family == 4;
            let is_v6 = packet.protocol == PROTOCOL_ICMPV6 && packet.family == 6;
            let Some(head) = load::<4>(frame, offset) else {
                return Some(Reason::DropInvalid);
            };
            let (icmp_type, code) = (head[0], head[1]);
            if config.enable_icmp_rule {
                packet.policy_port = u16::from(icmp_type);
            }
            if is_v4 && config.allow_icmp_frag_needed && icmp_type == 3 && code == 4 {
                packet.icmp_control = true;
            }
            if is_v6 && config.allow_icmp_frag_needed && icmp_type == 2 {
                packet.icmp_control = true;
            }
            if is_v6 && config.allow_icmpv6_neighbour_discovery && (133..=137).contains(&icmp_type) {
                packet.icmp_control = true;
            }
            let echo_request = (is_v4 && icmp_type == 8) || (is_v6 && icmp_type == 128);
            let echo_reply = (is_v4 && icmp_type == 0) || (is_v6 && icmp_type == 129);
            if echo_request || echo_reply {
                let Some(echo) = load::<8>(frame, offset) else {
                    return Some(Reason::DropInvalid);
                };
                let identifier = u16::from_be_bytes([echo[4], echo[5]]);
                if echo_request {
                    packet.conntrack_source_port = identifier;
                    packet.conntrack_create = true;
                } else {
                    packet.conntrack_destination_port = identifier;
                    packet.conntrack_reply = true;
                }
            }
            None
        }
        _ => None,
    }
}

fn parse_ipv4(frame: &[u8], packet: &mut ParsedPacket, config: &DatapathConfig) -> Option<Reason> {
    let Some(header) = load::<20>(frame, ETHERNET_HEADER_LEN) else {
        return Some(Reason::DropInvalid);
    };
    let version = header[0] >> 4;
    let header_words = header[0] & 0x0f;
    if version != 4 || header_words < 5 {
        return Some(Reason::DropInvalid);
    }
    packet.family = 4;
    packet.protocol = header[9];
    packet.source[..4].copy_from_slice(&header[12..16]);
    packet.destination[..4].copy_from_slice(&header[16..20]);
    if u16::from_be_bytes([header[6], header[7]]) & 0x1fff != 0 {
        packet.nonfirst_fragment = true;
    }
    parse_l4(frame, ETHERNET_HEADER_LEN + usize::from(header_words) * 4, packet, config)
}

fn is_ipv6_extension(next_header: u8) -> bool {
    matches!(next_header, IPV6_EXT_HOP_BY_HOP | IPV6_EXT_ROUTING | IPV6_EXT_DESTINATION | IPV6_EXT_AUTH | IPV6_EXT_FRAGMENT)
}

fn parse_ipv6(frame: &[u8], packet: &mut ParsedPacket, config: &DatapathConfig) -> Option<Reason> {
    let Some(header) = load::<40>(frame, ETHERNET_HEADER_LEN) else {
        return Some(Reason::DropInvalid);
    };
    if header[0] >> 4 != 6 {
        return Some(Reason::DropInvalid);
    }
    packet.family = 6;
    packet.source.copy_from_slice(&header[8..24]);
    packet.destination.copy_from_slice(&header[24..40]);
    let mut next_header = header[6];
    let mut offset = ETHERNET_HEADER_LEN + 40;
    for _ in 0..MAX_IPV6_EXTENSION_HEADERS {
        match next_header {
            IPV6_EXT_HOP_BY_HOP | IPV6_EXT_ROUTING | IPV6_EXT_DESTINATION => {
                let Some(extension) = load::<2>(frame, offset) else {
                    return Some(Reason::DropInvalid);
                };
                next_header = extension[0];
                offset += (usize::from(extension[1]) + 1) * 8;
            }
            IPV6_EXT_AUTH => {
                let Some(extension) = load::<2>(frame, offset) else {
                    return Some(Reason::DropInvalid);
                };
                next_header = extension[0];
                offset += (usize::from(extension[1]) + 2) * 4;
            }
            IPV6_EXT_FRAGMENT => {
                let Some(extension) = load::<8>(frame, offset) else {
                    return Some(Reason::DropInvalid);
                };
                next_header = extension[0];
                if u16::from_be_bytes([extension[2], extension[3]]) & 0xfff8 != 0 {
                    packet.nonfirst_fragment = true;
                }
                offset += 8;
            }
            _ => break,
        }
    }
    if is_ipv6_extension(next_header) {
        return Some(Reason::DropInvalid);
    }
    packet.protocol = next_header;
    parse_l4(frame, offset, packet, config)
}

/// Parses `frame` the way the datapath does.
pub fn parse_frame(frame: &[u8], config: &DatapathConfig) -> ParseOutcome {
    let mut packet = ParsedPacket::default();
    let Some(ethertype) = load::<2>(frame, 12) else {
        return ParseOutcome { packet, early_verdict: Some(Reason::DropInvalid) };
    };
    let early_verdict = match u16::from_be_bytes(ethertype) {
        ETHERTYPE_ARP => Some(Reason::AllowNonIp),
        ETHERTYPE_IPV4 => parse_ipv4(frame, &mut packet, config),
        ETHERTYPE_IPV6 => parse_ipv6(frame, &mut packet, config),
        _ => Some(Reason::DropUnknownL3),
    };
    ParseOutcome { packet, early_verdict }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn v4(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
    }

    fn v6(last: u16) -> IpAddr {
        IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, last))
    }

    #[test]
    fn ipv4_tcp_frame_parses_back() {
        let frame = build_frame(&PacketSpec::tcp(v4(1), v4(2), 8080)).unwrap();
        assert_eq!(frame.len(), 14 + 20 + 20);
        assert_eq!(ipv4_checksum(&frame[14..34]), 0, "header checksum verifies");
        let outcome = parse_frame(&frame, &DatapathConfig::default());
        assert_eq!(outcome.early_verdict, None);
        assert_eq!(outcome.packet.family, 4);
        assert_eq!(outcome.packet.protocol, PROTOCOL_TCP);
        assert_eq!(outcome.packet.policy_port, 8080);
        assert_eq!(&outcome.packet.source[..4], &[10, 0, 0, 1]);
    }

    #[test]
    fn ipv6_extension_headers_are_skipped() {
        let mut spec = PacketSpec::udp(v6(1), v6(2), 53);
        spec.ipv6_extension_headers = vec![0, 60, 43, 51];
        let frame = build_frame(&spec).unwrap();
        let outcome = parse_frame(&frame, &DatapathConfig::default());
        assert_eq!(outcome.early_verdict, None);
        assert_eq!(outcome.packet.protocol, PROTOCOL_UDP);
        assert_eq!(outcome.packet.policy_port, 53);
        spec.ipv6_extension_headers = vec![60; 7];
        let frame = build_frame(&spec).unwrap();
        assert_eq!(parse_frame(&frame, &DatapathConfig::default()).early_verdict, Some(Reason::DropInvalid));
    }

    #[test]
    fn later_fragments_have_no_ports() {
        for source in [v4(1), v6(1)] {
            let destination = if source.is_ipv4() { v4(2) } else { v6(2) };
            let mut spec = PacketSpec::tcp(source, destination, 80);
            spec.fragment = Fragment::Later { offset_units: 10 };
            let outcome = parse_frame(&build_frame(&spec).unwrap(), &DatapathConfig::default());
            assert!(outcome.packet.nonfirst_fragment);
            assert_eq!(outcome.packet.policy_port, 0);
            spec.fragment = Fragment::First;
            let outcome = parse_frame(&build_frame(&spec).unwrap(), &DatapathConfig::default());
            assert!(!outcome.packet.nonfirst_fragment);
            assert_eq!(outcome.packet.policy_port, 80);
        }
    }

    #[test]
    fn icmp_type_is_the_policy_port_only_when_icmp_rules_are_on() {
        let frame = build_frame(&PacketSpec::icmp(v4(1), v4(2), 8, 0)).unwrap();
        assert_eq!(parse_frame(&frame, &DatapathConfig::default()).packet.policy_port, 8);
        let off = DatapathConfig { enable_icmp_rule: false, ..DatapathConfig::default() };
        assert_eq!(parse_frame(&frame, &off).packet.policy_port, 0);
        let frame = build_frame(&PacketSpec::icmp(v6(1), v6(2), 135, 0)).unwrap();
        assert!(parse_frame(&frame, &DatapathConfig::default()).packet.icmp_control);
    }

    #[test]
    fn truncated_and_foreign_frames() {
        let mut spec = PacketSpec::tcp(v4(1), v4(2), 80);
        spec.truncate_to = Some(14 + 20 + 2);
        let outcome = parse_frame(&build_frame(&spec).unwrap(), &DatapathConfig::default());
        assert_eq!(outcome.early_verdict, Some(Reason::DropInvalid));
        assert_eq!(outcome.packet.protocol, PROTOCOL_TCP);
        assert_eq!(parse_frame(&arp_frame(), &DatapathConfig::default()).early_verdict, Some(Reason::AllowNonIp));
        assert_eq!(parse_frame(&ethertype_frame(0x88cc), &DatapathConfig::default()).early_verdict, Some(Reason::DropUnknownL3));
        assert!(build_frame(&PacketSpec::tcp(v4(1), v6(2), 80)).is_err());
    }
}
