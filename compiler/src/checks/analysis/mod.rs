//! Analysis of policies against the inventory (codes `PLC7000`–`PLC7999`): what lowering to
//! the IR and resolving FlowTest flows find — names that resolve to nothing, peers polc cannot
//! resolve offline, and limits of the identity and endpoint spaces.
//!
//! These findings need the whole inventory, so they are not produced by the front end's
//! per-object checks: [`crate::lower::lower`] and [`crate::semantics`] produce them, one module
//! per finding here. The checks on resolved policy (deny shadowing, redundant rules, policy map
//! size) run on the IR once lowering has built it ([`check_resolved`]); endpoints whose policy in
//! a direction is equal (replicas of one deployment, usually) are analysed once.

pub mod allow_shadowed_by_deny;
pub mod cidr_group_unresolved;
pub mod cidr_zero_prefix_single_stack;
pub mod flow_endpoint_not_found;
pub mod flow_to_service_address;
pub mod fqdn_selects_nothing;
pub mod groups_unsupported;
pub mod host_policy_without_host_firewall;
pub mod identity_space_exhausted;
pub mod named_port_unresolved;
pub mod node_selector_labels_disabled;
pub mod policy_map_limit;
pub mod policy_selects_nothing;
pub mod redundant_rule;
pub mod service_not_found;

use std::collections::BTreeMap;
use std::hash::{Hash, Hasher};

use polc_ir::{Direction, DirectionPolicy, L4Match, PolicyIr};

use crate::diag::{Code, Diagnostic, Location};
use crate::frontend::Object;
use crate::inventory::Inventory;
use crate::lower::rules::RuleEntry;

pub static CODES: &[&Code] = &[
    &flow_endpoint_not_found::FLOW_ENDPOINT_NOT_FOUND,
    &fqdn_selects_nothing::FQDN_SELECTS_NOTHING,
    &named_port_unresolved::NAMED_PORT_UNRESOLVED,
    &policy_selects_nothing::POLICY_SELECTS_NOTHING,
    &service_not_found::SERVICE_NOT_FOUND,
    &node_selector_labels_disabled::NODE_SELECTOR_LABELS_DISABLED,
    &cidr_group_unresolved::CIDR_GROUP_UNRESOLVED,
    &groups_unsupported::GROUPS_UNSUPPORTED,
    &host_policy_without_host_firewall::HOST_POLICY_WITHOUT_HOST_FIREWALL,
    &identity_space_exhausted::IDENTITY_SPACE_EXHAUSTED,
    &flow_to_service_address::FLOW_TO_SERVICE_ADDRESS,
    &cidr_zero_prefix_single_stack::CIDR_ZERO_PREFIX_SINGLE_STACK,
    &allow_shadowed_by_deny::ALLOW_SHADOWED_BY_DENY,
    &redundant_rule::REDUNDANT_RULE,
    &policy_map_limit::POLICY_MAP_OVERFLOW,
];

/// What the checks on resolved policy look at: the IR and what it was built from.
pub(crate) struct Resolved<'a> {
    pub ir: &'a PolicyIr,
    pub objects: &'a [Object],
    pub inventory: &'a Inventory,
    /// The rule entries, in source order; rule `i`'s origin location is `rule_of_location`'s key.
    pub rules: &'a [RuleEntry],
    /// The source locations rule origins point at.
    pub locations: &'a [Location],
    /// The index of the rule whose origin has each location, by location ID.
    pub rule_of_location: Vec<Option<usize>>,
    pub groups: Vec<PolicyGroup<'a>>,
}

/// The policy of one or more endpoints in one direction, equal for all of them.
pub(crate) struct PolicyGroup<'a> {
    pub direction: Direction,
    pub policy: &'a DirectionPolicy,
    /// Indices into the IR's endpoints, ascending.
    pub endpoints: Vec<usize>,
}

impl<'a> Resolved<'a> {
    pub fn new(ir: &'a PolicyIr, objects: &'a [Object], inventory: &'a Inventory, rules: &'a [RuleEntry], locations: &'a [Location]) -> Self {
        let mut rule_of_location = vec![None; locations.len()];
        for (index, rule) in rules.iter().enumerate() {
            if let Some(slot) = rule.origin.location().and_then(|id| rule_of_location.get_mut(id.0 as usize)) {
                *slot = Some(index);
            }
        }
        Resolved { ir, objects, inventory, rules, locations, rule_of_location, groups: group_policies(ir) }
    }

    /// The rule an IR entry or selection came from (`None` for implicit rules).
    pub fn rule_of(&self, origin: &polc_ir::RuleOrigin) -> Option<usize> {
        origin.location().and_then(|id| self.rule_of_location.get(id.0 as usize).copied().flatten())
    }

    /// The location of rule `rule`.
    pub fn rule_location(&self, rule: usize) -> Option<&Location> {
        self.rules.get(rule).and_then(|rule| rule.origin.location()).and_then(|id| self.locations.get(id.0 as usize))
    }

