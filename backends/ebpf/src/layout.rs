//! Byte layouts of the datapath maps, written field by field with explicit byte order.
//!
//! These mirror `bpf/polc_maps.h` and are documented in `MAPS.md`. Keys and values are
//! plain byte arrays, so there is no padding or host-layout ambiguity: the same entry
//! always encodes to the same bytes. Fields the C side reads in host order are written
//! little-endian (the loader refuses big-endian hosts); network-order fields are big-endian.

use std::net::IpAddr;

/// Size of a policy map key in bytes (4-byte prefix length + 8 bytes of data).
pub const POLICY_KEY_SIZE: usize = 12;
/// Size of a policy map value in bytes.
pub const POLICY_VALUE_SIZE: usize = 12;
/// Size of an ipcache key in bytes (4-byte prefix length + 20 bytes of data).
pub const IPCACHE_KEY_SIZE: usize = 24;
/// Size of an ipcache value in bytes.
pub const IPCACHE_VALUE_SIZE: usize = 24;
/// Size of one counter record (per CPU) in bytes.
pub const COUNTER_SIZE: usize = 16;
/// Size of one drop event record in bytes.
pub const DROP_EVENT_SIZE: usize = 16;
/// Size of one verdict event record (`emit_verdict_events`) in bytes: a drop event and
/// 8 bytes of L4 payload.
pub const VERDICT_EVENT_SIZE: usize = 24;
/// Byte 15 of a verdict event record (0 in a drop event).
pub const VERDICT_EVENT_MARKER: u8 = 1;

/// Prefix bits that every policy key fully specifies: identity (32) and direction (8).
pub const POLICY_STATIC_PREFIX_BITS: u32 = 40;
/// Prefix bits of a fully specified policy key: static bits, protocol (8) and port (16).
pub const POLICY_FULL_PREFIX_BITS: u32 = 64;
/// Prefix bits that every ipcache key fully specifies: cluster id (16), pad (8), family (8).
pub const IPCACHE_STATIC_PREFIX_BITS: u32 = 32;

/// Value flag bit: the entry denies.
pub const POLICY_FLAG_DENY: u8 = 0x01;
/// Shift of the lpm prefix length (key prefix − 40) inside the value flags byte.
pub const POLICY_LPM_SHIFT: u32 = 3;
/// Mask of the auth type inside the value auth byte.
pub const POLICY_AUTH_TYPE_MASK: u8 = 0x7f;
/// Value auth bit: the auth type was given explicitly.
pub const POLICY_AUTH_EXPLICIT: u8 = 0x80;

/// Prefix length field that marks a summary record in the policy HASH map.
pub const POLICY_SUMMARY_PREFIX_LEN: u32 = 255;

/// Encodes a summary record of the policy HASH map: which prefix lengths (bit i for
/// 40 + i) exist for `identity`, `direction` and `protocol` (`prefix_mask`), and the same
/// for identity 0 (`wildcard_mask`), so that one lookup serves both of a packet's lookups.
///
/// Key: prefixlen 255 u32 LE, sec_label u32 LE, egress u8, protocol u8, dport 0.
/// Value: prefix_mask u32 LE, wildcard_mask u32 LE, then 4 zero bytes.
pub fn encode_policy_summary(
    identity: u32,
    direction: Direction,
    protocol: u8,
    prefix_mask: u32,
    wildcard_mask: u32,
) -> ([u8; POLICY_KEY_SIZE], [u8; POLICY_VALUE_SIZE]) {
    let mut key = [0u8; POLICY_KEY_SIZE];
    key[0..4].copy_from_slice(&POLICY_SUMMARY_PREFIX_LEN.to_le_bytes());
    key[4..8].copy_from_slice(&identity.to_le_bytes());
    key[8] = direction.key_byte();
    key[9] = protocol;
    let mut value = [0u8; POLICY_VALUE_SIZE];
    value[0..4].copy_from_slice(&prefix_mask.to_le_bytes());
    value[4..8].copy_from_slice(&wildcard_mask.to_le_bytes());
    (key, value)
}

