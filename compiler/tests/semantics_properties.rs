//! Properties of lowering plus evaluation on generated policies (written as YAML, as a user
//! would) over the sample cluster:
//! - with no policy everything is allowed;
//! - the order of the policy documents does not change any verdict;
//! - adding an allow element to a rule section that already selects its subject never turns
//!   an allowed flow into a denied one;
//! - adding a deny-only policy never turns a denied flow into an allowed one, and a matching
//!   deny is never overridden by an allow.

use std::path::Path;

use polc_compiler::lower::{LowerOptions, Lowered, lower};
use polc_compiler::model::flowtest::FlowEndpoint;
use polc_compiler::semantics::resolve_end;
use polc_compiler::{Options, SourceMap, parse};
use polc_ir::{Flow, Protocol, RuleOrigin, evaluate};
use proptest::prelude::*;

fn inventory() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/examples/inventory/cluster.yaml")).expect("the sample inventory")
}

const APPS: [&str; 4] = ["frontend", "backend", "db", "client"];
const NAMESPACES: [&str; 2] = ["default", "prod"];
const ENTITIES: [&str; 5] = ["world", "cluster", "host", "remote-node", "all"];
const CIDRS: [&str; 3] = ["203.0.113.0/24", "198.51.100.0/24", "0.0.0.0/0"];
const PORTS: [(u16, &str); 5] = [(53, "UDP"), (80, "TCP"), (443, "TCP"), (5432, "TCP"), (8080, "TCP")];
const ENDS: [&str; 12] = [
    "default/frontend",
    "default/backend",
    "default/db",
    "default/client",
    "prod/frontend",
    "prod/backend",
    "prod/db",
    "kube-system/coredns",
    "node:node-a",
    "node:node-b",
    "203.0.113.7",
    "10.1.2.3",
];

