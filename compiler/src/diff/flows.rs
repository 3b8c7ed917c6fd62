//! The flows whose verdict changes: ends and port classes evaluated on both sides, and the
//! changes grouped into rectangles.
//!
//! A flow's verdict is the source's egress decision AND the destination's ingress decision
//! ([`polc_ir::evaluate`]). Each decision depends only on the endpoint's policy in that
//! direction, the identity of the other end as the endpoint's node sees it, and the port, so
//! it is computed once per (policy, remote identity) as a row over the port classes. A remote
//! identity that no entry of a policy names gets the policy's default row. Each end pair then
//! costs four row look-ups and a pass over the port classes.
//!
//! [`direction_row`] follows `evaluate_direction` rule for rule; the property tests check
//! every reported and every unreported flow against the evaluator itself.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use polc_ir::{
    Decision, Direction, DirectionPolicy, EndpointKind, Flow, FlowEnd, NumericIdentity, PolicyIr, Protocol, RuleOrigin, RuleVerdict, evaluate_direction,
};

use super::ends::{End, EndKind, describe_identity, external_ends};
use super::ports::PortClasses;
use super::{ALLOWED, DiffStats, DirectionReason, FlowChange, FlowVerdict, L7_PROXY, MUTUAL_AUTH};

/// A fast hasher for the engine's look-up tables (they are never iterated into output).
#[derive(Clone, Copy, Default)]
struct FastHasher(u64);

impl FastHasher {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl std::hash::Hasher for FastHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        for byte in chunks.remainder() {
            self.add(u64::from(*byte));
        }
    }

    fn write_u8(&mut self, value: u8) {
        self.add(u64::from(value));
    }

    fn write_u16(&mut self, value: u16) {
        self.add(u64::from(value));
    }

    fn write_u32(&mut self, value: u32) {
        self.add(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }

    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }
}

type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<FastHasher>>;

/// A remote identity no policy entry names (for default rows and default reasons).
const UNNAMED: NumericIdentity = NumericIdentity(u32::MAX);
/// A row or reason not computed yet.
const UNFILLED: u32 = u32::MAX;
/// No reason (the direction does not apply or did not decide).
const NO_REASON: u32 = u32::MAX;

/// The outcome code of one direction (`ALLOWED`, plus `L7_PROXY` and `MUTUAL_AUTH`) for a
/// remote identity on every port of `ports`, as `evaluate_direction` decides: not enforced →
/// allowed; any matching deny → denied; matching allows → allowed (through the proxy when
/// every one has L7 rules; the deciding key's `test-always-fail` authentication denies); none →
/// the default.
/// Each entry's peers are checked once.
fn direction_row(policy: &DirectionPolicy, remote: NumericIdentity, ports: &[(Protocol, u16)]) -> Vec<u8> {
    if !policy.enforced {
        return vec![ALLOWED; ports.len()];
    }
    let matching: Vec<&polc_ir::PolicyEntry> = policy.entries.iter().filter(|entry| entry.peers.contains(remote)).collect();
    ports
        .iter()
        .map(|(protocol, port)| {
            let mut allowed = false;
            let mut plain = false;
            let mut any_auth = false;
            for entry in &matching {
                if !entry.l4.matches(*protocol, *port) {
                    continue;
                }
                match entry.verdict {
                    RuleVerdict::Deny => return 0,
                    RuleVerdict::Allow => {
                        allowed = true;
                        plain |= entry.l7.is_none();
                        any_auth |= entry.auth.is_some();
                    }
                }
            }
            // The mode of the deciding policy-map key, as the evaluator settles it.
            let auth = if any_auth { polc_ir::direction_auth(policy, remote, *protocol, *port) } else { None };
            outcome_of(policy.default_deny, allowed, plain, auth)
        })
        .collect()
}

