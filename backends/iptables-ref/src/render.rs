//! The rendering: the L3/L4 policy of one node's endpoints as `iptables-restore` input (the
//! `filter` table, one text per address family) and `ipset restore` input.
//!
//! Layout of the table, for the endpoints of one node:
//!
//! - `INPUT`, `FORWARD` and `OUTPUT` each jump to `POLC-FILTER`. Placed in the node's network
//!   namespace, `FORWARD` sees pod-to-pod and pod-to-outside traffic, `OUTPUT` traffic the node
//!   itself sends and `INPUT` traffic to the node. Placed inside one endpoint's own namespace,
//!   `OUTPUT` is the endpoint's egress and `INPUT` its ingress. The same text is right in both
//!   places because dispatch is by address, not by hook.
//! - `POLC-FILTER` accepts established and related packets first (Cilium's conntrack accepts
//!   established flows before any policy lookup) and, in the IPv6 table, neighbor discovery
//!   (ICMPv6 133–136 with hop limit 255: the IPv6 counterpart of ARP, which Cilium answers
//!   before policy and which a forwarded flow can never carry), then jumps to `POLC-EGRESS` and
//!   `POLC-INGRESS`.
//! - `POLC-EGRESS` jumps by source address to the egress chain of the endpoint that owns it,
//!   `POLC-INGRESS` by destination address to the ingress chain. A flow between two endpoints of
//!   the node passes both, as policy demands (egress of the source AND ingress of the
//!   destination).
//! - `POLC-EP<ID>-IN` / `POLC-EP<ID>-OUT`, one per enforced direction of an endpoint: deny
//!   entries first (`DROP`; Cilium's deny precedence), then, where some allow has authentication
//!   `test-always-fail`, one rule per region whose deciding policy-map key has one mode (`DROP`
//!   where that mode is `test-always-fail`, `RETURN` where another allow's key decides; see
//!   `auth_cells`), then every allow (`RETURN`: this
//!   direction allows, the other direction still decides), then the default: `DROP` when the
//!   direction is default-deny, `RETURN` otherwise. Allows with L7 rules are allowed at L4 and
//!   marked with a comment starting with `L7`. A direction that is not enforced gets no chain.
//!
//! Remote identities are matched with `hash:net` sets (see [`crate::sets`]), one per identity
//! that appears as a peer, per family (`POLC-ID<N>-V4`, `POLC-ID<N>-V6`). An entry whose peers
//! are every identity matches no set. ICMP entries go to the IPv4 table only, ICMPv6 entries to
//! the IPv6 table only.
//!
//! Loading: `ipset -exist restore` first (every set is created if missing and flushed), then
//! `iptables-restore` and `ip6tables-restore`, which replace the whole `filter` table.
//!
//! Everything is sorted: the same IR gives byte-identical text.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;
use std::net::IpAddr;

use polc_ir::{
    AuthMode, Direction, DirectionPolicy, Endpoint, EndpointId, L4Match, L7Rules, NumericIdentity, Peers, PolicyEntry, PolicyIr, PortRange, Protocol,
    RuleVerdict,
};

use crate::sets::{Family, FamilyTable, SetEntry};

/// The chain every built-in chain jumps to.
pub const FILTER_CHAIN: &str = "POLC-FILTER";
/// The chain that dispatches by source address to the endpoints' egress chains.
pub const EGRESS_CHAIN: &str = "POLC-EGRESS";
/// The chain that dispatches by destination address to the endpoints' ingress chains.
pub const INGRESS_CHAIN: &str = "POLC-INGRESS";

/// ICMPv6 router solicitation and advertisement, neighbor solicitation and advertisement.
const NEIGHBOR_DISCOVERY_TYPES: [u8; 4] = [133, 134, 135, 136];

/// The longest comment iptables keeps (256 bytes with the terminating zero).
const MAX_COMMENT: usize = 255;

/// The chain of one endpoint and direction: `POLC-EP<ID>-IN` or `POLC-EP<ID>-OUT` (at most 16
/// characters; iptables allows 28).
pub fn chain_name(endpoint: EndpointId, direction: Direction) -> String {
    match direction {
        Direction::Ingress => format!("POLC-EP{}-IN", endpoint.0),
        Direction::Egress => format!("POLC-EP{}-OUT", endpoint.0),
    }
}

