//! `PLC7013`: an allow rule whose every peer and port is denied by deny rules on every endpoint
//! it applies to. In Cilium a deny wins over every allow, however specific the allow is, so the
//! allow has no effect. Fix: remove the allow, or narrow the deny so that it leaves the allowed
//! traffic alone.
//!
//! The comparison is made on resolved policy, per endpoint and direction: for every remote
//! identity the allow names (or "any identity"), the deny entries that apply to that identity (or
//! to any identity) must together cover the allow's protocol and ports.

use std::collections::{BTreeMap, BTreeSet};

use polc_ir::{L4Match, Peers, PolicyEntry, RuleVerdict};

use super::{Resolved, l4_overlaps};
use crate::codes::code;
use crate::diag::{Code, Diagnostic, Severity};

code!(
    ALLOW_SHADOWED_BY_DENY,
    "PLC7013",
    "allow-shadowed-by-deny",
    Warning,
    "every peer and port an allow rule allows is denied by deny rules",
    "Cilium gives deny rules precedence over allow rules whatever their specificity: a narrow allow does not punch a hole in a broad deny, as it would in many firewalls. An allow rule all of whose traffic is also denied (for the same pods, in the same direction) therefore has no effect. polc compares the resolved rules for every pod of the inventory the allow applies to.

Example:
  ingressDeny:
  - fromEntities: [world]
  ingress:
  - fromCIDR: [203.0.113.0/24]      # denied anyway: these addresses are part of `world`
    toPorts: [{ports: [{port: \"443\"}]}]

Fix: remove the allow rule; or, if the traffic should pass, narrow the deny (its peers, ports or the pods it selects) so that it no longer covers the allowed traffic."
);

/// Whether `ranges` (inclusive) together cover `first..=last`.
fn ranges_cover(mut ranges: Vec<(u16, u16)>, first: u16, last: u16) -> bool {
    ranges.sort_unstable();
    let mut next = u32::from(first);
    for (start, end) in ranges {
        if u32::from(start) > next {
            break;
        }
        next = next.max(u32::from(end) + 1);
        if next > u32::from(last) {
            return true;
        }
    }
    false
}

/// Whether the union of the `covering` L4 matches covers `target`.
fn union_covers<'a>(covering: impl Iterator<Item = &'a L4Match>, target: &L4Match) -> bool {
    let mut ranges = Vec::new();
    for l4 in covering {
        match (l4, target) {
            (L4Match::Any, _) => return true,
            (L4Match::Protocol { protocol, ports }, L4Match::Protocol { protocol: wanted, .. }) if protocol == wanted => {
                ranges.push((ports.first(), ports.last()));
            }
            _ => {}
        }
    }
    match target {
        L4Match::Any => false,
        L4Match::Protocol { ports, .. } => ranges_cover(ranges, ports.first(), ports.last()),
    }
}

/// The deny entries that together cover every (peer, port) of `allow`, or `None` when some of
/// its traffic is not denied.
fn covering_denies<'a>(allow: &PolicyEntry, denies: &[&'a PolicyEntry]) -> Option<Vec<&'a PolicyEntry>> {
    let relevant: Vec<&PolicyEntry> = denies.iter().copied().filter(|deny| l4_overlaps(&deny.l4, &allow.l4)).collect();
    if relevant.is_empty() {
        return None;
    }
    let mut used: Vec<&PolicyEntry> = Vec::new();
    // "Any identity", and the addresses `toFQDNs` names would select once DNS answers are seen,
    // are only covered by denies of any identity.
    if matches!(allow.peers, Peers::Any) || !allow.pending_fqdns.is_empty() {
        let any: Vec<&PolicyEntry> = relevant.iter().copied().filter(|deny| matches!(deny.peers, Peers::Any)).collect();
        if !union_covers(any.iter().map(|deny| &deny.l4), &allow.l4) {
            return None;
        }
        used.extend(any);
    }
    if let Peers::Identities(identities) = &allow.peers {
        for identity in identities {
            let applying: Vec<&PolicyEntry> = relevant.iter().copied().filter(|deny| deny.peers.contains(*identity)).collect();
            if !union_covers(applying.iter().map(|deny| &deny.l4), &allow.l4) {
                return None;
            }
            used.extend(applying);
        }
    }
    Some(used)
}