/// The outcome code once the matching entries are known: nothing allowed → the default;
/// otherwise allowed, through the proxy when no allow lacks L7 rules, with authentication.
fn outcome_of(default_deny: bool, allowed: bool, plain: bool, auth: Option<polc_ir::AuthMode>) -> u8 {
    if !allowed {
        return if default_deny { 0 } else { ALLOWED };
    }
    let proxy = if plain { 0 } else { L7_PROXY };
    match auth {
        Some(polc_ir::AuthMode::TestAlwaysFail) => 0,
        Some(polc_ir::AuthMode::Required) => ALLOWED | proxy | MUTUAL_AUTH,
        _ => ALLOWED | proxy,
    }
}

/// Both directions of a flow together.
fn combine(egress: u8, ingress: u8) -> u8 {
    if egress & ALLOWED != 0 && ingress & ALLOWED != 0 { ALLOWED | ((egress | ingress) & (L7_PROXY | MUTUAL_AUTH)) } else { 0 }
}

/// The policies of one side, each once, with what the rows need.
struct SideTables<'a> {
    ir: &'a PolicyIr,
    policies: Vec<&'a DirectionPolicy>,
    /// An endpoint (index into `ir.endpoints`) that has each policy.
    representative: Vec<usize>,
    /// Per policy: the identities some entry names, sorted.
    named: Vec<Vec<NumericIdentity>>,
    /// Per policy: the rows of the named identities (parallel to `named`).
    named_rows: Vec<Vec<u32>>,
    /// Per policy: the row of every identity it does not name.
    default_rows: Vec<u32>,
    index: BTreeMap<PolicyKey<'a>, u32>,
}

type PolicyKey<'a> = (bool, bool, &'a [polc_ir::PolicyEntry], &'a [polc_ir::RuleOrigin]);

impl<'a> SideTables<'a> {
    fn new(ir: &'a PolicyIr) -> Self {
        SideTables {
            ir,
            policies: Vec::new(),
            representative: Vec::new(),
            named: Vec::new(),
            named_rows: Vec::new(),
            default_rows: Vec::new(),
            index: BTreeMap::new(),
        }
    }

    fn intern(&mut self, endpoint_index: usize, direction: Direction) -> u32 {
        let policy = self.ir.endpoints[endpoint_index].policy(direction);
        let key: PolicyKey<'a> = (policy.enforced, policy.default_deny, &policy.entries, &policy.selected_by);
        if let Some(index) = self.index.get(&key) {
            return *index;
        }
        let index = self.policies.len() as u32;
        let mut named: Vec<NumericIdentity> = Vec::new();
        for entry in &policy.entries {
            if let polc_ir::Peers::Identities(identities) = &entry.peers {
                named.extend(identities.iter().copied());
            }
        }
        named.sort_unstable();
        named.dedup();
        self.named_rows.push(vec![UNFILLED; named.len()]);
        self.named.push(named);
        self.policies.push(policy);
        self.representative.push(endpoint_index);
        self.default_rows.push(UNFILLED);
        self.index.insert(key, index);
        index
    }
}

/// Outcome rows (one code per port class), each distinct row once.
struct Rows {
    rows: Vec<Box<[u8]>>,
    ids: FastMap<Box<[u8]>, u32>,
}

impl Rows {
    fn intern(&mut self, row: Vec<u8>) -> u32 {
        let row = row.into_boxed_slice();
        if let Some(id) = self.ids.get(&row) {
            return *id;
        }
        let id = self.rows.len() as u32;
        self.rows.push(row.clone());
        self.ids.insert(row, id);
        id
    }
}

/// How an end's identity looks to the other end.
#[derive(Clone, Debug)]
enum Seen {
    /// The same to every observer (per side).
    Fixed([NumericIdentity; 2]),
    /// A node: `host` to endpoints on it, `remote-node` to the others.
    HostOf(String),
}

/// What the engine knows of an end.
struct EndData {
    /// Per side: the egress and ingress policy; `None` for ends that are no endpoint.
    policy: Option<[[u32; 2]; 2]>,
    seen: Seen,
    /// Per side: the node the endpoint runs on.
    node: [Option<String>; 2],
}