/// The address set of one identity and family: `POLC-ID<N>-V4` or `POLC-ID<N>-V6` (at most 20
/// characters; ipset allows 31).
pub fn set_name(identity: NumericIdentity, family: Family) -> String {
    match family {
        Family::V4 => format!("POLC-ID{}-V4", identity.0),
        Family::V6 => format!("POLC-ID{}-V6", identity.0),
    }
}

/// One rendered node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendering {
    /// The node whose endpoints are rendered; `None` for endpoints without a node.
    pub node: Option<String>,
    /// `ipset restore` input (load with `ipset -exist restore`).
    pub ipset: String,
    /// `iptables-restore` input (IPv4 `filter` table).
    pub iptables: String,
    /// `ip6tables-restore` input (IPv6 `filter` table).
    pub ip6tables: String,
    pub stats: RenderStats,
}

/// Sizes of a rendering.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RenderStats {
    pub endpoints: usize,
    pub rules_ipv4: usize,
    pub rules_ipv6: usize,
    pub sets: usize,
    pub set_entries: usize,
}

/// Every node that has endpoints, sorted, with `None` (endpoints without a node) first.
pub fn node_names(ir: &PolicyIr) -> Vec<Option<String>> {
    let names: BTreeSet<Option<String>> = ir.endpoints.iter().map(|endpoint| endpoint.node.clone()).collect();
    names.into_iter().collect()
}

/// One rendering per node that has endpoints (see [`node_names`]).
pub fn render_all(ir: &PolicyIr) -> Vec<Rendering> {
    node_names(ir).iter().map(|node| render_node(ir, node.as_deref())).collect()
}

/// Renders the endpoints of `node` (`None`: the endpoints without a node), with identities as
/// that node sees them.
pub fn render_node(ir: &PolicyIr, node: Option<&str>) -> Rendering {
    let mut endpoints: Vec<&Endpoint> = ir.endpoints.iter().filter(|endpoint| endpoint.node.as_deref() == node).collect();
    endpoints.sort_by_key(|endpoint| endpoint.id);
    let ipcache = ir.ipcache(node);
    let tables: Vec<FamilyTable> =
        Family::BOTH.iter().map(|family| FamilyTable::new(*family, &ipcache, ir.settings.world_of(family.root().address()))).collect();

    // Every identity that some rendered entry names as a peer.
    let mut wanted: BTreeSet<NumericIdentity> = BTreeSet::new();
    for endpoint in &endpoints {
        for direction in [Direction::Ingress, Direction::Egress] {
            let policy = endpoint.policy(direction);
            if !policy.enforced {
                continue;
            }
            for entry in &policy.entries {
                if let Peers::Identities(identities) = &entry.peers {
                    wanted.extend(identities.iter().copied());
                }
            }
        }
    }
    let sets: BTreeMap<Family, BTreeMap<NumericIdentity, Vec<SetEntry>>> = tables.iter().map(|table| (table.family(), table.set_entries(&wanted))).collect();

    let scope = match node {
        Some(name) => format!("node `{name}`"),
        None => "the endpoints without a node".to_owned(),
    };
    let mut stats = RenderStats { endpoints: endpoints.len(), ..RenderStats::default() };
    let ipset = render_ipset(&scope, &sets, &mut stats);
    let (iptables, rules_ipv4) = render_table(ir, &scope, Family::V4, &endpoints, &sets[&Family::V4]);
    let (ip6tables, rules_ipv6) = render_table(ir, &scope, Family::V6, &endpoints, &sets[&Family::V6]);
    stats.rules_ipv4 = rules_ipv4;
    stats.rules_ipv6 = rules_ipv6;
    Rendering { node: node.map(str::to_owned), ipset, iptables, ip6tables, stats }
}

fn render_ipset(scope: &str, sets: &BTreeMap<Family, BTreeMap<NumericIdentity, Vec<SetEntry>>>, stats: &mut RenderStats) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# polc iptables reference rendering for {scope}: identity address sets");
    let _ = writeln!(out, "# load with `ipset -exist restore` before the iptables rules; each set is created if missing and flushed");
    for (family, by_identity) in sets {
        for (identity, entries) in by_identity {
            let name = set_name(*identity, *family);
            let maxelem = if entries.len() > 65536 { format!(" maxelem {}", entries.len()) } else { String::new() };
            let _ = writeln!(out, "create {name} hash:net family {}{maxelem}", family.ipset_name());
            let _ = writeln!(out, "flush {name}");
            for entry in entries {
                let _ = writeln!(out, "add {name} {}", entry.to_ipset_text());
            }
            stats.sets += 1;
            stats.set_entries += entries.len();
        }
    }
    out
}

