//! Lowering to the IR, one Cilium rule at a time: identities, scoping, ports, entities, L7,
//! default deny and enforcement, and the analysis findings (`PLC7xxx`).

use std::path::Path;

use polc_compiler::lower::{LowerOptions, Lowered, lower};
use polc_compiler::model::flowtest::FlowEndpoint;
use polc_compiler::semantics::resolve_end;
use polc_compiler::{Options, Parsed, Severity, SourceMap, parse};
use polc_ir::{
    Decision, Direction, EnforcementMode, Flow, HttpRequest, ImplicitRule, L4Match, L7Request, NumericIdentity, Peers, PortRange, Protocol, RuleOrigin,
    RuleVerdict, Verdict, evaluate,
};

fn inventory() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/examples/inventory/cluster.yaml")).expect("the sample inventory")
}

fn load_with(policies: &str, options: &LowerOptions) -> (Parsed, Lowered) {
    let mut sources = SourceMap::new();
    sources.add("cluster.yaml", inventory());
    sources.add("policy.yaml", policies);
    let parsed = parse(&sources, &Options::default());
    let errors: Vec<_> = parsed.diagnostics.iter().filter(|diagnostic| diagnostic.severity == Severity::Error).collect();
    assert!(errors.is_empty(), "{errors:?}");
    let lowered = lower(&parsed.objects, options);
    (parsed, lowered)
}

fn load(policies: &str) -> (Parsed, Lowered) {
    load_with(policies, &LowerOptions::default())
}

fn flow(lowered: &Lowered, from: &str, to: &str, port: u16, protocol: Protocol) -> Flow {
    let end = |text: &str| resolve_end(lowered, &FlowEndpoint::parse(text).expect("valid end")).expect("known end").end;
    Flow { source: end(from), destination: end(to), protocol, port, l7: None }
}

fn check(lowered: &Lowered, from: &str, to: &str, port: u16, protocol: Protocol) -> Verdict {
    evaluate(&lowered.ir, &flow(lowered, from, to, port, protocol))
}

fn allowed(lowered: &Lowered, from: &str, to: &str, port: u16) -> bool {
    check(lowered, from, to, port, Protocol::TCP).allowed
}

fn codes(lowered: &Lowered) -> Vec<&'static str> {
    lowered.diagnostics.iter().map(|diagnostic| diagnostic.code.id).collect()
}