fn seen(end: &EndData, observer: &EndData, side: usize) -> NumericIdentity {
    match &end.seen {
        Seen::Fixed(identities) => identities[side],
        Seen::HostOf(node) if observer.node[side].as_deref() == Some(node.as_str()) => NumericIdentity::HOST,
        Seen::HostOf(_) => NumericIdentity::REMOTE_NODE,
    }
}

/// The group a changed (pair, port) belongs to: old and new verdict codes and, per side, the
/// egress and ingress reasons.
type GroupKey = (u8, u8, [u32; 2], [u32; 2]);

struct Engine<'a> {
    sides: [SideTables<'a>; 2],
    ports: Vec<(Protocol, u16)>,
    rows: Rows,
    allow_all: u32,
    reasons: [Vec<DirectionReason>; 2],
    reason_ids: [FastMap<DirectionReason, u32>; 2],
    reason_memo: FastMap<(usize, Direction, u32, NumericIdentity, u32), u32>,
}

impl Engine<'_> {
    fn row(&mut self, side: usize, policy: u32, remote: NumericIdentity) -> u32 {
        let tables = &self.sides[side];
        let policy_index = policy as usize;
        let (slot, remote) = match tables.named[policy_index].binary_search(&remote) {
            Ok(position) => (Some(position), remote),
            Err(_) => (None, UNNAMED),
        };
        let known = match slot {
            Some(position) => tables.named_rows[policy_index][position],
            None => tables.default_rows[policy_index],
        };
        if known != UNFILLED {
            return known;
        }
        let row = direction_row(tables.policies[policy_index], remote, &self.ports);
        let id = self.rows.intern(row);
        let tables = &mut self.sides[side];
        match slot {
            Some(position) => tables.named_rows[policy_index][position] = id,
            None => tables.default_rows[policy_index] = id,
        }
        id
    }

    /// The reason id of `direction` of `policy` on `side` for `remote` on port class `port`.
    fn reason(&mut self, side: usize, direction: Direction, policy: u32, remote: NumericIdentity, port: usize) -> u32 {
        let tables = &self.sides[side];
        let remote = if tables.named[policy as usize].binary_search(&remote).is_ok() { remote } else { UNNAMED };
        let key = (side, direction, policy, remote, port as u32);
        if let Some(id) = self.reason_memo.get(&key) {
            return *id;
        }
        let endpoint = &tables.ir.endpoints[tables.representative[policy as usize]];
        let (protocol, port_number) = self.ports[port];
        let flow = Flow { source: FlowEnd::Endpoint(endpoint.id), destination: FlowEnd::Endpoint(endpoint.id), protocol, port: port_number, l7: None };
        let verdict = evaluate_direction(endpoint, direction, remote, &flow);
        // The rules that enforce a direction belong to each endpoint's own policy; the group's
        // union of them is filled in when the groups are built.
        let reason = DirectionReason { direction, decision: verdict.decision, rules: verdict.deciding, enforced_by: Vec::new(), auth: verdict.auth };
        let id = match self.reason_ids[side].get(&reason) {
            Some(id) => *id,
            None => {
                let id = self.reasons[side].len() as u32;
                self.reasons[side].push(reason.clone());
                self.reason_ids[side].insert(reason, id);
                id
            }
        };
        self.reason_memo.insert(key, id);
        id
    }
}

/// What [`compute`] found.
pub(crate) struct Computed {
    pub ends: Vec<End>,
    pub changes: Vec<FlowChange>,
    pub only_old: Vec<String>,
    pub only_new: Vec<String>,
    pub stats: DiffStats,
}

/// How many (source, destination) pairs the end pair `(source, destination)` stands for.
fn pair_count(ends: &[End], data: &[EndData], source: usize, destination: usize) -> u64 {
    if data[source].policy.is_none() && data[destination].policy.is_none() {
        return 0;
    }
    if source != destination {
        return ends[source].members() * ends[destination].members();
    }
    match &ends[source].kind {
        EndKind::Pods { pods } => (pods.len() as u64) * (pods.len() as u64).saturating_sub(1),
        EndKind::Node { .. } => 1,
        _ => 0,
    }
}

