//! `PLC7015`: an endpoint whose policy map would need more entries than the map holds
//! (`bpf-policy-map-max`, 16,384 by default; `--policy-map-max`). Cilium cannot install such a
//! policy: the endpoint's regeneration fails and it keeps its old policy, or is locked down.
//! Fix: narrow the rules that contribute most (peers that select many identities times port
//! ranges), or raise the agent's limit (at most 65,536) and tell polc.
//!
//! Keys are counted as Cilium's agent distils them (`shared/reference/cilium-semantics.md` §3.1,
//! §4), for both directions of the endpoint's one map: one key per remote identity (identity 0
//! for any) × protocol (0 for an L3-only entry) × aligned power-of-two block of each port range;
//! equal keys merge; a deny key covered by another deny key is not inserted, and an allow key
//! covered by a deny key (same or any identity, broader or equal protocol and port block) is
//! removed; a direction that is not enforced, or enforced without default-deny, has the agent's
//! allow-all key (identity 0, protocol 0, port 0); `allow-localhost` is an entry of the IR already.

use std::collections::{BTreeMap, BTreeSet};

use polc_ir::{DirectionPolicy, Endpoint, EndpointKind, L4Match, NumericIdentity, Peers, PolicyEntry, PolicyIr, RuleVerdict};

use super::Resolved;
use crate::codes::code;
use crate::diag::{Code, Diagnostic, Severity};
use crate::path::Path;

code!(
    POLICY_MAP_OVERFLOW,
    "PLC7015",
    "policy-map-overflow",
    Error,
    "an endpoint's policy map would need more entries than the map holds",
    "Cilium installs each endpoint's policy as one BPF map of at most `bpf-policy-map-max` entries (16,384 by default, 65,536 at most). Every entry of a rule becomes one key per remote identity it selects, per protocol (`ANY` is three: TCP, UDP and SCTP) and per aligned power-of-two block of its port range (`1024`-`65535` is six blocks). When the keys of both directions do not fit, the agent cannot apply the policy: the endpoint's regeneration fails and it keeps running with its previous policy.

Example:
  egress:
  - toEntities: [world]                   # every CIDR identity the policies name...
    toPorts:
    - ports: [{port: \"1024\", endPort: 65535, protocol: ANY}]   # ...times 3 protocols times 6 blocks

Fix: narrow the rules that contribute most (the help names them): select fewer peers, use fewer or aligned port ranges, or give `ANY` rules one protocol. Or raise the agent's `bpf-policy-map-max` and pass the same value to polc with `--policy-map-max`."
);

/// Cilium's default `bpf-policy-map-max`.
pub const DEFAULT_POLICY_MAP_MAX: usize = 16_384;

/// The largest `bpf-policy-map-max` Cilium accepts.
pub const LARGEST_POLICY_MAP_MAX: usize = 65_536;

/// The aligned power-of-two blocks `first..=last` splits into, as (first port, fixed bits), the
/// way Cilium's `PortRangeToMaskedPorts` splits a range. `0..=65535` is one block of every port.
pub fn port_blocks(first: u16, last: u16) -> Vec<(u16, u8)> {
    let mut blocks = Vec::new();
    if first > last {
        return blocks;
    }
    if first == 0 && last == u16::MAX {
        blocks.push((0, 0));
        return blocks;
    }
    let mut start = u32::from(first);
    let end = u32::from(last);
    while start <= end {
        // The largest block aligned at `start` that stays inside the range.
        let mut free_bits = if start == 0 { 16 } else { start.trailing_zeros().min(16) };
        while free_bits > 0 && start + (1u32 << free_bits) - 1 > end {
            free_bits -= 1;
        }
        blocks.push((start as u16, (16 - free_bits) as u8));
        start += 1u32 << free_bits;
    }
    blocks
}

/// A protocol and port block of a key: protocol (0: every protocol, an L3-only key), the first
/// port of the block and the number of fixed port bits (0: every port; 16: one port).
type Block = (u8, u16, u8);

/// The L3-only block.
const L3_ONLY: Block = (0, 0, 0);

/// The blocks an entry's L4 becomes.
fn l4_blocks(l4: &L4Match) -> Vec<Block> {
    match l4 {
        L4Match::Any => vec![L3_ONLY],
        L4Match::Protocol { protocol, ports } => port_blocks(ports.first(), ports.last()).into_iter().map(|(port, bits)| (protocol.0, port, bits)).collect(),
    }
}

/// The blocks that hold every packet `block` holds, other than `block` itself: the L3-only
/// block, and the same protocol's blocks with fewer fixed bits that contain the port.
fn broader_blocks(block: Block) -> Vec<Block> {
    let (protocol, port, bits) = block;
    if protocol == 0 {
        return Vec::new();
    }
    let mut blocks = vec![L3_ONLY];
    for fewer in 0..bits {
        let mask = if fewer == 0 { 0 } else { u16::MAX << (16 - u32::from(fewer)) };
        blocks.push((protocol, port & mask, fewer));
    }
    blocks
}

/// The remote identities of the keys of one block and verdict: identity 0 (any), and the
/// identity sets of the entries (not merged: most blocks have one).
#[derive(Default)]
struct BlockPeers<'p> {
    any: bool,
    sets: Vec<&'p BTreeSet<NumericIdentity>>,
}

impl BlockPeers<'_> {
    fn contains(&self, identity: NumericIdentity) -> bool {
        self.sets.iter().any(|set| set.contains(&identity))
    }

    /// How many distinct identities (other than 0, which is `any`) satisfy `keep`.
    fn count_distinct(&self, keep: impl Fn(NumericIdentity) -> bool) -> usize {
        let specific = |identity: &&NumericIdentity| identity.0 != 0;
        match self.sets.as_slice() {
            [] => 0,
            [set] => set.iter().filter(specific).filter(|identity| keep(**identity)).count(),
            sets => {
                let mut all: Vec<NumericIdentity> = sets.iter().flat_map(|set| set.iter()).filter(specific).copied().collect();
                all.sort_unstable();
                all.dedup();
                all.into_iter().filter(|identity| keep(*identity)).count()
            }
        }
    }
}