#[derive(Clone, Debug)]
enum PeerSpec {
    None,
    App(&'static str),
    AppIn(&'static str, &'static str),
    Entity(&'static str),
    Cidr(&'static str),
}

#[derive(Clone, Debug)]
struct ElementSpec {
    peer: PeerSpec,
    port: Option<(u16, &'static str)>,
}

#[derive(Clone, Debug)]
struct DocSpec {
    clusterwide: bool,
    namespace: &'static str,
    subject: &'static str,
    egress: bool,
    deny: bool,
    default_deny: Option<bool>,
    elements: Vec<ElementSpec>,
}

fn peer_strategy() -> impl Strategy<Value = PeerSpec> {
    prop_oneof![
        1 => Just(PeerSpec::None),
        3 => prop::sample::select(APPS.to_vec()).prop_map(PeerSpec::App),
        1 => (prop::sample::select(APPS.to_vec()), prop::sample::select(NAMESPACES.to_vec())).prop_map(|(app, namespace)| PeerSpec::AppIn(app, namespace)),
        2 => prop::sample::select(ENTITIES.to_vec()).prop_map(PeerSpec::Entity),
        1 => prop::sample::select(CIDRS.to_vec()).prop_map(PeerSpec::Cidr),
    ]
}

fn element_strategy() -> impl Strategy<Value = ElementSpec> {
    (peer_strategy(), prop::option::weighted(0.7, prop::sample::select(PORTS.to_vec()))).prop_map(|(peer, port)| ElementSpec { peer, port })
}

fn doc_strategy() -> impl Strategy<Value = DocSpec> {
    (
        prop::bool::weighted(0.2),
        prop::sample::select(NAMESPACES.to_vec()),
        prop::sample::select(APPS.to_vec()),
        any::<bool>(),
        prop::bool::weighted(0.3),
        prop::sample::select(vec![None, None, Some(true), Some(false)]),
        prop::collection::vec(element_strategy(), 1..3),
    )
        .prop_map(|(clusterwide, namespace, subject, egress, deny, default_deny, elements)| DocSpec {
            clusterwide,
            namespace,
            subject,
            egress,
            deny,
            default_deny,
            elements,
        })
}

fn render(index: usize, doc: &DocSpec) -> String {
    let direction = if doc.egress { "egress" } else { "ingress" };
    let section = if doc.deny { format!("{direction}Deny") } else { direction.to_owned() };
    let kind = if doc.clusterwide { "CiliumClusterwideNetworkPolicy" } else { "CiliumNetworkPolicy" };
    let metadata = if doc.clusterwide { format!("{{name: p{index}}}") } else { format!("{{name: p{index}, namespace: {}}}", doc.namespace) };
    let side = if doc.egress { "to" } else { "from" };
    let mut text =
        format!("apiVersion: cilium.io/v2\nkind: {kind}\nmetadata: {metadata}\nspec:\n  endpointSelector: {{matchLabels: {{app: {}}}}}\n", doc.subject);
    if let Some(default_deny) = doc.default_deny {
        text.push_str(&format!("  enableDefaultDeny: {{{direction}: {default_deny}}}\n"));
    }
    text.push_str(&format!("  {section}:\n"));
    for element in &doc.elements {
        let mut fields = Vec::new();
        match element.peer {
            PeerSpec::None => {}
            PeerSpec::App(app) => fields.push(format!("{side}Endpoints: [{{matchLabels: {{app: {app}}}}}]")),
            PeerSpec::AppIn(app, namespace) => {
                fields.push(format!("{side}Endpoints: [{{matchLabels: {{app: {app}, k8s:io.kubernetes.pod.namespace: {namespace}}}}}]"))
            }
            PeerSpec::Entity(entity) => fields.push(format!("{side}Entities: [{entity}]")),
            PeerSpec::Cidr(cidr) => fields.push(format!("{side}CIDR: ['{cidr}']")),
        }
        if let Some((port, protocol)) = element.port {
            fields.push(format!("toPorts: [{{ports: [{{port: \"{port}\", protocol: {protocol}}}]}}]"));
        }
        text.push_str(&format!("  - {{{}}}\n", fields.join(", ")));
    }
    text
}

fn lower_docs(docs: &[(usize, DocSpec)]) -> Lowered {
    let mut sources = SourceMap::new();
    sources.add("cluster.yaml", inventory());
    let stream: Vec<String> = docs.iter().map(|(index, doc)| render(*index, doc)).collect();
    sources.add("policies.yaml", stream.join("---\n"));
    let parsed = parse(&sources, &Options::default());
    assert!(!parsed.has_errors(), "{:?}\n{}", parsed.diagnostics, stream.join("---\n"));
    lower(&parsed.objects, &LowerOptions::default())
}

/// Every flow between the ends on every port, with the verdict and its deciding rules (without
/// their source locations, which depend on the document order).
/// One flow's description, whether it is allowed, and its deciding rules (name, rule path).
type FlowVerdict = (String, bool, Vec<(String, String)>);

fn verdicts(lowered: &Lowered) -> Vec<FlowVerdict> {
    let mut out = Vec::new();
    for from in ENDS {
        for to in ENDS {
            if from == to {
                continue;
            }
            for (port, protocol) in PORTS {
                let end = |text: &str| resolve_end(lowered, &FlowEndpoint::parse(text).unwrap()).unwrap().end;
                let protocol = if protocol == "UDP" { Protocol::UDP } else { Protocol::TCP };
                let verdict = evaluate(&lowered.ir, &Flow { source: end(from), destination: end(to), protocol, port, l7: None });
                let mut rules: Vec<(String, String)> = [&verdict.egress, &verdict.ingress]
                    .into_iter()
                    .flatten()
                    .flat_map(|direction| direction.deciding.iter())
                    .map(|rule| match &rule.origin {
                        RuleOrigin::Policy { name, rule_path, .. } => (name.clone(), rule_path.clone()),
                        RuleOrigin::Implicit(implicit) => (implicit.as_str().to_owned(), String::new()),
                    })
                    .collect();
                rules.sort();
                out.push((format!("{from} -> {to} {port}"), verdict.allowed, rules));
            }
        }
    }
    out
}

fn numbered(docs: Vec<DocSpec>) -> Vec<(usize, DocSpec)> {
    docs.into_iter().enumerate().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn document_order_does_not_change_verdicts(docs in prop::collection::vec(doc_strategy(), 1..6), seed in any::<u64>()) {
        let ordered = numbered(docs);
        let mut shuffled = ordered.clone();
        let mut state = seed | 1;
        for index in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(index, (state % (index as u64 + 1)) as usize);
        }
        prop_assert_eq!(verdicts(&lower_docs(&ordered)), verdicts(&lower_docs(&shuffled)));
    }

    #[test]
    fn adding_an_allow_to_a_selecting_section_never_denies(docs in prop::collection::vec(doc_strategy(), 1..5), which in any::<prop::sample::Index>(), added in element_strategy()) {
        let before_docs = numbered(docs);
        let target = which.index(before_docs.len());
        prop_assume!(!before_docs[target].1.deny);
        let mut after_docs = before_docs.clone();
        after_docs[target].1.elements.push(added);
        let before = verdicts(&lower_docs(&before_docs));
        let after = verdicts(&lower_docs(&after_docs));
        for ((flow, allowed_before, _), (_, allowed_after, _)) in before.iter().zip(&after) {
            prop_assert!(!allowed_before || *allowed_after, "{} turned from allow to deny", flow);
        }
    }

    #[test]
    fn a_deny_only_policy_never_allows_what_was_denied(docs in prop::collection::vec(doc_strategy(), 0..5), mut deny in doc_strategy()) {
        deny.deny = true;
        let before_docs = numbered(docs);
        let mut after_docs = before_docs.clone();
        after_docs.push((after_docs.len(), deny));
        let before = verdicts(&lower_docs(&before_docs));
        let after = verdicts(&lower_docs(&after_docs));
        for ((flow, allowed_before, _), (_, allowed_after, _)) in before.iter().zip(&after) {
            prop_assert!(*allowed_before || !*allowed_after, "{} turned from deny to allow", flow);
        }
    }

    #[test]
    fn a_flow_denied_by_a_deny_stays_denied_whatever_allows_are_added(docs in prop::collection::vec(doc_strategy(), 1..4), allows in prop::collection::vec(doc_strategy(), 1..4)) {
        let base = numbered(docs);
        let lowered = lower_docs(&base);
        let denied_by_rule: Vec<String> = verdicts(&lowered)
            .into_iter()
            .filter(|(_, allowed, rules)| !allowed && rules.iter().any(|(_, path)| path.contains("Deny")))
            .map(|(flow, _, _)| flow)
            .collect();
        let mut with_allows = base.clone();
        for mut allow in allows {
            allow.deny = false;
            with_allows.push((with_allows.len(), allow));
        }
        let after = verdicts(&lower_docs(&with_allows));
        for (flow, allowed, _) in after {
            prop_assert!(!(allowed && denied_by_rule.contains(&flow)), "{} was denied by a deny rule, then allowed", flow);
        }
    }
}

#[test]
fn with_no_policy_everything_is_allowed() {
    let lowered = lower_docs(&[]);
    let all = verdicts(&lowered);
    assert_eq!(all.len(), ENDS.len() * (ENDS.len() - 1) * PORTS.len());
    assert!(all.iter().all(|(_, allowed, rules)| *allowed && rules.is_empty()));
}
