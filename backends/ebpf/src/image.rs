//! Map images: the exact key/value bytes of one generation's policy map and ipcache.
//!
//! The input types here ([`PolicyEntry`], [`IpcacheEntry`]) are deliberately this crate's
//! own: the IR is lowered to them elsewhere. Building an image validates every entry,
//! splits nothing implicitly (port ranges are split with [`port_range_blocks`] before),
//! merges entries with equal keys, applies Cilium's deny insertion rules (a deny removes the
//! narrower entries of lower precedence it covers; a deny covered by an entry of higher or
//! equal precedence is not inserted), and sorts the entries by key bytes, so equal inputs
//! give byte-identical images.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use crate::layout::{self, Direction, IPCACHE_KEY_SIZE, IPCACHE_VALUE_SIZE, POLICY_KEY_SIZE, POLICY_STATIC_PREFIX_BITS, POLICY_VALUE_SIZE, PolicyValueFields};

/// Default policy map capacity (Cilium's `bpf-policy-map-max` default).
pub const DEFAULT_POLICY_MAP_MAX_ENTRIES: u32 = 16_384;
/// Largest policy map capacity (Cilium's upper bound for `bpf-policy-map-max`).
pub const POLICY_MAP_MAX_ENTRIES_LIMIT: u32 = 65_536;
/// Default ipcache capacity (Cilium's `cilium_ipcache_v2` size).
pub const DEFAULT_IPCACHE_MAX_ENTRIES: u32 = 512_000;

/// One policy map entry before encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PolicyEntry {
    /// Remote identity; 0 means any identity (an L4-only entry).
    pub identity: u32,
    pub direction: Direction,
    /// IANA protocol number; 0 means any protocol.
    pub protocol: u8,
    /// Destination port (ICMP type for ICMP/ICMPv6); the first port of the block.
    pub port: u16,
    /// Number of leading port bits that must match: 0 any port, 16 exactly `port`,
    /// 1..=15 the aligned block of 2^(16 − n) ports starting at `port`.
    pub port_prefix_len: u8,
    pub deny: bool,
    /// L7 proxy port; non-zero means redirect (polc marks the packet and allows it).
    pub proxy_port: u16,
    /// 0 none, 1 spire, 2 always-fail.
    pub auth_type: u8,
    pub auth_explicit: bool,
    /// Higher wins; see [`crate::layout::precedence`].
    pub precedence: u32,
    /// Policy-log cookie, 0 for none.
    pub cookie: u32,
}

impl PolicyEntry {
    /// A plain allow at priority 0.
    pub fn allow(identity: u32, direction: Direction, protocol: u8, port: u16, port_prefix_len: u8) -> Self {
        PolicyEntry {
            identity,
            direction,
            protocol,
            port,
            port_prefix_len,
            deny: false,
            proxy_port: 0,
            auth_type: 0,
            auth_explicit: false,
            precedence: layout::precedence::allow(0),
            cookie: 0,
        }
    }

    /// A deny at priority 0.
    pub fn deny(identity: u32, direction: Direction, protocol: u8, port: u16, port_prefix_len: u8) -> Self {
        PolicyEntry { deny: true, precedence: layout::precedence::deny(0), ..PolicyEntry::allow(identity, direction, protocol, port, port_prefix_len) }
    }

    /// An allow with an L7 redirect to `proxy_port` at the default listener priority.
    pub fn redirect(identity: u32, direction: Direction, protocol: u8, port: u16, port_prefix_len: u8, proxy_port: u16) -> Self {
        PolicyEntry {
            proxy_port,
            precedence: layout::precedence::redirect(0, None),
            ..PolicyEntry::allow(identity, direction, protocol, port, port_prefix_len)
        }
    }

    /// The LPM prefix length of this entry's key, after validation.
    pub fn key_prefix_len(&self) -> Result<u32, ImageError> {
        if self.port_prefix_len > 16 {
            return Err(ImageError::new(format!("port prefix length `{}` is larger than 16 bits", self.port_prefix_len)));
        }
        if self.protocol == 0 {
            if self.port != 0 || self.port_prefix_len != 0 {
                return Err(ImageError::new(format!("port `{}` needs a protocol; a port never appears without one", self.port)));
            }
            return Ok(POLICY_STATIC_PREFIX_BITS);
        }
        if self.port_prefix_len == 0 {
            if self.port != 0 {
                return Err(ImageError::new(format!("port `{}` with port prefix length 0 would match every port; use port 0", self.port)));
            }
            return Ok(POLICY_STATIC_PREFIX_BITS + 8);
        }
        let host_bits = 16 - u32::from(self.port_prefix_len);
        let low_mask = ((1u32 << host_bits) - 1) as u16;
        if self.port & low_mask != 0 {
            return Err(ImageError::new(format!("port `{}` is not aligned to a block of {} ports", self.port, 1u32 << host_bits)));
        }
        Ok(POLICY_STATIC_PREFIX_BITS + 8 + u32::from(self.port_prefix_len))
    }