/// Makes `text` safe inside a double-quoted iptables comment: printable ASCII without quotes or
/// backslashes, at most 255 bytes.
fn comment_text(text: &str) -> String {
    let mut cleaned: String = text
        .chars()
        .map(|character| match character {
            '"' => '\'',
            '\\' => '/',
            ' '..='~' => character,
            _ => '?',
        })
        .collect();
    cleaned.truncate(MAX_COMMENT);
    cleaned
}

/// The L4 part of a rule for an entry's L4 as `(" -p ...", " -m ...")`, one element per rule
/// (several for an ICMP type range); empty when the entry cannot match in this family.
fn l4_matches(l4: &L4Match, family: Family) -> Vec<(String, String)> {
    let (protocol, ports) = match l4 {
        L4Match::Any => return vec![(String::new(), String::new())],
        L4Match::Protocol { protocol, ports } => (*protocol, *ports),
    };
    match protocol {
        Protocol::TCP | Protocol::UDP | Protocol::SCTP => {
            let name = match protocol {
                Protocol::TCP => "tcp",
                Protocol::UDP => "udp",
                _ => "sctp",
            };
            let protocol_part = format!(" -p {name}");
            if ports.is_all() {
                vec![(protocol_part, String::new())]
            } else if ports.first() == ports.last() {
                vec![(protocol_part, format!(" -m {name} --dport {}", ports.first()))]
            } else {
                vec![(protocol_part, format!(" -m {name} --dport {}:{}", ports.first(), ports.last()))]
            }
        }
        Protocol::ICMP | Protocol::ICMPV6 => {
            let (wanted_family, proto, module, option) =
                if protocol == Protocol::ICMP { (Family::V4, "icmp", "icmp", "--icmp-type") } else { (Family::V6, "ipv6-icmp", "icmp6", "--icmpv6-type") };
            if family != wanted_family {
                return Vec::new();
            }
            // ICMP types are 0-255: a range covering all of them is every type.
            if ports.first() == 0 && ports.last() >= 255 {
                return vec![(format!(" -p {proto}"), String::new())];
            }
            let last = ports.last().min(255);
            (ports.first()..=last).map(|icmp_type| (format!(" -p {proto}"), format!(" -m {module} {option} {icmp_type}"))).collect()
        }
        Protocol(number) => {
            // Protocols without ports have port 0 in a policy key: the entry matches only when
            // its range holds 0.
            if ports.contains(0) { vec![(format!(" -p {number}"), String::new())] } else { Vec::new() }
        }
    }
}

/// Describes an entry for its comment.
fn entry_comment(entry: &PolicyEntry) -> String {
    let origin = entry.origin.describe();
    let text = match (entry.verdict, &entry.l7, entry.auth) {
        (RuleVerdict::Deny, _, _) => format!("deny by {origin}"),
        (RuleVerdict::Allow, _, Some(AuthMode::TestAlwaysFail)) => format!("drop: authentication test-always-fail in {origin}"),
        (RuleVerdict::Allow, Some(rules), auth) => {
            let kind = match rules {
                L7Rules::Http(_) => "HTTP",
                L7Rules::Dns(_) => "DNS",
            };
            let auth = if auth == Some(AuthMode::Required) { ", authentication required" } else { "" };
            format!("L7 {kind} rules enforced by the proxy, allowed at L4{auth}: {origin}")
        }
        (RuleVerdict::Allow, None, Some(AuthMode::Required)) => format!("allow, authentication required, by {origin}"),
        (RuleVerdict::Allow, None, _) => format!("allow by {origin}"),
    };
    comment_text(&text)
}

/// The first port of every policy-map key block of `ports` and the port after each block, as
/// Cilium masks a range (`PortRange::key_prefix_len`).
fn key_block_bounds(ports: PortRange, bounds: &mut BTreeSet<u32>) {
    let mut port = u32::from(ports.first());
    while port <= u32::from(ports.last()) {
        let length = ports.key_prefix_len(port as u16).unwrap_or(16);
        bounds.insert(port);
        port += 1u32 << (16 - u32::from(length));
        bounds.insert(port);
    }
}