const BACKEND_FROM_FRONTEND: &str = "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: backend-from-frontend, namespace: prod}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: frontend}}]
    toPorts: [{ports: [{port: \"8080\", protocol: TCP}]}]
";

#[test]
fn identities_are_deterministic_and_ignore_volatile_labels() {
    let (_, first) = load("");
    let (_, second) = load("");
    assert_eq!(first.ir, second.ir, "the same inputs give the same IR");
    // Pods of one app in one namespace with one service account share an identity even with
    // different pod-template-hash values; identities start at 256.
    let frontend = first.ir.pod("prod", "frontend").unwrap().identity;
    let backend = first.ir.pod("prod", "backend").unwrap().identity;
    assert!(frontend.0 >= 256 && backend.0 >= 256 && frontend != backend);
    let labels = &first.ir.identity(first.ir.pod("kube-system", "coredns").unwrap().identity).unwrap().labels;
    assert!(labels.iter().all(|label| label.key != "pod-template-hash"), "{labels:?}");
    assert!(labels.iter().any(|label| label.key == "io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name" && label.value == "kube-system"));
    assert!(labels.iter().any(|label| label.key == "io.cilium.k8s.policy.cluster" && label.value == "default"));
    assert!(labels.iter().any(|label| label.key == "io.cilium.k8s.policy.serviceaccount" && label.value == "coredns"));
    // Reserved identities keep their numbers.
    for (number, name) in [(1, "host"), (2, "world"), (6, "remote-node"), (7, "kube-apiserver")] {
        assert_eq!(NumericIdentity(number).reserved_name(), Some(name));
        assert!(first.ir.identity(NumericIdentity(number)).is_some());
    }
}

#[test]
fn cnp_subjects_and_peers_stay_in_the_policy_namespace() {
    let (_, lowered) = load(BACKEND_FROM_FRONTEND);
    assert!(allowed(&lowered, "prod/frontend", "prod/backend", 8080));
    assert!(!allowed(&lowered, "default/frontend", "prod/backend", 8080));
    assert!(allowed(&lowered, "default/frontend", "default/backend", 8080), "default/backend is not a subject");
    let backend = lowered.ir.pod("prod", "backend").unwrap();
    assert!(backend.ingress.enforced && backend.ingress.default_deny);
    assert!(!backend.egress.enforced);
    // The origin points at the rule, with its location.
    let entry = backend.ingress.entries.iter().find(|entry| matches!(entry.origin, RuleOrigin::Policy { .. })).unwrap();
    let RuleOrigin::Policy { kind, namespace, name, rule_path, .. } = &entry.origin else { unreachable!() };
    assert_eq!(
        (kind.as_str(), namespace.as_deref(), name.as_str(), rule_path.as_str()),
        ("CiliumNetworkPolicy", Some("prod"), "backend-from-frontend", "spec.ingress[0]")
    );
    let location = lowered.origin_location(&entry.origin).expect("located");
    assert_eq!(location.span.start.line, 7);
}

#[test]
fn ccnp_peers_are_every_pod_but_no_reserved_identity() {
    let (_, lowered) = load(
        "apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: db}
spec:
  endpointSelector: {matchLabels: {app: db}}
  ingress:
  - fromEndpoints: [{}]
",
    );
    assert!(allowed(&lowered, "default/client", "prod/db", 5432));
    assert!(allowed(&lowered, "prod/frontend", "default/db", 1));
    assert!(!allowed(&lowered, "node:node-a", "prod/db", 5432), "remote-node is no pod");
    let world = evaluate(
        &lowered.ir,
        &Flow { source: polc_ir::FlowEnd::Address("203.0.113.9".parse().unwrap()), ..flow(&lowered, "default/client", "prod/db", 5432, Protocol::TCP) },
    );
    assert!(!world.allowed);
}

#[test]
fn an_empty_ingress_rule_denies_and_an_empty_peer_list_selects_nothing() {
    let (_, lowered) = load(
        "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: lockdown, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: frontend}}
  ingress:
  - {}
  egress:
  - toEndpoints: []
    toPorts: [{ports: [{port: \"53\"}]}]
",
    );
    let frontend = lowered.ir.pod("default", "frontend").unwrap();
    assert!(frontend.ingress.enforced && frontend.ingress.default_deny);
    assert!(frontend.ingress.entries.iter().all(|entry| matches!(entry.origin, RuleOrigin::Implicit(ImplicitRule::AllowLocalhost))));
    assert!(frontend.egress.enforced && frontend.egress.entries.is_empty());
    assert!(!allowed(&lowered, "default/client", "default/frontend", 8080));
    assert!(!check(&lowered, "default/frontend", "kube-system/coredns", 53, Protocol::UDP).allowed);
}

#[test]
fn ports_without_peers_are_a_wildcard_and_any_is_three_protocols() {
    let (_, lowered) = load(
        "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ports, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  ingress:
  - toPorts: [{ports: [{port: \"8080\"}]}]
",
    );
    let backend = lowered.ir.pod("default", "backend").unwrap();
    let mut protocols: Vec<Protocol> = backend
        .ingress
        .entries
        .iter()
        .filter(|entry| entry.peers == Peers::Any)
        .filter_map(|entry| match entry.l4 {
            L4Match::Protocol { protocol, ports } if ports == PortRange::single(8080) => Some(protocol),
            _ => None,
        })
        .collect();
    protocols.sort();
    assert_eq!(protocols, vec![Protocol::TCP, Protocol::UDP, Protocol::SCTP]);
    assert!(check(&lowered, "prod/db", "default/backend", 8080, Protocol::SCTP).allowed);
    assert!(!check(&lowered, "prod/db", "default/backend", 8, Protocol::ICMP).allowed, "ANY never includes ICMP");
}

#[test]
fn named_ports_resolve_on_the_subject_for_ingress_and_per_peer_for_egress() {
    let (_, lowered) = load(
        "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: named, namespace: prod}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: frontend}}]
    toPorts: [{ports: [{port: metrics, protocol: TCP}]}]
  egress:
  - toEndpoints:
    - matchLabels: {app: db}
    - matchLabels: {app: frontend}
    toPorts: [{ports: [{port: http, protocol: TCP}, {port: postgres, protocol: TCP}]}]
  - toPorts: [{ports: [{port: nonexistent, protocol: TCP}]}]
",
    );
    assert!(allowed(&lowered, "prod/frontend", "prod/backend", 9090), "`metrics` is 9090 on the backend");
    assert!(!allowed(&lowered, "prod/frontend", "prod/backend", 8080));
    // `http` is 8080 on the frontend, `postgres` 5432 on the db; neither means the other's port.
    assert!(allowed(&lowered, "prod/backend", "prod/frontend", 8080));
    assert!(allowed(&lowered, "prod/backend", "prod/db", 5432));
    assert!(!allowed(&lowered, "prod/backend", "prod/db", 8080));
    assert!(!allowed(&lowered, "prod/backend", "prod/frontend", 5432));
    let unresolved: Vec<_> = lowered.diagnostics.iter().filter(|diagnostic| diagnostic.code.id == "PLC7003").collect();
    assert_eq!(unresolved.len(), 1, "{:?}", lowered.diagnostics);
    assert!(unresolved[0].message.contains("`nonexistent`"));
    assert_eq!(unresolved[0].location.as_ref().unwrap().span.start.line, 14);
}

#[test]
fn port_ranges_and_icmp_types() {
    let (_, lowered) = load(
        "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: ranges, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: db}}
  ingress:
  - fromEntities: [cluster]
    toPorts: [{ports: [{port: \"5000\", endPort: 5010, protocol: TCP}]}]
  - fromEntities: [cluster]
    icmps: [{fields: [{type: EchoRequest}, {type: 128, family: IPv6}]}]
",
    );
    assert!(allowed(&lowered, "default/client", "default/db", 5000));
    assert!(allowed(&lowered, "default/client", "default/db", 5010));
    assert!(!allowed(&lowered, "default/client", "default/db", 5011));
    assert!(check(&lowered, "default/client", "default/db", 8, Protocol::ICMP).allowed);
    assert!(!check(&lowered, "default/client", "default/db", 0, Protocol::ICMP).allowed);
    assert!(check(&lowered, "default/client", "default/db", 128, Protocol::ICMPV6).allowed);
    assert!(!check(&lowered, "default/client", "default/db", 8, Protocol::ICMPV6).allowed);
}

#[test]
fn entities_resolve_to_reserved_identities() {
    let (_, lowered) = load(
        "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: entities, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: frontend}}
  ingress:
  - fromEntities: [remote-node]
    toPorts: [{ports: [{port: \"10\", protocol: TCP}]}]
  - fromEntities: [cluster]
    toPorts: [{ports: [{port: \"20\", protocol: TCP}]}]
  - fromEntities: [all]
    toPorts: [{ports: [{port: \"30\", protocol: TCP}]}]
  - fromEntities: [none]
    toPorts: [{ports: [{port: \"40\", protocol: TCP}]}]
",
    );
    // frontend runs on node-a.
    assert!(allowed(&lowered, "node:node-b", "default/frontend", 10));
    // node-a is `host` to the frontend, not `remote-node`: only allow-localhost admits it.
    let local = check(&lowered, "node:node-a", "default/frontend", 10, Protocol::TCP);
    assert!(local.allowed);
    assert_eq!(local.ingress.unwrap().deciding[0].origin, RuleOrigin::Implicit(ImplicitRule::AllowLocalhost));
    assert!(allowed(&lowered, "prod/db", "default/frontend", 20));
    assert!(allowed(&lowered, "node:node-b", "default/frontend", 20));
    let from_world = |port| {
        let source = polc_ir::FlowEnd::Address("198.51.100.1".parse().unwrap());
        evaluate(&lowered.ir, &Flow { source, ..flow(&lowered, "default/client", "default/frontend", port, Protocol::TCP) }).allowed
    };
    assert!(!from_world(20), "world is not cluster");
    assert!(from_world(30), "all is every identity");
    assert!(!from_world(40) && !allowed(&lowered, "prod/db", "default/frontend", 40), "none never matches");
}

#[test]
fn deny_wins_and_deny_only_policies_default_deny() {
    let (_, lowered) = load(
        "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: allow-all, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  ingress:
  - fromEntities: [all]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: deny-client, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  ingressDeny:
  - fromEndpoints: [{matchLabels: {app: client}}]
    toPorts: [{ports: [{port: \"8080\", protocol: TCP}]}]
  egressDeny:
  - toEntities: [world]
",
    );
    let verdict = check(&lowered, "default/client", "default/backend", 8080, Protocol::TCP);
    assert!(!verdict.allowed);
    let ingress = verdict.ingress.unwrap();
    assert_eq!(ingress.decision, Decision::Denied);
    assert!(matches!(&ingress.deciding[0].origin, RuleOrigin::Policy { name, rule_path, .. } if name == "deny-client" && rule_path == "spec.ingressDeny[0]"));
    assert!(allowed(&lowered, "default/client", "default/backend", 8081));
    // The deny-only egress policy makes egress default-deny.
    let backend = lowered.ir.pod("default", "backend").unwrap();
    assert!(backend.egress.enforced && backend.egress.default_deny);
    assert!(!allowed(&lowered, "default/backend", "default/db", 5432));
}

#[test]
fn enable_default_deny_false_keeps_the_direction_open_but_enforced() {
    let (_, lowered) = load(
        "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: l7-only, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  enableDefaultDeny: {ingress: false}
  ingress:
  - fromEndpoints: [{matchLabels: {app: frontend}}]
    toPorts:
    - ports: [{port: \"8080\", protocol: TCP}]
      rules: {http: [{method: GET}]}
",
    );
    let backend = lowered.ir.pod("default", "backend").unwrap();
    assert!(backend.ingress.enforced && !backend.ingress.default_deny);
    assert!(!backend.ingress.entries.iter().any(|entry| matches!(entry.origin, RuleOrigin::Implicit(_))), "no allow-localhost without default deny");
    assert!(allowed(&lowered, "default/client", "default/backend", 8080), "unmatched traffic is allowed");
    let mut post = flow(&lowered, "default/frontend", "default/backend", 8080, Protocol::TCP);
    post.l7 = Some(L7Request::Http(HttpRequest { method: "POST".to_owned(), ..HttpRequest::default() }));
    let verdict = evaluate(&lowered.ir, &post);
    assert!(!verdict.allowed, "the L7 rules still restrict the frontend's requests");
    assert_eq!(verdict.ingress.unwrap().decision, Decision::DeniedByL7);
}

#[test]
fn enforcement_modes_and_the_host_firewall() {
    let always =
        LowerOptions { settings: polc_ir::Settings { enforcement: EnforcementMode::Always, ..polc_ir::Settings::default() }, ..LowerOptions::default() };
    let (_, lowered) = load_with("", &always);
    assert!(!allowed(&lowered, "default/client", "default/frontend", 8080), "always: default deny everywhere");
    // allow-localhost admits the frontend's node at the frontend's ingress, but with the host
    // firewall on, `always` also makes the node's own egress default-deny.
    let frontend = lowered.ir.pod("default", "frontend").unwrap();
    assert!(frontend.ingress.entries.iter().any(|entry| entry.origin == RuleOrigin::Implicit(ImplicitRule::AllowLocalhost)));
    let from_node = check(&lowered, "node:node-a", "default/frontend", 8080, Protocol::TCP);
    assert!(!from_node.allowed);
    assert_eq!(from_node.egress.unwrap().decision, Decision::DefaultDenied);
    assert!(from_node.ingress.unwrap().allowed);
    let never = LowerOptions { settings: polc_ir::Settings { enforcement: EnforcementMode::Never, ..polc_ir::Settings::default() }, ..LowerOptions::default() };
    let (_, lowered) = load_with(BACKEND_FROM_FRONTEND, &never);
    assert!(allowed(&lowered, "default/frontend", "prod/backend", 8080), "never: nothing is enforced");

    let host_policy = "apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: nodes}
spec:
  nodeSelector: {}
  ingress:
  - fromEntities: [remote-node]
";
    let (_, lowered) = load(host_policy);
    assert!(!allowed(&lowered, "default/client", "node:node-a", 22), "host firewall on by default in polc");
    assert!(allowed(&lowered, "node:node-b", "node:node-a", 22));
    let off = LowerOptions { settings: polc_ir::Settings { host_firewall: false, ..polc_ir::Settings::default() }, ..LowerOptions::default() };
    let (_, lowered) = load_with(host_policy, &off);
    assert!(allowed(&lowered, "default/client", "node:node-a", 22));
    assert!(codes(&lowered).contains(&"PLC7009"));
}

#[test]
fn allow_localhost_can_be_turned_off() {
    let (_, lowered) = load(BACKEND_FROM_FRONTEND);
    assert!(allowed(&lowered, "node:node-b", "prod/backend", 8080), "prod/backend runs on node-b");
    let off = LowerOptions { settings: polc_ir::Settings { allow_localhost: false, ..polc_ir::Settings::default() }, ..LowerOptions::default() };
    let (_, lowered) = load_with(BACKEND_FROM_FRONTEND, &off);
    assert!(!allowed(&lowered, "node:node-b", "prod/backend", 8080));
}

#[test]
fn network_policy_mapping() {
    let (_, lowered) = load(
        "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np, namespace: prod}
spec:
  podSelector: {matchLabels: {app: db}}
  ingress:
  - from:
    - namespaceSelector: {}
      podSelector: {matchLabels: {app: backend}}
  egress:
  - ports: [{port: 53, protocol: UDP}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: open, namespace: prod}
spec:
  podSelector: {matchLabels: {app: frontend}}
  ingress: [{}]
",
    );
    assert!(allowed(&lowered, "default/backend", "prod/db", 5432), "an empty namespaceSelector is every namespace");
    assert!(!allowed(&lowered, "default/frontend", "prod/db", 5432));
    // policyTypes omitted with egress rules: both directions; `to` absent is every peer.
    assert!(check(&lowered, "prod/db", "kube-system/coredns", 53, Protocol::UDP).allowed);
    assert!(!check(&lowered, "prod/db", "kube-system/coredns", 53, Protocol::TCP).allowed);
    let db = lowered.ir.pod("prod", "db").unwrap();
    assert!(db.ingress.default_deny && db.egress.default_deny);
    let source = polc_ir::FlowEnd::Address("203.0.113.5".parse().unwrap());
    let from_world = evaluate(&lowered.ir, &Flow { source, ..flow(&lowered, "default/client", "prod/frontend", 1234, Protocol::TCP) });
    assert!(from_world.allowed, "a NetworkPolicy `ingress: [{{}}]` allows every peer");
}

#[test]
fn network_policy_rules_count_whatever_policy_types_says() {
    // Cilium lowers the ingress rules even though `policyTypes` lists only Egress, and makes
    // egress deny-all because it is listed without rules.
    let (_, lowered) = load(
        "apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np, namespace: default}
spec:
  podSelector: {matchLabels: {app: db}}
  policyTypes: [Egress]
  ingress:
  - from: [{podSelector: {matchLabels: {app: backend}}}]
",
    );
    let db = lowered.ir.pod("default", "db").unwrap();
    assert!(db.ingress.enforced && db.egress.enforced && db.egress.entries.is_empty());
    assert!(allowed(&lowered, "default/backend", "default/db", 5432));
    assert!(!allowed(&lowered, "default/frontend", "default/db", 5432));
    assert!(!allowed(&lowered, "default/db", "default/backend", 8080));
}

#[test]
fn services_fqdns_and_unresolvable_peers_are_reported() {
    let (_, lowered) = load(
        "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: peers, namespace: prod}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  egress:
  - toServices: [{k8sService: {serviceName: missing, namespace: prod}}]
  - toFQDNs: [{matchName: api.example.com}]
    toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]
  - toNodes: [{matchLabels: {kubernetes.io/os: linux}}]
  - toCIDRSet: [{cidrGroupRef: partners}]
  - toGroups: [{aws: {securityGroupsIds: [sg-1]}}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: nobody, namespace: prod}
spec:
  endpointSelector: {matchLabels: {app: nothing-has-this}}
  ingress: [{}]
",
    );
    let found = codes(&lowered);
    for code in ["PLC7002", "PLC7004", "PLC7005", "PLC7006", "PLC7007", "PLC7008"] {
        assert!(found.contains(&code), "{code} missing from {found:?}");
    }
    let backend = lowered.ir.pod("prod", "backend").unwrap();
    let fqdn = backend.egress.entries.iter().find(|entry| !entry.pending_fqdns.is_empty()).expect("the FQDN entry is kept");
    assert!(fqdn.peers.is_empty());
    assert_eq!(fqdn.pending_fqdns, vec!["api.example.com".to_owned()]);
    assert_eq!(fqdn.verdict, RuleVerdict::Allow);
    let to_outside =
        Flow { destination: polc_ir::FlowEnd::Address("93.184.216.34".parse().unwrap()), ..flow(&lowered, "prod/backend", "prod/db", 443, Protocol::TCP) };
    let verdict = evaluate(&lowered.ir, &to_outside);
    assert!(!verdict.allowed);
    assert!(verdict.egress.unwrap().notes.iter().any(|note| note.contains("`api.example.com`")));
}

#[test]
fn zero_prefixes_in_a_single_stack_cluster_are_the_whole_world() {
    let policy = "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: out, namespace: default}
spec:
  endpointSelector: {matchLabels: {app: client}}
  egress:
  - toCIDRSet:
    - {cidr: 0.0.0.0/0, except: [10.0.0.0/8]}
    - {cidr: '::/0'}
";
    let (_, single) = load(policy);
    assert!(codes(&single).contains(&"PLC7012"), "{:?}", single.diagnostics);
    let to = |lowered: &Lowered, address: &str| {
        let destination = polc_ir::FlowEnd::Address(address.parse().unwrap());
        evaluate(&lowered.ir, &Flow { destination, ..flow(lowered, "default/client", "default/db", 443, Protocol::TCP) }).allowed
    };
    assert!(to(&single, "10.1.2.3"), "`::/0` is `world` in a single-stack cluster");
    let dual = LowerOptions { settings: polc_ir::Settings { dual_stack: true, ..polc_ir::Settings::default() }, ..LowerOptions::default() };
    let (_, dual) = load_with(policy, &dual);
    assert!(!codes(&dual).contains(&"PLC7012"));
    assert!(!to(&dual, "10.1.2.3"), "in a dual-stack cluster `::/0` is IPv6 only");
    assert!(to(&dual, "8.8.8.8"));
    assert!(to(&dual, "2001:db8::1"));
    assert_eq!(dual.ir.identity_of_external_address("8.8.4.4".parse().unwrap()), NumericIdentity::WORLD_IPV4);
    assert_eq!(dual.ir.identity_of_external_address("10.9.9.9".parse().unwrap()).0 >> 24, 1, "the except prefix has a CIDR identity");
    assert_eq!(dual.ir.identity_of_external_address("2001:db8::2".parse().unwrap()), NumericIdentity::WORLD_IPV6);
}

#[test]
fn unknown_flow_ends_are_reported_with_a_suggestion() {
    let (_, lowered) = load("");
    let error = resolve_end(&lowered, &FlowEndpoint::parse("prod/frontnd").unwrap()).unwrap_err();
    assert!(error.contains("`prod/frontnd`") && error.contains("`prod/frontend`"), "{error}");
    let error = resolve_end(&lowered, &FlowEndpoint::parse("node:node-c").unwrap()).unwrap_err();
    assert!(error.contains("`node-c`"), "{error}");
    let hostnet = resolve_end(&lowered, &FlowEndpoint::parse("kube-system/node-exporter").unwrap()).unwrap();
    assert_eq!(hostnet.end, polc_ir::FlowEnd::Endpoint(lowered.ir.host("node-a").unwrap().id));
    let service = resolve_end(&lowered, &FlowEndpoint::parse("10.96.10.20").unwrap()).unwrap();
    assert_eq!(service.service_frontend.as_deref(), Some("default/backend"));
}

#[test]
fn direction_flags_follow_the_rules_that_select() {
    let (_, lowered) = load(BACKEND_FROM_FRONTEND);
    let backend = lowered.ir.pod("prod", "backend").unwrap();
    assert_eq!(backend.policy(Direction::Ingress).selected_by.len(), 1);
    assert!(backend.policy(Direction::Egress).selected_by.is_empty());
}
