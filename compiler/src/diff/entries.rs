//! Per-endpoint policy-map entries and how they change.
//!
//! Each IR entry becomes the keys Cilium's per-endpoint policy map would hold: one per remote
//! identity (0 for any identity) × direction × protocol (0 for any) × aligned block of ports
//! (a range is split into power-of-two blocks, as the map's LPM keys need). Entries with the
//! same key merge the way the map merges them: a deny wins; otherwise the allow redirects to the
//! proxy when any of them has L7 rules, and the strongest authentication wins. An entry whose
//! peers select nothing adds no key.
//!
//! Keys are compared by what their identity stands for (its labels, its CIDR, its reserved
//! name), not by its number, so that a number that moved between the two compiles shows as a
//! renumbering rather than as a removed and an added rule. Enforcement and default-deny, which
//! are not map keys, are compared separately ([`EnforcementChange`]).

use std::collections::{BTreeMap, BTreeSet};

use polc_ir::{
    AuthMode, Direction, DirectionPolicy, EndpointKind, IdentityKind, IpPrefix, L4Match, L7Rules, Label, NumericIdentity, Peers, PolicyIr, Protocol, RuleOrigin,
    RuleVerdict,
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

/// Splits `first..=last` into the fewest aligned power-of-two blocks, in order.
pub fn port_blocks(first: u16, last: u16) -> Vec<PortBlock> {
    let mut blocks = Vec::new();
    let (mut start, end) = (u32::from(first), u32::from(last));
    while start <= end {
        let mut host_bits = if start == 0 { 16 } else { start.trailing_zeros().min(16) };
        while host_bits > 0 && start + (1u32 << host_bits) - 1 > end {
            host_bits -= 1;
        }
        let size = 1u32 << host_bits;
        blocks.push(PortBlock { first: start as u16, last: (start + size - 1) as u16, prefix_len: (16 - host_bits) as u8 });
        start += size;
    }
    blocks
}

/// The value of a policy-map entry, as far as it matters to traffic.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryValue {
    pub deny: bool,
    /// Traffic is redirected to the L7 proxy.
    pub proxy: bool,
    /// The L7 rules the proxy applies for this key, sorted; `every request` when an allow
    /// without L7 rules shares the key.
    pub l7: Vec<String>,
    pub auth: Option<AuthMode>,
}

impl EntryValue {
    /// `deny`, `allow`, `allow via proxy`, `allow (auth required)`.
    pub fn describe(&self) -> String {
        if self.deny {
            return "deny".to_owned();
        }
        let mut text = if self.proxy { "allow via the L7 proxy".to_owned() } else { "allow".to_owned() };
        if let Some(mode) = self.auth {
            text.push_str(&format!(" (authentication {})", mode.as_str()));
        }
        text
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
    /// The rules that put the entry there, sorted.
    pub origins: Vec<RuleOrigin>,
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
    /// (old, new) entries with the same meaning whose identity got another number.
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

/// A map key with the identity by meaning (index into the shared meaning table).
type Key = (u32, u8, u16, u8);

/// One key's merged value on one side, with the identity's number and the rules behind it.
#[derive(Clone, Debug)]
struct Merged {
    key: Key,
    identity: NumericIdentity,
    value: EntryValue,
    origins: Vec<RuleOrigin>,
}

fn describe_l7(rules: &L7Rules) -> Vec<String> {
    match rules {
        L7Rules::Http(http) => http.iter().map(|rule| format!("HTTP {rule}")).collect(),
        L7Rules::Dns(dns) => dns.iter().map(|rule| format!("DNS {rule}")).collect(),
    }
}

/// The meaning table both sides share: identity number per side → meaning index.
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
}

/// The merged entries of one policy on one side, sorted by key.
fn expand(policy: &DirectionPolicy, meanings: &BTreeMap<NumericIdentity, u32>) -> Vec<Merged> {
    struct Part<'a> {
        key: Key,
        identity: NumericIdentity,
        verdict: RuleVerdict,
        l7: Option<&'a L7Rules>,
        auth: Option<AuthMode>,
        origin: &'a RuleOrigin,
    }
    let mut parts: Vec<Part<'_>> = Vec::new();
    for entry in &policy.entries {
        let identities: Vec<NumericIdentity> = match &entry.peers {
            Peers::Any => vec![NumericIdentity::ANY],
            Peers::Identities(set) => set.iter().copied().collect(),
        };
        let l4: Vec<(u8, u16, u8)> = match entry.l4 {
            L4Match::Any => vec![(0, 0, 0)],
            L4Match::Protocol { protocol, ports } if ports.is_all() => vec![(protocol.0, 0, 0)],
            L4Match::Protocol { protocol, ports } => {
                port_blocks(ports.first(), ports.last()).into_iter().map(|block| (protocol.0, block.first, block.prefix_len)).collect()
            }
        };
        for identity in &identities {
            let meaning = meanings.get(identity).copied().unwrap_or(u32::MAX);
            for (protocol, port, prefix_len) in &l4 {
                parts.push(Part {
                    key: (meaning, *protocol, *port, *prefix_len),
                    identity: *identity,
                    verdict: entry.verdict,
                    l7: entry.l7.as_ref(),
                    auth: entry.auth,
                    origin: &entry.origin,
                });
            }
        }
    }
    parts.sort_by_key(|part| part.key);
    let mut merged = Vec::new();
    let mut start = 0;
    while start < parts.len() {
        let key = parts[start].key;
        let end = start + parts[start..].iter().take_while(|part| part.key == key).count();
        let group = &parts[start..end];
        let deny = group.iter().any(|part| part.verdict == RuleVerdict::Deny);
        let deciding: Vec<&Part<'_>> = group.iter().filter(|part| (part.verdict == RuleVerdict::Deny) == deny).collect();
        let mut value = EntryValue { deny, proxy: false, l7: Vec::new(), auth: None };
        if !deny {
            let mut l7: BTreeSet<String> = BTreeSet::new();
            let mut plain = false;
            for part in &deciding {
                match part.l7 {
                    Some(rules) => {
                        value.proxy = true;
                        l7.extend(describe_l7(rules));
                    }
                    None => plain = true,
                }
                if let Some(mode) = part.auth {
                    if value.auth.is_none_or(|current| mode.auth_type() > current.auth_type()) {
                        value.auth = Some(mode);
                    }
                }
            }
            if value.proxy && plain {
                l7.insert("every request (an allow without L7 rules shares this key)".to_owned());
            }
            value.l7 = l7.into_iter().collect();
        }
        let mut origins: Vec<RuleOrigin> = deciding.iter().map(|part| part.origin.clone()).collect();
        origins.sort();
        origins.dedup();
        merged.push(Merged { key, identity: group[0].identity, value, origins });
        start = end;
    }
    merged
}