/// Reports every allow rule that is shadowed on every endpoint it has entries for, and returns
/// those rules (by index).
pub(crate) fn check(resolved: &Resolved<'_>, diagnostics: &mut Vec<Diagnostic>) -> BTreeSet<usize> {
    // Per allow rule: `Some(denying rules)` while every entry seen so far is denied, `None` once
    // one is not.
    let mut states: BTreeMap<usize, Option<BTreeSet<usize>>> = BTreeMap::new();
    for group in &resolved.groups {
        if !group.policy.enforced {
            continue;
        }
        let denies: Vec<&PolicyEntry> = group.policy.entries.iter().filter(|entry| entry.verdict == RuleVerdict::Deny).collect();
        for entry in group.policy.entries.iter().filter(|entry| entry.verdict == RuleVerdict::Allow) {
            let Some(rule) = resolved.rule_of(&entry.origin) else { continue };
            let state = states.entry(rule).or_insert_with(|| Some(BTreeSet::new()));
            let Some(denying) = state else { continue };
            match covering_denies(entry, &denies) {
                Some(used) => denying.extend(used.iter().filter_map(|deny| resolved.rule_of(&deny.origin))),
                None => *state = None,
            }
        }
    }
    let mut shadowed = BTreeSet::new();
    for (rule, state) in states {
        let Some(denying) = state.filter(|denying| !denying.is_empty()) else { continue };
        let Some(location) = resolved.rule_location(rule) else { continue };
        let denying: Vec<usize> = denying.into_iter().collect();
        let mut diagnostic = Diagnostic::new(
            &ALLOW_SHADOWED_BY_DENY,
            format!(
                "this allow rule has no effect: every peer and port it allows is denied by {}, and a deny wins over any allow",
                resolved.describe_rules(&denying)
            ),
        )
        .at(location.clone())
        .with_label("denied in full")
        .with_help("remove this rule, or narrow the deny rule if this traffic should be allowed (checked against the pods of the inventory)");
        for deny in &denying {
            if let Some(deny_location) = resolved.rule_location(*deny) {
                diagnostic = diagnostic.with_related(deny_location.clone(), "the deny rule");
            }
        }
        diagnostics.push(diagnostic);
        shadowed.insert(rule);
    }
    shadowed
}

#[cfg(test)]
mod tests {
    use super::*;
    use polc_ir::{PortRange, Protocol};

    #[test]
    fn ranges_cover_only_without_gaps() {
        assert!(ranges_cover(vec![(80, 90), (91, 100)], 80, 100));
        assert!(ranges_cover(vec![(0, u16::MAX)], 0, u16::MAX));
        assert!(!ranges_cover(vec![(80, 89), (91, 100)], 80, 100));
        assert!(!ranges_cover(vec![(81, 100)], 80, 100));
        assert!(!ranges_cover(Vec::new(), 80, 80));
    }

    #[test]
    fn union_coverage_is_per_protocol() {
        let tcp = |first, last| L4Match::protocol(Protocol::TCP, PortRange::new(first, last));
        let udp_all = L4Match::protocol(Protocol::UDP, PortRange::ALL);
        assert!(union_covers([tcp(1, 100), tcp(101, 200)].iter(), &tcp(50, 150)));
        assert!(!union_covers([udp_all, tcp(1, 100)].iter(), &tcp(50, 150)));
        assert!(union_covers([L4Match::Any].iter(), &L4Match::Any));
        assert!(!union_covers([tcp(0, u16::MAX)].iter(), &L4Match::Any));
    }
}
