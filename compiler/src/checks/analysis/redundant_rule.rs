//! `PLC7014`: an allow rule that allows nothing other allow rules do not already allow, with the
//! same L7 rules and authentication, to every pod it applies to. Removing it changes no verdict.
//! Fix: remove the rule (or the broader one, if the narrow one states the intent).
//!
//! The check is conservative; a rule is reported only when both hold:
//! - on resolved policy, for every endpoint and direction the rule applies to, each of its
//!   entries is covered (every remote identity, the same or broader protocol and ports, equal L7
//!   rules and authentication) by entries of other rules, and other rules keep the direction
//!   enforced and, if this rule makes it default-deny, default-deny;
//! - as written, whatever the pods: for each peer and port of the rule, another rule of the same
//!   direction selects at least the same pods as subject (its selector is implied by this rule's),
//!   at least the same peers (selector implication, CIDR containment, `world`, `cluster`, `all`)
//!   and at least the same ports, with equal L7 rules and authentication.
//!
//! Rules are examined from the last to the first, and a rule reported is no longer counted as
//! covering the ones before it: of two equal rules only the second is reported, and every
//! reported rule can be removed at once.

use std::collections::{BTreeMap, BTreeSet};

use polc_ir::{Direction, IpPrefix, L7Rules, Peers, PolicyEntry, PortRange, Protocol, RuleVerdict};

use super::{Resolved, l4_covers, l4_overlaps};
use crate::codes::code;
use crate::diag::{Code, Diagnostic, Severity};
use crate::identity::{CLUSTER, Operator, Requirement, Selector};
use crate::lower::rules::{Peer, PeerSpec, PortSpec, PortValue, RuleEntry, Subject};
use crate::model::cilium_policy::Entity;

