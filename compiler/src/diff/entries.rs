//! Per-endpoint policy-map entries and how they change.
//!
//! A [`MapEntrySource`] turns one direction of an endpoint's policy into the keys of its
//! policy map: identity (0 for any) × protocol (0 for any) × aligned port block, each with its
//! value (allow, redirect to the L7 proxy, or deny; precedence; authentication) and the rules
//! behind it. The eBPF backend's own conversion is the faithful source and the CLI uses it;
//! [`IrEntrySource`] is this crate's reading of the same rules from the IR alone (no proxy
//! ports, no precedence), for callers without a backend.
//!
//! Keys are compared by what their identity stands for (its labels, its CIDR, its reserved
//! name), not by its number, so that a number that moved between the two compiles shows as a
//! renumbering rather than as a removed and an added rule. The L7 rules a redirect applies are
//! not in the map (the proxy holds them), but they are compared with the value so that a
//! changed HTTP path shows. Enforcement and default-deny are also summarised on their own
//! ([`EnforcementChange`]).

use std::collections::{BTreeMap, BTreeSet};

use polc_ir::{
    AuthMode, Direction, DirectionPolicy, EndpointKind, IdentityKind, IpPrefix, L4Match, L7Rules, Label, NumericIdentity, Peers, PolicyIr, Protocol,
    RuleOrigin, RuleVerdict,
};

use super::ends::describe_identity;

/// An aligned block of ports: `first..=last`, with `prefix_len` leading bits of the port fixed
/// (16 for one port).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortBlock {
    pub first: u16,
    pub last: u16,
    pub prefix_len: u8,
}

impl PortBlock {
    /// The block of `prefix_len` fixed bits starting at `port`.
    pub fn new(port: u16, prefix_len: u8) -> PortBlock {
        let prefix_len = prefix_len.min(16);
        let size = 1u32 << (16 - u32::from(prefix_len));
        PortBlock { first: port, last: (u32::from(port) + size - 1).min(u32::from(u16::MAX)) as u16, prefix_len }
    }
}

/// Splits `first..=last` into the fewest aligned power-of-two blocks, in order.
pub fn port_blocks(first: u16, last: u16) -> Vec<PortBlock> {
    let mut blocks = Vec::new();
    let (mut start, end) = (u32::from(first), u32::from(last));
    while start <= end {
        let mut host_bits = if start == 0 { 16 } else { start.trailing_zeros().min(16) };
        while host_bits > 0 && start + (1u32 << host_bits) - 1 > end {
            host_bits -= 1;
        }
        blocks.push(PortBlock::new(start as u16, (16 - host_bits) as u8));
        start += 1u32 << host_bits;
    }
    blocks
}

/// What an entry does to matching traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntryVerdict {
    Allow,
    /// Allow, through the L7 proxy.
    Redirect,
    Deny,
}

/// The value of a policy-map entry.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryValue {
    pub verdict: EntryVerdict,
    /// The proxy port of a redirect; 0 when the source does not assign ports.
    pub proxy_port: u16,
    /// Cilium's precedence (higher wins); 0 when the source does not compute it.
    pub precedence: u32,
    /// 0 none, 1 SPIRE mutual authentication, 2 always fails.
    pub auth_type: u8,
    /// Whether a rule set the authentication mode explicitly.
    pub auth_explicit: bool,
    /// For a redirect: the L7 rules the proxy applies to this key, sorted (filled in by the
    /// diff from the policy; the map does not hold them).
    pub l7: Vec<String>,
}

impl EntryValue {
    /// `deny`, `allow`, `redirect to proxy port 10080`, `allow (authentication required)`; the
    /// precedence and the L7 rules are left out.
    pub fn describe(&self) -> String {
        let mut text = match (self.verdict, self.proxy_port) {
            (EntryVerdict::Deny, _) => return "deny".to_owned(),
            (EntryVerdict::Allow, _) => "allow".to_owned(),
            (EntryVerdict::Redirect, 0) => "redirect to the L7 proxy".to_owned(),
            (EntryVerdict::Redirect, port) => format!("redirect to proxy port {port}"),
        };
        let mode = match self.auth_type {
            0 if self.auth_explicit => Some("disabled"),
            0 => None,
            1 => Some("required"),
            2 => Some("test-always-fail"),
            _ => Some("unknown"),
        };
        if let Some(mode) = mode {
            text.push_str(&format!(" (authentication {mode})"));
        }
        text
    }

