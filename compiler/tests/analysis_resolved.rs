//! The checks on resolved policy against the sample inventory: allow rules shadowed by denies
//! (`PLC7013`), redundant allow rules (`PLC7014`) and policy maps over their size limit
//! (`PLC7015`). Each finding is checked for its place (the rule's line), what it names, and its
//! absence where the rule does add something.

use std::fmt::Write;
use std::path::Path;

use polc_compiler::checks::analysis::policy_map_limit::{DEFAULT_POLICY_MAP_MAX, direction_key_count, endpoint_key_count};
use polc_compiler::lower::{LowerOptions, Lowered, lower};
use polc_compiler::{Diagnostic, Options, Severity, SourceMap, parse};
use polc_ir::{EnforcementMode, Settings};

fn inventory() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../policies/examples/inventory/cluster.yaml")).expect("the sample inventory")
}

fn lower_with(policies: &str, options: &LowerOptions) -> Lowered {
    let mut sources = SourceMap::new();
    sources.add("cluster.yaml", inventory());
    sources.add("policy.yaml", policies);
    let parsed = parse(&sources, &Options::default());
    let errors: Vec<&Diagnostic> = parsed.diagnostics.iter().filter(|diagnostic| diagnostic.severity == Severity::Error).collect();
    assert!(errors.is_empty(), "{errors:?}");
    lower(&parsed.objects, options)
}

fn lowered(policies: &str) -> Lowered {
    lower_with(policies, &LowerOptions::default())
}

/// The findings of `code`, as (line in `policy.yaml`, message).
fn findings<'a>(lowered: &'a Lowered, code: &str) -> Vec<(u32, &'a Diagnostic)> {
    lowered
        .diagnostics
        .iter()
        .filter(|diagnostic| diagnostic.code.id == code)
        .map(|diagnostic| (diagnostic.location.as_ref().map(|location| location.span.start.line).unwrap_or(0), diagnostic))
        .collect()
}

fn lines(lowered: &Lowered, code: &str) -> Vec<u32> {
    findings(lowered, code).into_iter().map(|(line, _)| line).collect()
}

// ---------------------------------------------------------------------------------------------
// PLC7013: allow rules shadowed by denies.

const BACKEND: &str = "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: backend, namespace: prod}
spec:
  endpointSelector: {matchLabels: {app: backend}}
";