/// How many keys one IR entry gives before merging and pruning.
fn entry_key_count(entry: &PolicyEntry) -> usize {
    let identities = match &entry.peers {
        Peers::Any => 1,
        Peers::Identities(identities) => identities.len(),
    };
    identities * l4_blocks(&entry.l4).len()
}

/// The number of policy map keys of one direction of an endpoint.
///
/// Counted per protocol and port block rather than key by key: per block, the distinct remote
/// identities of its allow and deny keys, less the keys a deny covers (a deny key covers the keys
/// of its identity, or of every identity for identity 0, in its block and in narrower ones).
pub fn direction_key_count(policy: &DirectionPolicy) -> usize {
    if !policy.enforced {
        return 1;
    }
    let mut allows: BTreeMap<Block, BlockPeers<'_>> = BTreeMap::new();
    let mut denies: BTreeMap<Block, BlockPeers<'_>> = BTreeMap::new();
    for entry in &policy.entries {
        let blocks = if entry.verdict == RuleVerdict::Deny { &mut denies } else { &mut allows };
        for block in l4_blocks(&entry.l4) {
            match &entry.peers {
                Peers::Any => blocks.entry(block).or_default().any = true,
                Peers::Identities(identities) if identities.is_empty() => {}
                Peers::Identities(identities) => {
                    let peers = blocks.entry(block).or_default();
                    peers.any |= identities.contains(&NumericIdentity::ANY);
                    peers.sets.push(identities);
                }
            }
        }
    }
    if !policy.default_deny {
        allows.entry(L3_ONLY).or_default().any = true;
    }
    let mut count = 0;
    // Deny keys: one not covered by another deny (a broader block of its identity or of any
    // identity, or its own block's any-identity key).
    for (block, peers) in &denies {
        let broader: Vec<&BlockPeers<'_>> = broader_blocks(*block).iter().filter_map(|broader| denies.get(broader)).collect();
        if broader.iter().any(|other| other.any) {
            continue;
        }
        if peers.any {
            count += 1;
            continue;
        }
        count += peers.count_distinct(|identity| !broader.iter().any(|other| other.contains(identity)));
    }
    // Allow keys: one not covered by a deny of its block or a broader one (a key equal to a deny
    // key merges into it, and counts as the deny).
    for (block, peers) in &allows {
        let mut covering: Vec<&BlockPeers<'_>> = broader_blocks(*block).iter().filter_map(|broader| denies.get(broader)).collect();
        covering.extend(denies.get(block));
        if covering.iter().any(|other| other.any) {
            continue;
        }
        if peers.any {
            count += 1;
        }
        count += peers.count_distinct(|identity| !covering.iter().any(|other| other.contains(identity)));
    }
    count
}

