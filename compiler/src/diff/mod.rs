//! Dry-run diff of two compiles (`polc diff`): the flows whose verdict changes and the
//! per-endpoint policy-map entries that change, computed from the two IRs alone.
//!
//! Flows are enumerated over classes, not one by one ([`flows`]): pods with the same identity
//! and the same policy on both sides are one end ([`ends`]), outside addresses are cut into
//! regions by every prefix either side names, and ports into classes that every entry of either
//! side treats alike ([`ports`]). Each class pair is evaluated on both sides with the semantics of
//! the reference evaluator, and the changes are grouped into rectangles (source set →
//! destination set, ports, old → new verdict, deciding rules). Map entries ([`entries`]) are
//! the IR's entries expanded to Cilium's policy-map keys (identity × direction × protocol ×
//! masked port) and compared by what their identities stand for, so that renumbered
//! identities do not look like new rules.
//!
//! Everything is deterministic: ends, ports and groups come out in sorted order.

pub mod ends;
pub mod entries;
mod flows;
pub mod inventory;
pub mod ports;

use std::fmt;

use polc_ir::{AuthMode, DecidingRule, Decision, Direction, PolicyIr, RuleOrigin, Verdict};

pub use ends::{End, EndKind, Region};
pub use entries::{
    EnforcementChange, EntryChange, EntryOrigin, EntryValue, EntryVerdict, IrEntrySource, MapEntry, MapEntrySource, PolicyMode, PortBlock, SourceEntry,
};
pub use ports::{PortClass, PortClasses};

/// The outcome of a flow, as the diff compares it: allowed or not, and for an allowed flow
/// whether the L7 proxy decides each request and whether mutual authentication must succeed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FlowVerdict {
    pub allowed: bool,
    /// Only allow rules with L7 rules match: the proxy decides each request.
    pub l7_proxy: bool,
    /// The deciding allow requires mutual authentication (`authentication.mode: required`).
    pub mutual_auth: bool,
}

const ALLOWED: u8 = 1;
const L7_PROXY: u8 = 2;
const MUTUAL_AUTH: u8 = 4;

impl FlowVerdict {
    pub const DENY: FlowVerdict = FlowVerdict { allowed: false, l7_proxy: false, mutual_auth: false };

    /// The verdict the reference evaluator gave, in the diff's terms.
    pub fn of(verdict: &Verdict) -> FlowVerdict {
        if !verdict.allowed {
            return FlowVerdict::DENY;
        }
        let directions = [&verdict.egress, &verdict.ingress];
        FlowVerdict {
            allowed: true,
            l7_proxy: directions.iter().filter_map(|direction| direction.as_ref()).any(|direction| direction.decision == Decision::AllowedToProxy),
            mutual_auth: directions
                .iter()
                .filter_map(|direction| direction.as_ref())
                .any(|direction| direction.allowed && direction.auth == Some(AuthMode::Required)),
        }
    }

    pub(crate) fn from_code(code: u8) -> FlowVerdict {
        if code & ALLOWED == 0 {
            return FlowVerdict::DENY;
        }
        FlowVerdict { allowed: true, l7_proxy: code & L7_PROXY != 0, mutual_auth: code & MUTUAL_AUTH != 0 }
    }

    /// `deny`, `allow`, `allow-l7`, `allow-auth` or `allow-l7-auth`.
    pub fn name(&self) -> &'static str {
        match (self.allowed, self.l7_proxy, self.mutual_auth) {
            (false, _, _) => "deny",
            (true, false, false) => "allow",
            (true, true, false) => "allow-l7",
            (true, false, true) => "allow-auth",
            (true, true, true) => "allow-l7-auth",
        }
    }

    /// A phrase for people: `allow via the L7 proxy`.
    pub fn describe(&self) -> &'static str {
        match (self.allowed, self.l7_proxy, self.mutual_auth) {
            (false, _, _) => "deny",
            (true, false, false) => "allow",
            (true, true, false) => "allow via the L7 proxy",
            (true, false, true) => "allow after mutual authentication",
            (true, true, true) => "allow via the L7 proxy after mutual authentication",
        }
    }
}