    /// [`EntryValue::describe`] with the precedence, for when it is what differs.
    pub fn describe_with_precedence(&self) -> String {
        format!("{} (precedence {:#010x})", self.describe(), self.precedence)
    }
}

/// Why an entry is in the map.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntryOrigin {
    /// A rule of a policy, or an implicit rule (`allow-localhost`).
    Rule(RuleOrigin),
    /// No policy selects the endpoint in this direction: one allow-all key.
    NotEnforced,
    /// Every selecting rule sets `enableDefaultDeny: false`: the agent's lowest-tier allow-all.
    DefaultAllow,
}

/// One entry as a [`MapEntrySource`] gives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceEntry {
    /// The remote identity (0: any identity).
    pub identity: NumericIdentity,
    /// 0: any protocol.
    pub protocol: u8,
    /// The first port of the block (the ICMP type for ICMP).
    pub port: u16,
    /// Fixed leading bits of the port: 0 every port, 16 exactly `port`.
    pub prefix_len: u8,
    pub value: EntryValue,
    /// Sorted and unique.
    pub origins: Vec<EntryOrigin>,
}

/// Turns one direction of an endpoint's policy into its policy-map entries.
pub trait MapEntrySource {
    /// The entries of `policy` in `direction`, merged per key. The error is a message in the
    /// words of a diagnostic.
    fn direction_entries(&self, policy: &DirectionPolicy, direction: Direction) -> Result<Vec<SourceEntry>, String>;
}

/// The policy-map entries the IR implies, without a backend: one key per identity × protocol ×
/// aligned port block of each entry; a deny wins a key; an allow redirects when any allow of
/// the key has L7 rules; the explicit, then the higher, authentication wins. A direction that is
/// not enforced holds one allow-all key, and a default-allow direction gets an allow-all key
/// too. No proxy ports and no precedence.
#[derive(Clone, Copy, Debug, Default)]
pub struct IrEntrySource;

impl MapEntrySource for IrEntrySource {
    fn direction_entries(&self, policy: &DirectionPolicy, _direction: Direction) -> Result<Vec<SourceEntry>, String> {
        let allow_all = |origin: EntryOrigin| SourceEntry {
            identity: NumericIdentity::ANY,
            protocol: 0,
            port: 0,
            prefix_len: 0,
            value: EntryValue { verdict: EntryVerdict::Allow, proxy_port: 0, precedence: 0, auth_type: 0, auth_explicit: false, l7: Vec::new() },
            origins: vec![origin],
        };
        if !policy.enforced {
            return Ok(vec![allow_all(EntryOrigin::NotEnforced)]);
        }
        // Per key: the candidates (verdict, has L7, auth mode, index of the IR entry).
        type Candidate = (RuleVerdict, bool, Option<AuthMode>, usize);
        let mut candidates: BTreeMap<(NumericIdentity, u8, u16, u8), Vec<Candidate>> = BTreeMap::new();
        for (index, entry) in policy.entries.iter().enumerate() {
            let identities: Vec<NumericIdentity> = match &entry.peers {
                Peers::Any => vec![NumericIdentity::ANY],
                Peers::Identities(set) => set.iter().copied().collect(),
            };
            let blocks: Vec<(u8, u16, u8)> = match entry.l4 {
                L4Match::Any => vec![(0, 0, 0)],
                L4Match::Protocol { protocol, ports } if ports.is_all() => vec![(protocol.0, 0, 0)],
                L4Match::Protocol { protocol, ports } => {
                    port_blocks(ports.first(), ports.last()).into_iter().map(|block| (protocol.0, block.first, block.prefix_len)).collect()
                }
            };
            for identity in identities {
                for (protocol, port, prefix_len) in &blocks {
                    candidates.entry((identity, *protocol, *port, *prefix_len)).or_default().push((entry.verdict, entry.l7.is_some(), entry.auth, index));
                }
            }
        }
        let mut entries: Vec<SourceEntry> = candidates
            .into_iter()
            .map(|((identity, protocol, port, prefix_len), candidates)| {
                let deny = candidates.iter().any(|candidate| candidate.0 == RuleVerdict::Deny);
                let winners: Vec<&Candidate> = candidates.iter().filter(|candidate| (candidate.0 == RuleVerdict::Deny) == deny).collect();
                let mut value = EntryValue { verdict: EntryVerdict::Deny, proxy_port: 0, precedence: 0, auth_type: 0, auth_explicit: false, l7: Vec::new() };
                if !deny {
                    value.verdict = if winners.iter().any(|candidate| candidate.1) { EntryVerdict::Redirect } else { EntryVerdict::Allow };
                    if let Some(mode) = winners.iter().filter_map(|candidate| candidate.2).max_by_key(|mode| mode.auth_type()) {
                        value.auth_type = mode.auth_type();
                        value.auth_explicit = true;
                    }
                }
                let origins: BTreeSet<&RuleOrigin> = winners.iter().map(|candidate| &policy.entries[candidate.3].origin).collect();
                SourceEntry {
                    identity,
                    protocol,
                    port,
                    prefix_len,
                    value,
                    origins: origins.into_iter().map(|origin| EntryOrigin::Rule(origin.clone())).collect(),
                }
            })
            .collect();
        if !policy.default_deny {
            match entries.iter_mut().find(|entry| entry.identity == NumericIdentity::ANY && entry.protocol == 0) {
                Some(existing) if existing.value.verdict != EntryVerdict::Deny => existing.origins.push(EntryOrigin::DefaultAllow),
                Some(_) => {}
                None => entries.push(allow_all(EntryOrigin::DefaultAllow)),
            }
        }
        Ok(entries)
    }
}