/// The number of policy map keys of an endpoint (both directions share one map).
pub fn endpoint_key_count(endpoint: &Endpoint) -> usize {
    direction_key_count(&endpoint.ingress) + direction_key_count(&endpoint.egress)
}

/// The number of policy map keys of every endpoint of `ir`, in the order of its endpoints.
/// Endpoints with equal policies are counted once.
pub fn endpoint_key_counts(ir: &PolicyIr) -> Vec<usize> {
    let groups = super::group_policies(ir);
    let mut counts = vec![0; ir.endpoints.len()];
    for group in &groups {
        let count = direction_key_count(group.policy);
        for endpoint in &group.endpoints {
            counts[*endpoint] += count;
        }
    }
    counts
}

/// `pod `prod/web-1`` or `node `node-a``.
fn describe_endpoint(endpoint: &Endpoint) -> String {
    match &endpoint.kind {
        EndpointKind::Pod { namespace, name } => format!("pod `{namespace}/{name}`"),
        EndpointKind::Host { node } => format!("node `{node}`"),
    }
}

pub(crate) fn check(resolved: &Resolved<'_>, limit: usize, diagnostics: &mut Vec<Diagnostic>) {
    let endpoints = &resolved.ir.endpoints;
    // Each group's count once; then each endpoint's (ingress group, egress group).
    let counts: Vec<usize> = resolved.groups.iter().map(|group| direction_key_count(group.policy)).collect();
    let mut groups_of_endpoint: Vec<[usize; 2]> = vec![[0, 0]; endpoints.len()];
    for (index, group) in resolved.groups.iter().enumerate() {
        let slot = match group.direction {
            polc_ir::Direction::Ingress => 0,
            polc_ir::Direction::Egress => 1,
        };
        for endpoint in &group.endpoints {
            groups_of_endpoint[*endpoint][slot] = index;
        }
    }
    // Endpoints with the same policy in both directions are reported together.
    let mut over: BTreeMap<[usize; 2], Vec<usize>> = BTreeMap::new();
    for (endpoint, pair) in groups_of_endpoint.iter().enumerate() {
        if counts[pair[0]] + counts[pair[1]] > limit {
            over.entry(*pair).or_default().push(endpoint);
        }
    }
    for (pair, members) in over {
        let (ingress, egress) = (counts[pair[0]], counts[pair[1]]);
        let total = ingress + egress;
        let first = &endpoints[members[0]];
        let mut message = format!(
            "the policy map of {} would need {total} entries ({ingress} ingress, {egress} egress), more than the limit of {limit}",
            describe_endpoint(first)
        );
        if members.len() > 1 {
            message = format!(
                "the policy maps of {} and {} other endpoints with the same policy would need {total} entries each ({ingress} ingress, {egress} egress), more than the limit of {limit}",
                describe_endpoint(first),
                members.len() - 1
            );
        }
        // The rules whose entries give the most keys.
        let mut by_rule: BTreeMap<usize, usize> = BTreeMap::new();
        for group in pair {
            for entry in &resolved.groups[group].policy.entries {
                if let Some(rule) = resolved.rule_of(&entry.origin) {
                    *by_rule.entry(rule).or_default() += entry_key_count(entry);
                }
            }
        }
        let mut largest: Vec<(usize, usize)> = by_rule.into_iter().collect();
        largest.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        largest.truncate(3);
        let named: Vec<String> = largest.iter().map(|(rule, keys)| format!("{} ({keys} keys)", resolved.describe_rule(*rule))).collect();
        let raise = if total <= LARGEST_POLICY_MAP_MAX {
            format!("or raise the agent's `bpf-policy-map-max` to at least {total} and pass it to polc with `--policy-map-max`")
        } else {
            format!("raising `bpf-policy-map-max` cannot help: Cilium's largest is {LARGEST_POLICY_MAP_MAX}")
        };
        let help = if named.is_empty() {
            format!("narrow the rules that select this endpoint, {raise}")
        } else {
            format!("the most keys come from {}; narrow their peers or port ranges, {raise}", named.join(", "))
        };
        let mut diagnostic = Diagnostic::new(&POLICY_MAP_OVERFLOW, message).with_help(help);
        if let Some(location) = endpoint_location(resolved, first) {
            diagnostic = diagnostic.at(location);
        }
        for (rule, keys) in &largest {
            if let Some(location) = resolved.rule_location(*rule) {
                diagnostic = diagnostic.with_related(location.clone(), format!("{keys} keys"));
            }
        }
        diagnostics.push(diagnostic);
    }
}