/// The authentication rules of one enforced direction, in order, as (cell, target) pairs: a cell
/// is an entry whose peers and L4 stand for one region of (remote identity, protocol, port) in
/// which every policy-map key, and so the deciding mode, is the same.
///
/// Cilium decides the mode per key ([`polc_ir::direction_auth`]): a narrower key keeps its own
/// mode, so a `test-always-fail` allow does not drop everything it matches. A first-match chain
/// says the same by giving each region a terminal rule, the narrowest first: per protocol that
/// some allow names, per interval between key blocks, per peer identity named by an allow (then
/// every other identity), `DROP` where the deciding mode is `test-always-fail` and `RETURN`
/// where another allow decides; then the same per identity for the protocols no allow names
/// (only L3 keys apply there). Empty when no allow of the direction has `test-always-fail`.
fn auth_cells(policy: &DirectionPolicy) -> Vec<(PolicyEntry, String, &'static str)> {
    let allows: Vec<&PolicyEntry> = policy.entries.iter().filter(|entry| entry.verdict == RuleVerdict::Allow).collect();
    let failing: Vec<&PolicyEntry> = allows.iter().copied().filter(|entry| entry.auth == Some(AuthMode::TestAlwaysFail)).collect();
    if failing.is_empty() {
        return Vec::new();
    }
    let mut bounds_by_protocol: BTreeMap<Protocol, BTreeSet<u32>> = BTreeMap::new();
    let mut identities: BTreeSet<NumericIdentity> = BTreeSet::new();
    for entry in &allows {
        if let L4Match::Protocol { protocol, ports } = entry.l4 {
            let bounds = bounds_by_protocol.entry(protocol).or_insert_with(|| [0, 1 << 16].into_iter().collect());
            key_block_bounds(ports, bounds);
        }
        if let Peers::Identities(set) = &entry.peers {
            identities.extend(set.iter().copied());
        }
    }
    // An identity that no allow names stands for "every other identity" (only `Peers::Any` keys).
    let other = NumericIdentity(u32::MAX);
    let origins = |remote: NumericIdentity, protocol: Protocol, port: u16| {
        let names: Vec<String> =
            failing.iter().filter(|entry| entry.peers.contains(remote) && entry.l4.matches(protocol, port)).map(|entry| entry.origin.describe()).collect();
        names.join(", ")
    };
    let cell = |peers: Peers, l4: L4Match, decided: AuthMode, remote: NumericIdentity, protocol: Protocol, port: u16| -> (PolicyEntry, String, &'static str) {
        let (comment, target) = if decided == AuthMode::TestAlwaysFail {
            (format!("drop: the deciding policy-map key has authentication test-always-fail, from {}", origins(remote, protocol, port)), "DROP")
        } else {
            (format!("allow: authentication {} decides this policy-map key, not test-always-fail", decided.as_str()), "RETURN")
        };
        let entry = PolicyEntry { verdict: RuleVerdict::Allow, peers, l4, l7: None, auth: None, pending_fqdns: Vec::new(), origin: failing[0].origin.clone() };
        (entry, comment_text(&comment), target)
    };
    // Protocols no allow names: only L3 keys apply; 255 is reserved and named by no policy.
    let unnamed = Protocol(255);
    let fails =
        |remote: NumericIdentity, protocol: Protocol, port: u16| polc_ir::direction_auth(policy, remote, protocol, port) == Some(AuthMode::TestAlwaysFail);
    // Whether a `DROP` of the last region (L3 keys) could catch a packet that a region of a
    // named protocol lets through: then that region needs its `RETURN` rules.
    let l3_drops_identity = |identity: NumericIdentity| fails(identity, unnamed, 0) || fails(other, unnamed, 0);
    let l3_drops_any = identities.iter().any(|identity| fails(*identity, unnamed, 0)) || fails(other, unnamed, 0);
    let mut cells = Vec::new();
    let region = |l4: L4Match, protocol: Protocol, port: u16, last: bool, cells: &mut Vec<(PolicyEntry, String, &'static str)>| {
        let other_fails = fails(other, protocol, port);
        let other_matches = allows.iter().any(|entry| matches!(entry.peers, Peers::Any) && entry.l4.matches(protocol, port));
        for identity in &identities {
            if !allows.iter().any(|entry| entry.peers.contains(*identity) && entry.l4.matches(protocol, port)) {
                continue;
            }
            let mode = polc_ir::direction_auth(policy, *identity, protocol, port).unwrap_or(AuthMode::Disabled);
            // A rule only where the rules after it would decide otherwise.
            if mode == AuthMode::TestAlwaysFail || other_fails || (!last && l3_drops_identity(*identity)) {
                cells.push(cell(Peers::Identities([*identity].into_iter().collect()), l4, mode, *identity, protocol, port));
            }
        }
        if other_matches && (other_fails || (!last && l3_drops_any)) {
            let mode = polc_ir::direction_auth(policy, other, protocol, port).unwrap_or(AuthMode::Disabled);
            cells.push(cell(Peers::Any, l4, mode, other, protocol, port));
        }
    };
    for (protocol, bounds) in &bounds_by_protocol {
        let bounds: Vec<u32> = bounds.iter().copied().collect();
        for pair in bounds.windows(2) {
            let (first, last) = (pair[0] as u16, (pair[1] - 1) as u16);
            region(L4Match::protocol(*protocol, PortRange::new(first, last)), *protocol, first, false, &mut cells);
        }
    }
    region(L4Match::Any, unnamed, 0, true, &mut cells);
    cells
}