    fn key(&self, prefix_len: u32) -> [u8; POLICY_KEY_SIZE] {
        layout::encode_policy_key(prefix_len, self.identity, self.direction, self.protocol, self.port)
    }

    fn value(&self, prefix_len: u32) -> [u8; POLICY_VALUE_SIZE] {
        layout::encode_policy_value(&PolicyValueFields {
            proxy_port: if self.deny { 0 } else { self.proxy_port },
            deny: self.deny,
            lpm_prefix_len: (prefix_len - POLICY_STATIC_PREFIX_BITS) as u8,
            auth_type: if self.deny { 0 } else { self.auth_type },
            auth_explicit: !self.deny && self.auth_explicit,
            precedence: self.precedence,
            cookie: self.cookie,
        })
    }
}

/// An aligned block of ports: `port` with `prefix_len` leading bits fixed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortBlock {
    pub port: u16,
    /// 0 for all ports, 16 for exactly `port`.
    pub prefix_len: u8,
}

impl PortBlock {
    /// First port of the block.
    pub fn first(&self) -> u16 {
        self.port
    }

    /// Last port of the block.
    pub fn last(&self) -> u16 {
        let size = 1u32 << (16 - u32::from(self.prefix_len.min(16)));
        (u32::from(self.port) + size - 1).min(65_535) as u16
    }
}

/// Splits the inclusive range `first..=last` into the fewest aligned power-of-two blocks,
/// in ascending order. Port 0 alone, or `0..=65535`, is the single "all ports" block.
/// An empty range (`first > last`) gives no blocks.
pub fn port_range_blocks(first: u16, last: u16) -> Vec<PortBlock> {
    let mut blocks = Vec::new();
    if first > last {
        return blocks;
    }
    if first == 0 && (last == 0 || last == u16::MAX) {
        blocks.push(PortBlock { port: 0, prefix_len: 0 });
        return blocks;
    }
    let mut start = u32::from(first);
    let end = u32::from(last);
    while start <= end {
        // The largest block aligned at `start` that stays within the range.
        let mut host_bits = if start == 0 { 16 } else { start.trailing_zeros().min(16) };
        while host_bits > 0 && start + (1u32 << host_bits) - 1 > end {
            host_bits -= 1;
        }
        blocks.push(PortBlock { port: start as u16, prefix_len: (16 - host_bits) as u8 });
        start += 1u32 << host_bits;
    }
    blocks
}

/// An IP prefix (address with no bits set beyond the prefix length).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpPrefix {
    address: IpAddr,
    prefix_len: u8,
}

impl IpPrefix {
    /// A prefix; fails when the length exceeds the family's width or host bits are set.
    pub fn new(address: IpAddr, prefix_len: u8) -> Result<Self, ImageError> {
        let width = if address.is_ipv4() { 32 } else { 128 };
        if prefix_len > width {
            return Err(ImageError::new(format!("prefix length `{prefix_len}` of `{address}` is longer than {width} bits")));
        }
        let key = layout::encode_ipcache_key(address, prefix_len, 0);
        let unmasked = layout::encode_ipcache_key(address, width, 0);
        if key[8..] != unmasked[8..] {
            return Err(ImageError::new(format!("prefix `{address}/{prefix_len}` has host bits set")));
        }
        Ok(IpPrefix { address, prefix_len })
    }

    /// A single address (/32 or /128).
    pub fn host(address: IpAddr) -> Self {
        let prefix_len = if address.is_ipv4() { 32 } else { 128 };
        IpPrefix { address, prefix_len }
    }

    pub fn address(&self) -> IpAddr {
        self.address
    }

    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }
}

impl fmt::Display for IpPrefix {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}/{}", self.address, self.prefix_len)
    }
}

/// One ipcache entry: every address inside `prefix` has `identity` (longest prefix wins).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpcacheEntry {
    pub prefix: IpPrefix,
    pub identity: u32,
}

/// A problem with the entries given to an image builder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageError {
    message: String,
}