#[test]
fn an_allow_inside_a_broader_deny_is_reported_at_the_allow_naming_the_deny() {
    let policy = format!(
        "{BACKEND}  ingressDeny:
  - fromEndpoints: [{{}}]
  ingress:
  - fromEndpoints: [{{matchLabels: {{app: frontend}}}}]
    toPorts: [{{ports: [{{port: \"8080\", protocol: TCP}}]}}]
  - fromEntities: [world]
    toPorts: [{{ports: [{{port: \"443\", protocol: TCP}}]}}]
"
    );
    let lowered = lowered(&policy);
    let found = findings(&lowered, "PLC7013");
    assert_eq!(found.len(), 1, "{:?}", lowered.diagnostics);
    let (line, diagnostic) = found[0];
    assert_eq!(line, 9, "at the allow rule");
    assert_eq!(diagnostic.severity, Severity::Warning);
    assert!(diagnostic.message.contains("rule `spec.ingressDeny[0]` of CiliumNetworkPolicy `prod/backend`"), "{}", diagnostic.message);
    assert_eq!(diagnostic.related.len(), 1);
    assert_eq!(diagnostic.related[0].location.span.start.line, 7, "the deny rule");
}

#[test]
fn denies_of_several_rules_together_can_shadow_an_allow() {
    let policy = format!(
        "{BACKEND}  ingressDeny:
  - fromEntities: [world]
    toPorts: [{{ports: [{{port: \"8000\", endPort: 8050, protocol: TCP}}]}}]
  - fromEntities: [world]
    toPorts: [{{ports: [{{port: \"8051\", endPort: 8100, protocol: TCP}}]}}]
  ingress:
  - fromCIDR: [203.0.113.0/24, 198.51.100.7/32]
    toPorts: [{{ports: [{{port: \"8000\", endPort: 8100, protocol: TCP}}]}}]
  - fromCIDR: [203.0.113.0/24]
    toPorts: [{{ports: [{{port: \"8000\", endPort: 8101, protocol: TCP}}]}}]
"
    );
    let lowered = lowered(&policy);
    let found = findings(&lowered, "PLC7013");
    assert_eq!(found.iter().map(|(line, _)| *line).collect::<Vec<_>>(), vec![12], "port 8101 is not denied: {:?}", lowered.diagnostics);
    let message = &found[0].1.message;
    assert!(message.contains("`spec.ingressDeny[0]`") && message.contains("`spec.ingressDeny[1]`"), "{message}");
}

#[test]
fn an_allow_some_of_whose_traffic_passes_is_not_reported() {
    // The deny covers another port, another peer, or only some of the pods the allow applies to.
    let other_port = format!(
        "{BACKEND}  ingressDeny:
  - fromEndpoints: [{{}}]
    toPorts: [{{ports: [{{port: \"22\"}}]}}]
  ingress:
  - fromEndpoints: [{{matchLabels: {{app: frontend}}}}]
    toPorts: [{{ports: [{{port: \"8080\", protocol: TCP}}]}}]
"
    );
    assert!(lines(&lowered(&other_port), "PLC7013").is_empty());
    let other_peer = format!(
        "{BACKEND}  ingressDeny:
  - fromEndpoints: [{{matchLabels: {{app: db}}}}]
  ingress:
  - fromEndpoints: [{{matchLabels: {{app: frontend}}}}, {{matchLabels: {{app: db}}}}]
"
    );
    assert!(lines(&lowered(&other_peer), "PLC7013").is_empty());
    // Any peer is not covered by a deny of the peers there are today.
    let any_peer = format!(
        "{BACKEND}  ingressDeny:
  - fromEntities: [cluster, world]
  ingress:
  - toPorts: [{{ports: [{{port: \"8080\", protocol: TCP}}]}}]
"
    );
    assert!(lines(&lowered(&any_peer), "PLC7013").is_empty());
    // The allow applies to the backends of both namespaces; the deny only to prod's.
    let some_pods = "apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: backends}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  ingress:
  - fromEntities: [world]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: backend, namespace: prod}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  ingressDeny:
  - fromEntities: [world]
";
    assert!(lines(&lowered(some_pods), "PLC7013").is_empty());
    // The same with the deny clusterwide: now it is shadowed everywhere.
    let everywhere = some_pods
        .replace("kind: CiliumNetworkPolicy\nmetadata: {name: backend, namespace: prod}", "kind: CiliumClusterwideNetworkPolicy\nmetadata: {name: deny-world}");
    assert_eq!(lines(&lowered(&everywhere), "PLC7013"), vec![7]);
}

#[test]
fn nothing_is_shadowed_where_policy_is_not_enforced() {
    let policy = format!(
        "{BACKEND}  ingressDeny:
  - fromEndpoints: [{{}}]
  ingress:
  - fromEndpoints: [{{matchLabels: {{app: frontend}}}}]
"
    );
    assert_eq!(lines(&lowered(&policy), "PLC7013"), vec![9]);
    let never = LowerOptions { settings: Settings { enforcement: EnforcementMode::Never, ..Settings::default() }, ..LowerOptions::default() };
    assert!(lines(&lower_with(&policy, &never), "PLC7013").is_empty());
}

// ---------------------------------------------------------------------------------------------
// PLC7014: redundant allow rules.

#[test]
fn of_two_equal_rules_the_second_is_reported() {
    let policy = format!(
        "{BACKEND}  ingress:
  - fromEndpoints: [{{matchLabels: {{app: frontend}}}}]
    toPorts: [{{ports: [{{port: \"8080\", protocol: TCP}}]}}]
  - fromEndpoints: [{{matchLabels: {{app: frontend}}}}]
    toPorts: [{{ports: [{{port: \"8080\", protocol: TCP}}]}}]
  - fromEndpoints: [{{matchLabels: {{app: frontend}}}}]
    toPorts: [{{ports: [{{port: \"8080\", protocol: TCP}}]}}]
"
    );
    let lowered = lowered(&policy);
    let found = findings(&lowered, "PLC7014");
    // Every reported rule can be removed at once: the first one stays.
    assert_eq!(found.iter().map(|(line, _)| *line).collect::<Vec<_>>(), vec![9, 11], "{:?}", lowered.diagnostics);
    assert_eq!(found[0].1.severity, Severity::Warning);
    assert!(found[0].1.message.contains("rule `spec.ingress[0]` of CiliumNetworkPolicy `prod/backend`"), "{}", found[0].1.message);
    assert!(found[1].1.message.contains("`spec.ingress[0]`"), "{}", found[1].1.message);
    assert_eq!(found[0].1.related[0].location.span.start.line, 7);
}

#[test]
fn narrower_ports_and_peers_are_redundant_across_policies() {
    let policy = format!(
        "{BACKEND}  ingress:
  - fromEndpoints: [{{matchLabels: {{app: frontend}}}}]
    toPorts: [{{ports: [{{port: \"8080\", protocol: TCP}}]}}]
  - fromEndpoints: [{{matchLabels: {{app: frontend}}}}]
    toPorts: [{{ports: [{{port: \"9090\", protocol: TCP}}]}}]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {{name: namespace-wide, namespace: prod}}
spec:
  endpointSelector: {{}}
  ingress:
  - fromEndpoints: [{{}}]
    toPorts: [{{ports: [{{port: \"8000\", endPort: 8999, protocol: TCP}}]}}]
"
    );
    let lowered = lowered(&policy);
    let found = findings(&lowered, "PLC7014");
    assert_eq!(found.iter().map(|(line, _)| *line).collect::<Vec<_>>(), vec![7], "port 9090 is only allowed by its own rule: {:?}", lowered.diagnostics);
    assert!(found[0].1.message.contains("CiliumNetworkPolicy `prod/namespace-wide`"), "{}", found[0].1.message);
}

#[test]
fn coverage_that_holds_only_for_todays_pods_is_not_reported() {
    // Every pod of `prod` has the namespace label `team: shop`, so today the second rule allows
    // what the first allows; but the selectors do not imply each other (the first names the app,
    // the second a namespace label), so a future pod could tell them apart.
    let policy = format!(
        "{BACKEND}  ingress:
  - fromEndpoints: [{{matchLabels: {{app: frontend}}}}]
  - fromEndpoints: [{{matchLabels: {{k8s:io.cilium.k8s.namespace.labels.team: shop}}}}]
"
    );
    let lowered = lowered(&policy);
    assert!(lines(&lowered, "PLC7014").is_empty(), "{:?}", lowered.diagnostics);
    // And a rule whose subject another rule's subject only happens to include today.
    let subjects = "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: by-app, namespace: prod}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  ingress:
  - fromEntities: [world]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: by-name, namespace: prod}
spec:
  endpointSelector: {matchExpressions: [{key: app, operator: In, values: [backend, db]}]}
  ingress:
  - fromEntities: [world]
";
    let lowered = self::lowered(subjects);
    // `by-app`'s subject implies `by-name`'s, so `by-app`'s rule is redundant; not the reverse.
    assert_eq!(lines(&lowered, "PLC7014"), vec![7], "{:?}", lowered.diagnostics);
}

#[test]
fn rules_that_differ_in_l7_auth_or_default_deny_are_kept() {
    let l7 = format!(
        "{BACKEND}  ingress:
  - fromEndpoints: [{{matchLabels: {{app: frontend}}}}]
    toPorts: [{{ports: [{{port: \"8080\", protocol: TCP}}]}}]
  - fromEndpoints: [{{matchLabels: {{app: frontend}}}}]
    toPorts: [{{ports: [{{port: \"8080\", protocol: TCP}}], rules: {{http: [{{method: GET}}]}}}}]
"
    );
    assert!(lines(&lowered(&l7), "PLC7014").is_empty());
    // An allow without L7 rules on the port of an L7 rule lifts the L7 rules for its peers; a
    // broader allow on every TCP port does not, so the narrow one is not redundant.
    let l7_filter = format!(
        "{BACKEND}  ingress:
  - fromEndpoints: [{{matchLabels: {{app: frontend}}}}]
    toPorts: [{{ports: [{{port: \"8080\", protocol: TCP}}]}}]
  - fromEndpoints: [{{matchLabels: {{app: frontend}}}}]
    toPorts: [{{ports: [{{port: \"0\", protocol: TCP}}]}}]
  - fromEndpoints: [{{matchLabels: {{app: frontend}}}}]
    toPorts: [{{ports: [{{port: \"8080\", protocol: TCP}}], rules: {{http: [{{method: GET}}]}}}}]
"
    );
    assert!(lines(&lowered(&l7_filter), "PLC7014").is_empty());
    let auth = format!(
        "{BACKEND}  ingress:
  - fromEndpoints: [{{matchLabels: {{app: frontend}}}}]
  - fromEndpoints: [{{matchLabels: {{app: frontend}}}}]
    authentication: {{mode: required}}
"
    );
    assert!(lines(&lowered(&auth), "PLC7014").is_empty());
    // The later rule is covered, but it is the only one that makes ingress default-deny.
    let default_deny = "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: open, namespace: prod}
spec:
  endpointSelector: {}
  enableDefaultDeny: {ingress: false}
  ingress:
  - fromEntities: [world]
---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: closed, namespace: prod}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  ingress:
  - fromCIDR: [203.0.113.0/24]
";
    let lowered = lowered(default_deny);
    assert!(lines(&lowered, "PLC7014").is_empty(), "{:?}", lowered.diagnostics);
    // Without `enableDefaultDeny: false` it is redundant.
    let lowered = self::lowered(&default_deny.replace("  enableDefaultDeny: {ingress: false}\n", ""));
    assert_eq!(lines(&lowered, "PLC7014"), vec![15], "{:?}", lowered.diagnostics);
}

#[test]
fn a_rule_shadowed_by_a_deny_is_reported_as_shadowed_only() {
    let policy = format!(
        "{BACKEND}  ingressDeny:
  - fromEndpoints: [{{}}]
  ingress:
  - fromEndpoints: [{{}}]
  - fromEndpoints: [{{matchLabels: {{app: frontend}}}}]
"
    );
    let lowered = lowered(&policy);
    assert_eq!(lines(&lowered, "PLC7013"), vec![9, 10]);
    assert!(lines(&lowered, "PLC7014").is_empty(), "{:?}", lowered.diagnostics);
}

// ---------------------------------------------------------------------------------------------
// PLC7015: policy maps over their size limit.

/// prod/backend may reach every pod of `prod` on ports 1024-65535 of TCP, UDP and SCTP.
const WIDE_EGRESS: &str = "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: wide, namespace: prod}
spec:
  endpointSelector: {matchLabels: {app: backend}}
  egress:
  - toEndpoints: [{}]
    toPorts: [{ports: [{port: \"1024\", endPort: 65535, protocol: ANY}]}]
";

#[test]
fn keys_are_identities_times_protocols_times_port_blocks() {
    let lowered = lowered(WIDE_EGRESS);
    let backend = lowered.ir.pod("prod", "backend").expect("prod/backend");
    // 3 identities in prod × 3 protocols × 6 blocks (1024/6, 2048/5, ..., 32768/1); ingress is
    // not enforced: one allow-all key.
    assert_eq!(direction_key_count(&backend.egress), 3 * 3 * 6);
    assert_eq!(direction_key_count(&backend.ingress), 1);
    assert_eq!(endpoint_key_count(backend), 55);
    assert!(lines(&lowered, "PLC7015").is_empty(), "under the default limit");
}

#[test]
fn an_endpoint_over_the_limit_is_an_error_naming_it_its_count_and_the_largest_rules() {
    let at = |limit: usize| LowerOptions { policy_map_max: limit, ..LowerOptions::default() };
    assert!(lines(&lower_with(WIDE_EGRESS, &at(55)), "PLC7015").is_empty(), "exactly at the limit fits");
    let lowered = lower_with(WIDE_EGRESS, &at(54));
    let found = findings(&lowered, "PLC7015");
    assert_eq!(found.len(), 1, "{:?}", lowered.diagnostics);
    let diagnostic = found[0].1;
    assert_eq!(diagnostic.severity, Severity::Error);
    assert_eq!(diagnostic.message, "the policy map of pod `prod/backend` would need 55 entries (1 ingress, 54 egress), more than the limit of 54");
    // At the pod's name in the inventory.
    let location = diagnostic.location.as_ref().expect("located");
    assert_eq!(location.path.as_ref().map(ToString::to_string).as_deref(), Some("items[10].metadata.name"), "{location:?}");
    let help = diagnostic.help.as_deref().unwrap_or("");
    assert!(help.contains("rule `spec.egress[0]` of CiliumNetworkPolicy `prod/wide` (54 keys)"), "{help}");
    assert!(help.contains("`--policy-map-max`"), "{help}");
    assert_eq!(diagnostic.related[0].location.span.start.line, 7);
}

#[test]
fn endpoints_with_the_same_policy_are_reported_together() {
    let policy = WIDE_EGRESS.replace("endpointSelector: {matchLabels: {app: backend}}", "endpointSelector: {}");
    let lowered = lower_with(&policy, &LowerOptions { policy_map_max: 54, ..LowerOptions::default() });
    let found = findings(&lowered, "PLC7015");
    assert_eq!(found.len(), 1, "{:?}", lowered.diagnostics);
    assert!(
        found[0].1.message.starts_with("the policy maps of pod `prod/backend` and 2 other endpoints with the same policy would need 55 entries each"),
        "{}",
        found[0].1.message
    );
}

#[test]
fn the_default_limit_is_ciliums_16384() {
    assert_eq!(DEFAULT_POLICY_MAP_MAX, 16_384);
    // 400 prefixes × 3 protocols × 16 blocks of 1-65535 = 19,200 egress keys.
    let mut policy = String::from(
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: partners, namespace: default}\nspec:\n  endpointSelector: {matchLabels: {app: client}}\n  egress:\n  - toCIDR:\n",
    );
    for index in 0..400 {
        let _ = writeln!(policy, "    - 198.18.{}.{}/32", index / 200, index % 200 + 1);
    }
    policy.push_str("    toPorts: [{ports: [{port: \"1\", endPort: 65535}]}]\n");
    let lowered = lowered(&policy);
    let found = findings(&lowered, "PLC7015");
    assert_eq!(found.len(), 1, "{:?}", lowered.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
    assert!(found[0].1.message.contains("pod `default/client` would need 19201 entries (1 ingress, 19200 egress)"), "{}", found[0].1.message);
    assert!(found[0].1.help.as_deref().unwrap_or("").contains("at least 19201"), "{:?}", found[0].1.help);
    // A deny of the whole range, on every protocol and port, removes the allow keys it covers.
    policy.push_str("  egressDeny:\n  - toCIDR: [198.18.0.0/16]\n");
    let lowered = self::lowered(&policy);
    assert!(lines(&lowered, "PLC7015").is_empty(), "{:?}", lowered.diagnostics.iter().map(|d| &d.message).collect::<Vec<_>>());
    let client = lowered.ir.pod("default", "client").expect("default/client");
    // The deny selects the /16's identity and the 400 /32s inside it: 401 keys, and every allow
    // key is covered by the deny of its own identity.
    assert_eq!(direction_key_count(&client.egress), 401);
}