impl fmt::Display for FlowVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How one direction of one side decided a flow of a group.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DirectionReason {
    /// Egress of the source or ingress of the destination.
    pub direction: Direction,
    pub decision: Decision,
    /// The rules that decided, sorted (see [`polc_ir::DirectionVerdict::deciding`]).
    pub rules: Vec<DecidingRule>,
    /// For a decision no rule made (default-deny, default-allow): every rule that makes the
    /// direction enforced, over all the endpoints of the group.
    pub enforced_by: Vec<RuleOrigin>,
    pub auth: Option<AuthMode>,
}

/// A group of flows whose verdict changes the same way for the same reasons: every source end
/// to every destination end, on every port class listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowChange {
    /// Indices into [`PolicyDiff::ends`].
    pub sources: Vec<usize>,
    /// Indices into [`PolicyDiff::ends`].
    pub destinations: Vec<usize>,
    /// Indices into [`PolicyDiff::port_classes`].
    pub ports: Vec<usize>,
    pub old: FlowVerdict,
    pub new: FlowVerdict,
    /// The directions that decided on the old side: for a denied flow the ones that deny, for
    /// an allowed flow every direction that applies.
    pub old_reasons: Vec<DirectionReason>,
    pub new_reasons: Vec<DirectionReason>,
    /// How many (source, destination) pairs of endpoints or outside ends the group holds (a
    /// pod's traffic to itself is not a flow).
    pub endpoint_pairs: u64,
}

/// Sizes of the computation, for people who wonder how much was compared.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DiffStats {
    /// Endpoints on both sides.
    pub common_endpoints: usize,
    /// Ends after grouping equivalent endpoints and addresses.
    pub ends: usize,
    pub port_classes: usize,
    /// End pairs evaluated (each on every port class, on both sides).
    pub end_pairs: u64,
    /// Distinct (policy, remote identity) outcome rows computed.
    pub rows: usize,
}

/// The whole diff of an old and a new IR.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyDiff {
    /// Every end the flows were enumerated over, in display order.
    pub ends: Vec<End>,
    pub port_classes: PortClasses,
    /// The flows whose verdict changes, grouped.
    pub flows: Vec<FlowChange>,
    /// Policy-map entries that change, grouped by endpoints with the same change.
    pub entries: Vec<EntryChange>,
    /// Directions whose enforcement or default-deny changes.
    pub enforcement: Vec<EnforcementChange>,
    /// Endpoints (`namespace/pod`, `node:NAME`) only the old side has: their flows are not
    /// compared.
    pub endpoints_only_old: Vec<String>,
    /// Endpoints only the new side has.
    pub endpoints_only_new: Vec<String>,
    pub stats: DiffStats,
}

impl PolicyDiff {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
            && self.entries.is_empty()
            && self.enforcement.is_empty()
            && self.endpoints_only_old.is_empty()
            && self.endpoints_only_new.is_empty()
    }

    /// The number of (source, destination) pairs whose verdict changes on some port.
    pub fn changed_endpoint_pairs(&self) -> u64 {
        self.flows.iter().map(|change| change.endpoint_pairs).sum()
    }
}

/// Compares `old` with `new`, with the policy-map entries the IR implies ([`IrEntrySource`]).
pub fn diff(old: &PolicyIr, new: &PolicyIr) -> PolicyDiff {
    let irs = [old, new];
    // The IR's own entry source never fails.
    let entries = entries::compute(irs, &IrEntrySource).unwrap_or_default();
    assemble(irs, entries)
}

/// Compares `old` with `new`, with the policy-map entries `source` gives. The error is the
/// source's, when it cannot express an entry.
pub fn diff_with(old: &PolicyIr, new: &PolicyIr, source: &dyn MapEntrySource) -> Result<PolicyDiff, String> {
    let irs = [old, new];
    let entries = entries::compute(irs, source)?;
    Ok(assemble(irs, entries))
}

fn assemble(irs: [&PolicyIr; 2], (entries, enforcement): (Vec<EntryChange>, Vec<EnforcementChange>)) -> PolicyDiff {
    let port_classes = PortClasses::build(&irs);
    let computed = flows::compute(irs, &port_classes);
    PolicyDiff {
        ends: computed.ends,
        port_classes,
        flows: computed.changes,
        entries,
        enforcement,
        endpoints_only_old: computed.only_old,
        endpoints_only_new: computed.only_new,
        stats: computed.stats,
    }
}
