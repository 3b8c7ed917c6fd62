//! Port equivalence classes: the ports and protocols of a diff, cut into classes that every
//! policy entry of either side treats alike.
//!
//! Every `(protocol, port range)` an entry of either IR names splits its protocol's ports into
//! elementary intervals; two intervals are equivalent when the same named ranges cover them.
//! Ports that no range covers, of any protocol, behave alike too (only entries that match every
//! protocol apply to them): they form one class, "any other port or protocol". One
//! representative port of each class stands for all of it.

use std::collections::{BTreeMap, BTreeSet};

use polc_ir::{L4Match, PolicyIr, PortRange, Protocol};

/// One class of equivalent ports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortClass {
    /// The intervals of the class, by protocol then first port; empty for the class of ports
    /// that no rule names.
    pub ranges: Vec<(Protocol, PortRange)>,
    /// Whether this is the class of every port and protocol that no rule names.
    pub other: bool,
    /// The protocol of the port that stands for the class.
    pub protocol: Protocol,
    /// The port (ICMP type for ICMP) that stands for the class.
    pub port: u16,
}

impl PortClass {
    /// `TCP 8080`, `UDP 53, 5353`, `TCP any port except 80`, `ICMP type 8`, `any other port or
    /// protocol`.
    pub fn describe(&self) -> String {
        if self.other {
            return "any other port or protocol".to_owned();
        }
        let mut by_protocol: BTreeMap<Protocol, Vec<PortRange>> = BTreeMap::new();
        for (protocol, range) in &self.ranges {
            by_protocol.entry(*protocol).or_default().push(*range);
        }
        let parts: Vec<String> = by_protocol.iter().map(|(protocol, ranges)| describe_ranges(*protocol, ranges)).collect();
        parts.join("; ")
    }

    /// Whether `port` of `protocol` is in one of the class's intervals (always false for the
    /// class of other ports: ask [`PortClasses::class_of`]).
    pub fn lists(&self, protocol: Protocol, port: u16) -> bool {
        self.ranges.iter().any(|(listed, range)| *listed == protocol && range.contains(port))
    }
}

fn show_range(range: &PortRange) -> String {
    if range.first() == range.last() { range.first().to_string() } else { format!("{}-{}", range.first(), range.last()) }
}

/// The ranges of one protocol, in the shorter of the two forms: listed, or as every port but
/// the complement.
fn describe_ranges(protocol: Protocol, ranges: &[PortRange]) -> String {
    let complement = complement(ranges);
    let (word, plural) = if protocol.is_icmp() { ("type", "types") } else { ("port", "ports") };
    if !complement.is_empty() && complement.len() < ranges.len() {
        let shown: Vec<String> = complement.iter().map(show_range).collect();
        return format!("{protocol} any {word} except {}", shown.join(", "));
    }
    if complement.is_empty() {
        return format!("{protocol} any {word}");
    }
    let shown: Vec<String> = ranges.iter().map(show_range).collect();
    if protocol.is_icmp() {
        let word = if ranges.len() == 1 && ranges[0].first() == ranges[0].last() { word } else { plural };
        format!("{protocol} {word} {}", shown.join(", "))
    } else {
        format!("{protocol} {}", shown.join(", "))
    }
}

/// The ports of 0..=65535 outside `ranges` (sorted, disjoint).
fn complement(ranges: &[PortRange]) -> Vec<PortRange> {
    let mut gaps = Vec::new();
    let mut next: u32 = 0;
    for range in ranges {
        if u32::from(range.first()) > next {
            gaps.push(PortRange::new(next as u16, range.first() - 1));
        }
        next = u32::from(range.last()) + 1;
    }
    if next <= u32::from(u16::MAX) {
        gaps.push(PortRange::new(next as u16, u16::MAX));
    }
    gaps
}

/// An elementary interval of one protocol's ports and the named ranges covering it.
type Interval = (u16, u16, Vec<usize>);

/// The port classes of a diff.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PortClasses {
    classes: Vec<PortClass>,
    /// Per protocol some range names: the elementary intervals `(first, last, class)`, sorted
    /// and covering 0..=65535.
    intervals: BTreeMap<Protocol, Vec<(u16, u16, usize)>>,
    other: Option<usize>,
}

/// Protocols tried, in order, for the port that stands for "any other port or protocol".
const OTHER_CANDIDATES: [Protocol; 5] = [Protocol::TCP, Protocol::UDP, Protocol::SCTP, Protocol::ICMP, Protocol::ICMPV6];

/// A representative port inside `first..=last`: port 0 is no port a connection uses, so a
/// ported protocol prefers 1 when the interval holds it.
fn representative(protocol: Protocol, first: u16, last: u16) -> u16 {
    if protocol.has_ports() && first == 0 && last >= 1 { 1 } else { first }
}

