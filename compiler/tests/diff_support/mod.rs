//! Shared helpers of the diff tests: random clusters and policies as YAML, lowering, and the
//! concrete flows the reference evaluator decides.

#![allow(dead_code)]

use std::net::IpAddr;

use polc_compiler::diff::{EndKind, FlowVerdict, PolicyDiff};
use polc_compiler::lower::{LowerOptions, Lowered, lower};
use polc_compiler::{Options, Severity, SourceMap, parse};
use polc_ir::{Direction, Flow, FlowEnd, NumericIdentity, PolicyIr, Protocol, Verdict, evaluate, evaluate_direction};

/// A small deterministic random source (splitmix64).
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 { 0 } else { self.next() % bound }
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

const APPS: [&str; 3] = ["web", "api", "db"];
const NAMESPACES: [&str; 2] = ["default", "prod"];

/// A random inventory: namespaces, sometimes two nodes, and a few pods.
pub fn inventory(rng: &mut Rng, with_nodes: bool, pod_count: usize) -> String {
    let mut text = String::new();
    text.push_str("apiVersion: v1\nkind: Namespace\nmetadata: {name: default, labels: {kubernetes.io/metadata.name: default}}\n---\n");
    text.push_str("apiVersion: v1\nkind: Namespace\nmetadata: {name: prod, labels: {kubernetes.io/metadata.name: prod, env: prod}}\n");
    if with_nodes {
        for (index, name) in ["node-a", "node-b"].iter().enumerate() {
            text.push_str(&format!(
                "---\napiVersion: v1\nkind: Node\nmetadata: {{name: {name}, labels: {{kubernetes.io/hostname: {name}}}}}\nspec: {{podCIDRs: [10.0.{}.0/24]}}\nstatus: {{addresses: [{{type: InternalIP, address: 192.168.0.{}}}]}}\n",
                index + 1,
                index + 1
            ));
        }
    }
    for index in 0..pod_count {
        let namespace = rng.pick(&NAMESPACES);
        let app = rng.pick(&APPS);
        let node = if rng.chance(50) { "node-a" } else { "node-b" };
        let subnet = if node == "node-a" { 1 } else { 2 };
        let ports = if rng.chance(60) {
            let port = if rng.chance(50) { 8080 } else { 80 };
            format!(", ports: [{{name: http, containerPort: {port}, protocol: TCP}}]")
        } else {
            String::new()
        };
        text.push_str(&format!(
            "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: pod-{index}, namespace: {namespace}, labels: {{app: {app}}}}}\nspec: {{nodeName: {node}, containers: [{{name: main, image: x{ports}}}]}}\nstatus: {{phase: Running, podIP: 10.0.{subnet}.{}}}\n",
            10 + index
        ));
    }
    text
}

fn peer(rng: &mut Rng, direction: &str) -> String {
    let side = if direction == "ingress" { "from" } else { "to" };
    match rng.below(9) {
        0 => format!("    {side}Endpoints: [{{matchLabels: {{app: {}}}}}]\n", rng.pick(&APPS)),
        1 => format!("    {side}Endpoints: [{{}}]\n"),
        2 => format!("    {side}Entities: [{}]\n", rng.pick(&["world", "host", "remote-node", "cluster", "all"])),
        3 => format!("    {side}CIDR: [{}]\n", rng.pick(&["203.0.113.0/24", "10.0.0.0/8", "198.51.100.7/32", "10.0.1.0/24"])),
        4 => format!("    {side}CIDRSet: [{{cidr: 0.0.0.0/0, except: [{}]}}]\n", rng.pick(&["10.0.0.0/8", "203.0.113.0/25"])),
        5 => format!("    {side}CIDRSet: [{{cidr: 203.0.113.0/24, except: [203.0.113.128/25]}}]\n"),
        6 => format!("    {side}Endpoints: [{{matchLabels: {{app: {}, k8s:io.kubernetes.pod.namespace: {}}}}}]\n", rng.pick(&APPS), rng.pick(&NAMESPACES)),
        _ => String::new(),
    }
}