/// Ipcache family byte for IPv4.
pub const FAMILY_IPV4: u8 = 1;
/// Ipcache family byte for IPv6.
pub const FAMILY_IPV6: u8 = 2;

/// Direction of traffic relative to the endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    /// Traffic arriving at the endpoint; the remote peer is the source.
    Ingress,
    /// Traffic leaving the endpoint; the remote peer is the destination.
    Egress,
}

impl Direction {
    /// The key byte: 0 for ingress, 1 for egress.
    pub fn key_byte(self) -> u8 {
        match self {
            Direction::Ingress => 0,
            Direction::Egress => 1,
        }
    }

    /// Both directions, ingress first.
    pub const ALL: [Direction; 2] = [Direction::Ingress, Direction::Egress];

    /// Lower-case name, as used in messages.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

/// Precedence values of the current Cilium policy-map value layout (higher wins).
///
/// The top 24 bits are `0xFFFFFF − priority` (priority 0 for every CNP, CCNP and
/// Kubernetes NetworkPolicy); the low byte orders verdicts within one priority.
pub mod precedence {
    /// Precedence of a deny at priority 0; an L3 match with it is final.
    pub const MAX: u32 = 0xFFFF_FFFF;
    /// Precedence of a plain allow at priority 0.
    pub const ALLOW: u32 = 0xFFFF_FF01;
    /// Low byte of a deny.
    pub const DENY_LOW_BYTE: u8 = 255;
    /// Low byte of an allow without redirect.
    pub const ALLOW_LOW_BYTE: u8 = 1;
    /// Low byte of a redirect at the default listener priority.
    pub const REDIRECT_DEFAULT_LOW_BYTE: u8 = 2;

    fn top_bits(priority: u32) -> u32 {
        0x00FF_FFFF_u32.saturating_sub(priority) << 8
    }

    /// A deny at `priority` (priorities above 0xFFFFFF saturate to the lowest tier).
    pub fn deny(priority: u32) -> u32 {
        top_bits(priority) | u32::from(DENY_LOW_BYTE)
    }

    /// A plain allow at `priority`.
    pub fn allow(priority: u32) -> u32 {
        top_bits(priority) | u32::from(ALLOW_LOW_BYTE)
    }

    /// A redirect at `priority`; `listener_priority` 1..=100 (explicit) or `None` (default).
    pub fn redirect(priority: u32, listener_priority: Option<u8>) -> u32 {
        let low = match listener_priority {
            None => REDIRECT_DEFAULT_LOW_BYTE,
            Some(listener) => 255u8.saturating_sub(listener.max(1)),
        };
        top_bits(priority) | u32::from(low)
    }
}

/// Encodes a policy key. Port bits beyond the prefix are masked off.
///
/// Layout: prefixlen u32 LE, sec_label u32 LE, egress u8, protocol u8, dport u16 BE.
pub fn encode_policy_key(prefix_len: u32, identity: u32, direction: Direction, protocol: u8, port: u16) -> [u8; POLICY_KEY_SIZE] {
    let mut key = [0u8; POLICY_KEY_SIZE];
    key[0..4].copy_from_slice(&prefix_len.to_le_bytes());
    let mut data = [0u8; 8];
    data[0..4].copy_from_slice(&identity.to_le_bytes());
    data[4] = direction.key_byte();
    data[5] = protocol;
    data[6..8].copy_from_slice(&port.to_be_bytes());
    mask_bits(&mut data, prefix_len.min(POLICY_FULL_PREFIX_BITS) as usize);
    key[4..12].copy_from_slice(&data);
    key
}

/// The fields of a policy value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyValueFields {
    pub proxy_port: u16,
    pub deny: bool,
    /// Key prefix length minus 40 (0..=24).
    pub lpm_prefix_len: u8,
    pub auth_type: u8,
    pub auth_explicit: bool,
    pub precedence: u32,
    pub cookie: u32,
}