/// One policy-map entry of one endpoint, on one side.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MapEntry {
    /// The remote identity's number on its side (0: any identity).
    pub identity: NumericIdentity,
    /// What the identity stands for.
    pub identity_description: String,
    /// `None`: any protocol (and port).
    pub protocol: Option<Protocol>,
    /// `None`: every port of the protocol.
    pub ports: Option<PortBlock>,
    pub value: EntryValue,
    /// Why the entry is there, sorted.
    pub origins: Vec<EntryOrigin>,
}

impl MapEntry {
    /// `TCP 8080`, `TCP 8000-8063`, `UDP any port`, `any protocol`, `ICMP type 8`.
    pub fn describe_l4(&self) -> String {
        match (self.protocol, self.ports) {
            (None, _) => "any protocol".to_owned(),
            (Some(protocol), None) if protocol.is_icmp() => format!("{protocol} any type"),
            (Some(protocol), None) => format!("{protocol} any port"),
            (Some(protocol), Some(block)) if protocol.is_icmp() && block.first == block.last => format!("{protocol} type {}", block.first),
            (Some(protocol), Some(block)) if block.first == block.last => format!("{protocol} {}", block.first),
            (Some(protocol), Some(block)) => format!("{protocol} {}-{}", block.first, block.last),
        }
    }

    /// `identity 256 (app=web,...)` or `any identity`.
    pub fn describe_identity(&self) -> String {
        if self.identity == NumericIdentity::ANY { "any identity".to_owned() } else { format!("identity {} ({})", self.identity.0, self.identity_description) }
    }
}

/// The entries of one direction that change, for every endpoint listed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct EntryChange {
    pub direction: Direction,
    /// `namespace/pod` and `node:NAME`, sorted.
    pub endpoints: Vec<String>,
    pub added: Vec<MapEntry>,
    pub removed: Vec<MapEntry>,
    /// (old, new) entries with the same key and a different value.
    pub changed: Vec<(MapEntry, MapEntry)>,
    /// (old, new) entries with the same meaning and value whose identity got another number.
    pub renumbered: Vec<(MapEntry, MapEntry)>,
}

/// Enforcement of one direction of an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PolicyMode {
    /// No policy selects the endpoint in this direction: everything is allowed.
    NotEnforced,
    /// Traffic no entry allows is dropped.
    DefaultDeny,
    /// Enforced, but every selecting rule sets `enableDefaultDeny: false`: only denies and L7
    /// rules restrict traffic.
    DefaultAllow,
}

impl PolicyMode {
    pub fn of(policy: &DirectionPolicy) -> PolicyMode {
        match (policy.enforced, policy.default_deny) {
            (false, _) => PolicyMode::NotEnforced,
            (true, true) => PolicyMode::DefaultDeny,
            (true, false) => PolicyMode::DefaultAllow,
        }
    }

    /// `not-enforced`, `default-deny`, `default-allow`.
    pub fn name(self) -> &'static str {
        match self {
            PolicyMode::NotEnforced => "not-enforced",
            PolicyMode::DefaultDeny => "default-deny",
            PolicyMode::DefaultAllow => "default-allow",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            PolicyMode::NotEnforced => "not enforced (everything allowed)",
            PolicyMode::DefaultDeny => "enforced, default-deny",
            PolicyMode::DefaultAllow => "enforced, default-allow (`enableDefaultDeny: false`)",
        }
    }
}