/// The ends of the diff: pod classes, nodes, pseudo nodes, outside regions.
fn build_ends<'a>(irs: [&'a PolicyIr; 2], sides: &mut [SideTables<'a>; 2]) -> (Vec<End>, Vec<EndData>, Vec<String>, Vec<String>, usize) {
    let mut by_name: BTreeMap<&EndpointKind, [Option<usize>; 2]> = BTreeMap::new();
    for (side, ir) in irs.iter().enumerate() {
        for (index, endpoint) in ir.endpoints.iter().enumerate() {
            by_name.entry(&endpoint.kind).or_insert([None, None])[side] = Some(index);
        }
    }
    let mut only = [Vec::new(), Vec::new()];
    let mut common: Vec<[usize; 2]> = Vec::new();
    for (kind, indices) in &by_name {
        match indices {
            [Some(old), Some(new)] => common.push([*old, *new]),
            [Some(_), None] => only[0].push(kind.to_string()),
            [None, Some(_)] => only[1].push(kind.to_string()),
            [None, None] => {}
        }
    }
    let common_count = common.len();
    let nodes_are_endpoints = common.iter().any(|indices| irs[0].endpoints[indices[0]].is_host());

    type PodKey = ([[u32; 2]; 2], [NumericIdentity; 2], [Option<String>; 2]);
    let mut pod_classes: BTreeMap<PodKey, (Vec<String>, [usize; 2])> = BTreeMap::new();
    let mut ends: Vec<(End, EndData)> = Vec::new();
    for indices in &common {
        let endpoints = [&irs[0].endpoints[indices[0]], &irs[1].endpoints[indices[1]]];
        let mut policy = [[0u32; 2]; 2];
        for side in 0..2 {
            policy[side] = [sides[side].intern(indices[side], Direction::Egress), sides[side].intern(indices[side], Direction::Ingress)];
        }
        let node = [endpoints[0].node.clone(), endpoints[1].node.clone()];
        match &endpoints[0].kind {
            EndpointKind::Host { node: name } => {
                let end = End {
                    kind: EndKind::Node { name: name.clone() },
                    identity: [NumericIdentity::HOST, NumericIdentity::HOST],
                    identity_description: ["host".to_owned(), "host".to_owned()],
                };
                let data = EndData { policy: Some(policy), seen: Seen::HostOf(name.clone()), node: [Some(name.clone()), Some(name.clone())] };
                ends.push((end, data));
            }
            EndpointKind::Pod { .. } => {
                let identity = [endpoints[0].identity, endpoints[1].identity];
                let key_node = if nodes_are_endpoints { node.clone() } else { [None, None] };
                let class = pod_classes.entry((policy, identity, key_node)).or_insert_with(|| (Vec::new(), *indices));
                class.0.push(endpoints[0].kind.to_string());
            }
        }
    }
    let mut pods: Vec<(End, EndData)> = pod_classes
        .into_iter()
        .map(|((policy, identity, _), (mut members, indices))| {
            members.sort();
            let node = [irs[0].endpoints[indices[0]].node.clone(), irs[1].endpoints[indices[1]].node.clone()];
            let identity_description = [describe_identity(irs[0], identity[0]), describe_identity(irs[1], identity[1])];
            let end = End { kind: EndKind::Pods { pods: members }, identity, identity_description };
            (end, EndData { policy: Some(policy), seen: Seen::Fixed(identity), node })
        })
        .collect();
    pods.sort_by(|a, b| a.0.kind.cmp(&b.0.kind));
    pods.extend(ends);
    let mut ends = pods;
    if !nodes_are_endpoints {
        for (kind, identity, name) in [(EndKind::LocalHost, NumericIdentity::HOST, "host"), (EndKind::RemoteNode, NumericIdentity::REMOTE_NODE, "remote-node")]
        {
            let end = End { kind, identity: [identity, identity], identity_description: [name.to_owned(), name.to_owned()] };
            ends.push((end, EndData { policy: None, seen: Seen::Fixed([identity, identity]), node: [None, None] }));
        }
    }
    for end in external_ends(irs) {
        let data = EndData { policy: None, seen: Seen::Fixed(end.identity), node: [None, None] };
        ends.push((end, data));
    }
    let (ends, data): (Vec<End>, Vec<EndData>) = ends.into_iter().unzip();
    let [only_old, only_new] = only;
    (ends, data, only_old, only_new, common_count)
}