/// The rule bodies (everything between the chain and the target) of one entry in one family.
fn entry_rules(entry: &PolicyEntry, comment: &str, direction: Direction, family: Family, sets: &BTreeMap<NumericIdentity, Vec<SetEntry>>) -> Vec<String> {
    let side = match direction {
        Direction::Ingress => "src",
        Direction::Egress => "dst",
    };
    let peer_matches: Vec<String> = match &entry.peers {
        Peers::Any => vec![String::new()],
        Peers::Identities(identities) => identities
            .iter()
            .filter(|identity| sets.contains_key(identity))
            .map(|identity| format!(" -m set --match-set {} {side}", set_name(*identity, family)))
            .collect(),
    };
    let l4 = l4_matches(&entry.l4, family);
    let mut rules = Vec::new();
    for peer in &peer_matches {
        for (protocol_part, module_part) in &l4 {
            // The order iptables-save prints: `-p`, then the matches in the order given.
            rules.push(format!("{protocol_part}{peer}{module_part} -m comment --comment \"{comment}\""));
        }
    }
    rules
}

/// The rules of a table, by chain, each chain's rules in order.
struct Table {
    builtin: BTreeMap<&'static str, Vec<String>>,
    chains: BTreeMap<String, Vec<String>>,
}

impl Table {
    const BUILTIN: [&'static str; 3] = ["INPUT", "FORWARD", "OUTPUT"];

    fn rule(&mut self, chain: &str, body: &str, target: &str) {
        let line = format!("-A {chain}{body} -j {target}");
        match Self::BUILTIN.iter().find(|builtin| **builtin == chain) {
            Some(builtin) => self.builtin.entry(builtin).or_default().push(line),
            None => self.chains.entry(chain.to_owned()).or_default().push(line),
        }
    }

    fn rule_count(&self) -> usize {
        self.builtin.values().chain(self.chains.values()).map(Vec::len).sum()
    }

    /// The table as iptables-save writes it: built-in chains, then user chains in name order,
    /// each chain's rules together. Restoring and saving it gives the same lines back.
    fn write(&self, out: &mut String) {
        let _ = writeln!(out, "*filter");
        for builtin in Self::BUILTIN {
            let _ = writeln!(out, ":{builtin} ACCEPT [0:0]");
        }
        for chain in self.chains.keys() {
            let _ = writeln!(out, ":{chain} - [0:0]");
        }
        for builtin in Self::BUILTIN {
            for rule in self.builtin.get(builtin).into_iter().flatten() {
                let _ = writeln!(out, "{rule}");
            }
        }
        for rule in self.chains.values().flatten() {
            let _ = writeln!(out, "{rule}");
        }
        let _ = writeln!(out, "COMMIT");
    }
}

fn direction_status(policy: &DirectionPolicy) -> &'static str {
    match (policy.enforced, policy.default_deny) {
        (false, _) => "not enforced",
        (true, true) => "enforced, default deny",
        (true, false) => "enforced, no default deny",
    }
}