code!(
    REDUNDANT_RULE,
    "PLC7014",
    "redundant-rule",
    Warning,
    "an allow rule allows nothing that other rules do not already allow",
    "Every peer and port this rule allows is also allowed, to the same pods and with the same L7 rules and authentication, by other rules; removing it changes no verdict. Redundant rules make a policy harder to review, and the copy tends to drift from the original when one of them is edited.

polc reports a rule only when the other rules cover it as written (their subject and peer selectors are implied by this rule's, their CIDRs contain its CIDRs, their ports contain its ports) and also for every pod of the inventory. Of two equal rules only the later one is reported, and all reported rules can be removed together.

Example:
  ingress:
  - fromEndpoints: [{matchLabels: {app: web}}]
    toPorts: [{ports: [{port: \"8080\", protocol: TCP}]}]
  - fromEndpoints: [{matchLabels: {app: web}}]      # the first rule allows this already
    toPorts: [{ports: [{port: \"8080\", protocol: TCP}]}]

Fix: remove the redundant rule, or remove the broader rule instead if the narrow one is what was meant."
);

/// Whether every label set `narrow` selects also satisfies `wide`.
fn requirement_implies(narrow: &Requirement, wide: &Requirement) -> bool {
    if narrow.key != wide.key {
        return false;
    }
    let positive_sources = wide.source.is_none() || wide.source == narrow.source;
    let negative_sources = narrow.source.is_none() || narrow.source == wide.source;
    match (&narrow.operator, &wide.operator) {
        (Operator::In(narrow_values), Operator::In(wide_values)) => positive_sources && narrow_values.is_subset(wide_values),
        (Operator::In(_) | Operator::Exists, Operator::Exists) => positive_sources,
        (Operator::NotIn(narrow_values), Operator::NotIn(wide_values)) => negative_sources && wide_values.is_subset(narrow_values),
        (Operator::DoesNotExist, Operator::NotIn(_) | Operator::DoesNotExist) => negative_sources,
        _ => false,
    }
}

/// Whether every label set `narrow` selects is also selected by `wide` (each requirement of
/// `wide` follows from one requirement of `narrow`).
fn selector_implies(narrow: &Selector, wide: &Selector) -> bool {
    wide.requirements.iter().all(|wanted| narrow.requirements.iter().any(|given| requirement_implies(given, wanted)))
}

fn subject_covers(wide: &Subject, narrow: &Subject) -> bool {
    match (wide, narrow) {
        (Subject::Endpoints(wide), Subject::Endpoints(narrow)) | (Subject::Nodes(wide), Subject::Nodes(narrow)) => selector_implies(narrow, wide),
        _ => false,
    }
}

/// Whether `wide` (a CIDR with excepted prefixes) holds every address `narrow` holds: its prefix
/// contains `narrow`'s, and each prefix it keeps out is outside `narrow` or kept out by `narrow`
/// too.
fn cidr_covers(wide: (&IpPrefix, &[IpPrefix]), narrow: (&IpPrefix, &[IpPrefix])) -> bool {
    let (wide_prefix, wide_except) = wide;
    let (narrow_prefix, narrow_except) = narrow;
    wide_prefix.covers(narrow_prefix)
        && wide_except.iter().all(|hole| {
            let disjoint = !hole.covers(narrow_prefix) && !narrow_prefix.covers(hole);
            disjoint || narrow_except.iter().any(|kept_out| kept_out.covers(hole))
        })
}

/// Whether peer `wide` selects at least what peer `narrow` selects, whatever the inventory.
fn peer_covers(wide: &Peer, narrow: &Peer, cluster: &str) -> bool {
    match (wide, narrow) {
        (Peer::Any | Peer::Entity(Entity::All), _) => true,
        (_, Peer::Any | Peer::Entity(Entity::All)) => false,
        (Peer::Selector(wide), Peer::Selector(narrow)) => selector_implies(narrow, wide),
        (Peer::Identities(wide), Peer::Identities(narrow)) => narrow.is_subset(wide),
        (Peer::Entity(wide), Peer::Entity(narrow)) => {
            wide == narrow
                || (*wide == Entity::Cluster
                    && matches!(
                        narrow,
                        Entity::Host | Entity::RemoteNode | Entity::Init | Entity::Ingress | Entity::Health | Entity::Unmanaged | Entity::KubeApiserver
                    ))
        }
        // `world` is every identity with a world label: CIDR and FQDN identities have one.
        (Peer::Entity(Entity::World), Peer::Cidr { .. } | Peer::Fqdn(_)) => true,
        // `cluster` holds every pod of the local cluster, which is what such a selector names.
        (Peer::Entity(Entity::Cluster), Peer::Selector(narrow)) => {
            let local =
                Requirement { source: Some("k8s".to_owned()), key: CLUSTER.to_owned(), operator: Operator::In([cluster.to_owned()].into_iter().collect()) };
            narrow.requirements.iter().any(|given| requirement_implies(given, &local))
        }
        (Peer::Cidr { prefix: wide_prefix, except: wide_except }, Peer::Cidr { prefix, except }) => cidr_covers((wide_prefix, wide_except), (prefix, except)),
        (Peer::Fqdn(wide), Peer::Fqdn(narrow)) => wide == narrow,
        (Peer::Nodes(wide), Peer::Nodes(narrow)) => wide.requirements.is_empty() || wide == narrow,
        // A node peer selects `remote-node` at most.
        (Peer::Entity(Entity::RemoteNode | Entity::Cluster), Peer::Nodes(_)) => true,
        _ => false,
    }
}

/// One (protocol, port) unit of a rule as written, with the L7 rules of its port rule.
#[derive(Clone, Debug)]
enum PortAtom<'a> {
    /// No L4 given: everything.
    Any,
    One {
        protocol: Protocol,
        port: &'a PortValue,
        l7: Option<&'a L7Rules>,
    },
}

fn port_atoms(ports: &PortSpec) -> Vec<PortAtom<'_>> {
    match ports {
        PortSpec::All => vec![PortAtom::Any],
        PortSpec::Items(items) => items
            .iter()
            .flat_map(|item| item.protocols.iter().map(move |protocol| PortAtom::One { protocol: *protocol, port: &item.port, l7: item.l7.as_ref() }))
            .collect(),
    }
}

fn port_value_covers(wide: &PortValue, narrow: &PortValue) -> bool {
    match (wide, narrow) {
        (PortValue::Range(wide), PortValue::Range(narrow)) => wide.first() <= narrow.first() && narrow.last() <= wide.last(),
        (PortValue::Range(wide), PortValue::Named(_)) => *wide == PortRange::ALL,
        (PortValue::Named(wide), PortValue::Named(narrow)) => wide == narrow,
        (PortValue::Named(_), PortValue::Range(_)) => false,
    }
}

/// Whether the ports of `wide` hold `atom`, with equal L7 rules.
fn ports_cover(wide: &PortSpec, atom: &PortAtom<'_>) -> bool {
    match (wide, atom) {
        (PortSpec::All, PortAtom::Any) => true,
        (PortSpec::All, PortAtom::One { l7, .. }) => l7.is_none(),
        (PortSpec::Items(_), PortAtom::Any) => false,
        (PortSpec::Items(items), PortAtom::One { protocol, port, l7 }) => {
            items.iter().any(|item| item.protocols.contains(protocol) && item.l7.as_ref() == *l7 && port_value_covers(&item.port, port))
        }
    }
}

/// The peers of a rule as written; no peer field (with ports) is any peer.
fn peers_of(rule: &RuleEntry) -> &[Peer] {
    const ANY: &[Peer] = &[Peer::Any];
    match &rule.peers {
        PeerSpec::Wildcard => ANY,
        PeerSpec::Nothing => &[],
        PeerSpec::Peers(peers) => peers,
    }
}

/// Whether `rule`, as written, is covered by the rules `others` (each of which must select at
/// least its subjects): the rules that cover it, or `None`.
fn covered_as_written(rule: &RuleEntry, others: &[(usize, &RuleEntry)], cluster: &str) -> Option<BTreeSet<usize>> {
    let candidates: Vec<(usize, &RuleEntry, &[Peer])> = others
        .iter()
        .filter(|(_, other)| other.verdict == RuleVerdict::Allow && other.direction == rule.direction && other.auth == rule.auth)
        .map(|(index, other)| (*index, *other, peers_of(other)))
        .collect();
    // Whether each candidate's subject covers the rule's, worked out only for the candidates
    // whose peers and ports cover something (the comparison of selectors is the costly part).
    let mut subjects: Vec<Option<bool>> = vec![None; candidates.len()];
    let mut covering = BTreeSet::new();
    for peer in peers_of(rule) {
        for atom in port_atoms(&rule.ports) {
            let mut found = None;
            for (position, (index, other, other_peers)) in candidates.iter().enumerate() {
                if !ports_cover(&other.ports, &atom) || !other_peers.iter().any(|wide| peer_covers(wide, peer, cluster)) {
                    continue;
                }
                if *subjects[position].get_or_insert_with(|| subject_covers(&other.subject, &rule.subject)) {
                    found = Some(*index);
                    break;
                }
            }
            covering.insert(found?);
        }
    }
    Some(covering)
}

fn peers_intersect(first: &Peers, second: &Peers) -> bool {
    match (first, second) {
        (Peers::Any, other) | (other, Peers::Any) => !other.is_empty(),
        (Peers::Identities(first), Peers::Identities(second)) => first.intersection(second).next().is_some(),
    }
}

/// Whether `entry` is covered by `allows` (other rules' allow entries of the same endpoint and
/// direction): for each of its identities, an entry with that identity (or any) and the same or
/// broader L4, equal L7 rules and authentication.
///
/// An entry that shares traffic with an allow of other L7 rules or authentication is never
/// covered: Cilium keeps L7 rules per port filter, so an allow without L7 rules on one port lifts
/// the L7 rules of that port for its peers, which a broader allow on other filters does not.
fn entry_covered(entry: &PolicyEntry, allows: &[(usize, &PolicyEntry)]) -> bool {
    let differing = allows.iter().any(|(_, other)| {
        let shares_fqdns = !entry.pending_fqdns.is_empty() && (matches!(other.peers, Peers::Any) || !other.pending_fqdns.is_empty());
        (other.l7 != entry.l7 || other.auth != entry.auth) && l4_overlaps(&other.l4, &entry.l4) && (peers_intersect(&other.peers, &entry.peers) || shares_fqdns)
    });
    if differing {
        return false;
    }
    let candidates: Vec<&PolicyEntry> =
        allows.iter().map(|(_, other)| *other).filter(|other| other.l7 == entry.l7 && other.auth == entry.auth && l4_covers(&other.l4, &entry.l4)).collect();
    let any = candidates.iter().any(|other| matches!(other.peers, Peers::Any));
    // The addresses `toFQDNs` names would select once DNS answers are seen.
    let fqdns_covered =
        entry.pending_fqdns.is_empty() || any || candidates.iter().any(|other| entry.pending_fqdns.iter().all(|name| other.pending_fqdns.contains(name)));
    fqdns_covered
        && match &entry.peers {
            Peers::Any => any,
            Peers::Identities(identities) => any || identities.iter().all(|identity| candidates.iter().any(|other| other.peers.contains(*identity))),
        }
}

/// Per policy group: its selecting rules and its allow entries by rule.
struct GroupView<'a> {
    direction: Direction,
    selectors: Vec<usize>,
    allows: Vec<(usize, &'a PolicyEntry)>,
}

pub(crate) fn check(resolved: &Resolved<'_>, shadowed: &BTreeSet<usize>, diagnostics: &mut Vec<Diagnostic>) {
    let rules = resolved.rules;
    let cluster = resolved.ir.settings.cluster_name.as_str();
    let mut views: Vec<GroupView<'_>> = Vec::new();
    let mut groups_of_rule: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for group in resolved.groups.iter().filter(|group| group.policy.enforced) {
        let mut selectors: Vec<usize> = group.policy.selected_by.iter().filter_map(|origin| resolved.rule_of(origin)).collect();
        selectors.sort_unstable();
        selectors.dedup();
        let allows: Vec<(usize, &PolicyEntry)> = group
            .policy
            .entries
            .iter()
            .filter(|entry| entry.verdict == RuleVerdict::Allow)
            .filter_map(|entry| resolved.rule_of(&entry.origin).map(|rule| (rule, entry)))
            .collect();
        for selector in &selectors {
            groups_of_rule.entry(*selector).or_default().push(views.len());
        }
        views.push(GroupView { direction: group.direction, selectors, allows });
    }

    let mut removed = vec![false; rules.len()];
    for (index, rule) in rules.iter().enumerate().rev() {
        if rule.verdict != RuleVerdict::Allow || matches!(rule.peers, PeerSpec::Nothing) || shadowed.contains(&index) {
            continue;
        }
        let Some(groups) = groups_of_rule.get(&index) else { continue };
        let Some(location) = resolved.rule_location(index) else { continue };
        // As written: the other rules that select every endpoint this one selects (those of any
        // one of its groups suffice as candidates; coverage of the subject is checked).
        let Some(first) = groups.iter().find(|group| views[**group].direction == rule.direction) else { continue };
        let others: Vec<(usize, &RuleEntry)> =
            views[*first].selectors.iter().filter(|other| **other != index && !removed[**other]).map(|other| (*other, &rules[*other])).collect();
        let Some(covering) = covered_as_written(rule, &others, cluster) else { continue };
        if covering.is_empty() {
            continue;
        }
        if rule.default_deny
            && !others.iter().any(|(_, other)| other.default_deny && other.direction == rule.direction && subject_covers(&other.subject, &rule.subject))
        {
            continue;
        }
        // On resolved policy, for every endpoint it selects.
        let mut produced = false;
        let mut redundant = true;
        for group in groups {
            let view = &views[*group];
            if view.direction != rule.direction {
                continue;
            }
            let others_select = view.selectors.iter().any(|other| *other != index && !removed[*other]);
            let others_deny_by_default = view.selectors.iter().any(|other| *other != index && !removed[*other] && rules[*other].default_deny);
            if !others_select || (rule.default_deny && !others_deny_by_default) {
                redundant = false;
                break;
            }
            let allows: Vec<(usize, &PolicyEntry)> = view.allows.iter().filter(|(other, _)| *other != index && !removed[*other]).copied().collect();
            for (_, entry) in view.allows.iter().filter(|(owner, _)| *owner == index) {
                produced = true;
                if !entry_covered(entry, &allows) {
                    redundant = false;
                    break;
                }
            }
            if !redundant {
                break;
            }
        }
        if !redundant || !produced {
            continue;
        }
        removed[index] = true;
        let covering: Vec<usize> = covering.into_iter().collect();
        let mut diagnostic = Diagnostic::new(
            &REDUNDANT_RULE,
            format!("this rule allows nothing new: everything it allows is already allowed, to the same pods, by {}", resolved.describe_rules(&covering)),
        )
        .at(location.clone())
        .with_label("redundant")
        .with_help("remove this rule, or remove the broader rule instead if this one states the intent");
        for other in &covering {
            if let Some(other_location) = resolved.rule_location(*other) {
                diagnostic = diagnostic.with_related(other_location.clone(), "allowed here already");
            }
        }
        diagnostics.push(diagnostic);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn requirement(source: Option<&str>, key: &str, operator: Operator) -> Requirement {
        Requirement { source: source.map(str::to_owned), key: key.to_owned(), operator }
    }

    fn values(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|item| (*item).to_owned()).collect()
    }

    #[test]
    fn requirement_implication_respects_operators_and_sources() {
        let web = requirement(Some("k8s"), "app", Operator::In(values(&["web"])));
        let web_or_api = requirement(None, "app", Operator::In(values(&["web", "api"])));
        assert!(requirement_implies(&web, &web_or_api));
        assert!(!requirement_implies(&web_or_api, &web));
        assert!(requirement_implies(&web, &requirement(None, "app", Operator::Exists)));
        assert!(!requirement_implies(&web, &requirement(Some("container"), "app", Operator::Exists)));
        let not_db = requirement(Some("k8s"), "app", Operator::NotIn(values(&["db"])));
        let not_db_or_cache = requirement(Some("k8s"), "app", Operator::NotIn(values(&["db", "cache"])));
        assert!(requirement_implies(&not_db_or_cache, &not_db));
        assert!(!requirement_implies(&not_db, &not_db_or_cache));
        // A label of another source could carry the excluded value.
        assert!(!requirement_implies(&not_db, &requirement(None, "app", Operator::NotIn(values(&["db"])))));
        assert!(requirement_implies(&requirement(None, "app", Operator::DoesNotExist), &not_db));
    }

    #[test]
    fn selector_implication_needs_every_wide_requirement() {
        let narrow = Selector { requirements: vec![Selector::equals("app", "web"), Selector::equals("io.kubernetes.pod.namespace", "prod")] };
        let namespace = Selector { requirements: vec![Selector::equals("io.kubernetes.pod.namespace", "prod")] };
        assert!(selector_implies(&narrow, &namespace));
        assert!(selector_implies(&narrow, &Selector::default()));
        assert!(!selector_implies(&namespace, &narrow));
    }

    #[test]
    fn cidr_containment_keeps_exceptions_in_mind() {
        let prefix = |text: &str| IpPrefix::parse(text).expect("a prefix");
        let wide = prefix("10.0.0.0/8");
        let narrow = prefix("10.1.0.0/16");
        assert!(cidr_covers((&wide, &[]), (&narrow, &[])));
        assert!(!cidr_covers((&narrow, &[]), (&wide, &[])));
        // The wide CIDR keeps out part of the narrow one: not covered, unless the narrow one
        // keeps it out too.
        let hole = [prefix("10.1.2.0/24")];
        assert!(!cidr_covers((&wide, &hole), (&narrow, &[])));
        assert!(cidr_covers((&wide, &hole), (&narrow, &hole)));
        assert!(cidr_covers((&wide, &[prefix("10.2.0.0/16")]), (&narrow, &[])));
        assert!(!cidr_covers((&wide, &[prefix("10.0.0.0/15")]), (&narrow, &[])));
    }
}
