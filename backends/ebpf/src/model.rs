//! A userspace model of the datapath: the same parse, ipcache lookup and policy choice as
//! `bpf/polc_policy.bpf.c`, in plain Rust, over the same map images.
//!
//! It exists to cross-check the kernel (the property tests run thousands of random images
//! and packets through both) and to answer "what would the datapath do" without root.
//! Connection tracking is not modelled: the model answers for a packet that is not the
//! reply of a tracked flow, which is every packet when `enable_conntrack` is off.

use std::collections::BTreeMap;

use crate::config::DatapathConfig;
use crate::image::{IpcacheImage, PolicyMapImage};
use crate::layout::{self, Direction, IPCACHE_KEY_SIZE, POLICY_FULL_PREFIX_BITS, POLICY_KEY_SIZE, PolicyValueFields, precedence};
use crate::packet::{self, ParsedPacket};
use crate::verdict::{MatchKind, Reason, Verdict};

/// A longest-prefix-match table with the kernel LPM trie's semantics: an entry of prefix
/// length `p` matches a key whose first `p` data bits equal the entry's.
#[derive(Clone, Debug, Default)]
pub struct LpmTable<const DATA: usize, V> {
    // (prefix length, masked data) → value
    entries: BTreeMap<(u32, [u8; DATA]), V>,
    max_prefix: u32,
}

impl<const DATA: usize, V: Copy> LpmTable<DATA, V> {
    pub fn new() -> Self {
        LpmTable { entries: BTreeMap::new(), max_prefix: 0 }
    }

    /// Inserts (or replaces) the entry for `prefix_len` bits of `data`.
    pub fn insert(&mut self, prefix_len: u32, data: [u8; DATA], value: V) {
        let prefix_len = prefix_len.min((DATA * 8) as u32);
        let mut masked = data;
        layout::mask_bits(&mut masked, prefix_len as usize);
        self.max_prefix = self.max_prefix.max(prefix_len);
        self.entries.insert((prefix_len, masked), value);
    }