/// A change of enforcement of one direction, for every endpoint listed.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct EnforcementChange {
    pub direction: Direction,
    pub endpoints: Vec<String>,
    pub old: PolicyMode,
    pub new: PolicyMode,
}

/// What an identity stands for, the same on both sides.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Meaning {
    Any,
    Reserved(u32),
    Endpoint(BTreeSet<Label>),
    Cidr(IpPrefix),
    Unknown(u32),
}

fn meaning(ir: &PolicyIr, identity: NumericIdentity) -> Meaning {
    if identity == NumericIdentity::ANY {
        return Meaning::Any;
    }
    match ir.identity(identity) {
        Some(info) => match &info.kind {
            IdentityKind::Reserved => Meaning::Reserved(identity.0),
            IdentityKind::Endpoint => Meaning::Endpoint(info.labels.clone()),
            IdentityKind::Cidr { prefix } => Meaning::Cidr(*prefix),
        },
        None if identity.reserved_name().is_some() => Meaning::Reserved(identity.0),
        None => Meaning::Unknown(identity.0),
    }
}

/// The meaning table both sides share: identity number per side → meaning index, in meaning
/// order.
struct Meanings {
    per_side: [BTreeMap<NumericIdentity, u32>; 2],
}

impl Meanings {
    fn new(irs: [&PolicyIr; 2]) -> Meanings {
        let mut all: BTreeMap<Meaning, u32> = BTreeMap::new();
        let mut pending: [Vec<(NumericIdentity, Meaning)>; 2] = [Vec::new(), Vec::new()];
        for (side, ir) in irs.iter().enumerate() {
            let mut identities: BTreeSet<NumericIdentity> = ir.identities.iter().map(|info| info.id).collect();
            identities.insert(NumericIdentity::ANY);
            for endpoint in &ir.endpoints {
                for policy in [&endpoint.ingress, &endpoint.egress] {
                    for entry in &policy.entries {
                        if let Peers::Identities(set) = &entry.peers {
                            identities.extend(set.iter().copied());
                        }
                    }
                }
            }
            for identity in identities {
                let meaning = meaning(ir, identity);
                all.insert(meaning.clone(), 0);
                pending[side].push((identity, meaning));
            }
        }
        for (index, value) in all.values_mut().enumerate() {
            *value = index as u32;
        }
        let per_side = pending.map(|list| list.into_iter().map(|(identity, meaning)| (identity, all[&meaning])).collect());
        Meanings { per_side }
    }

    /// The meaning index of `identity` on `side` (identities outside the IR after all others).
    fn of(&self, side: usize, identity: NumericIdentity) -> u64 {
        match self.per_side[side].get(&identity) {
            Some(index) => u64::from(*index),
            None => (1u64 << 32) | u64::from(identity.0),
        }
    }
}

/// A map key with the identity by meaning.
type Key = (u64, u8, u16, u8);

fn describe_l7(rules: &L7Rules) -> Vec<String> {
    match rules {
        L7Rules::Http(http) => http.iter().map(|rule| format!("HTTP {rule}")).collect(),
        L7Rules::Dns(dns) => dns.iter().map(|rule| format!("DNS {rule}")).collect(),
    }
}

/// The L7 rules behind a redirect key: those of every allow of `policy` that put it there and
/// covers the key.
fn l7_of_key(policy: &DirectionPolicy, entry: &SourceEntry) -> Vec<String> {
    let mut rules: BTreeSet<String> = BTreeSet::new();
    let mut plain = false;
    for candidate in &policy.entries {
        if candidate.verdict != RuleVerdict::Allow || !entry.origins.contains(&EntryOrigin::Rule(candidate.origin.clone())) {
            continue;
        }
        if entry.identity != NumericIdentity::ANY && !candidate.peers.contains(entry.identity) {
            continue;
        }
        let covers = match candidate.l4 {
            L4Match::Any => true,
            L4Match::Protocol { protocol, ports } => protocol.0 == entry.protocol && ports.contains(entry.port),
        };
        if !covers {
            continue;
        }
        match &candidate.l7 {
            Some(l7) => rules.extend(describe_l7(l7)),
            None => plain = true,
        }
    }
    if plain && !rules.is_empty() {
        rules.insert("every request (an allow without L7 rules shares this key)".to_owned());
    }
    rules.into_iter().collect()
}