/// Enumerates every end pair on every port class, on both sides, and groups the changes.
pub(crate) fn compute(irs: [&PolicyIr; 2], port_classes: &PortClasses) -> Computed {
    let mut sides = [SideTables::new(irs[0]), SideTables::new(irs[1])];
    let (ends, data, only_old, only_new, common_endpoints) = build_ends(irs, &mut sides);
    let ports: Vec<(Protocol, u16)> = port_classes.classes().iter().map(|class| (class.protocol, class.port)).collect();
    let port_count = ports.len();
    let mut rows = Rows { rows: Vec::new(), ids: FastMap::default() };
    let allow_all = rows.intern(vec![ALLOWED; port_count]);
    let mut engine = Engine {
        sides,
        ports,
        rows,
        allow_all,
        reasons: [Vec::new(), Vec::new()],
        reason_ids: [FastMap::default(), FastMap::default()],
        reason_memo: FastMap::default(),
    };

    // Level 1 of the grouping, per end pair: the changed ports of each group key. Level 2,
    // across pairs: (key, destination, ports) → sources.
    let mut by_destination: FastMap<(GroupKey, u32, u32), Vec<u32>> = FastMap::default();
    let mut port_sets: Vec<Vec<u16>> = Vec::new();
    let mut port_set_ids: FastMap<Vec<u16>, u32> = FastMap::default();
    let mut set: Vec<u16> = Vec::new();
    let mut changed: Vec<(GroupKey, u16)> = Vec::new();
    let mut end_pairs: u64 = 0;
    for source in 0..ends.len() {
        for destination in 0..ends.len() {
            if pair_count(&ends, &data, source, destination) == 0 {
                continue;
            }
            end_pairs += 1;
            let (from, to) = (&data[source], &data[destination]);
            let mut row_ids = [[0u32; 2]; 2];
            let mut remotes = [[NumericIdentity::ANY; 2]; 2];
            for side in 0..2 {
                // The destination as the source's node sees it, and the other way round.
                let (destination_seen, source_seen) = (seen(to, from, side), seen(from, to, side));
                remotes[side] = [destination_seen, source_seen];
                row_ids[side][0] = match from.policy {
                    Some(policy) => engine.row(side, policy[side][0], destination_seen),
                    None => engine.allow_all,
                };
                row_ids[side][1] = match to.policy {
                    Some(policy) => engine.row(side, policy[side][1], source_seen),
                    None => engine.allow_all,
                };
            }
            if row_ids[0] == row_ids[1] {
                continue;
            }
            changed.clear();
            for port in 0..port_count {
                let verdicts: [u8; 2] =
                    [0, 1].map(|side| combine(engine.rows.rows[row_ids[side][0] as usize][port], engine.rows.rows[row_ids[side][1] as usize][port]));
                if verdicts[0] == verdicts[1] {
                    continue;
                }
                let mut reasons = [[NO_REASON; 2]; 2];
                for side in 0..2 {
                    let allowed = verdicts[side] & ALLOWED != 0;
                    if let Some(policy) = from.policy {
                        let egress = engine.rows.rows[row_ids[side][0] as usize][port];
                        if allowed || egress & ALLOWED == 0 {
                            reasons[side][0] = engine.reason(side, Direction::Egress, policy[side][0], remotes[side][0], port);
                        }
                    }
                    if let Some(policy) = to.policy {
                        let ingress = engine.rows.rows[row_ids[side][1] as usize][port];
                        if allowed || ingress & ALLOWED == 0 {
                            reasons[side][1] = engine.reason(side, Direction::Ingress, policy[side][1], remotes[side][1], port);
                        }
                    }
                }
                changed.push(((verdicts[0], verdicts[1], reasons[0], reasons[1]), port as u16));
            }
            if changed.is_empty() {
                continue;
            }
            changed.sort_unstable();
            let mut start = 0;
            while start < changed.len() {
                let key = changed[start].0;
                let end = start + changed[start..].iter().take_while(|(other, _)| *other == key).count();
                set.clear();
                set.extend(changed[start..end].iter().map(|(_, port)| *port));
                let set_id = match port_set_ids.get(set.as_slice()) {
                    Some(id) => *id,
                    None => {
                        let id = port_sets.len() as u32;
                        port_sets.push(set.clone());
                        port_set_ids.insert(set.clone(), id);
                        id
                    }
                };
                by_destination.entry((key, destination as u32, set_id)).or_default().push(source as u32);
                start = end;
            }
        }
    }

    // Level 3: (key, ports, sources) → destinations, in a deterministic order.
    let mut by_sources: BTreeMap<(GroupKey, Vec<u16>, Vec<u32>), Vec<u32>> = BTreeMap::new();
    for ((key, destination, set_id), sources) in by_destination {
        by_sources.entry((key, port_sets[set_id as usize].clone(), sources)).or_default().push(destination);
    }
    // A group's reasons, with the rules that enforce each direction over all its endpoints.
    let reasons_of = |side: usize, ids: [u32; 2], sources: &[u32], destinations: &[u32]| -> Vec<DirectionReason> {
        let mut reasons = Vec::new();
        for (slot, id) in ids.iter().enumerate() {
            if *id == NO_REASON {
                continue;
            }
            let mut reason = engine.reasons[side][*id as usize].clone();
            if matches!(reason.decision, Decision::DefaultDenied | Decision::AllowedByDefault) {
                let ends_of_direction = if slot == 0 { sources } else { destinations };
                let mut enforcing: BTreeSet<&RuleOrigin> = BTreeSet::new();
                for end in ends_of_direction {
                    if let Some(policy) = data[*end as usize].policy {
                        enforcing.extend(engine.sides[side].policies[policy[side][slot] as usize].selected_by.iter());
                    }
                }
                reason.enforced_by = enforcing.into_iter().cloned().collect();
            }
            reasons.push(reason);
        }
        reasons
    };
    let mut changes: Vec<FlowChange> = by_sources
        .into_iter()
        .map(|((key, ports, sources), mut destinations)| {
            destinations.sort_unstable();
            let mut endpoint_pairs = 0u64;
            for source in &sources {
                for destination in &destinations {
                    endpoint_pairs += pair_count(&ends, &data, *source as usize, *destination as usize);
                }
            }
            FlowChange {
                sources: sources.iter().map(|index| *index as usize).collect(),
                destinations: destinations.iter().map(|index| *index as usize).collect(),
                ports: ports.iter().map(|port| usize::from(*port)).collect(),
                old: FlowVerdict::from_code(key.0),
                new: FlowVerdict::from_code(key.1),
                old_reasons: reasons_of(0, key.2, &sources, &destinations),
                new_reasons: reasons_of(1, key.3, &sources, &destinations),
                endpoint_pairs,
            }
        })
        .collect();
    changes.sort_by(|a, b| {
        (&a.sources, &a.destinations, &a.ports, a.old, a.new, &a.old_reasons, &a.new_reasons).cmp(&(
            &b.sources,
            &b.destinations,
            &b.ports,
            b.old,
            b.new,
            &b.old_reasons,
            &b.new_reasons,
        ))
    });
    let stats = DiffStats { common_endpoints, ends: ends.len(), port_classes: port_count, end_pairs, rows: engine.rows.rows.len() };
    Computed { ends, changes, only_old, only_new, stats }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_directions_must_allow_and_flags_add_up() {
        assert_eq!(combine(ALLOWED, ALLOWED), ALLOWED);
        assert_eq!(combine(ALLOWED | L7_PROXY, ALLOWED | MUTUAL_AUTH), ALLOWED | L7_PROXY | MUTUAL_AUTH);
        assert_eq!(combine(0, ALLOWED | L7_PROXY), 0);
        assert_eq!(combine(ALLOWED, 0), 0);
    }
}