/// Where the inventory describes an endpoint: its Pod's or Node's name.
fn endpoint_location(resolved: &Resolved<'_>, endpoint: &Endpoint) -> Option<crate::diag::Location> {
    let object = match &endpoint.kind {
        EndpointKind::Pod { namespace, name } => resolved.inventory.pod(namespace, name).map(|pod| pod.object),
        EndpointKind::Host { node } => resolved.inventory.nodes.get(node).map(|node| node.object),
    }?;
    resolved.objects.get(object).map(|object| object.location(&Path::root().key("metadata").key("name")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use polc_ir::{NumericIdentity, PortRange, Protocol, RuleOrigin};

    #[test]
    fn ranges_split_into_aligned_blocks() {
        assert_eq!(port_blocks(80, 80), vec![(80, 16)]);
        assert_eq!(port_blocks(0, u16::MAX), vec![(0, 0)]);
        assert_eq!(port_blocks(1024, 65535), vec![(1024, 6), (2048, 5), (4096, 4), (8192, 3), (16384, 2), (32768, 1)]);
        assert_eq!(port_blocks(8080, 8083), vec![(8080, 14)]);
        assert_eq!(port_blocks(1, 7), vec![(1, 16), (2, 15), (4, 14)]);
        assert_eq!(port_blocks(0, 0), vec![(0, 16)]);
        // Every port of a range is in exactly one block.
        for (first, last) in [(1u16, 1000u16), (30000, 30099), (65000, 65535), (0, 1)] {
            let blocks = port_blocks(first, last);
            let covered: u32 = blocks.iter().map(|(_, bits)| 1u32 << (16 - u32::from(*bits))).sum();
            assert_eq!(covered, u32::from(last) - u32::from(first) + 1, "{first}-{last}");
        }
    }

    fn entry(verdict: RuleVerdict, peers: &[u32], l4: L4Match) -> PolicyEntry {
        PolicyEntry {
            verdict,
            peers: Peers::Identities(peers.iter().map(|id| NumericIdentity(*id)).collect()),
            l4,
            l7: None,
            auth: None,
            pending_fqdns: Vec::new(),
            origin: RuleOrigin::Implicit(polc_ir::ImplicitRule::AllowLocalhost),
        }
    }

    /// Key by key, the way the agent's map computation goes: every key, equal keys merged (a
    /// deny wins), denies covered by other denies dropped, allows covered by denies dropped.
    fn naive_count(policy: &DirectionPolicy) -> usize {
        if !policy.enforced {
            return 1;
        }
        // (identity, protocol, port, fixed bits) → deny.
        let mut keys: BTreeMap<(u32, u8, u16, u8), bool> = BTreeMap::new();
        for entry in &policy.entries {
            let identities: Vec<u32> = match &entry.peers {
                Peers::Any => vec![0],
                Peers::Identities(identities) => identities.iter().map(|identity| identity.0).collect(),
            };
            for identity in identities {
                for (protocol, port, bits) in l4_blocks(&entry.l4) {
                    *keys.entry((identity, protocol, port, bits)).or_insert(false) |= entry.verdict == RuleVerdict::Deny;
                }
            }
        }
        if !policy.default_deny {
            keys.entry((0, 0, 0, 0)).or_insert(false);
        }
        let covers = |wide: &(u32, u8, u16, u8), narrow: &(u32, u8, u16, u8)| {
            let mask = if wide.3 == 0 { 0 } else { u16::MAX << (16 - u32::from(wide.3)) };
            wide != narrow && (wide.0 == 0 || wide.0 == narrow.0) && (wide.1 == 0 || (wide.1 == narrow.1 && wide.3 <= narrow.3 && narrow.2 & mask == wide.2))
        };
        let denies: Vec<(u32, u8, u16, u8)> = keys.iter().filter(|(_, deny)| **deny).map(|(key, _)| *key).collect();
        keys.keys().filter(|key| !denies.iter().any(|deny| covers(deny, key))).count()
    }

    #[test]
    fn the_block_count_equals_the_key_by_key_count() {
        // A small deterministic generator (xorshift) of policies mixing every case: any peer,
        // overlapping identity sets, L3-only, whole protocols, ranges, denies, default-deny.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        for _ in 0..500 {
            let mut entries = Vec::new();
            for _ in 0..next(8) {
                let verdict = if next(3) == 0 { RuleVerdict::Deny } else { RuleVerdict::Allow };
                let peers: Vec<u32> = (0..next(4)).map(|_| 300 + next(5) as u32).collect();
                let l4 = match next(5) {
                    0 => L4Match::Any,
                    1 => L4Match::protocol(Protocol::UDP, PortRange::ALL),
                    _ => {
                        let first = 8000 + next(64) as u16;
                        L4Match::protocol(if next(4) == 0 { Protocol::UDP } else { Protocol::TCP }, PortRange::new(first, first + next(40) as u16))
                    }
                };
                let mut new = entry(verdict, &peers, l4);
                if next(6) == 0 {
                    new.peers = Peers::Any;
                }
                entries.push(new);
            }
            let policy = DirectionPolicy { enforced: next(10) != 0, default_deny: next(3) != 0, entries, selected_by: Vec::new() };
            assert_eq!(direction_key_count(&policy), naive_count(&policy), "{policy:?}");
        }
    }

    #[test]
    fn keys_are_counted_merged_and_pruned_as_cilium_does() {
        let tcp = |first, last| L4Match::protocol(Protocol::TCP, PortRange::new(first, last));
        let not_enforced = DirectionPolicy::default();
        assert_eq!(direction_key_count(&not_enforced), 1);
        let allows = DirectionPolicy {
            enforced: true,
            default_deny: true,
            entries: vec![entry(RuleVerdict::Allow, &[300, 301], tcp(1024, 65535)), entry(RuleVerdict::Allow, &[300], tcp(1024, 2047))],
            selected_by: Vec::new(),
        };
        // 2 identities × 6 blocks; the second entry's key equals one of the first's.
        assert_eq!(direction_key_count(&allows), 12);
        let without_default_deny = DirectionPolicy { default_deny: false, ..allows.clone() };
        assert_eq!(direction_key_count(&without_default_deny), 13);
        // A deny of every TCP port of 300 removes its six allow keys; a narrower deny of 301
        // covered by nothing adds one key.
        let mut with_denies = allows.clone();
        with_denies.entries.push(entry(RuleVerdict::Deny, &[300], L4Match::protocol(Protocol::TCP, PortRange::ALL)));
        with_denies.entries.push(entry(RuleVerdict::Deny, &[301], tcp(22, 22)));
        assert_eq!(direction_key_count(&with_denies), 6 + 1 + 1);
        // A deny covered by a broader deny of any identity is not inserted either.
        with_denies.entries.push(PolicyEntry { peers: Peers::Any, ..entry(RuleVerdict::Deny, &[], L4Match::Any) });
        assert_eq!(direction_key_count(&with_denies), 1);
    }
}