fn ports(rng: &mut Rng, allow: bool, direction: &str) -> String {
    match rng.below(8) {
        0 => "    toPorts: [{ports: [{port: \"80\", protocol: TCP}]}]\n".to_owned(),
        1 => "    toPorts: [{ports: [{port: \"8000\", endPort: 8100, protocol: TCP}, {port: \"53\", protocol: UDP}]}]\n".to_owned(),
        2 if direction == "ingress" => "    toPorts: [{ports: [{port: http, protocol: TCP}]}]\n".to_owned(),
        3 if allow => "    toPorts: [{ports: [{port: \"8080\", protocol: TCP}], rules: {http: [{method: GET, path: /api/.*}]}}]\n".to_owned(),
        4 => "    icmps: [{fields: [{type: 8, family: IPv4}]}]\n".to_owned(),
        5 => "    toPorts: [{ports: [{port: \"443\", protocol: ANY}]}]\n".to_owned(),
        _ => String::new(),
    }
}

/// A random CiliumNetworkPolicy (or, sometimes, a NetworkPolicy) named `name`.
pub fn policy(rng: &mut Rng, name: &str) -> String {
    let namespace = rng.pick(&NAMESPACES);
    if rng.chance(15) {
        let app = rng.pick(&APPS);
        let from = rng.pick(&APPS);
        let peer = if rng.chance(50) {
            format!("  - from: [{{podSelector: {{matchLabels: {{app: {from}}}}}}}]\n    ports: [{{port: 80, protocol: TCP}}]\n")
        } else {
            "  - from: [{ipBlock: {cidr: 203.0.113.0/24}}]\n".to_owned()
        };
        return format!(
            "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec:\n  podSelector: {{matchLabels: {{app: {app}}}}}\n  policyTypes: [Ingress]\n  ingress:\n{peer}"
        );
    }
    let selector = if rng.chance(20) { "{}".to_owned() } else { format!("{{matchLabels: {{app: {}}}}}", rng.pick(&APPS)) };
    let mut text = format!(
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec:\n  endpointSelector: {selector}\n"
    );
    if rng.chance(15) {
        text.push_str("  enableDefaultDeny: {ingress: false, egress: false}\n");
    }
    let sections = 1 + rng.below(2);
    let mut used = Vec::new();
    for _ in 0..sections {
        let section = *rng.pick(&["ingress", "egress", "ingressDeny", "egressDeny"]);
        if used.contains(&section) {
            continue;
        }
        used.push(section);
        let allow = !section.ends_with("Deny");
        let direction = if section.starts_with("ingress") { "ingress" } else { "egress" };
        text.push_str(&format!("  {section}:\n"));
        for _ in 0..1 + rng.below(2) {
            let mut rule = peer(rng, direction);
            rule.push_str(&ports(rng, allow, direction));
            if allow && rng.chance(10) {
                rule.push_str(&format!("    authentication: {{mode: {}}}\n", rng.pick(&["required", "disabled", "test-always-fail"])));
            }
            if rule.is_empty() {
                rule = "    {}\n".to_owned();
                text.push_str(&format!("  - {}", rule.trim_start()));
            } else {
                text.push_str(&format!("  - {}", &rule[4..]));
            }
        }
    }
    text
}

/// Parses and lowers `files` (name, text); panics on input errors, showing them.
pub fn lower_files(files: &[(String, String)], options: &LowerOptions) -> Lowered {
    let mut sources = SourceMap::new();
    for (name, text) in files {
        sources.add(name.clone(), text.clone());
    }
    let parsed = parse(&sources, &Options::default());
    let errors: Vec<String> = parsed
        .diagnostics
        .iter()
        .filter(|diagnostic| diagnostic.severity == Severity::Error)
        .map(|diagnostic| format!("{} {}", diagnostic.code.id, diagnostic.message))
        .collect();
    assert!(errors.is_empty(), "the generated inputs have errors: {errors:?}\n{files:#?}");
    lower(&parsed.objects, options)
}

