//! The rendered text, read back by a small userspace model of iptables and ipset, agrees with the
//! reference evaluator on generated scenarios. Needs no privileges, so it runs everywhere and
//! covers many more scenarios than the kernel engine can in the same time.
//!
//! The model knows the subset of iptables the renderer writes (`-s`, `-d`, `-p`, `-m set`,
//! `-m tcp|udp|sctp --dport`, `-m icmp --icmp-type`, `-m icmp6 --icmpv6-type`, `-m hl --hl-eq`,
//! `-m conntrack --ctstate`, `-m comment`, `-j`), and any unknown option fails the test. A flow is
//! a new connection (conntrack state NEW, hop limit 64) that crosses the hooks of the simulated
//! cluster the engine builds: FORWARD of the node of a pod it leaves or enters, OUTPUT of a node
//! it starts on, INPUT of a node it ends on.

mod common;

use std::collections::BTreeMap;
use std::net::IpAddr;

use common::scenario::scenario;
use polc_iptables::sets::{SetEntry, set_contains};
use polc_iptables::{Family, render_node};
use polc_ir::{Flow, FlowEnd, IpPrefix, PolicyIr, evaluate};

#[derive(Clone, Debug)]
enum Match {
    Source(IpPrefix),
    Destination(IpPrefix),
    Protocol(u8),
    Set { name: String, source: bool },
    DestinationPorts(u16, u16),
    IcmpType(u8),
    HopLimit(u8),
    ConnectionState(Vec<String>),
}

#[derive(Clone, Debug)]
struct Rule {
    matches: Vec<Match>,
    target: String,
}