/// One side's entry of a direction, keyed by meaning.
#[derive(Clone, Debug)]
struct Keyed {
    key: Key,
    entry: SourceEntry,
}

fn keyed(side: usize, meanings: &Meanings, policy: &DirectionPolicy, entries: Vec<SourceEntry>) -> Vec<Keyed> {
    let mut keyed: Vec<Keyed> = entries
        .into_iter()
        .map(|mut entry| {
            if entry.value.verdict == EntryVerdict::Redirect && entry.value.l7.is_empty() {
                entry.value.l7 = l7_of_key(policy, &entry);
            }
            Keyed { key: (meanings.of(side, entry.identity), entry.protocol, entry.port, entry.prefix_len), entry }
        })
        .collect();
    keyed.sort_by_key(|keyed| keyed.key);
    keyed
}

/// What each identity of each side stands for, described once.
struct Descriptions<'a> {
    irs: [&'a PolicyIr; 2],
    per_side: [BTreeMap<NumericIdentity, String>; 2],
}

impl<'a> Descriptions<'a> {
    fn new(irs: [&'a PolicyIr; 2]) -> Self {
        let per_side = irs.map(|ir| ir.identities.iter().map(|info| (info.id, describe_identity(ir, info.id))).collect());
        Descriptions { irs, per_side }
    }

    fn of(&self, side: usize, identity: NumericIdentity) -> String {
        self.per_side[side].get(&identity).cloned().unwrap_or_else(|| describe_identity(self.irs[side], identity))
    }
}

fn map_entry(descriptions: &Descriptions<'_>, side: usize, entry: &SourceEntry) -> MapEntry {
    MapEntry {
        identity: entry.identity,
        identity_description: descriptions.of(side, entry.identity),
        protocol: (entry.protocol != 0).then_some(Protocol(entry.protocol)),
        ports: (entry.protocol != 0 && !(entry.prefix_len == 0 && entry.port == 0)).then(|| PortBlock::new(entry.port, entry.prefix_len)),
        value: entry.value.clone(),
        origins: entry.origins.clone(),
    }
}

/// The entry changes between two keyed lists (both sorted by key).
fn compare(descriptions: &Descriptions<'_>, direction: Direction, old: &[Keyed], new: &[Keyed]) -> EntryChange {
    let mut change = EntryChange { direction, endpoints: Vec::new(), added: Vec::new(), removed: Vec::new(), changed: Vec::new(), renumbered: Vec::new() };
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        let order = match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) => a.key.cmp(&b.key),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, _) => std::cmp::Ordering::Greater,
        };
        match order {
            std::cmp::Ordering::Less => {
                change.removed.push(map_entry(descriptions, 0, &old[i].entry));
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                change.added.push(map_entry(descriptions, 1, &new[j].entry));
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                let (a, b) = (&old[i].entry, &new[j].entry);
                if a.value != b.value {
                    change.changed.push((map_entry(descriptions, 0, a), map_entry(descriptions, 1, b)));
                } else if a.identity != b.identity {
                    change.renumbered.push((map_entry(descriptions, 0, a), map_entry(descriptions, 1, b)));
                }
                i += 1;
                j += 1;
            }
        }
    }
    change
}

fn is_empty(change: &EntryChange) -> bool {
    change.added.is_empty() && change.removed.is_empty() && change.changed.is_empty() && change.renumbered.is_empty()
}