fn map_entry(ir: &PolicyIr, merged: &Merged) -> MapEntry {
    let (_, protocol, port, prefix_len) = merged.key;
    let ports = if protocol == 0 || prefix_len == 0 {
        None
    } else {
        let size = 1u32 << (16 - u32::from(prefix_len));
        Some(PortBlock { first: port, last: (u32::from(port) + size - 1).min(u32::from(u16::MAX)) as u16, prefix_len })
    };
    MapEntry {
        identity: merged.identity,
        identity_description: describe_identity(ir, merged.identity),
        protocol: (protocol != 0).then_some(Protocol(protocol)),
        ports,
        value: merged.value.clone(),
        origins: merged.origins.clone(),
    }
}

/// The entry changes between two merged lists (both sorted by key).
fn compare(irs: [&PolicyIr; 2], direction: Direction, old: &[Merged], new: &[Merged]) -> EntryChange {
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
                change.removed.push(map_entry(irs[0], &old[i]));
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                change.added.push(map_entry(irs[1], &new[j]));
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                let (a, b) = (&old[i], &new[j]);
                if a.value != b.value {
                    change.changed.push((map_entry(irs[0], a), map_entry(irs[1], b)));
                } else if a.identity != b.identity {
                    change.renumbered.push((map_entry(irs[0], a), map_entry(irs[1], b)));
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
/// with the same change.
pub(crate) fn compute(irs: [&PolicyIr; 2]) -> (Vec<EntryChange>, Vec<EnforcementChange>) {
    let meanings = Meanings::new(irs);
    let mut by_name: BTreeMap<&EndpointKind, [Option<usize>; 2]> = BTreeMap::new();
    for (side, ir) in irs.iter().enumerate() {
        for (index, endpoint) in ir.endpoints.iter().enumerate() {
            by_name.entry(&endpoint.kind).or_insert([None, None])[side] = Some(index);
        }
    }
    // Each distinct policy of a side expanded once.
    type PolicyKey<'a> = (bool, bool, &'a [polc_ir::PolicyEntry]);
    let mut interned: [BTreeMap<PolicyKey<'_>, usize>; 2] = [BTreeMap::new(), BTreeMap::new()];
    let mut expanded: [Vec<Vec<Merged>>; 2] = [Vec::new(), Vec::new()];
    let mut modes: BTreeMap<(Direction, PolicyMode, PolicyMode), Vec<String>> = BTreeMap::new();
    let mut groups: BTreeMap<(Direction, Option<usize>, Option<usize>), Vec<String>> = BTreeMap::new();
    for (kind, indices) in &by_name {
        for direction in [Direction::Ingress, Direction::Egress] {
            let mut policy_index = [None, None];
            for side in 0..2 {
                let Some(index) = indices[side] else { continue };
                let policy = irs[side].endpoints[index].policy(direction);
                let key: PolicyKey<'_> = (policy.enforced, policy.default_deny, &policy.entries);
                let next = expanded[side].len();
                let position = *interned[side].entry(key).or_insert(next);
                if position == next {
                    expanded[side].push(expand(policy, &meanings.per_side[side]));
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
    let mut changes: Vec<EntryChange> = Vec::new();
    for ((direction, old, new), endpoints) in groups {
        let empty: Vec<Merged> = Vec::new();
        let old_entries = old.map(|index| &expanded[0][index]).unwrap_or(&empty);
        let new_entries = new.map(|index| &expanded[1][index]).unwrap_or(&empty);
        let mut change = compare(irs, direction, old_entries, new_entries);
        if is_empty(&change) {
            continue;
        }
        change.endpoints = endpoints;
        changes.push(change);
    }
    // Endpoints whose changes are the same are one group.
    let mut merged: BTreeMap<EntryChange, Vec<String>> = BTreeMap::new();
    for mut change in changes {
        let endpoints = std::mem::take(&mut change.endpoints);
        merged.entry(change).or_default().extend(endpoints);
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
    let mut enforcement: Vec<EnforcementChange> =
        modes.into_iter().map(|((direction, old, new), mut endpoints)| {
            endpoints.sort();
            EnforcementChange { direction, endpoints, old, new }
        }).collect();
    enforcement.sort_by(|a, b| (&a.endpoints, a.direction).cmp(&(&b.endpoints, b.direction)));
    (changes, enforcement)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_split_into_aligned_blocks() {
        let blocks = port_blocks(8000, 8080);
        assert_eq!(blocks.first().map(|block| (block.first, block.last)), Some((8000, 8031)));
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
}