impl ImageError {
    fn new(message: String) -> Self {
        ImageError { message }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ImageError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for ImageError {}

/// The policy map of one generation: sorted, unique keys with their values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyMapImage {
    // INVARIANT: sorted by key bytes, keys unique, every key masked to its prefix.
    entries: Vec<([u8; POLICY_KEY_SIZE], [u8; POLICY_VALUE_SIZE])>,
    max_entries: u32,
}

#[derive(Clone, Copy)]
struct Candidate {
    entry: PolicyEntry,
    prefix_len: u32,
}

/// Whether `broad` covers `narrow`: same direction, same or wildcard identity, and
/// `broad`'s protocol/port prefix contains `narrow`'s.
fn covers(broad: &Candidate, narrow_key: &[u8; POLICY_KEY_SIZE], narrow_prefix: u32) -> bool {
    let broad_key = broad.entry.key(broad.prefix_len);
    if broad.prefix_len > narrow_prefix || broad_key[8] != narrow_key[8] {
        return false;
    }
    let identity_matches = broad_key[4..8] == [0, 0, 0, 0] || broad_key[4..8] == narrow_key[4..8];
    identity_matches && layout::prefix_equal(&broad_key[9..12], &narrow_key[9..12], (broad.prefix_len - POLICY_STATIC_PREFIX_BITS) as usize)
}

/// Keys of every prefix (from 40 up to `prefix_len`, inclusive) that could cover `key`,
/// for the key's own identity and for identity 0.
fn covering_keys(key: &[u8; POLICY_KEY_SIZE], prefix_len: u32) -> Vec<[u8; POLICY_KEY_SIZE]> {
    let mut keys = Vec::new();
    let fields = layout::decode_policy_key(key);
    for identity in [fields.identity, 0] {
        for candidate_prefix in POLICY_STATIC_PREFIX_BITS..=prefix_len {
            // Only 40, 48 and 49..=64 are valid prefixes; 41..=47 cannot occur.
            if candidate_prefix > POLICY_STATIC_PREFIX_BITS && candidate_prefix < POLICY_STATIC_PREFIX_BITS + 8 {
                continue;
            }
            keys.push(layout::encode_policy_key(candidate_prefix, identity, fields.direction, fields.protocol, fields.port));
        }
        if fields.identity == 0 {
            break;
        }
    }
    keys
}

/// Merges two entries with the same key: higher precedence wins; on a tie a deny wins,
/// then a redirect to the lower proxy port; the auth type is the explicit one, or else the
/// numerically higher one.
fn merge(existing: PolicyEntry, incoming: PolicyEntry) -> PolicyEntry {
    let rank = |entry: &PolicyEntry| {
        let proxy_rank = if entry.proxy_port == 0 { u32::from(u16::MAX) + 1 } else { u32::from(entry.proxy_port) };
        (entry.precedence, entry.deny, std::cmp::Reverse(proxy_rank), std::cmp::Reverse(entry.cookie))
    };
    let (mut winner, loser) = if rank(&incoming) > rank(&existing) { (incoming, existing) } else { (existing, incoming) };
    if !winner.deny && winner.precedence == loser.precedence {
        let auth_rank = |entry: &PolicyEntry| (entry.auth_explicit, entry.auth_type);
        if auth_rank(&loser) > auth_rank(&winner) {
            winner.auth_type = loser.auth_type;
            winner.auth_explicit = loser.auth_explicit;
        }
    }
    winner
}

impl PolicyMapImage {
    /// Builds the image of `entries` with Cilium's merge and deny insertion rules.
    pub fn build(entries: &[PolicyEntry]) -> Result<Self, ImageError> {
        let mut by_key: BTreeMap<[u8; POLICY_KEY_SIZE], Candidate> = BTreeMap::new();
        for entry in entries {
            let prefix_len = entry.key_prefix_len()?;
            let key = entry.key(prefix_len);
            let candidate = match by_key.get(&key) {
                Some(existing) => Candidate { entry: merge(existing.entry, *entry), prefix_len },
                None => Candidate { entry: *entry, prefix_len },
            };
            by_key.insert(key, candidate);
        }

        // Step 1: a deny covered by another entry of higher or equal precedence is not inserted.
        let mut shadowed_denies = Vec::new();
        for (key, candidate) in &by_key {
            if !candidate.entry.deny {
                continue;
            }
            let shadowed = covering_keys(key, candidate.prefix_len).iter().any(|cover_key| {
                cover_key != key
                    && by_key
                        .get(cover_key)
                        .is_some_and(|cover| cover.entry.precedence >= candidate.entry.precedence && covers(cover, key, candidate.prefix_len))
            });
            if shadowed {
                shadowed_denies.push(*key);
            }
        }
        for key in &shadowed_denies {
            by_key.remove(key);
        }

        // Step 2: a deny removes the narrower entries of lower precedence it covers.
        let mut removed = Vec::new();
        for (key, candidate) in &by_key {
            let covered = covering_keys(key, candidate.prefix_len).iter().any(|cover_key| {
                cover_key != key
                    && by_key.get(cover_key).is_some_and(|cover| {
                        cover.entry.deny && cover.entry.precedence > candidate.entry.precedence && covers(cover, key, candidate.prefix_len)
                    })
            });
            if covered {
                removed.push(*key);
            }
        }
        for key in &removed {
            by_key.remove(key);
        }

        let count = by_key.len();
        if count > POLICY_MAP_MAX_ENTRIES_LIMIT as usize {
            return Err(ImageError::new(format!("the policy map needs {count} entries, more than the limit of {POLICY_MAP_MAX_ENTRIES_LIMIT}")));
        }
        let encoded = by_key.into_iter().map(|(key, candidate)| (key, candidate.entry.value(candidate.prefix_len))).collect();
        Ok(PolicyMapImage { entries: encoded, max_entries: DEFAULT_POLICY_MAP_MAX_ENTRIES.max(count as u32) })
    }