    /// `rule `spec.ingress[0]` of CiliumNetworkPolicy `prod/web``.
    pub fn describe_rule(&self, rule: usize) -> String {
        match self.rules.get(rule).map(|rule| &rule.origin) {
            Some(polc_ir::RuleOrigin::Policy { kind, namespace, name, rule_path, .. }) => match namespace {
                Some(namespace) => format!("rule `{rule_path}` of {kind} `{namespace}/{name}`"),
                None => format!("rule `{rule_path}` of {kind} `{name}`"),
            },
            Some(polc_ir::RuleOrigin::Implicit(implicit)) => format!("the implicit rule `{}`", implicit.as_str()),
            None => "an unknown rule".to_owned(),
        }
    }

    /// Up to three rules by [`Resolved::describe_rule`], then how many more.
    pub fn describe_rules(&self, rules: &[usize]) -> String {
        let mut shown: Vec<String> = rules.iter().take(3).map(|rule| self.describe_rule(*rule)).collect();
        if rules.len() > 3 {
            shown.push(format!("{} more", rules.len() - 3));
        }
        match shown.len() {
            0 => String::new(),
            1 => shown.remove(0),
            _ => {
                let last = shown.pop().unwrap_or_default();
                format!("{} and {last}", shown.join(", "))
            }
        }
    }
}

/// A cheap fingerprint of a direction's policy: equal policies have equal fingerprints (whole
/// identity sets are not hashed, only their sizes and ends; equality is checked in full).
fn policy_fingerprint(direction: Direction, policy: &DirectionPolicy) -> u64 {
    let mut hasher = std::hash::DefaultHasher::new();
    direction.hash(&mut hasher);
    policy.enforced.hash(&mut hasher);
    policy.default_deny.hash(&mut hasher);
    policy.entries.len().hash(&mut hasher);
    for entry in &policy.entries {
        entry.verdict.hash(&mut hasher);
        entry.l4.hash(&mut hasher);
        entry.origin.location().hash(&mut hasher);
        match &entry.peers {
            polc_ir::Peers::Any => 0usize.hash(&mut hasher),
            polc_ir::Peers::Identities(identities) => {
                (identities.len() + 1).hash(&mut hasher);
                identities.first().hash(&mut hasher);
                identities.last().hash(&mut hasher);
            }
        }
    }
    policy.selected_by.len().hash(&mut hasher);
    hasher.finish()
}

/// Groups every endpoint's policy in each direction by equal content, in the order of first
/// appearance (ingress and egress groups interleaved by endpoint).
pub(crate) fn group_policies(ir: &PolicyIr) -> Vec<PolicyGroup<'_>> {
    let mut groups: Vec<PolicyGroup<'_>> = Vec::new();
    let mut by_hash: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (index, endpoint) in ir.endpoints.iter().enumerate() {
        for direction in [Direction::Ingress, Direction::Egress] {
            let policy = endpoint.policy(direction);
            let candidates = by_hash.entry(policy_fingerprint(direction, policy)).or_default();
            match candidates.iter().find(|group| groups[**group].direction == direction && groups[**group].policy == policy) {
                Some(group) => groups[*group].endpoints.push(index),
                None => {
                    candidates.push(groups.len());
                    groups.push(PolicyGroup { direction, policy, endpoints: vec![index] });
                }
            }
        }
    }
    groups
}

/// Whether `broad` matches every packet `narrow` matches.
pub(crate) fn l4_covers(broad: &L4Match, narrow: &L4Match) -> bool {
    match (broad, narrow) {
        (L4Match::Any, _) => true,
        (L4Match::Protocol { .. }, L4Match::Any) => false,
        (L4Match::Protocol { protocol: wide, ports: wide_ports }, L4Match::Protocol { protocol, ports }) => {
            wide == protocol && wide_ports.first() <= ports.first() && ports.last() <= wide_ports.last()
        }
    }
}

/// Whether `a` and `b` match some packet in common.
pub(crate) fn l4_overlaps(a: &L4Match, b: &L4Match) -> bool {
    match (a, b) {
        (L4Match::Any, _) | (_, L4Match::Any) => true,
        (L4Match::Protocol { protocol: first, ports: first_ports }, L4Match::Protocol { protocol: second, ports: second_ports }) => {
            first == second && first_ports.first() <= second_ports.last() && second_ports.first() <= first_ports.last()
        }
    }
}

/// The checks on resolved policy: allows shadowed by denies, redundant allows and policy maps
/// over `policy_map_max` entries. Sorted by the caller.
pub(crate) fn check_resolved(resolved: &Resolved<'_>, policy_map_max: usize) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let shadowed = allow_shadowed_by_deny::check(resolved, &mut diagnostics);
    redundant_rule::check(resolved, &shadowed, &mut diagnostics);
    policy_map_limit::check(resolved, policy_map_max, &mut diagnostics);
    diagnostics
}
