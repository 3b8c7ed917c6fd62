//! Hand-built probe packets for the protocols the engine sends over raw sockets (ICMP, ICMPv6,
//! SCTP and protocols without ports), and recognising them on arrival.
//!
//! Every probe carries a 64-bit token unique to its flow: in the payload after the `POLC`
//! marker, or for SCTP in the INIT chunk's initiate tag (low half) and initial TSN (high half).

use crate::sets::Family;

const MARKER: &[u8; 4] = b"POLC";

/// The Internet checksum (RFC 1071) of `data`.
pub fn internet_checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in data.chunks(2) {
        let word = match chunk {
            [high, low] => u16::from_be_bytes([*high, *low]),
            [high] => u16::from_be_bytes([*high, 0]),
            _ => 0,
        };
        sum += u32::from(word);
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}

/// CRC32c (Castagnoli, reflected polynomial 0x82F63B78), as SCTP uses it.
pub fn crc32c(data: &[u8]) -> u32 {
    let mut crc: u32 = !0;
    for byte in data {
        crc ^= u32::from(*byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0x82F6_3B78 & mask);
        }
    }
    !crc
}

/// An ICMP (IPv4, with its checksum) or ICMPv6 (the kernel fills the checksum) message of
/// `icmp_type`, code 0, with the token in its payload.
pub fn icmp(family: Family, icmp_type: u8, identifier: u16, token: u64) -> Vec<u8> {
    let mut packet = vec![icmp_type, 0, 0, 0];
    packet.extend_from_slice(&identifier.to_be_bytes());
    packet.extend_from_slice(&1u16.to_be_bytes());
    packet.extend_from_slice(MARKER);
    packet.extend_from_slice(&token.to_be_bytes());
    if family == Family::V4 {
        let checksum = internet_checksum(&packet);
        packet[2..4].copy_from_slice(&checksum.to_be_bytes());
    }
    packet
}

/// An SCTP packet with one INIT chunk from `source_port` to `destination_port`.
pub fn sctp_init(source_port: u16, destination_port: u16, token: u64) -> Vec<u8> {
    let mut packet = Vec::with_capacity(32);
    packet.extend_from_slice(&source_port.to_be_bytes());
    packet.extend_from_slice(&destination_port.to_be_bytes());
    packet.extend_from_slice(&0u32.to_be_bytes()); // verification tag: 0 in an INIT
    packet.extend_from_slice(&0u32.to_be_bytes()); // checksum, filled below
    packet.push(1); // chunk type INIT
    packet.push(0); // flags
    packet.extend_from_slice(&20u16.to_be_bytes()); // chunk length
    packet.extend_from_slice(&(token as u32).to_be_bytes()); // initiate tag (never 0: see `next_token`)
    packet.extend_from_slice(&65535u32.to_be_bytes()); // advertised receiver window
    packet.extend_from_slice(&1u16.to_be_bytes()); // outbound streams
    packet.extend_from_slice(&1u16.to_be_bytes()); // inbound streams
    packet.extend_from_slice(&((token >> 32) as u32).to_be_bytes()); // initial TSN
    let checksum = crc32c(&packet);
    // SCTP writes its CRC32c little-endian (RFC 9260, appendix A).
    packet[8..12].copy_from_slice(&checksum.to_le_bytes());
    packet
}

/// The payload of a probe for a protocol without ports.
pub fn plain(token: u64) -> Vec<u8> {
    let mut packet = MARKER.to_vec();
    packet.extend_from_slice(&token.to_be_bytes());
    packet
}

/// The payload of a UDP probe.
pub fn udp_payload(token: u64) -> Vec<u8> {
    plain(token)
}

/// The transport part of a packet received on a raw socket: IPv4 raw sockets see the IP header,
/// IPv6 raw sockets do not.
fn transport(family: Family, received: &[u8]) -> Option<&[u8]> {
    match family {
        Family::V4 => {
            let header_length = usize::from(received.first()? & 0x0F) * 4;
            received.get(header_length..)
        }
        Family::V6 => Some(received),
    }
}

fn marked_token(data: &[u8]) -> Option<u64> {
    let rest = data.strip_prefix(MARKER.as_slice())?;
    Some(u64::from_be_bytes(rest.get(..8)?.try_into().ok()?))
}

/// The token of a probe received on a raw socket of `protocol`.
pub fn received_token(family: Family, protocol: u8, received: &[u8]) -> Option<u64> {
    let data = transport(family, received)?;
    match protocol {
        1 | 58 => marked_token(data.get(8..)?),
        132 => {
            // Common header (12 bytes), then the INIT chunk.
            let chunk = data.get(12..32)?;
            if chunk[0] != 1 {
                return None;
            }
            let low = u32::from_be_bytes(chunk[4..8].try_into().ok()?);
            let high = u32::from_be_bytes(chunk[16..20].try_into().ok()?);
            Some(u64::from(high) << 32 | u64::from(low))
        }
        _ => marked_token(data),
    }
}

/// The token of a UDP probe payload.
pub fn udp_token(payload: &[u8]) -> Option<u64> {
    marked_token(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_internet_checksum_of_a_packet_with_its_checksum_is_zero() {
        let packet = icmp(Family::V4, 8, 0x1234, 0xDEAD_BEEF_0000_0001);
        assert_eq!(internet_checksum(&packet), 0);
        assert_eq!(received_token(Family::V6, 1, &packet), Some(0xDEAD_BEEF_0000_0001));
    }

    #[test]
    fn crc32c_matches_the_published_check_value() {
        // The standard check value of CRC-32C over "123456789".
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn an_sctp_init_carries_its_token_and_a_valid_checksum() {
        let token = 0x0102_0304_0506_0708;
        let packet = sctp_init(40000, 9000, token);
        let mut zeroed = packet.clone();
        zeroed[8..12].copy_from_slice(&[0; 4]);
        assert_eq!(u32::from_le_bytes(packet[8..12].try_into().unwrap()), crc32c(&zeroed));
        assert_eq!(received_token(Family::V6, 132, &packet), Some(token));
        // An IPv4 raw socket also sees a 20-byte IP header.
        let mut with_header = vec![0x45];
        with_header.extend_from_slice(&[0; 19]);
        with_header.extend_from_slice(&packet);
        assert_eq!(received_token(Family::V4, 132, &with_header), Some(token));
    }

    #[test]
    fn unrelated_packets_carry_no_token() {
        assert_eq!(received_token(Family::V6, 47, b"GRE?"), None);
        assert_eq!(received_token(Family::V6, 58, &[128, 0, 0, 0, 0, 1, 0, 1, b'x']), None);
        assert_eq!(udp_token(&plain(7)), Some(7));
    }
}