    /// The encoded entries, sorted by key bytes.
    pub fn entries(&self) -> &[([u8; POLICY_KEY_SIZE], [u8; POLICY_VALUE_SIZE])] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Capacity of the kernel map for this image.
    pub fn max_entries(&self) -> u32 {
        self.max_entries
    }

    /// The entries of the policy HASH map (the `policy_map_hash` mode): every entry of the
    /// image, plus one summary record per (identity, direction, protocol) listing the
    /// prefix lengths present, sorted by key bytes. An L3-only entry (prefix 40) is listed
    /// in the summaries of every protocol its identity and direction have entries for; a
    /// protocol without a summary falls back to probing prefix 40 only, except for
    /// identity 0, whose L3-only entries are listed under all 256 protocols. Each summary
    /// also carries identity 0's mask for its direction and protocol (the mask of identity
    /// 0's summary, or 0 when it has none), so a packet whose identity has a summary needs
    /// no second summary lookup for the identity-0 (L4-only) match. For the same reason an
    /// identity with entries in a direction also gets a summary for each protocol that
    /// identity 0 has protocol entries for in that direction (listing only its own L3-only
    /// entry, if any), as long as these extra summaries stay within
    /// [`HASH_MAP_EXTRA_SUMMARIES`] per entry; beyond that they are left out, which costs
    /// lookups, not correctness.
    pub fn hash_map_entries(&self) -> Vec<([u8; POLICY_KEY_SIZE], [u8; POLICY_VALUE_SIZE])> {
        let mut masks: BTreeMap<(u32, Direction, u8), u32> = BTreeMap::new();
        let mut l3_only: BTreeMap<(u32, Direction), ()> = BTreeMap::new();
        for (key, _) in &self.entries {
            let fields = layout::decode_policy_key(key);
            let bit = fields.prefix_len - POLICY_STATIC_PREFIX_BITS;
            if bit == 0 {
                l3_only.insert((fields.identity, fields.direction), ());
            } else {
                *masks.entry((fields.identity, fields.direction, fields.protocol)).or_insert(0) |= 1 << bit;
            }
        }
        // Identity 0 gets a summary for every protocol where it has an L3-only entry, so
        // that the datapath can skip identity 0 entirely when no summary exists.
        for (identity, direction) in l3_only.keys() {
            if *identity == 0 {
                for protocol in 0..=u8::MAX {
                    masks.entry((0, *direction, protocol)).or_insert(0);
                }
            }
        }
        // Identity 0's protocols with protocol entries, per direction, and the identities
        // with entries per direction.
        let mut wildcard_protocols: BTreeMap<Direction, Vec<u8>> = BTreeMap::new();
        let mut identities: BTreeMap<Direction, std::collections::BTreeSet<u32>> = BTreeMap::new();
        for ((identity, direction, protocol), mask) in &masks {
            if *identity == 0 {
                // Not the summaries listing only identity 0's L3-only entry (all 256 protocols).
                if *mask != 0 {
                    wildcard_protocols.entry(*direction).or_default().push(*protocol);
                }
            } else {
                identities.entry(*direction).or_default().insert(*identity);
            }
        }
        for (identity, direction) in l3_only.keys() {
            if *identity != 0 {
                identities.entry(*direction).or_default().insert(*identity);
            }
        }
        let extra: usize = identities.iter().map(|(direction, set)| set.len() * wildcard_protocols.get(direction).map_or(0, Vec::len)).sum();
        if extra <= self.entries.len().saturating_mul(HASH_MAP_EXTRA_SUMMARIES as usize) {
            for (direction, set) in &identities {
                for protocol in wildcard_protocols.get(direction).map(Vec::as_slice).unwrap_or_default() {
                    for identity in set {
                        masks.entry((*identity, *direction, *protocol)).or_insert(0);
                    }
                }
            }
        }
        let full_mask = |identity: u32, direction: Direction, protocol: u8| {
            masks.get(&(identity, direction, protocol)).map(|mask| mask | u32::from(l3_only.contains_key(&(identity, direction))))
        };
        let mut entries = self.entries.clone();
        for (identity, direction, protocol) in masks.keys() {
            let prefix_mask = full_mask(*identity, *direction, *protocol).unwrap_or(0);
            let wildcard_mask = full_mask(0, *direction, *protocol).unwrap_or(0);
            entries.push(layout::encode_policy_summary(*identity, *direction, *protocol, prefix_mask, wildcard_mask));
        }
        entries.sort();
        entries
    }

    /// Capacity of the kernel HASH map for [`PolicyMapImage::hash_map_entries`].
    pub fn hash_map_max_entries(&self) -> u32 {
        // At most one summary per entry, the extra summaries, plus 256 per direction for
        // identity 0.
        self.max_entries.saturating_mul(2 + HASH_MAP_EXTRA_SUMMARIES).saturating_add(512)
    }