    /// The value of the longest entry matching the first `prefix_len` bits of `data`.
    pub fn lookup(&self, prefix_len: u32, data: &[u8; DATA]) -> Option<V> {
        let start = prefix_len.min(self.max_prefix);
        (0..=start).rev().find_map(|length| {
            let mut masked = *data;
            layout::mask_bits(&mut masked, length as usize);
            self.entries.get(&(length, masked)).copied()
        })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

fn split_key<const KEY: usize, const DATA: usize>(key: &[u8; KEY]) -> (u32, [u8; DATA]) {
    let prefix_len = u32::from_le_bytes([key[0], key[1], key[2], key[3]]);
    let mut data = [0u8; DATA];
    data.copy_from_slice(&key[4..4 + DATA]);
    (prefix_len, data)
}

/// The model of one loaded datapath with one installed generation.
#[derive(Clone, Debug)]
pub struct DatapathModel {
    config: DatapathConfig,
    policy: LpmTable<8, PolicyValueFields>,
    ipcache: LpmTable<20, u32>,
}

impl DatapathModel {
    pub fn new(config: DatapathConfig, policy_image: &PolicyMapImage, ipcache_image: &IpcacheImage) -> Self {
        let mut policy = LpmTable::new();
        for (key, value) in policy_image.entries() {
            let (prefix_len, data) = split_key::<POLICY_KEY_SIZE, 8>(key);
            policy.insert(prefix_len, data, layout::decode_policy_value(value));
        }
        let mut ipcache = LpmTable::new();
        for (key, value) in ipcache_image.entries() {
            let (prefix_len, data) = split_key::<IPCACHE_KEY_SIZE, 20>(key);
            ipcache.insert(prefix_len, data, u32::from_le_bytes([value[0], value[1], value[2], value[3]]));
        }
        DatapathModel { config, policy, ipcache }
    }

    pub fn config(&self) -> &DatapathConfig {
        &self.config
    }

    /// The remote identity of the packet's peer for `direction`.
    pub fn remote_identity(&self, packet: &ParsedPacket, direction: Direction) -> u32 {
        let address = match direction {
            Direction::Ingress => &packet.source,
            Direction::Egress => &packet.destination,
        };
        let mut data = [0u8; 20];
        data[0..2].copy_from_slice(&self.config.cluster_id.to_le_bytes());
        let (family, address_bits, world) = if packet.family == 4 {
            data[4..8].copy_from_slice(&address[..4]);
            (layout::FAMILY_IPV4, 32, self.config.world_identity_ipv4)
        } else {
            data[4..20].copy_from_slice(address);
            (layout::FAMILY_IPV6, 128, self.config.world_identity_ipv6)
        };
        data[3] = family;
        self.ipcache.lookup(layout::IPCACHE_STATIC_PREFIX_BITS + address_bits, &data).unwrap_or(world)
    }

    fn policy_lookup(&self, identity: u32, direction: Direction, packet: &ParsedPacket) -> Option<PolicyValueFields> {
        let key = layout::encode_policy_key(POLICY_FULL_PREFIX_BITS, identity, direction, packet.protocol, packet.policy_port);
        let (prefix_len, data) = split_key::<POLICY_KEY_SIZE, 8>(&key);
        self.policy.lookup(prefix_len, &data)
    }

    /// The verdict of the program for `direction` on `frame`.
    pub fn evaluate(&self, direction: Direction, frame: &[u8]) -> Verdict {
        let outcome = packet::parse_frame(frame, &self.config);
        let packet = outcome.packet;
        let mut verdict = Verdict {
            reason: Reason::DropInvalid,
            remote_identity: 0,
            match_kind: MatchKind::None,
            match_lpm_len: 0,
            policy_port: packet.policy_port,
            protocol: packet.protocol,
            family: packet.family,
            mark: 0,
        };
        if let Some(reason) = outcome.early_verdict {
            verdict.reason = reason;
            return self.finish(verdict, 0);
        }
        verdict.remote_identity = self.remote_identity(&packet, direction);
        if packet.icmp_control {
            verdict.reason = Reason::AllowIcmpControl;
            return self.finish(verdict, 0);
        }
        let proxy_port = self.decide(direction, &packet, &mut verdict);
        self.finish(verdict, proxy_port)
    }

    /// Cilium's `__policy_can_access` choice; returns the proxy port of an allow.
    fn decide(&self, direction: Direction, packet: &ParsedPacket, verdict: &mut Verdict) -> u16 {
        let remote = verdict.remote_identity;
        let mut l3 = self.policy_lookup(remote, direction, packet);
        let mut kind = MatchKind::L3;
        if l3.is_none()
            && direction == Direction::Ingress
            && self.config.allow_localhost
            && self.config.default_deny_ingress
            && remote == self.config.host_identity
            && self.config.endpoint_identity != self.config.host_identity
        {
            l3 = Some(PolicyValueFields {
                proxy_port: 0,
                deny: false,
                lpm_prefix_len: 0,
                auth_type: 0,
                auth_explicit: false,
                precedence: precedence::ALLOW,
                cookie: 0,
            });
            kind = MatchKind::Localhost;
        }

        let (chosen, other) = match l3 {
            Some(entry) if entry.precedence == precedence::MAX => (Some(entry), None),
            _ => {
                let l4 = self.policy_lookup(0, direction, packet);
                let prefer_l4 = match (l4, l3) {
                    (Some(_), None) => true,
                    (Some(l4), Some(l3)) => l4.precedence > l3.precedence || (l4.precedence == l3.precedence && l4.lpm_prefix_len > l3.lpm_prefix_len),
                    _ => false,
                };
                if prefer_l4 {
                    kind = MatchKind::L4Only;
                    (l4, l3)
                } else {
                    (l3, l4)
                }
            }
        };

        let Some(chosen) = chosen else {
            verdict.match_kind = MatchKind::None;
            verdict.match_lpm_len = 0;
            verdict.reason = if !self.config.default_deny(direction) {
                Reason::AllowDefault
            } else if packet.nonfirst_fragment {
                Reason::DropFragmentNotSupported
            } else {
                Reason::DropPolicy
            };
            return 0;
        };
        verdict.match_kind = kind;
        verdict.match_lpm_len = chosen.lpm_prefix_len;
        if chosen.deny {
            verdict.reason = Reason::DropPolicyDeny;
            return 0;
        }
        let mut auth_type = chosen.auth_type;
        if let Some(other) = other
            && !chosen.auth_explicit
            && other.precedence == chosen.precedence
            && other.auth_type > auth_type
        {
            auth_type = other.auth_type;
        }
        if auth_type != 0 && self.config.enforce_auth {
            verdict.reason = Reason::DropAuthRequired;
            return 0;
        }
        if chosen.proxy_port != 0 {
            verdict.reason = Reason::AllowRedirect;
            return chosen.proxy_port;
        }
        verdict.reason = match kind {
            MatchKind::Localhost => Reason::AllowLocalhost,
            MatchKind::L4Only => Reason::AllowL4Only,
            _ => Reason::AllowL3,
        };
        0
    }

    fn finish(&self, mut verdict: Verdict, proxy_port: u16) -> Verdict {
        if self.config.audit_mode && verdict.reason.is_policy_drop() {
            verdict.reason = Reason::AllowAudit;
        }
        if verdict.reason == Reason::AllowRedirect {
            verdict.mark = self.config.proxy_mark_magic | (u32::from(proxy_port) << 16);
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{IpPrefix, IpcacheEntry, PolicyEntry};
    use crate::packet::{PacketSpec, build_frame};
    use std::net::{IpAddr, Ipv4Addr};

    fn address(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))
    }

    fn model(entries: &[PolicyEntry]) -> DatapathModel {
        let ipcache = IpcacheImage::build(
            &[
                IpcacheEntry { prefix: IpPrefix::host(address(1)), identity: 1000 },
                IpcacheEntry { prefix: IpPrefix::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 0)), 24).unwrap(), identity: 2000 },
            ],
            0,
        )
        .unwrap();
        DatapathModel::new(DatapathConfig::for_test_run(), &PolicyMapImage::build(entries).unwrap(), &ipcache)
    }

    #[test]
    fn lpm_table_prefers_the_longest_prefix() {
        let mut table: LpmTable<2, u8> = LpmTable::new();
        table.insert(8, [10, 0], 1);
        table.insert(12, [10, 0x30], 2);
        assert_eq!(table.lookup(16, &[10, 0x3f]), Some(2));
        assert_eq!(table.lookup(16, &[10, 0x4f]), Some(1));
        assert_eq!(table.lookup(16, &[11, 0]), None);
        assert_eq!(table.lookup(10, &[10, 0x3f]), Some(1), "a shorter lookup prefix cannot reach longer entries");
    }

    #[test]
    fn identities_come_from_the_longest_ipcache_prefix() {
        let model = model(&[]);
        let frame = build_frame(&PacketSpec::tcp(address(1), address(9), 80)).unwrap();
        assert_eq!(model.evaluate(Direction::Ingress, &frame).remote_identity, 1000);
        assert_eq!(model.evaluate(Direction::Egress, &frame).remote_identity, 2000);
        let frame = build_frame(&PacketSpec::tcp(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), address(9), 80)).unwrap();
        assert_eq!(model.evaluate(Direction::Ingress, &frame).remote_identity, 2);
    }

    #[test]
    fn l4_only_deny_beats_l3_allow_and_l3_deny_is_final() {
        let frame = build_frame(&PacketSpec::tcp(address(1), address(9), 80)).unwrap();
        let verdict = model(&[PolicyEntry::allow(1000, Direction::Ingress, 6, 80, 16), PolicyEntry::deny(0, Direction::Ingress, 6, 0, 0)])
            .evaluate(Direction::Ingress, &frame);
        assert_eq!((verdict.reason, verdict.match_kind), (Reason::DropPolicyDeny, MatchKind::L4Only));
        let verdict = model(&[PolicyEntry::deny(1000, Direction::Ingress, 0, 0, 0), PolicyEntry::allow(0, Direction::Ingress, 6, 80, 16)])
            .evaluate(Direction::Ingress, &frame);
        assert_eq!((verdict.reason, verdict.match_kind), (Reason::DropPolicyDeny, MatchKind::L3));
    }

    #[test]
    fn equal_precedence_prefers_the_longer_l4_only_entry() {
        let frame = build_frame(&PacketSpec::tcp(address(1), address(9), 80)).unwrap();
        let verdict = model(&[PolicyEntry::allow(1000, Direction::Ingress, 6, 0, 0), PolicyEntry::allow(0, Direction::Ingress, 6, 80, 16)])
            .evaluate(Direction::Ingress, &frame);
        assert_eq!((verdict.reason, verdict.match_lpm_len), (Reason::AllowL4Only, 24));
        let verdict = model(&[PolicyEntry::allow(1000, Direction::Ingress, 6, 80, 16), PolicyEntry::allow(0, Direction::Ingress, 6, 0, 0)])
            .evaluate(Direction::Ingress, &frame);
        assert_eq!((verdict.reason, verdict.match_lpm_len), (Reason::AllowL3, 24));
    }

    #[test]
    fn redirect_marks_and_auth_drops() {
        let frame = build_frame(&PacketSpec::tcp(address(1), address(9), 80)).unwrap();
        let verdict = model(&[PolicyEntry::redirect(1000, Direction::Ingress, 6, 80, 16, 15001)]).evaluate(Direction::Ingress, &frame);
        assert_eq!(verdict.reason, Reason::AllowRedirect);
        assert_eq!(verdict.mark, 0x0200 | (15001 << 16));
        let mut auth = PolicyEntry::allow(1000, Direction::Ingress, 6, 80, 16);
        auth.auth_type = 1;
        let verdict = model(&[auth]).evaluate(Direction::Ingress, &frame);
        assert_eq!(verdict.reason, Reason::DropAuthRequired);
    }
}
