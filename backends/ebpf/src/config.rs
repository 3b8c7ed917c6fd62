//! The `.rodata` configuration constants of the datapath object, patched in at load time.
//!
//! Each field is a `const volatile` global in `bpf/polc_policy.bpf.c` with the same name
//! and width. The loader writes them with `EbpfLoader::override_global`; the verifier then
//! sees them as constants and prunes the code they switch off.

/// The configuration of one endpoint's datapath programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DatapathConfig {
    /// Identity of the guarded endpoint (reported in drop events; compared with
    /// `host_identity` for allow-localhost).
    pub endpoint_identity: u32,
    /// A packet that no entry matches is dropped on ingress.
    pub default_deny_ingress: bool,
    /// A packet that no entry matches is dropped on egress.
    pub default_deny_egress: bool,
    /// On a default-deny ingress, the host identity is allowed as if an L3-only allow
    /// entry for it were in the map (Cilium's `allow-localhost`).
    pub allow_localhost: bool,
    pub host_identity: u32,
    /// The ICMP type is the policy port (Cilium's `enable_icmp_rule`); otherwise 0.
    pub enable_icmp_rule: bool,
    /// ICMPv4 fragmentation-needed and ICMPv6 packet-too-big pass before policy.
    pub allow_icmp_frag_needed: bool,
    /// ICMPv6 neighbour discovery (types 133-137) passes before policy.
    pub allow_icmpv6_neighbour_discovery: bool,
    /// Identity of IPv4 addresses the ipcache does not know.
    pub world_identity_ipv4: u32,
    /// Identity of IPv6 addresses the ipcache does not know.
    pub world_identity_ipv6: u32,
    /// Cluster id written into ipcache lookup keys.
    pub cluster_id: u16,
    /// Entries with an auth type drop (polc runs no mutual-authentication agent).
    pub enforce_auth: bool,
    /// Policy drops become allows, counted as audit.
    pub audit_mode: bool,
    /// `skb->mark` of a proxy redirect is `proxy_mark_magic | proxy_port << 16`.
    pub proxy_mark_magic: u32,
    /// Replies of allowed flows skip policy.
    pub enable_conntrack: bool,
    pub conntrack_lifetime_tcp_ns: u64,
    pub conntrack_lifetime_other_ns: u64,
    /// Longest-prefix matches on the policy probe a HASH map holding the same keys (cost
    /// independent of the number of entries) instead of using the LPM trie (Cilium's map type).
    pub policy_map_hash: bool,
    /// The remote address is first looked up in a HASH of the ipcache's host entries (/32,
    /// /128; `polc_ipcache_hash`), and in the LPM trie only on a miss: the same answer (a
    /// host prefix is always the longest match) at a cost independent of the ipcache size.
    pub ipcache_host_hash: bool,
    /// Every drop is sent to the `polc_drops` ring buffer.
    pub emit_drop_events: bool,
    /// Every packet that reaches a verdict, allowed or dropped, is sent to the `polc_drops`
    /// ring buffer as a 24-byte verdict event ([`crate::verdict::VerdictEvent`]) instead of
    /// a drop event, so that a test can tell which generation judged each packet.
    pub emit_verdict_events: bool,
    /// The verdict details are written to `skb->cb[0..5]`, for BPF_PROG_TEST_RUN.
    pub record_verdict: bool,
}

impl Default for DatapathConfig {
    /// The values compiled into the object.
    fn default() -> Self {
        DatapathConfig {
            endpoint_identity: 0,
            default_deny_ingress: true,
            default_deny_egress: true,
            allow_localhost: true,
            host_identity: 1,
            enable_icmp_rule: true,
            allow_icmp_frag_needed: true,
            allow_icmpv6_neighbour_discovery: true,
            world_identity_ipv4: 2,
            world_identity_ipv6: 2,
            cluster_id: 0,
            enforce_auth: true,
            audit_mode: false,
            proxy_mark_magic: 0x0200,
            enable_conntrack: true,
            conntrack_lifetime_tcp_ns: 21_600 * 1_000_000_000,
            conntrack_lifetime_other_ns: 60 * 1_000_000_000,
            policy_map_hash: true,
            ipcache_host_hash: true,
            emit_drop_events: true,
            emit_verdict_events: false,
            record_verdict: false,
        }
    }
}

impl DatapathConfig {
    /// The configuration used to cross-check the kernel against the userspace model:
    /// verdicts recorded, no connection tracking (the model is stateless).
    pub fn for_test_run() -> Self {
        DatapathConfig { record_verdict: true, enable_conntrack: false, ..DatapathConfig::default() }
    }

    /// Whether `direction` drops packets that no entry matches.
    pub fn default_deny(&self, direction: crate::layout::Direction) -> bool {
        match direction {
            crate::layout::Direction::Ingress => self.default_deny_ingress,
            crate::layout::Direction::Egress => self.default_deny_egress,
        }
    }

    /// Every constant as (global name, little-endian bytes of the global's width), by name.
    pub fn globals(&self) -> Vec<(&'static str, Vec<u8>)> {
        let flag = |value: bool| vec![u8::from(value)];
        let mut globals = vec![
            ("allow_icmp_frag_needed", flag(self.allow_icmp_frag_needed)),
            ("allow_icmpv6_neighbour_discovery", flag(self.allow_icmpv6_neighbour_discovery)),
            ("allow_localhost", flag(self.allow_localhost)),
            ("audit_mode", flag(self.audit_mode)),
            ("cluster_id", self.cluster_id.to_le_bytes().to_vec()),
            ("ct_lifetime_other_ns", self.conntrack_lifetime_other_ns.to_le_bytes().to_vec()),
            ("ct_lifetime_tcp_ns", self.conntrack_lifetime_tcp_ns.to_le_bytes().to_vec()),
            ("default_deny_egress", flag(self.default_deny_egress)),
            ("default_deny_ingress", flag(self.default_deny_ingress)),
            ("emit_drop_events", flag(self.emit_drop_events)),
            ("emit_verdict_events", flag(self.emit_verdict_events)),
            ("enable_conntrack", flag(self.enable_conntrack)),
            ("enable_icmp_rule", flag(self.enable_icmp_rule)),
            ("endpoint_identity", self.endpoint_identity.to_le_bytes().to_vec()),
            ("enforce_auth", flag(self.enforce_auth)),
            ("host_identity", self.host_identity.to_le_bytes().to_vec()),
            ("ipcache_host_hash", flag(self.ipcache_host_hash)),
            ("policy_map_hash", flag(self.policy_map_hash)),
            ("proxy_mark_magic", self.proxy_mark_magic.to_le_bytes().to_vec()),
            ("record_verdict", flag(self.record_verdict)),
            ("world_identity_ipv4", self.world_identity_ipv4.to_le_bytes().to_vec()),
            ("world_identity_ipv6", self.world_identity_ipv6.to_le_bytes().to_vec()),
        ];
        globals.sort_by(|left, right| left.0.cmp(right.0));
        globals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globals_are_sorted_and_sized() {
        let globals = DatapathConfig::default().globals();
        let names: Vec<_> = globals.iter().map(|(name, _)| *name).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        let size = |name: &str| globals.iter().find(|(global, _)| *global == name).map(|(_, bytes)| bytes.len());
        assert_eq!(size("endpoint_identity"), Some(4));
        assert_eq!(size("cluster_id"), Some(2));
        assert_eq!(size("ct_lifetime_tcp_ns"), Some(8));
        assert_eq!(size("audit_mode"), Some(1));
    }
}