    /// Key and value bytes of every entry, concatenated in key order.
    pub fn encoded(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.entries.len() * (POLICY_KEY_SIZE + POLICY_VALUE_SIZE));
        for (key, value) in &self.entries {
            bytes.extend_from_slice(key);
            bytes.extend_from_slice(value);
        }
        bytes
    }
}

/// Extra summary records (see [`PolicyMapImage::hash_map_entries`]) allowed per policy
/// entry.
pub const HASH_MAP_EXTRA_SUMMARIES: u32 = 2;

/// The ipcache of one generation: sorted, unique prefixes with their identities.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpcacheImage {
    // INVARIANT: sorted by key bytes, keys unique.
    entries: Vec<([u8; IPCACHE_KEY_SIZE], [u8; IPCACHE_VALUE_SIZE])>,
    cluster_id: u16,
    max_entries: u32,
}

impl IpcacheImage {
    /// Builds the ipcache image; the same prefix with two identities is an error.
    pub fn build(entries: &[IpcacheEntry], cluster_id: u16) -> Result<Self, ImageError> {
        let mut by_key: BTreeMap<[u8; IPCACHE_KEY_SIZE], (IpPrefix, u32)> = BTreeMap::new();
        for entry in entries {
            let key = layout::encode_ipcache_key(entry.prefix.address(), entry.prefix.prefix_len(), cluster_id);
            if let Some((prefix, identity)) = by_key.get(&key)
                && *identity != entry.identity
            {
                return Err(ImageError::new(format!("prefix `{prefix}` is given two identities, `{identity}` and `{}`", entry.identity)));
            }
            by_key.insert(key, (entry.prefix, entry.identity));
        }
        let count = by_key.len();
        if count > DEFAULT_IPCACHE_MAX_ENTRIES as usize {
            return Err(ImageError::new(format!("the ipcache needs {count} entries, more than the limit of {DEFAULT_IPCACHE_MAX_ENTRIES}")));
        }
        Ok(IpcacheImage {
            entries: by_key.into_iter().map(|(key, (_, identity))| (key, layout::encode_ipcache_value(identity))).collect(),
            cluster_id,
            max_entries: DEFAULT_IPCACHE_MAX_ENTRIES,
        })
    }