fn family_addresses(endpoint: &Endpoint, family: Family) -> Vec<IpAddr> {
    let addresses: BTreeSet<IpAddr> = endpoint.addresses.iter().copied().filter(|address| Family::of(*address) == family).collect();
    addresses.into_iter().collect()
}

fn host_prefix(address: IpAddr) -> String {
    match address {
        IpAddr::V4(_) => format!("{address}/32"),
        IpAddr::V6(_) => format!("{address}/128"),
    }
}

fn render_table(ir: &PolicyIr, scope: &str, family: Family, endpoints: &[&Endpoint], sets: &BTreeMap<NumericIdentity, Vec<SetEntry>>) -> (String, usize) {
    let mut table = Table { builtin: BTreeMap::new(), chains: BTreeMap::new() };
    for builtin in Table::BUILTIN {
        table.rule(builtin, "", FILTER_CHAIN);
    }
    table.rule(
        FILTER_CHAIN,
        " -m conntrack --ctstate RELATED,ESTABLISHED -m comment --comment \"established and related flows are accepted before policy\"",
        "ACCEPT",
    );
    if family == Family::V6 {
        // Neighbor discovery (hop limit 255, never forwarded) is the IPv6 counterpart of ARP,
        // which no IP rule sees; Cilium answers it before policy too.
        for ndp_type in NEIGHBOR_DISCOVERY_TYPES {
            table.rule(
                FILTER_CHAIN,
                &format!(" -p ipv6-icmp -m icmp6 --icmpv6-type {ndp_type} -m hl --hl-eq 255 -m comment --comment \"neighbor discovery passes before policy\""),
                "ACCEPT",
            );
        }
    }
    table.rule(FILTER_CHAIN, "", EGRESS_CHAIN);
    table.rule(FILTER_CHAIN, "", INGRESS_CHAIN);
    table.chains.entry(EGRESS_CHAIN.to_owned()).or_default();
    table.chains.entry(INGRESS_CHAIN.to_owned()).or_default();

    let mut notes: Vec<String> = Vec::new();
    for endpoint in endpoints {
        let name = comment_text(&endpoint.kind.to_string());
        notes.push(format!(
            "# endpoint {} `{}` identity {}: ingress {}, egress {}",
            endpoint.id,
            endpoint.kind,
            endpoint.identity,
            direction_status(&endpoint.ingress),
            direction_status(&endpoint.egress)
        ));
        // An address goes to the endpoint that owns it (a pod before a node sharing it).
        let owned: Vec<IpAddr> = family_addresses(endpoint, family)
            .into_iter()
            .filter(|address| ir.endpoint_by_address(*address).is_none_or(|owner| owner.id == endpoint.id))
            .collect();
        for direction in [Direction::Ingress, Direction::Egress] {
            let policy = endpoint.policy(direction);
            if !policy.enforced || owned.is_empty() {
                continue;
            }
            let chain = chain_name(endpoint.id, direction);
            let (dispatch_chain, side) = match direction {
                Direction::Ingress => (INGRESS_CHAIN, "-d"),
                Direction::Egress => (EGRESS_CHAIN, "-s"),
            };
            for address in &owned {
                table.rule(dispatch_chain, &format!(" {side} {} -m comment --comment \"{name}\"", host_prefix(*address)), &chain);
            }
            let mut entries: Vec<&PolicyEntry> = policy.entries.iter().collect();
            entries.sort();
            let mut seen: BTreeSet<String> = BTreeSet::new();
            let mut push = |table: &mut Table, body: String, target: &str| {
                if seen.insert(format!("{body} {target}")) {
                    table.rule(&chain, &body, target);
                }
            };
            // 1. Deny entries win over every allow.
            for entry in entries.iter().filter(|entry| entry.verdict == RuleVerdict::Deny) {
                for body in entry_rules(entry, &entry_comment(entry), direction, family, sets) {
                    push(&mut table, body, "DROP");
                }
            }
            // 2. Authentication: where the policy-map key that decides has `test-always-fail`,
            //    the datapath drops; elsewhere the allow stands (see `auth_cells`).
            for (cell, comment, target) in auth_cells(policy) {
                for body in entry_rules(&cell, &comment, direction, family, sets) {
                    push(&mut table, body, target);
                }
            }
            // 3. Allows: this direction lets the flow through.
            for entry in entries.iter().filter(|entry| entry.verdict == RuleVerdict::Allow && entry.auth != Some(AuthMode::TestAlwaysFail)) {
                for body in entry_rules(entry, &entry_comment(entry), direction, family, sets) {
                    push(&mut table, body, "RETURN");
                }
                if entry.peers.is_empty() && !entry.pending_fqdns.is_empty() {
                    notes.push(format!(
                        "# {chain}: {} allows toFQDNs {}, which selects no address until DNS answers are known",
                        comment_text(&entry.origin.describe()),
                        entry.pending_fqdns.join(", ")
                    ));
                }
            }
            // 4. The default of the direction.
            if policy.default_deny {
                push(&mut table, " -m comment --comment \"default deny\"".to_owned(), "DROP");
            } else {
                push(&mut table, " -m comment --comment \"no default deny: only denies restrict this direction\"".to_owned(), "RETURN");
            }
        }
    }

    let mut out = String::new();
    let _ = writeln!(out, "# polc iptables reference rendering for {scope}: {} filter table", family.as_str());
    let _ = writeln!(
        out,
        "# INPUT, FORWARD and OUTPUT jump to {FILTER_CHAIN}; {EGRESS_CHAIN} dispatches by source address, {INGRESS_CHAIN} by destination address"
    );
    for note in &notes {
        let _ = writeln!(out, "{note}");
    }
    table.write(&mut out);
    (out, table.rule_count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_fit_the_kernel_limits() {
        assert_eq!(chain_name(EndpointId(u16::MAX), Direction::Egress), "POLC-EP65535-OUT");
        assert!(chain_name(EndpointId(u16::MAX), Direction::Egress).len() <= 28);
        assert_eq!(set_name(NumericIdentity(u32::MAX), Family::V6), "POLC-ID4294967295-V6");
        assert!(set_name(NumericIdentity(u32::MAX), Family::V6).len() <= 31);
    }

    #[test]
    fn comments_are_quoted_safely_and_bounded() {
        assert_eq!(comment_text("a \"b\" \\c\u{e9}"), "a 'b' /c?");
        assert_eq!(comment_text(&"x".repeat(400)).len(), 255);
    }

    #[test]
    fn l4_matches_follow_iptables_save_spelling() {
        use polc_ir::PortRange;
        let joined = |l4: L4Match, family: Family| l4_matches(&l4, family).into_iter().map(|(p, m)| format!("{p}{m}")).collect::<Vec<_>>();
        assert_eq!(joined(L4Match::Any, Family::V4), vec![String::new()]);
        assert_eq!(joined(L4Match::protocol(Protocol::TCP, PortRange::single(80)), Family::V4), vec![" -p tcp -m tcp --dport 80"]);
        assert_eq!(joined(L4Match::protocol(Protocol::UDP, PortRange::new(1000, 2000)), Family::V6), vec![" -p udp -m udp --dport 1000:2000"]);
        assert_eq!(joined(L4Match::protocol(Protocol::SCTP, PortRange::ALL), Family::V4), vec![" -p sctp"]);
        assert_eq!(joined(L4Match::protocol(Protocol::ICMP, PortRange::single(8)), Family::V4), vec![" -p icmp -m icmp --icmp-type 8"]);
        assert!(joined(L4Match::protocol(Protocol::ICMP, PortRange::single(8)), Family::V6).is_empty());
        assert_eq!(
            joined(L4Match::protocol(Protocol::ICMPV6, PortRange::new(128, 129)), Family::V6),
            vec![" -p ipv6-icmp -m icmp6 --icmpv6-type 128", " -p ipv6-icmp -m icmp6 --icmpv6-type 129"]
        );
        assert_eq!(joined(L4Match::protocol(Protocol::ICMPV6, PortRange::new(0, 300)), Family::V6), vec![" -p ipv6-icmp"]);
        assert_eq!(joined(L4Match::protocol(Protocol::GRE, PortRange::ALL), Family::V4), vec![" -p 47"]);
        assert!(joined(L4Match::protocol(Protocol::GRE, PortRange::single(5)), Family::V4).is_empty());
    }
}
