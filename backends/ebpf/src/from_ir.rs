//! From the policy IR to this crate's map entries: one policy map per endpoint, one ipcache per node.
//!
//! Per endpoint and direction, exactly as Cilium's agent distils an endpoint policy into its
//! policy map (`shared/reference/cilium-semantics.md` §1.6, §1.7, §3.1, §4):
//!
//! - a direction that is not enforced gets one allow-all key (identity 0, protocol 0, port 0) and
//!   nothing else;
//! - every IR entry gives one key per remote identity (identity 0 for "any identity") × protocol
//!   (protocol 0 for an L3-only entry; lowering has already expanded `ANY` to TCP, UDP and SCTP) ×
//!   aligned port block of its range ([`port_range_blocks`]);
//! - a deny key has Cilium's deny precedence and carries no proxy port and no auth type; an allow
//!   with L7 rules is a redirect to the L7 proxy's port for its parser and direction
//!   ([`proxy_port`]), at the parser's listener priority (HTTP 101, DNS 121); any other allow is a
//!   plain allow;
//! - keys that are equal merge the way the image builder merges them (higher precedence, then a
//!   deny, then the lower proxy port; the explicit or higher auth type), and each key keeps every
//!   rule that produced its winning value, for `polc inspect`;
//! - an allow without an explicit auth type takes the type of the most specific covering allow of
//!   the same identity that has one (Cilium's `authPreferredInsert`); the datapath settles the
//!   conflict between an identity and identity 0;
//! - an enforced direction that is not default-deny gets the agent's lowest-tier allow-all key
//!   (precedence 1, below every rule), so that only denies, L7 redirects and auth take effect;
//! - `allow-localhost` is the IR's own implicit entry (an L3-only allow of `host`), so the
//!   datapath's virtual allow-localhost entry is switched off ([`datapath_config`]).
//!
//! Denies pruning the allows they cover is the image builder's job ([`PolicyMapImage::build`]).
//!
//! [`PolicyMapImage::build`]: crate::image::PolicyMapImage::build

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use polc_ir::{Direction as IrDirection, DirectionPolicy, Endpoint, L4Match, L7Rules, PolicyIr, RuleOrigin, RuleVerdict};

use crate::config::DatapathConfig;
use crate::image::{IpPrefix, IpcacheEntry, PolicyEntry, PortBlock, port_range_blocks};
use crate::layout::{Direction, precedence};

/// L7 proxy port of HTTP rules on ingress (Cilium's `cilium-http-ingress` listener).
pub const PROXY_PORT_HTTP_INGRESS: u16 = 10_080;
/// L7 proxy port of HTTP rules on egress (`cilium-http-egress`).
pub const PROXY_PORT_HTTP_EGRESS: u16 = 10_081;
/// L7 proxy port of DNS rules on egress (`cilium-dns-egress`, the DNS proxy).
pub const PROXY_PORT_DNS_EGRESS: u16 = 10_053;
/// L7 proxy port of DNS rules on ingress (the IR may carry them; Cilium's front end forbids them).
pub const PROXY_PORT_DNS_INGRESS: u16 = 10_054;
/// Cilium's listener priority of the HTTP parser (a redirect's precedence low byte is 255 − it).
pub const LISTENER_PRIORITY_HTTP: u8 = 101;
/// Cilium's listener priority of the DNS parser.
pub const LISTENER_PRIORITY_DNS: u8 = 121;
/// The priority of the agent's lowest-tier allow-all rule (its precedence is 1, below every rule).
pub const DEFAULT_ALLOW_PRIORITY: u32 = 0x00FF_FFFF;

/// Where one map entry came from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntrySource {
    /// A rule of a policy, or an implicit rule of the agent (`allow-localhost`).
    Rule(RuleOrigin),
    /// No policy selects the endpoint in this direction: everything is allowed.
    NotEnforced,
    /// The policies selecting the endpoint in this direction all set `enableDefaultDeny: false`:
    /// the agent's lowest-tier allow-all.
    DefaultAllow,
}

impl EntrySource {
    /// A one-line description; `describe_rule` describes a policy rule (with its file and line
    /// when the caller knows them).
    pub fn describe(&self, describe_rule: &dyn Fn(&RuleOrigin) -> String) -> String {
        match self {
            EntrySource::Rule(origin) => describe_rule(origin),
            EntrySource::NotEnforced => "no policy selects the endpoint in this direction (allow all)".to_owned(),
            EntrySource::DefaultAllow => "the policies set `enableDefaultDeny: false` (lowest-tier allow all)".to_owned(),
        }
    }
}