/// Encodes a policy value.
///
/// Layout: proxy_port u16 BE, flags u8 (bit0 deny, bits3-7 lpm prefix length),
/// auth u8 (bits0-6 type, bit7 explicit), precedence u32 LE, cookie u32 LE.
pub fn encode_policy_value(fields: &PolicyValueFields) -> [u8; POLICY_VALUE_SIZE] {
    let mut value = [0u8; POLICY_VALUE_SIZE];
    value[0..2].copy_from_slice(&fields.proxy_port.to_be_bytes());
    let deny = if fields.deny { POLICY_FLAG_DENY } else { 0 };
    value[2] = deny | ((fields.lpm_prefix_len & 0x1f) << POLICY_LPM_SHIFT);
    let explicit = if fields.auth_explicit { POLICY_AUTH_EXPLICIT } else { 0 };
    value[3] = (fields.auth_type & POLICY_AUTH_TYPE_MASK) | explicit;
    value[4..8].copy_from_slice(&fields.precedence.to_le_bytes());
    value[8..12].copy_from_slice(&fields.cookie.to_le_bytes());
    value
}

/// Decodes a policy value.
pub fn decode_policy_value(value: &[u8; POLICY_VALUE_SIZE]) -> PolicyValueFields {
    PolicyValueFields {
        proxy_port: u16::from_be_bytes([value[0], value[1]]),
        deny: value[2] & POLICY_FLAG_DENY != 0,
        lpm_prefix_len: value[2] >> POLICY_LPM_SHIFT,
        auth_type: value[3] & POLICY_AUTH_TYPE_MASK,
        auth_explicit: value[3] & POLICY_AUTH_EXPLICIT != 0,
        precedence: u32::from_le_bytes([value[4], value[5], value[6], value[7]]),
        cookie: u32::from_le_bytes([value[8], value[9], value[10], value[11]]),
    }
}

/// The fields of a policy key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyKeyFields {
    pub prefix_len: u32,
    pub identity: u32,
    pub direction: Direction,
    pub protocol: u8,
    pub port: u16,
}

/// Decodes a policy key.
pub fn decode_policy_key(key: &[u8; POLICY_KEY_SIZE]) -> PolicyKeyFields {
    PolicyKeyFields {
        prefix_len: u32::from_le_bytes([key[0], key[1], key[2], key[3]]),
        identity: u32::from_le_bytes([key[4], key[5], key[6], key[7]]),
        direction: if key[8] & 1 == 1 { Direction::Egress } else { Direction::Ingress },
        protocol: key[9],
        port: u16::from_be_bytes([key[10], key[11]]),
    }
}

/// Encodes an ipcache key for `address` with `prefix_len` address bits.
///
/// Layout: prefixlen u32 LE (32 + address bits), cluster_id u16 LE, pad u8, family u8,
/// address 16 bytes BE (IPv4 in the first 4 bytes). Address bits beyond the prefix are masked.
pub fn encode_ipcache_key(address: IpAddr, prefix_len: u8, cluster_id: u16) -> [u8; IPCACHE_KEY_SIZE] {
    let mut key = [0u8; IPCACHE_KEY_SIZE];
    let (family, bits, mut address_bytes) = match address {
        IpAddr::V4(v4) => {
            let mut bytes = [0u8; 16];
            bytes[0..4].copy_from_slice(&v4.octets());
            (FAMILY_IPV4, u32::from(prefix_len.min(32)), bytes)
        }
        IpAddr::V6(v6) => (FAMILY_IPV6, u32::from(prefix_len.min(128)), v6.octets()),
    };
    mask_bits(&mut address_bytes, bits as usize);
    key[0..4].copy_from_slice(&(IPCACHE_STATIC_PREFIX_BITS + bits).to_le_bytes());
    key[4..6].copy_from_slice(&cluster_id.to_le_bytes());
    key[6] = 0;
    key[7] = family;
    key[8..24].copy_from_slice(&address_bytes);
    key
}

/// Encodes an ipcache value: sec_identity u32 LE; tunnel endpoint, pad, key and flags zero.
pub fn encode_ipcache_value(identity: u32) -> [u8; IPCACHE_VALUE_SIZE] {
    let mut value = [0u8; IPCACHE_VALUE_SIZE];
    value[0..4].copy_from_slice(&identity.to_le_bytes());
    value
}