impl PortClasses {
    /// The classes of every port range the entries of `irs` name.
    pub fn build(irs: &[&PolicyIr]) -> PortClasses {
        let mut named: BTreeMap<Protocol, BTreeSet<PortRange>> = BTreeMap::new();
        for ir in irs {
            for endpoint in &ir.endpoints {
                for policy in [&endpoint.ingress, &endpoint.egress] {
                    for entry in &policy.entries {
                        if let L4Match::Protocol { protocol, ports } = entry.l4 {
                            named.entry(protocol).or_default().insert(ports);
                        }
                    }
                }
            }
        }
        // Per protocol: the elementary intervals and the set of named ranges covering each.
        let mut cut: Vec<(Protocol, Vec<Interval>)> = Vec::new();
        for (protocol, ranges) in &named {
            let ranges: Vec<PortRange> = ranges.iter().copied().collect();
            let mut bounds: BTreeSet<u32> = BTreeSet::new();
            bounds.insert(0);
            for range in &ranges {
                bounds.insert(u32::from(range.first()));
                bounds.insert(u32::from(range.last()) + 1);
            }
            bounds.insert(u32::from(u16::MAX) + 1);
            let bounds: Vec<u32> = bounds.into_iter().collect();
            // Sweep: ranges sorted by first port enter the active set as the interval reaches them.
            let mut by_first: Vec<usize> = (0..ranges.len()).collect();
            by_first.sort_by_key(|index| ranges[*index].first());
            let mut next_to_enter = 0;
            let mut active: BTreeSet<usize> = BTreeSet::new();
            let mut intervals = Vec::new();
            for window in bounds.windows(2) {
                let (first, last) = (window[0] as u16, (window[1] - 1) as u16);
                while next_to_enter < by_first.len() && ranges[by_first[next_to_enter]].first() <= first {
                    active.insert(by_first[next_to_enter]);
                    next_to_enter += 1;
                }
                active.retain(|index| ranges[*index].last() >= first);
                intervals.push((first, last, active.iter().copied().collect::<Vec<usize>>()));
            }
            cut.push((*protocol, intervals));
        }
        let mut classes: Vec<PortClass> = Vec::new();
        let mut by_signature: BTreeMap<(Protocol, Vec<usize>), usize> = BTreeMap::new();
        let mut intervals: BTreeMap<Protocol, Vec<(u16, u16, usize)>> = BTreeMap::new();
        let mut other_intervals: Vec<(Protocol, u16, u16)> = Vec::new();
        const OTHER: usize = usize::MAX;
        for (protocol, cut_intervals) in cut {
            let mut table = Vec::with_capacity(cut_intervals.len());
            for (first, last, signature) in cut_intervals {
                if signature.is_empty() {
                    other_intervals.push((protocol, first, last));
                    table.push((first, last, OTHER));
                    continue;
                }
                let index = *by_signature.entry((protocol, signature)).or_insert_with(|| {
                    classes.push(PortClass { ranges: Vec::new(), other: false, protocol, port: representative(protocol, first, last) });
                    classes.len() - 1
                });
                classes[index].ranges.push((protocol, PortRange::new(first, last)));
                table.push((first, last, index));
            }
            intervals.insert(protocol, table);
        }
        // The port that stands for every port no rule names.
        let unnamed_protocol = OTHER_CANDIDATES.into_iter().chain((0..=u8::MAX).map(Protocol)).find(|protocol| !named.contains_key(protocol));
        let other_port = OTHER_CANDIDATES
            .iter()
            .find_map(|wanted| {
                other_intervals
                    .iter()
                    .find(|(protocol, _, _)| protocol == wanted)
                    .map(|(protocol, first, last)| (*protocol, representative(*protocol, *first, *last)))
            })
            .or_else(|| {
                unnamed_protocol.map(|protocol| {
                    let port = match protocol {
                        Protocol::ICMP => 8,
                        Protocol::ICMPV6 => 128,
                        protocol if protocol.has_ports() => 1,
                        _ => 0,
                    };
                    (protocol, port)
                })
            })
            .or_else(|| other_intervals.first().map(|(protocol, first, last)| (*protocol, representative(*protocol, *first, *last))));
        let other = other_port.map(|(protocol, port)| {
            classes.push(PortClass { ranges: Vec::new(), other: true, protocol, port });
            classes.len() - 1
        });
        for table in intervals.values_mut() {
            for interval in table.iter_mut() {
                if interval.2 == OTHER {
                    // `other` exists whenever an unnamed interval does.
                    interval.2 = other.unwrap_or(0);
                }
            }
        }
        PortClasses { classes, intervals, other }
    }

    pub fn classes(&self) -> &[PortClass] {
        &self.classes
    }

    pub fn len(&self) -> usize {
        self.classes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.classes.is_empty()
    }

    pub fn get(&self, index: usize) -> Option<&PortClass> {
        self.classes.get(index)
    }

    /// The class of `port` of `protocol`.
    pub fn class_of(&self, protocol: Protocol, port: u16) -> Option<usize> {
        match self.intervals.get(&protocol) {
            Some(table) => {
                let position = table.partition_point(|(first, _, _)| *first <= port);
                position.checked_sub(1).map(|index| table[index].2)
            }
            None => self.other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complements_are_shown_when_shorter() {
        let ranges = [PortRange::new(0, 79), PortRange::new(81, 65535)];
        assert_eq!(describe_ranges(Protocol::TCP, &ranges), "TCP any port except 80");
        assert_eq!(describe_ranges(Protocol::TCP, &[PortRange::single(8080)]), "TCP 8080");
        assert_eq!(describe_ranges(Protocol::UDP, &[PortRange::ALL]), "UDP any port");
        assert_eq!(describe_ranges(Protocol::ICMP, &[PortRange::single(8)]), "ICMP type 8");
        assert_eq!(describe_ranges(Protocol::TCP, &[PortRange::new(8000, 8080), PortRange::single(9090)]), "TCP 8000-8080, 9090");
    }
}