/// One policy map entry and the rules that produced its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourcedEntry {
    pub entry: PolicyEntry,
    /// Sorted and unique; never empty.
    pub sources: Vec<EntrySource>,
}

/// An IR entry the policy map cannot express.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FromIrError {
    message: String,
}

impl FromIrError {
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for FromIrError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for FromIrError {}

/// This crate's direction for an IR direction.
pub fn direction(direction: IrDirection) -> Direction {
    match direction {
        IrDirection::Ingress => Direction::Ingress,
        IrDirection::Egress => Direction::Egress,
    }
}

/// The L7 proxy port that an allow with `rules` in `direction` redirects to.
pub fn proxy_port(direction: Direction, rules: &L7Rules) -> u16 {
    match (rules, direction) {
        (L7Rules::Http(_), Direction::Ingress) => PROXY_PORT_HTTP_INGRESS,
        (L7Rules::Http(_), Direction::Egress) => PROXY_PORT_HTTP_EGRESS,
        (L7Rules::Dns(_), Direction::Egress) => PROXY_PORT_DNS_EGRESS,
        (L7Rules::Dns(_), Direction::Ingress) => PROXY_PORT_DNS_INGRESS,
    }
}

fn listener_priority(rules: &L7Rules) -> u8 {
    match rules {
        L7Rules::Http(_) => LISTENER_PRIORITY_HTTP,
        L7Rules::Dns(_) => LISTENER_PRIORITY_DNS,
    }
}

/// The (protocol, port block) pairs of an IR L4 match: protocol 0 with the all-ports block for an
/// L3-only entry; the all-ports block for a whole protocol; else the aligned blocks of the range.
/// A range of exactly port 0 is port 0 alone (a full 16-bit prefix), since the "all ports" block
/// would widen it.
pub fn l4_blocks(l4: &L4Match) -> Result<Vec<(u8, PortBlock)>, FromIrError> {
    match l4 {
        L4Match::Any => Ok(vec![(0, PortBlock { port: 0, prefix_len: 0 })]),
        L4Match::Protocol { protocol, ports } => {
            if protocol.0 == 0 {
                return Err(FromIrError {
                    message: "an entry matches IP protocol 0, which a policy map key cannot express (protocol 0 in a key means every protocol)".to_owned(),
                });
            }
            if ports.is_all() {
                return Ok(vec![(protocol.0, PortBlock { port: 0, prefix_len: 0 })]);
            }
            if ports.first() == 0 && ports.last() == 0 {
                return Ok(vec![(protocol.0, PortBlock { port: 0, prefix_len: 16 })]);
            }
            Ok(port_range_blocks(ports.first(), ports.last()).into_iter().map(|block| (protocol.0, block)).collect())
        }
    }
}

/// The identity, direction, protocol, first port and port prefix length of a key.
type KeyTuple = (u32, Direction, u8, u16, u8);

fn key_of(entry: &PolicyEntry) -> KeyTuple {
    (entry.identity, entry.direction, entry.protocol, entry.port, entry.port_prefix_len)
}

/// The merge order of the image builder: higher precedence, then a deny, then the lower non-zero
/// proxy port, then the lower cookie.
fn value_rank(entry: &PolicyEntry) -> (u32, bool, std::cmp::Reverse<u32>, std::cmp::Reverse<u32>) {
    let proxy = if entry.proxy_port == 0 { u32::from(u16::MAX) + 1 } else { u32::from(entry.proxy_port) };
    (entry.precedence, entry.deny, std::cmp::Reverse(proxy), std::cmp::Reverse(entry.cookie))
}

/// Merges the candidates of one key: the winner's value, its auth type made the explicit or
/// higher one among candidates of equal precedence, and the sources of every candidate with the
/// winner's precedence and verdict.
fn merge_candidates(candidates: Vec<(PolicyEntry, EntrySource)>) -> Option<SourcedEntry> {
    let winner = candidates.iter().map(|(entry, _)| *entry).max_by_key(value_rank)?;
    let mut merged = winner;
    let mut sources = BTreeSet::new();
    for (entry, source) in &candidates {
        if entry.precedence != winner.precedence || entry.deny != winner.deny {
            continue;
        }
        sources.insert(source.clone());
        if !winner.deny && (entry.auth_explicit, entry.auth_type) > (merged.auth_explicit, merged.auth_type) {
            merged.auth_type = entry.auth_type;
            merged.auth_explicit = entry.auth_explicit;
        }
    }
    Some(SourcedEntry { entry: merged, sources: sources.into_iter().collect() })
}

/// The keys that cover `key` (same identity and direction; broader or equal protocol and port
/// prefix), from the broadest to `key` itself.
fn covering_keys(key: &KeyTuple) -> Vec<KeyTuple> {
    let (identity, direction, protocol, port, prefix_len) = *key;
    let mut keys = vec![(identity, direction, 0, 0, 0)];
    if protocol != 0 {
        for length in 0..=prefix_len {
            let mask = if length == 0 { 0 } else { u16::MAX << (16 - u32::from(length)) };
            keys.push((identity, direction, protocol, port & mask, length));
        }
    }
    keys
}

/// Gives every allow without an explicit auth type the auth type of the most specific covering
/// allow of the same identity that has an explicit one (Cilium's auth propagation).
fn propagate_auth(entries: &mut BTreeMap<KeyTuple, SourcedEntry>) {
    let mut updates = Vec::new();
    for (key, sourced) in entries.iter() {
        if sourced.entry.deny || sourced.entry.auth_explicit {
            continue;
        }
        let inherited = covering_keys(key)
            .iter()
            .rev()
            .filter(|cover| *cover != key)
            .find_map(|cover| entries.get(cover).filter(|other| !other.entry.deny && other.entry.auth_explicit).map(|other| other.entry.auth_type));
        if let Some(auth_type) = inherited
            && auth_type != sourced.entry.auth_type
        {
            updates.push((*key, auth_type));
        }
    }
    for (key, auth_type) in updates {
        if let Some(sourced) = entries.get_mut(&key) {
            sourced.entry.auth_type = auth_type;
        }
    }
}

/// The policy map entries of one direction of an endpoint, merged per key, sorted by key.
pub fn direction_entries(policy: &DirectionPolicy, ir_direction: IrDirection) -> Result<Vec<SourcedEntry>, FromIrError> {
    let direction = direction(ir_direction);
    if !policy.enforced {
        let entry = PolicyEntry::allow(0, direction, 0, 0, 0);
        return Ok(vec![SourcedEntry { entry, sources: vec![EntrySource::NotEnforced] }]);
    }
    let mut candidates: BTreeMap<KeyTuple, Vec<(PolicyEntry, EntrySource)>> = BTreeMap::new();
    for ir_entry in &policy.entries {
        let identities: Vec<u32> = match &ir_entry.peers {
            polc_ir::Peers::Any => vec![0],
            polc_ir::Peers::Identities(set) => set.iter().map(|identity| identity.0).collect(),
        };
        if identities.is_empty() {
            continue;
        }
        let blocks = l4_blocks(&ir_entry.l4).map_err(|error| FromIrError { message: format!("{}: {}", ir_entry.origin.describe(), error.message) })?;
        for identity in identities {
            for (protocol, block) in &blocks {
                let entry = match (ir_entry.verdict, &ir_entry.l7) {
                    (RuleVerdict::Deny, _) => PolicyEntry::deny(identity, direction, *protocol, block.port, block.prefix_len),
                    (RuleVerdict::Allow, Some(rules)) => PolicyEntry {
                        proxy_port: proxy_port(direction, rules),
                        precedence: precedence::redirect(0, Some(listener_priority(rules))),
                        ..PolicyEntry::allow(identity, direction, *protocol, block.port, block.prefix_len)
                    },
                    (RuleVerdict::Allow, None) => PolicyEntry::allow(identity, direction, *protocol, block.port, block.prefix_len),
                };
                let entry = match (ir_entry.verdict, ir_entry.auth) {
                    (RuleVerdict::Allow, Some(mode)) => PolicyEntry { auth_type: mode.auth_type(), auth_explicit: true, ..entry },
                    _ => entry,
                };
                candidates.entry(key_of(&entry)).or_default().push((entry, EntrySource::Rule(ir_entry.origin.clone())));
            }
        }
    }
    if !policy.default_deny {
        let entry = PolicyEntry { precedence: precedence::allow(DEFAULT_ALLOW_PRIORITY), ..PolicyEntry::allow(0, direction, 0, 0, 0) };
        candidates.entry(key_of(&entry)).or_default().push((entry, EntrySource::DefaultAllow));
    }
    let mut merged: BTreeMap<KeyTuple, SourcedEntry> =
        candidates.into_iter().filter_map(|(key, candidates)| merge_candidates(candidates).map(|sourced| (key, sourced))).collect();
    propagate_auth(&mut merged);
    Ok(merged.into_values().collect())
}

/// The policy map entries of both directions of `endpoint`, sorted by key (ingress first).
pub fn endpoint_entries(endpoint: &Endpoint) -> Result<Vec<SourcedEntry>, FromIrError> {
    let mut entries = direction_entries(&endpoint.ingress, IrDirection::Ingress)?;
    entries.extend(direction_entries(&endpoint.egress, IrDirection::Egress)?);
    Ok(entries)
}

/// The ipcache of `node` (`None`: as an endpoint without a node sees the cluster): every endpoint
/// address, node address, reserved range and CIDR identity, per [`PolicyIr::ipcache`], and the
/// `world` of each family at `0.0.0.0/0` and `::/0` (where the IR has no identity of its own
/// for them), as Cilium's ipcache holds it: every lookup finds its identity in the generation's
/// maps, so the datapath's world constants are never consulted.
pub fn ipcache_entries(ir: &PolicyIr, node: Option<&str>) -> Result<Vec<IpcacheEntry>, FromIrError> {
    let mut table = ir.ipcache(node);
    for unspecified in [IpAddr::V4(Ipv4Addr::UNSPECIFIED), IpAddr::V6(Ipv6Addr::UNSPECIFIED)] {
        let everything = polc_ir::IpPrefix::new(unspecified, 0);
        if !table.iter().any(|(prefix, _)| *prefix == everything) {
            table.push((everything, ir.settings.world_of(unspecified)));
        }
    }
    table.sort();
    table
        .into_iter()
        .map(|(prefix, identity)| {
            IpPrefix::new(prefix.address(), prefix.length())
                .map(|prefix| IpcacheEntry { prefix, identity: identity.0 })
                .map_err(|error| FromIrError { message: format!("ipcache prefix `{prefix}`: {}", error.message()) })
        })
        .collect()
}

/// The `.rodata` constants of `endpoint`'s datapath programs: its identity, the world identities
/// of the cluster's families, and Cilium's defaults otherwise. The datapath's virtual
/// allow-localhost entry is off because the IR carries allow-localhost as an entry of its own.
///
/// Both directions are default-deny in the program whatever the policy: a direction that allows
/// by default (not enforced, or enforced without default-deny) carries an allow-all key in its
/// policy map ([`direction_entries`]), as Cilium's maps do, and the ipcache holds `world` for
/// every address it has nothing better for ([`ipcache_entries`]). So a packet's verdict and
/// remote identity come from the generation's maps alone, and the programs of two generations
/// differ in nothing that decides a verdict: while the agent switches programs and maps, a packet
/// judged by either program against one generation's maps gets that generation's verdict.
pub fn datapath_config(ir: &PolicyIr, endpoint: &Endpoint) -> DatapathConfig {
    DatapathConfig {
        endpoint_identity: endpoint.identity.0,
        default_deny_ingress: true,
        default_deny_egress: true,
        allow_localhost: false,
        host_identity: polc_ir::NumericIdentity::HOST.0,
        world_identity_ipv4: ir.settings.world_of(IpAddr::V4(Ipv4Addr::UNSPECIFIED)).0,
        world_identity_ipv6: ir.settings.world_of(IpAddr::V6(Ipv6Addr::UNSPECIFIED)).0,
        ..DatapathConfig::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polc_ir::{AuthMode, HttpRule, NumericIdentity, Peers, PolicyEntry as IrEntry, PortRange, Protocol};

    fn origin(name: &str) -> RuleOrigin {
        RuleOrigin::Policy {
            kind: "CiliumNetworkPolicy".to_owned(),
            namespace: Some("default".to_owned()),
            name: name.to_owned(),
            rule_path: "spec.ingress[0]".to_owned(),
            location: None,
        }
    }

    fn ir_entry(name: &str, verdict: RuleVerdict, peers: Peers, l4: L4Match) -> IrEntry {
        IrEntry { verdict, peers, l4, l7: None, auth: None, pending_fqdns: Vec::new(), origin: origin(name) }
    }

    fn identities(ids: &[u32]) -> Peers {
        Peers::Identities(ids.iter().map(|id| NumericIdentity(*id)).collect())
    }

    fn enforced(entries: Vec<IrEntry>, default_deny: bool) -> DirectionPolicy {
        DirectionPolicy { enforced: true, default_deny, entries, selected_by: Vec::new() }
    }

    fn tuples(entries: &[SourcedEntry]) -> Vec<(u32, u8, u16, u8, bool, u16, u32)> {
        entries
            .iter()
            .map(|sourced| {
                let entry = &sourced.entry;
                (entry.identity, entry.protocol, entry.port, entry.port_prefix_len, entry.deny, entry.proxy_port, entry.precedence)
            })
            .collect()
    }

    #[test]
    fn a_direction_that_is_not_enforced_is_one_allow_all_key() {
        let policy = DirectionPolicy {
            enforced: false,
            default_deny: false,
            entries: vec![ir_entry("ignored", RuleVerdict::Deny, Peers::Any, L4Match::Any)],
            selected_by: Vec::new(),
        };
        let entries = direction_entries(&policy, IrDirection::Egress).unwrap();
        assert_eq!(tuples(&entries), vec![(0, 0, 0, 0, false, 0, precedence::ALLOW)]);
        assert_eq!(entries[0].entry.direction, Direction::Egress);
        assert_eq!(entries[0].sources, vec![EntrySource::NotEnforced]);
    }

    #[test]
    fn peers_times_protocols_times_port_blocks() {
        let policy = enforced(
            vec![
                ir_entry("range", RuleVerdict::Allow, identities(&[300, 301]), L4Match::protocol(Protocol::TCP, PortRange::new(1000, 1999))),
                ir_entry("l3", RuleVerdict::Allow, Peers::Any, L4Match::Any),
                ir_entry("udp", RuleVerdict::Deny, identities(&[2]), L4Match::protocol(Protocol::UDP, PortRange::ALL)),
                ir_entry("empty", RuleVerdict::Allow, identities(&[]), L4Match::Any),
            ],
            true,
        );
        let entries = direction_entries(&policy, IrDirection::Ingress).unwrap();
        assert_eq!(entries.len(), 1 + 1 + 2 * 7, "{:?}", tuples(&entries));
        assert!(
            entries
                .iter()
                .any(|sourced| sourced.entry.identity == 2 && sourced.entry.deny && sourced.entry.protocol == 17 && sourced.entry.port_prefix_len == 0)
        );
        assert!(entries.iter().any(|sourced| sourced.entry.identity == 0 && sourced.entry.protocol == 0 && !sourced.entry.deny));
        let range: Vec<(u16, u8)> =
            entries.iter().filter(|sourced| sourced.entry.identity == 301).map(|sourced| (sourced.entry.port, sourced.entry.port_prefix_len)).collect();
        assert_eq!(range, vec![(1000, 13), (1008, 12), (1024, 7), (1536, 8), (1792, 9), (1920, 10), (1984, 12)]);
    }

    #[test]
    fn port_zero_alone_stays_one_port() {
        assert_eq!(l4_blocks(&L4Match::protocol(Protocol::ICMP, PortRange::single(0))).unwrap(), vec![(1, PortBlock { port: 0, prefix_len: 16 })]);
        assert_eq!(l4_blocks(&L4Match::protocol(Protocol::ICMP, PortRange::ALL)).unwrap(), vec![(1, PortBlock { port: 0, prefix_len: 0 })]);
        assert!(l4_blocks(&L4Match::protocol(Protocol(0), PortRange::single(5))).is_err());
    }

    #[test]
    fn l7_rules_redirect_and_equal_keys_keep_every_winning_rule() {
        let mut http = ir_entry("http", RuleVerdict::Allow, identities(&[300]), L4Match::protocol(Protocol::TCP, PortRange::single(80)));
        http.l7 = Some(L7Rules::Http(vec![HttpRule { method: Some("GET".to_owned()), path: None, host: None, headers: Vec::new() }]));
        let plain = ir_entry("plain", RuleVerdict::Allow, identities(&[300]), L4Match::protocol(Protocol::TCP, PortRange::single(80)));
        let plain_too = ir_entry("plain-too", RuleVerdict::Allow, identities(&[300]), L4Match::protocol(Protocol::TCP, PortRange::single(80)));
        let entries = direction_entries(&enforced(vec![plain, http, plain_too], true), IrDirection::Ingress).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].entry.proxy_port, PROXY_PORT_HTTP_INGRESS);
        assert_eq!(entries[0].entry.precedence, 0xFFFF_FF00 | 154);
        assert_eq!(entries[0].sources, vec![EntrySource::Rule(origin("http"))]);

        let deny = ir_entry("deny", RuleVerdict::Deny, identities(&[300]), L4Match::protocol(Protocol::TCP, PortRange::single(80)));
        let plain = ir_entry("plain", RuleVerdict::Allow, identities(&[300]), L4Match::protocol(Protocol::TCP, PortRange::single(80)));
        let also = ir_entry("also", RuleVerdict::Allow, identities(&[300]), L4Match::protocol(Protocol::TCP, PortRange::single(80)));
        let entries = direction_entries(&enforced(vec![plain.clone(), also.clone()], true), IrDirection::Ingress).unwrap();
        assert_eq!(entries[0].sources, vec![EntrySource::Rule(origin("also")), EntrySource::Rule(origin("plain"))]);
        let entries = direction_entries(&enforced(vec![plain, deny, also], true), IrDirection::Ingress).unwrap();
        assert!(entries[0].entry.deny);
        assert_eq!(entries[0].sources, vec![EntrySource::Rule(origin("deny"))]);
    }