/// A concrete end of a flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Concrete {
    Pod(String),
    Node(String),
    Address(IpAddr),
    LocalHost,
    RemoteNode,
}

impl Concrete {
    fn flow_end(&self, ir: &PolicyIr) -> Option<FlowEnd> {
        match self {
            Concrete::Pod(name) => {
                let (namespace, pod) = name.split_once('/')?;
                ir.pod(namespace, pod).map(|endpoint| FlowEnd::Endpoint(endpoint.id))
            }
            Concrete::Node(name) => ir.host(name).map(|endpoint| FlowEnd::Endpoint(endpoint.id)),
            Concrete::Address(address) => Some(FlowEnd::Address(*address)),
            Concrete::LocalHost | Concrete::RemoteNode => None,
        }
    }

    fn is_endpoint(&self) -> bool {
        matches!(self, Concrete::Pod(_) | Concrete::Node(_))
    }

    /// Whether the diff's end `index` stands for this concrete end.
    pub fn belongs_to(&self, diff: &PolicyDiff, index: usize) -> bool {
        match (self, &diff.ends[index].kind) {
            (Concrete::Pod(name), EndKind::Pods { pods }) => pods.contains(name),
            (Concrete::Node(name), EndKind::Node { name: node }) => name == node,
            (Concrete::Address(address), _) => diff.ends[index].contains_address(*address),
            (Concrete::LocalHost, EndKind::LocalHost) | (Concrete::RemoteNode, EndKind::RemoteNode) => true,
            _ => false,
        }
    }
}

fn one_direction(verdict: polc_ir::DirectionVerdict) -> FlowVerdict {
    let whole = Verdict { allowed: verdict.allowed, reason: String::new(), egress: None, ingress: Some(verdict), notes: Vec::new() };
    FlowVerdict::of(&whole)
}

/// The verdict the reference evaluator gives `source → destination` on `ir`, or `None` when no
/// policy applies to it at all (no endpoint at either end, or a pod talking to itself).
pub fn concrete_verdict(ir: &PolicyIr, source: &Concrete, destination: &Concrete, protocol: Protocol, port: u16) -> Option<FlowVerdict> {
    if !source.is_endpoint() && !destination.is_endpoint() {
        return None;
    }
    if source == destination && matches!(source, Concrete::Pod(_)) {
        return None;
    }
    let pseudo = |end: &Concrete| match end {
        Concrete::LocalHost => Some(NumericIdentity::HOST),
        Concrete::RemoteNode => Some(NumericIdentity::REMOTE_NODE),
        _ => None,
    };
    let flow_for = |source: FlowEnd, destination: FlowEnd| Flow { source, destination, protocol, port, l7: None };
    if let Some(remote) = pseudo(source) {
        let FlowEnd::Endpoint(id) = destination.flow_end(ir)? else { return None };
        let endpoint = ir.endpoint(id)?;
        return Some(one_direction(evaluate_direction(endpoint, Direction::Ingress, remote, &flow_for(FlowEnd::Endpoint(id), FlowEnd::Endpoint(id)))));
    }
    if let Some(remote) = pseudo(destination) {
        let FlowEnd::Endpoint(id) = source.flow_end(ir)? else { return None };
        let endpoint = ir.endpoint(id)?;
        let verdict = evaluate_direction(endpoint, Direction::Egress, remote, &flow_for(FlowEnd::Endpoint(id), FlowEnd::Endpoint(id)));
        let whole = Verdict { allowed: verdict.allowed, reason: String::new(), egress: Some(verdict), ingress: None, notes: Vec::new() };
        return Some(FlowVerdict::of(&whole));
    }
    let flow = flow_for(source.flow_end(ir)?, destination.flow_end(ir)?);
    Some(FlowVerdict::of(&evaluate(ir, &flow)))
}