/// Every entry change and enforcement change between `irs` (old, new), grouped by endpoints
/// with the same change. The error is the entry source's.
pub(crate) fn compute(irs: [&PolicyIr; 2], source: &dyn MapEntrySource) -> Result<(Vec<EntryChange>, Vec<EnforcementChange>), String> {
    let meanings = Meanings::new(irs);
    let mut by_name: BTreeMap<&EndpointKind, [Option<usize>; 2]> = BTreeMap::new();
    for (side, ir) in irs.iter().enumerate() {
        for (index, endpoint) in ir.endpoints.iter().enumerate() {
            by_name.entry(&endpoint.kind).or_insert([None, None])[side] = Some(index);
        }
    }
    // Each distinct policy of a side and direction converted once.
    type PolicyKey<'a> = (Direction, bool, bool, &'a [polc_ir::PolicyEntry]);
    let mut interned: [BTreeMap<PolicyKey<'_>, usize>; 2] = [BTreeMap::new(), BTreeMap::new()];
    let mut converted: [Vec<Vec<Keyed>>; 2] = [Vec::new(), Vec::new()];
    let mut modes: BTreeMap<(Direction, PolicyMode, PolicyMode), Vec<String>> = BTreeMap::new();
    let mut groups: BTreeMap<(Direction, Option<usize>, Option<usize>), Vec<String>> = BTreeMap::new();
    for (kind, indices) in &by_name {
        for direction in [Direction::Ingress, Direction::Egress] {
            let mut policy_index = [None, None];
            for side in 0..2 {
                let Some(index) = indices[side] else { continue };
                let policy = irs[side].endpoints[index].policy(direction);
                let key: PolicyKey<'_> = (direction, policy.enforced, policy.default_deny, &policy.entries);
                let next = converted[side].len();
                let position = *interned[side].entry(key).or_insert(next);
                if position == next {
                    let entries = source.direction_entries(policy, direction).map_err(|message| format!("`{kind}` {direction}: {message}"))?;
                    converted[side].push(keyed(side, &meanings, policy, entries));
                }
                policy_index[side] = Some(position);
            }
            groups.entry((direction, policy_index[0], policy_index[1])).or_default().push(kind.to_string());
            if let [Some(old), Some(new)] = indices {
                let modes_now = [PolicyMode::of(irs[0].endpoints[*old].policy(direction)), PolicyMode::of(irs[1].endpoints[*new].policy(direction))];
                if modes_now[0] != modes_now[1] {
                    modes.entry((direction, modes_now[0], modes_now[1])).or_default().push(kind.to_string());
                }
            }
        }
    }
    // Endpoints whose changes are the same are one group.
    let descriptions = Descriptions::new(irs);
    let mut merged: BTreeMap<EntryChange, Vec<String>> = BTreeMap::new();
    for ((direction, old, new), endpoints) in groups {
        let old_entries: &[Keyed] = old.map(|index| converted[0][index].as_slice()).unwrap_or(&[]);
        let new_entries: &[Keyed] = new.map(|index| converted[1][index].as_slice()).unwrap_or(&[]);
        let change = compare(&descriptions, direction, old_entries, new_entries);
        if !is_empty(&change) {
            merged.entry(change).or_default().extend(endpoints);
        }
    }
    let mut changes: Vec<EntryChange> = merged
        .into_iter()
        .map(|(mut change, mut endpoints)| {
            endpoints.sort();
            change.endpoints = endpoints;
            change
        })
        .collect();
    changes.sort_by(|a, b| (&a.endpoints, a.direction).cmp(&(&b.endpoints, b.direction)));
    let mut enforcement: Vec<EnforcementChange> = modes
        .into_iter()
        .map(|((direction, old, new), mut endpoints)| {
            endpoints.sort();
            EnforcementChange { direction, endpoints, old, new }
        })
        .collect();
    enforcement.sort_by(|a, b| (&a.endpoints, a.direction).cmp(&(&b.endpoints, b.direction)));
    Ok((changes, enforcement))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_split_into_aligned_blocks() {
        let blocks = port_blocks(8000, 8080);
        assert_eq!(blocks.iter().map(|block| (block.first, block.last)).collect::<Vec<_>>(), [(8000, 8063), (8064, 8079), (8080, 8080)]);
        assert_eq!(blocks.iter().map(|block| u32::from(block.last) - u32::from(block.first) + 1).sum::<u32>(), 81);
        for pair in blocks.windows(2) {
            assert_eq!(u32::from(pair[0].last) + 1, u32::from(pair[1].first), "blocks are contiguous");
        }
        for block in &blocks {
            let size = u32::from(block.last) - u32::from(block.first) + 1;
            assert!(size.is_power_of_two() && u32::from(block.first) % size == 0, "{block:?}");
            assert_eq!(size, 1 << (16 - u32::from(block.prefix_len)));
        }
        assert_eq!(port_blocks(80, 80), vec![PortBlock { first: 80, last: 80, prefix_len: 16 }]);
        assert_eq!(port_blocks(0, 65535), vec![PortBlock { first: 0, last: 65535, prefix_len: 0 }]);
    }

    #[test]
    fn values_describe_themselves() {
        let mut value = EntryValue { verdict: EntryVerdict::Redirect, proxy_port: 10080, precedence: 0, auth_type: 1, auth_explicit: true, l7: Vec::new() };
        assert_eq!(value.describe(), "redirect to proxy port 10080 (authentication required)");
        value.verdict = EntryVerdict::Deny;
        assert_eq!(value.describe(), "deny");
    }
}