    #[test]
    fn without_default_deny_the_lowest_tier_allow_all_is_added() {
        let deny = ir_entry("deny", RuleVerdict::Deny, identities(&[300]), L4Match::Any);
        let entries = direction_entries(&enforced(vec![deny], false), IrDirection::Egress).unwrap();
        let all = entries.iter().find(|sourced| sourced.entry.identity == 0).unwrap();
        assert_eq!(all.entry.precedence, 1);
        assert_eq!(all.sources, vec![EntrySource::DefaultAllow]);
        let entries = direction_entries(&enforced(Vec::new(), true), IrDirection::Egress).unwrap();
        assert!(entries.is_empty(), "default deny with no rule: an empty map");
    }

    #[test]
    fn auth_is_explicit_on_its_keys_and_propagates_to_narrower_keys_of_the_same_identity() {
        let mut broad = ir_entry("broad", RuleVerdict::Allow, identities(&[300]), L4Match::protocol(Protocol::TCP, PortRange::ALL));
        broad.auth = Some(AuthMode::TestAlwaysFail);
        let narrow = ir_entry("narrow", RuleVerdict::Allow, identities(&[300]), L4Match::protocol(Protocol::TCP, PortRange::single(80)));
        let other = ir_entry("other", RuleVerdict::Allow, identities(&[301]), L4Match::protocol(Protocol::TCP, PortRange::single(80)));
        let mut explicit = ir_entry("explicit", RuleVerdict::Allow, identities(&[300]), L4Match::protocol(Protocol::TCP, PortRange::single(81)));
        explicit.auth = Some(AuthMode::Disabled);
        let entries = direction_entries(&enforced(vec![broad, narrow, other, explicit], true), IrDirection::Ingress).unwrap();
        let auth = |identity: u32, port: u16| {
            entries
                .iter()
                .find(|sourced| sourced.entry.identity == identity && sourced.entry.port == port)
                .map(|sourced| (sourced.entry.auth_type, sourced.entry.auth_explicit))
        };
        assert_eq!(auth(300, 0), Some((2, true)));
        assert_eq!(auth(300, 80), Some((2, false)), "inherited from the covering key");
        assert_eq!(auth(300, 81), Some((0, true)), "an explicit mode is kept");
        assert_eq!(auth(301, 80), Some((0, false)), "another identity inherits nothing");
    }

    #[test]
    fn configuration_is_default_deny_whatever_the_policy_and_follows_the_cluster_families() {
        let settings = polc_ir::Settings { dual_stack: true, ..polc_ir::Settings::default() };
        let endpoint = Endpoint {
            id: polc_ir::EndpointId(7),
            kind: polc_ir::EndpointKind::Pod { namespace: "default".to_owned(), name: "web".to_owned() },
            identity: NumericIdentity(300),
            node: Some("node-a".to_owned()),
            addresses: Vec::new(),
            ingress: enforced(Vec::new(), true),
            egress: enforced(Vec::new(), false),
        };
        let ir = PolicyIr::new(settings, Vec::new(), Vec::new(), vec![endpoint.clone()], Vec::new());
        let config = datapath_config(&ir, &endpoint);
        assert_eq!((config.endpoint_identity, config.default_deny_ingress, config.default_deny_egress, config.allow_localhost), (300, true, true, false));
        assert_eq!((config.world_identity_ipv4, config.world_identity_ipv6), (9, 10));
    }
}