/// Splits a rule line into words, keeping a double-quoted comment as one word.
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for character in line.chars() {
        match character {
            '"' => quoted = !quoted,
            ' ' if !quoted => {
                if !current.is_empty() {
                    words.push(std::mem::take(&mut current));
                }
            }
            _ => current.push(character),
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

fn protocol_number(name: &str) -> u8 {
    match name {
        "tcp" => 6,
        "udp" => 17,
        "sctp" => 132,
        "icmp" => 1,
        "ipv6-icmp" => 58,
        number => number.parse().unwrap_or_else(|_| panic!("unknown protocol `{number}`")),
    }
}

/// The chains of an `iptables-restore` text.
fn parse_table(text: &str) -> BTreeMap<String, Vec<Rule>> {
    let mut chains: BTreeMap<String, Vec<Rule>> = BTreeMap::new();
    for line in text.lines() {
        if let Some(declaration) = line.strip_prefix(':') {
            chains.entry(declaration.split(' ').next().unwrap_or_default().to_owned()).or_default();
            continue;
        }
        let Some(rest) = line.strip_prefix("-A ") else { continue };
        let words = words(rest);
        let chain = words[0].clone();
        let mut matches = Vec::new();
        let mut target = None;
        let mut position = 1;
        while position < words.len() {
            let word = words[position].as_str();
            let next = |offset: usize| words.get(position + offset).cloned().unwrap_or_default();
            match word {
                "-s" => matches.push(Match::Source(IpPrefix::parse(&next(1)).expect("a source prefix"))),
                "-d" => matches.push(Match::Destination(IpPrefix::parse(&next(1)).expect("a destination prefix"))),
                "-p" => matches.push(Match::Protocol(protocol_number(&next(1)))),
                "-j" => target = Some(next(1)),
                "-m" => {
                    position += 2;
                    continue;
                }
                "--match-set" => {
                    matches.push(Match::Set { name: next(1), source: next(2) == "src" });
                    position += 3;
                    continue;
                }
                "--dport" => {
                    let text = next(1);
                    let (first, last) = text.split_once(':').unwrap_or((&text, &text));
                    matches.push(Match::DestinationPorts(first.parse().expect("a port"), last.parse().expect("a port")));
                }
                "--icmp-type" | "--icmpv6-type" => matches.push(Match::IcmpType(next(1).parse().expect("an ICMP type"))),
                "--hl-eq" => matches.push(Match::HopLimit(next(1).parse().expect("a hop limit"))),
                "--ctstate" => matches.push(Match::ConnectionState(next(1).split(',').map(str::to_owned).collect())),
                "--comment" => {}
                other => panic!("the model does not know `{other}` in `{line}`"),
            }
            position += 2;
        }
        chains.entry(chain).or_default().push(Rule { matches, target: target.expect("a target") });
    }
    chains
}

/// The sets of an `ipset restore` text.
fn parse_sets(text: &str) -> BTreeMap<String, Vec<SetEntry>> {
    let mut sets: BTreeMap<String, Vec<SetEntry>> = BTreeMap::new();
    for line in text.lines() {
        let words: Vec<&str> = line.split(' ').collect();
        match words.as_slice() {
            ["create", name, ..] => {
                sets.entry((*name).to_owned()).or_default();
            }
            ["add", name, prefix, rest @ ..] => sets
                .entry((*name).to_owned())
                .or_default()
                .push(SetEntry { prefix: IpPrefix::parse(prefix).expect("a set entry"), nomatch: rest == ["nomatch"] }),
            _ => {}
        }
    }
    sets
}

struct Packet {
    source: IpAddr,
    destination: IpAddr,
    protocol: u8,
    port: u16,
}

enum Outcome {
    Accept,
    Drop,
    Continue,
}

struct Node {
    tables: BTreeMap<Family, BTreeMap<String, Vec<Rule>>>,
    sets: BTreeMap<String, Vec<SetEntry>>,
}

impl Node {
    fn matches(&self, rule_match: &Match, packet: &Packet) -> bool {
        match rule_match {
            Match::Source(prefix) => prefix.contains(packet.source),
            Match::Destination(prefix) => prefix.contains(packet.destination),
            Match::Protocol(protocol) => *protocol == packet.protocol,
            Match::Set { name, source } => {
                let entries = self.sets.get(name).unwrap_or_else(|| panic!("set `{name}` is used but not created"));
                set_contains(entries, if *source { packet.source } else { packet.destination })
            }
            Match::DestinationPorts(first, last) => (*first..=*last).contains(&packet.port),
            Match::IcmpType(icmp_type) => u16::from(*icmp_type) == packet.port,
            Match::HopLimit(limit) => *limit == 64,
            Match::ConnectionState(states) => states.iter().any(|state| state == "NEW"),
        }
    }

    fn chain(&self, table: &BTreeMap<String, Vec<Rule>>, chain: &str, packet: &Packet, depth: usize) -> Outcome {
        assert!(depth < 16, "chain loop at `{chain}`");
        for rule in table.get(chain).unwrap_or_else(|| panic!("chain `{chain}` is used but not declared")) {
            if !rule.matches.iter().all(|rule_match| self.matches(rule_match, packet)) {
                continue;
            }
            match rule.target.as_str() {
                "ACCEPT" => return Outcome::Accept,
                "DROP" => return Outcome::Drop,
                "RETURN" => return Outcome::Continue,
                jump => match self.chain(table, jump, packet, depth + 1) {
                    Outcome::Continue => {}
                    decided => return decided,
                },
            }
        }
        Outcome::Continue
    }

    /// Whether the built-in chain `hook` lets the packet through (its policy is ACCEPT).
    fn passes(&self, hook: &str, packet: &Packet) -> bool {
        let table = &self.tables[&Family::of(packet.source)];
        !matches!(self.chain(table, hook, packet, 0), Outcome::Drop)
    }
}

/// The hooks a flow crosses in the simulated cluster: `(node, hook)`.
fn path(ir: &PolicyIr, source: IpAddr, destination: IpAddr) -> Vec<(Option<String>, &'static str)> {
    let source_endpoint = ir.endpoint_by_address(source);
    let destination_endpoint = ir.endpoint_by_address(destination);
    if let (Some(from), Some(to)) = (source_endpoint, destination_endpoint)
        && from.id == to.id
        && !from.is_host()
    {
        return Vec::new();
    }
    let mut hooks = Vec::new();
    let same_node = |a: &polc_ir::Endpoint, b: &polc_ir::Endpoint| a.node == b.node;
    match source_endpoint {
        Some(from) if from.is_host() => hooks.push((from.node.clone(), "OUTPUT")),
        // A pod's packet crosses its node's FORWARD, unless it goes to that node itself.
        Some(from) if !destination_endpoint.is_some_and(|to| to.is_host() && same_node(from, to)) => hooks.push((from.node.clone(), "FORWARD")),
        Some(_) | None => {}
    }
    match destination_endpoint {
        Some(to) if to.is_host() => hooks.push((to.node.clone(), "INPUT")),
        Some(to) => {
            let forwarded_here = source_endpoint.is_some_and(|from| !from.is_host() && same_node(from, to));
            let sent_from_here = source_endpoint.is_some_and(|from| from.is_host() && same_node(from, to));
            if !forwarded_here && !sent_from_here {
                hooks.push((to.node.clone(), "FORWARD"));
            }
        }
        None => {}
    }
    hooks
}

fn model_allows(ir: &PolicyIr, nodes: &BTreeMap<Option<String>, Node>, flow: &Flow) -> bool {
    let (FlowEnd::Address(source), FlowEnd::Address(destination)) = (flow.source, flow.destination) else {
        panic!("the generated flows name addresses");
    };
    let packet = Packet { source, destination, protocol: flow.protocol.0, port: flow.port };
    path(ir, source, destination).iter().all(|(node, hook)| nodes.get(node).is_none_or(|rendered| rendered.passes(hook, &packet)))
}

#[test]
fn the_rendered_text_agrees_with_the_reference_evaluator_on_generated_scenarios() {
    let n_scenarios = std::env::var("POLC_MODEL_SCENARIOS").ok().and_then(|value| value.parse().ok()).unwrap_or(2000);
    let (mut allowed, mut denied) = (0, 0);
    for index in 0..n_scenarios {
        let case = scenario(0x6D6F_6465_6C00, index, 40);
        let nodes: BTreeMap<Option<String>, Node> = polc_iptables::node_names(&case.ir)
            .into_iter()
            .map(|node| {
                let rendering = render_node(&case.ir, node.as_deref());
                let tables = [(Family::V4, parse_table(&rendering.iptables)), (Family::V6, parse_table(&rendering.ip6tables))].into_iter().collect();
                (node, Node { tables, sets: parse_sets(&rendering.ipset) })
            })
            .collect();
        for flow in &case.flows {
            let expected = evaluate(&case.ir, flow);
            let modelled = model_allows(&case.ir, &nodes, flow);
            assert_eq!(
                modelled,
                expected.allowed,
                "scenario {index}: {:?} -> {:?} {}/{}: the rendering says {}, the evaluator {}\nIR: {}",
                flow.source,
                flow.destination,
                flow.protocol,
                flow.port,
                if modelled { "allow" } else { "deny" },
                expected.reason,
                serde_json::to_string(&case.ir).unwrap_or_default()
            );
            if expected.allowed {
                allowed += 1;
            } else {
                denied += 1;
            }
        }
    }
    assert!(allowed * 5 >= allowed + denied && denied * 5 >= allowed + denied, "the scenarios must exercise both verdicts: {allowed} allowed, {denied} denied");
}