/// Clears every bit of `bytes` after the first `bits` bits.
pub(crate) fn mask_bits(bytes: &mut [u8], bits: usize) {
    for (index, byte) in bytes.iter_mut().enumerate() {
        let start = index * 8;
        if start >= bits {
            *byte = 0;
        } else if bits - start < 8 {
            let keep = bits - start;
            *byte &= 0xffu8 << (8 - keep);
        }
    }
}

/// Whether the first `bits` bits of `left` and `right` are equal.
pub(crate) fn prefix_equal(left: &[u8], right: &[u8], bits: usize) -> bool {
    let full = bits / 8;
    let rest = bits % 8;
    if left.len() < full || right.len() < full || left[..full] != right[..full] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    match (left.get(full), right.get(full)) {
        (Some(l), Some(r)) => {
            let mask = 0xffu8 << (8 - rest);
            l & mask == r & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn policy_key_bytes_match_the_documented_layout() {
        let key = encode_policy_key(64, 0x0001_0203, Direction::Egress, 6, 8080);
        assert_eq!(key, [64, 0, 0, 0, 0x03, 0x02, 0x01, 0x00, 1, 6, 0x1f, 0x90]);
        let decoded = decode_policy_key(&key);
        assert_eq!(decoded.identity, 0x0001_0203);
        assert_eq!(decoded.direction, Direction::Egress);
        assert_eq!(decoded.port, 8080);
    }

    #[test]
    fn policy_key_masks_port_bits_beyond_the_prefix() {
        // 48 + 6 bits: block of 1024 ports starting at 1024.
        let key = encode_policy_key(54, 7, Direction::Ingress, 17, 1024 + 77);
        assert_eq!(u16::from_be_bytes([key[10], key[11]]), 1024);
        // 40 bits: protocol and port cleared.
        let key = encode_policy_key(40, 7, Direction::Ingress, 17, 53);
        assert_eq!(&key[9..12], &[0, 0, 0]);
    }

    #[test]
    fn policy_value_round_trips() {
        let fields = PolicyValueFields {
            proxy_port: 15001,
            deny: false,
            lpm_prefix_len: 24,
            auth_type: 1,
            auth_explicit: true,
            precedence: precedence::redirect(0, None),
            cookie: 9,
        };
        let value = encode_policy_value(&fields);
        assert_eq!(value[0..2], 15001u16.to_be_bytes());
        assert_eq!(value[2], 24 << 3);
        assert_eq!(value[3], 0x81);
        assert_eq!(value[4..8], 0xFFFF_FF02u32.to_le_bytes());
        assert_eq!(decode_policy_value(&value), fields);
    }

    #[test]
    fn precedence_encoding_matches_cilium() {
        assert_eq!(precedence::deny(0), precedence::MAX);
        assert_eq!(precedence::allow(0), precedence::ALLOW);
        assert_eq!(precedence::redirect(0, None), 0xFFFF_FF02);
        assert_eq!(precedence::redirect(0, Some(1)), 0xFFFF_FFFE);
        assert_eq!(precedence::redirect(0, Some(100)), 0xFFFF_FF9B);
        assert_eq!(precedence::allow(255), 0xFFFF_0001);
    }

    #[test]
    fn ipcache_keys_follow_the_cilium_layout() {
        let key = encode_ipcache_key(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)), 24, 0);
        assert_eq!(key[0..4], 56u32.to_le_bytes());
        assert_eq!(key[7], FAMILY_IPV4);
        assert_eq!(key[8..12], [10, 1, 2, 0]);
        assert!(key[12..].iter().all(|byte| *byte == 0));
        let key = encode_ipcache_key(IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 1)), 128, 3);
        assert_eq!(key[0..4], 160u32.to_le_bytes());
        assert_eq!(key[4..6], [3, 0]);
        assert_eq!(key[7], FAMILY_IPV6);
        assert_eq!(key[23], 1);
    }

    #[test]
    fn prefix_equal_compares_partial_bytes() {
        assert!(prefix_equal(&[0b1010_0000], &[0b1011_1111], 3));
        assert!(!prefix_equal(&[0b1010_0000], &[0b1011_1111], 4));
        assert!(prefix_equal(&[1, 2], &[1, 3], 8));
    }
}