    pub fn entries(&self) -> &[([u8; IPCACHE_KEY_SIZE], [u8; IPCACHE_VALUE_SIZE])] {
        &self.entries
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn cluster_id(&self) -> u16 {
        self.cluster_id
    }

    pub fn max_entries(&self) -> u32 {
        self.max_entries
    }

    /// The host entries (/32 and /128), in key order: the records of the
    /// `polc_ipcache_hash` map (the `ipcache_host_hash` mode). The keys are the LPM keys
    /// unchanged (`prefixlen` 64 or 160), which is what the datapath looks up.
    pub fn host_entries(&self) -> Vec<([u8; IPCACHE_KEY_SIZE], [u8; IPCACHE_VALUE_SIZE])> {
        self.entries.iter().filter(|(key, _)| is_host_key(key)).copied().collect()
    }

    /// The entries that are not host entries (shorter prefixes), in key order: all the trie
    /// needs in the `ipcache_host_hash` mode, where it is only read after a miss in the host
    /// HASH.
    pub fn prefix_entries(&self) -> Vec<([u8; IPCACHE_KEY_SIZE], [u8; IPCACHE_VALUE_SIZE])> {
        self.entries.iter().filter(|(key, _)| !is_host_key(key)).copied().collect()
    }

    /// Capacity of the kernel HASH map for [`IpcacheImage::host_entries`] (at least 1: the
    /// kernel refuses an empty map).
    pub fn host_hash_max_entries(&self) -> u32 {
        (self.entries.iter().filter(|(key, _)| is_host_key(key)).count() as u32).max(1)
    }

    /// Key and value bytes of every entry, concatenated in key order.
    pub fn encoded(&self) -> Vec<u8> {
        let mut bytes = Vec::with_capacity(self.entries.len() * (IPCACHE_KEY_SIZE + IPCACHE_VALUE_SIZE));
        for (key, value) in &self.entries {
            bytes.extend_from_slice(key);
            bytes.extend_from_slice(value);
        }
        bytes
    }
}

/// Whether an ipcache key is a host prefix: /32 for IPv4, /128 for IPv6.
fn is_host_key(key: &[u8; IPCACHE_KEY_SIZE]) -> bool {
    let prefix_len = u32::from_le_bytes([key[0], key[1], key[2], key[3]]);
    match key[7] {
        layout::FAMILY_IPV4 => prefix_len == layout::IPCACHE_STATIC_PREFIX_BITS + 32,
        layout::FAMILY_IPV6 => prefix_len == layout::IPCACHE_STATIC_PREFIX_BITS + 128,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::decode_policy_value;
    use std::net::Ipv4Addr;

    #[test]
    fn port_ranges_split_into_aligned_blocks() {
        let blocks = port_range_blocks(80, 443);
        let covered: u32 = blocks.iter().map(|block| u32::from(block.last()) - u32::from(block.first()) + 1).sum();
        assert_eq!(covered, 443 - 80 + 1);
        assert_eq!(blocks.first().map(PortBlock::first), Some(80));
        assert_eq!(blocks.last().map(PortBlock::last), Some(443));
        for pair in blocks.windows(2) {
            assert_eq!(u32::from(pair[0].last()) + 1, u32::from(pair[1].first()));
        }
        let documented: Vec<(u16, u8)> = port_range_blocks(1000, 1999).iter().map(|block| (block.port, block.prefix_len)).collect();
        assert_eq!(documented, vec![(1000, 13), (1008, 12), (1024, 7), (1536, 8), (1792, 9), (1920, 10), (1984, 12)], "the MAPS.md example");
        assert_eq!(port_range_blocks(1024, 2047), vec![PortBlock { port: 1024, prefix_len: 6 }]);
        assert_eq!(port_range_blocks(8080, 8080), vec![PortBlock { port: 8080, prefix_len: 16 }]);
        assert_eq!(port_range_blocks(0, 65535), vec![PortBlock { port: 0, prefix_len: 0 }]);
        assert_eq!(port_range_blocks(1, 65535).len(), 16);
        assert!(port_range_blocks(10, 9).is_empty());
    }

    #[test]
    fn entries_are_validated() {
        assert!(PolicyEntry::allow(1, Direction::Ingress, 0, 80, 16).key_prefix_len().is_err());
        assert!(PolicyEntry::allow(1, Direction::Ingress, 6, 81, 15).key_prefix_len().is_err());
        assert!(PolicyEntry::allow(1, Direction::Ingress, 6, 80, 0).key_prefix_len().is_err());
        assert!(PolicyEntry::allow(1, Direction::Ingress, 6, 80, 17).key_prefix_len().is_err());
        assert_eq!(PolicyEntry::allow(1, Direction::Ingress, 6, 80, 16).key_prefix_len(), Ok(64));
        assert_eq!(PolicyEntry::allow(1, Direction::Ingress, 6, 0, 0).key_prefix_len(), Ok(48));
        assert_eq!(PolicyEntry::allow(1, Direction::Ingress, 0, 0, 0).key_prefix_len(), Ok(40));
        assert_eq!(PolicyEntry::allow(1, Direction::Ingress, 6, 1024, 6).key_prefix_len(), Ok(54));
    }

    #[test]
    fn image_is_sorted_and_independent_of_input_order() {
        let entries = vec![
            PolicyEntry::allow(300, Direction::Egress, 17, 53, 16),
            PolicyEntry::allow(5, Direction::Ingress, 6, 80, 16),
            PolicyEntry::deny(0, Direction::Ingress, 6, 22, 16),
        ];
        let mut reversed = entries.clone();
        reversed.reverse();
        let first = PolicyMapImage::build(&entries).unwrap();
        let second = PolicyMapImage::build(&reversed).unwrap();
        assert_eq!(first, second);
        assert_eq!(first.encoded(), second.encoded());
        let keys: Vec<_> = first.entries().iter().map(|(key, _)| *key).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
        assert_eq!(first.max_entries(), DEFAULT_POLICY_MAP_MAX_ENTRIES);
    }

    #[test]
    fn lpm_prefix_length_is_stored_in_the_value() {
        let image = PolicyMapImage::build(&[PolicyEntry::allow(5, Direction::Ingress, 6, 1024, 6)]).unwrap();
        let (key, value) = image.entries()[0];
        assert_eq!(u32::from_le_bytes([key[0], key[1], key[2], key[3]]), 54);
        assert_eq!(decode_policy_value(&value).lpm_prefix_len, 14);
    }

    #[test]
    fn a_broad_deny_removes_narrower_allows_of_the_same_identity() {
        let image = PolicyMapImage::build(&[
            PolicyEntry::deny(5, Direction::Ingress, 6, 0, 0),
            PolicyEntry::allow(5, Direction::Ingress, 6, 80, 16),
            PolicyEntry::allow(6, Direction::Ingress, 6, 80, 16),
            PolicyEntry::allow(5, Direction::Egress, 6, 80, 16),
        ])
        .unwrap();
        let identities: Vec<_> = image
            .entries()
            .iter()
            .map(|(key, _)| {
                let fields = layout::decode_policy_key(key);
                (fields.identity, fields.direction, fields.prefix_len)
            })
            .collect();
        assert_eq!(identities, vec![(5, Direction::Ingress, 48), (5, Direction::Egress, 64), (6, Direction::Ingress, 64)]);
    }

    #[test]
    fn a_wildcard_deny_removes_narrower_allows_of_every_identity() {
        let image = PolicyMapImage::build(&[PolicyEntry::deny(0, Direction::Ingress, 0, 0, 0), PolicyEntry::allow(9, Direction::Ingress, 17, 53, 16)]).unwrap();
        assert_eq!(image.len(), 1);
    }

    #[test]
    fn a_deny_under_a_higher_precedence_allow_is_not_inserted() {
        let mut deny = PolicyEntry::deny(7, Direction::Ingress, 6, 80, 16);
        deny.precedence = layout::precedence::deny(10);
        let allow = PolicyEntry::allow(7, Direction::Ingress, 6, 0, 0);
        let image = PolicyMapImage::build(&[deny, allow]).unwrap();
        assert_eq!(image.len(), 1);
        assert!(!decode_policy_value(&image.entries()[0].1).deny);
    }

    #[test]
    fn equal_keys_merge_deterministically() {
        let allow = PolicyEntry::allow(3, Direction::Ingress, 6, 80, 16);
        let deny = PolicyEntry::deny(3, Direction::Ingress, 6, 80, 16);
        let redirect_high = PolicyEntry::redirect(3, Direction::Ingress, 6, 80, 16, 20000);
        let redirect_low = PolicyEntry::redirect(3, Direction::Ingress, 6, 80, 16, 10000);
        let image = PolicyMapImage::build(&[allow, deny]).unwrap();
        assert!(decode_policy_value(&image.entries()[0].1).deny);
        let image = PolicyMapImage::build(&[redirect_high, redirect_low, allow]).unwrap();
        assert_eq!(decode_policy_value(&image.entries()[0].1).proxy_port, 10000);
        let mut explicit = allow;
        explicit.auth_type = 1;
        explicit.auth_explicit = true;
        let image = PolicyMapImage::build(&[allow, explicit]).unwrap();
        let value = decode_policy_value(&image.entries()[0].1);
        assert_eq!((value.auth_type, value.auth_explicit), (1, true));
    }

    #[test]
    fn hash_map_entries_add_one_summary_per_identity_direction_and_protocol() {
        let image = PolicyMapImage::build(&[
            PolicyEntry::allow(5, Direction::Ingress, 6, 80, 16),
            PolicyEntry::allow(5, Direction::Ingress, 6, 1024, 6),
            PolicyEntry::allow(5, Direction::Ingress, 0, 0, 0),
            PolicyEntry::allow(5, Direction::Ingress, 17, 0, 0),
            PolicyEntry::allow(5, Direction::Egress, 6, 0, 0),
        ])
        .unwrap();
        let entries = image.hash_map_entries();
        assert_eq!(entries.len(), image.len() + 3);
        let summary = |protocol: u8, direction: Direction| {
            let (key, _) = layout::encode_policy_summary(5, direction, protocol, 0, 0);
            entries.iter().find(|(candidate, _)| *candidate == key).map(|(_, value)| u32::from_le_bytes([value[0], value[1], value[2], value[3]]))
        };
        assert_eq!(summary(6, Direction::Ingress), Some((1 << 24) | (1 << 14) | 1));
        assert_eq!(summary(17, Direction::Ingress), Some((1 << 8) | 1));
        assert_eq!(summary(6, Direction::Egress), Some(1 << 8));
        assert_eq!(summary(132, Direction::Ingress), None);
        let wildcard =
            PolicyMapImage::build(&[PolicyEntry::allow(0, Direction::Egress, 0, 0, 0), PolicyEntry::allow(0, Direction::Egress, 6, 443, 16)]).unwrap();
        let entries = wildcard.hash_map_entries();
        assert_eq!(entries.len(), 2 + 256);
        let (key, _) = layout::encode_policy_summary(0, Direction::Egress, 6, 0, 0);
        let six = entries.iter().find(|(candidate, _)| *candidate == key).map(|(_, value)| value[0..4].to_vec());
        assert_eq!(six, Some(((1u32 << 24) | 1).to_le_bytes().to_vec()));
        let (key, _) = layout::encode_policy_summary(0, Direction::Egress, 200, 0, 0);
        assert!(entries.iter().any(|(candidate, value)| *candidate == key && value[0..8] == [1, 0, 0, 0, 1, 0, 0, 0]));
        // Another identity's summary carries identity 0's mask for its direction and protocol.
        let mixed = PolicyMapImage::build(&[
            PolicyEntry::allow(0, Direction::Ingress, 6, 443, 16),
            PolicyEntry::allow(7, Direction::Ingress, 6, 80, 16),
            PolicyEntry::allow(7, Direction::Ingress, 17, 53, 16),
        ])
        .unwrap();
        let entries = mixed.hash_map_entries();
        let value_of = |identity: u32, protocol: u8| {
            let (key, _) = layout::encode_policy_summary(identity, Direction::Ingress, protocol, 0, 0);
            entries.iter().find(|(candidate, _)| *candidate == key).map(|(_, value)| *value)
        };
        let tcp = value_of(7, 6).unwrap();
        assert_eq!((&tcp[0..4], &tcp[4..8]), (&(1u32 << 24).to_le_bytes()[..], &(1u32 << 24).to_le_bytes()[..]));
        let udp = value_of(7, 17).unwrap();
        assert_eq!((&udp[0..4], &udp[4..8]), (&(1u32 << 24).to_le_bytes()[..], &[0u8; 4][..]));
        assert_eq!(value_of(0, 17), None);
        // An identity without protocol entries of its own gets a summary for identity 0's
        // protocol (TCP here), listing its L3-only entry and identity 0's lengths.
        let extra = PolicyMapImage::build(&[
            PolicyEntry::allow(0, Direction::Ingress, 6, 443, 16),
            PolicyEntry::allow(8, Direction::Ingress, 17, 53, 16),
            PolicyEntry::allow(9, Direction::Ingress, 0, 0, 0),
            PolicyEntry::allow(10, Direction::Egress, 6, 0, 0),
            PolicyEntry::allow(0, Direction::Egress, 0, 0, 0),
        ])
        .unwrap();
        let entries = extra.hash_map_entries();
        let value_of = |identity: u32, direction: Direction, protocol: u8| {
            let (key, _) = layout::encode_policy_summary(identity, direction, protocol, 0, 0);
            entries.iter().find(|(candidate, _)| *candidate == key).map(|(_, value)| (value[0..4].to_vec(), value[4..8].to_vec()))
        };
        let tcp_443 = (1u32 << 24).to_le_bytes().to_vec();
        assert_eq!(value_of(8, Direction::Ingress, 6), Some((vec![0; 4], tcp_443.clone())));
        assert_eq!(value_of(9, Direction::Ingress, 6), Some((1u32.to_le_bytes().to_vec(), tcp_443)));
        assert_eq!(value_of(9, Direction::Ingress, 17), None);
        assert_eq!(value_of(10, Direction::Ingress, 6), None, "identity 10 has no ingress entries");
        // Identity 0's egress L3-only entry is listed under every protocol, but does not make
        // extra summaries for other identities: identity 10 has only its own.
        assert_eq!(entries.iter().filter(|(key, _)| key[0] == 255 && key[4..8] == 10u32.to_le_bytes()).count(), 1);
        assert_eq!(value_of(10, Direction::Egress, 6).map(|(_, wildcard)| wildcard), Some(1u32.to_le_bytes().to_vec()));
        assert!(entries.len() as u32 <= extra.hash_map_max_entries());
        let keys: Vec<_> = entries.iter().map(|(key, _)| *key).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted);
    }

    #[test]
    fn too_many_entries_is_an_error() {
        let entries: Vec<_> = (0..=POLICY_MAP_MAX_ENTRIES_LIMIT).map(|identity| PolicyEntry::allow(identity + 1, Direction::Ingress, 0, 0, 0)).collect();
        let error = PolicyMapImage::build(&entries).unwrap_err();
        assert!(error.message().contains("65537"), "{error}");
    }

    #[test]
    fn ipcache_host_entries_are_exactly_the_full_length_prefixes() {
        let v4 = |a, b, c, d| IpAddr::V4(Ipv4Addr::new(a, b, c, d));
        let v6 = IpAddr::V6("fd00::1".parse().unwrap());
        let image = IpcacheImage::build(
            &[
                IpcacheEntry { prefix: IpPrefix::host(v4(10, 0, 0, 1)), identity: 5 },
                IpcacheEntry { prefix: IpPrefix::new(v4(10, 0, 0, 0), 24).unwrap(), identity: 6 },
                IpcacheEntry { prefix: IpPrefix::new(v4(10, 0, 0, 2), 31).unwrap(), identity: 7 },
                IpcacheEntry { prefix: IpPrefix::host(v6), identity: 8 },
                IpcacheEntry { prefix: IpPrefix::new(IpAddr::V6("fd00::".parse().unwrap()), 64).unwrap(), identity: 9 },
            ],
            3,
        )
        .unwrap();
        let hosts = image.host_entries();
        assert_eq!(hosts.len(), 2);
        assert_eq!(hosts[0].0, layout::encode_ipcache_key(v4(10, 0, 0, 1), 32, 3));
        assert_eq!(hosts[1].0, layout::encode_ipcache_key(v6, 128, 3));
        assert_eq!(image.host_hash_max_entries(), 2);
        let prefixes = image.prefix_entries();
        assert_eq!(prefixes.len(), 3);
        assert!(prefixes.iter().all(|entry| !hosts.contains(entry)));
        assert_eq!(IpcacheImage::build(&[], 0).unwrap().host_hash_max_entries(), 1);
    }

    #[test]
    fn ipcache_rejects_host_bits_and_conflicts() {
        assert!(IpPrefix::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)), 24).is_err());
        assert!(IpPrefix::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)), 33).is_err());
        let prefix = IpPrefix::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)), 24).unwrap();
        let error = IpcacheImage::build(&[IpcacheEntry { prefix, identity: 5 }, IpcacheEntry { prefix, identity: 6 }], 0).unwrap_err();
        assert_eq!(error.message(), "prefix `10.0.0.0/24` is given two identities, `5` and `6`");
        let image = IpcacheImage::build(&[IpcacheEntry { prefix, identity: 5 }, IpcacheEntry { prefix, identity: 5 }], 0).unwrap();
        assert_eq!(image.len(), 1);
    }
}
