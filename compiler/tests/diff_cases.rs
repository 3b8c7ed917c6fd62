//! `polc_compiler::diff` on hand-written cases: what each part of the diff says about one
//! change — renumbered CIDR identities, endpoints on one side only, `host` and `remote-node`
//! without nodes, the two worlds of a dual-stack cluster, port classes, grouping, and
//! enforcement.

mod diff_support;

use diff_support::lower_files;
use polc_compiler::diff::{EndKind, EntryVerdict, FlowVerdict, PolicyDiff, PolicyMode, diff};
use polc_compiler::lower::{LowerOptions, Lowered};
use polc_ir::{Direction, Protocol, Settings};

const INVENTORY: &str = "apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: v1
kind: Pod
metadata: {name: web-0, namespace: shop, labels: {app: web}}
spec: {nodeName: node-a, containers: [{name: web, image: x, ports: [{name: http, containerPort: 8080, protocol: TCP}]}]}
status: {podIP: 10.0.1.10}
---
apiVersion: v1
kind: Pod
metadata: {name: web-1, namespace: shop, labels: {app: web}}
spec: {nodeName: node-a, containers: [{name: web, image: x, ports: [{name: http, containerPort: 8080, protocol: TCP}]}]}
status: {podIP: 10.0.1.11}
---
apiVersion: v1
kind: Pod
metadata: {name: api, namespace: shop, labels: {app: api}}
spec: {nodeName: node-a}
status: {podIP: 10.0.1.20}
";

fn lower_with(inventory: &str, policies: &str, settings: Settings) -> Lowered {
    lower_files(
        &[("inventory.yaml".to_owned(), inventory.to_owned()), ("policies.yaml".to_owned(), policies.to_owned())],
        &LowerOptions { settings, ..LowerOptions::default() },
    )
}

fn compare(old: &str, new: &str) -> PolicyDiff {
    let (old, new) = (lower_with(INVENTORY, old, Settings::default()), lower_with(INVENTORY, new, Settings::default()));
    diff(&old.ir, &new.ir)
}

fn names(diff: &PolicyDiff, ends: &[usize]) -> Vec<String> {
    ends.iter().map(|index| diff.ends[*index].describe()).collect()
}

const API_EGRESS_CIDR: &str = "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  egress:
  - toCIDR: [203.0.113.0/24]
";

#[test]
fn a_new_prefix_renumbers_identities_without_removing_entries() {
    // 198.51.100.0/24 sorts before 203.0.113.0/24, so the latter's CIDR identity moves.
    let new = format!("{API_EGRESS_CIDR}  - toCIDR: [198.51.100.0/24]\n    toPorts: [{{ports: [{{port: \"443\", protocol: TCP}}]}}]\n");
    let result = compare(API_EGRESS_CIDR, &new);
    assert_eq!(result.entries.len(), 1, "{:#?}", result.entries);
    let change = &result.entries[0];
    assert_eq!((change.direction, change.endpoints.as_slice()), (Direction::Egress, ["shop/api".to_owned()].as_slice()));
    assert_eq!(change.added.len(), 1, "the new prefix's entry: {:#?}", change.added);
    assert!(change.added[0].identity_description.contains("198.51.100.0/24"));
    assert!(change.removed.is_empty() && change.changed.is_empty(), "{change:#?}");
    assert_eq!(change.renumbered.len(), 1, "{change:#?}");
    let (old, new) = &change.renumbered[0];
    assert_ne!(old.identity, new.identity);
    assert_eq!(old.identity_description, new.identity_description);
    // Flows: api may now reach 198.51.100.0/24 on 443 and nothing else changes.
    assert_eq!(result.flows.len(), 1, "{:#?}", result.flows);
    let flow = &result.flows[0];
    assert_eq!(names(&result, &flow.sources), ["shop/api"]);
    assert_eq!(names(&result, &flow.destinations), ["198.51.100.0/24"]);
    assert_eq!(flow.ports.iter().map(|port| result.port_classes.classes()[*port].describe()).collect::<Vec<_>>(), ["TCP 443"]);
    assert_eq!((flow.old, flow.new), (FlowVerdict::DENY, FlowVerdict { allowed: true, l7_proxy: false, mutual_auth: false }));
}

#[test]
fn equivalent_pods_are_one_end_and_a_pod_is_never_its_own_peer() {
    let new = "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: web, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: web}}
  ingress:
  - fromEndpoints: [{matchLabels: {app: web}}]
";
    let result = compare("", new);
    let web = result.ends.iter().position(|end| end.kind == EndKind::Pods { pods: vec!["shop/web-0".to_owned(), "shop/web-1".to_owned()] });
    let web = web.expect("both web pods are one end");
    // web-0 ↔ web-1 stays allowed; api → web and the outside → web become denied.
    let denied: Vec<_> = result.flows.iter().filter(|flow| flow.destinations == [web]).collect();
    assert!(denied.iter().all(|flow| flow.old.allowed && !flow.new.allowed), "{denied:#?}");
    let sources: Vec<String> = denied.iter().flat_map(|flow| names(&result, &flow.sources)).collect();
    assert!(sources.contains(&"shop/api".to_owned()) && !sources.iter().any(|name| name.contains("web")), "{sources:?}");
    // Without nodes in the inventory, the local host and remote nodes are ends of their own:
    // the local host still reaches the pods (allow-localhost), remote nodes no longer do.
    assert!(sources.contains(&"remote-node (any other node)".to_owned()), "{sources:?}");
    assert!(!sources.contains(&"host (the pod's own node)".to_owned()), "{sources:?}");
    // Both pods get the same entries and the same enforcement change: one group each.
    assert_eq!(result.entries.len(), 1);
    assert_eq!(result.entries[0].endpoints, ["shop/web-0", "shop/web-1"]);
    assert!(result.entries[0].added.iter().any(|entry| entry.value.verdict == EntryVerdict::Allow && entry.identity_description.contains("app=web")));
    assert_eq!(result.enforcement.len(), 1);
    assert_eq!((result.enforcement[0].old, result.enforcement[0].new), (PolicyMode::NotEnforced, PolicyMode::DefaultDeny));
}

#[test]
fn endpoints_on_one_side_are_listed_and_their_flows_left_out() {
    let old = lower_with(INVENTORY, "", Settings::default());
    let more = format!(
        "{INVENTORY}---\napiVersion: v1\nkind: Pod\nmetadata: {{name: worker, namespace: shop, labels: {{app: worker}}}}\nspec: {{nodeName: node-a}}\nstatus: {{podIP: 10.0.1.30}}\n"
    );
    let new = lower_with(&more, "", Settings::default());
    let result = diff(&old.ir, &new.ir);
    assert_eq!(result.endpoints_only_new, ["shop/worker"]);
    assert!(result.endpoints_only_old.is_empty());
    assert!(result.flows.is_empty(), "nothing is enforced, so no common flow changes: {:#?}", result.flows);
    // Its address is no outside address either.
    assert!(!result.ends.iter().any(|end| matches!(&end.kind, EndKind::External { example, .. } if example.to_string() == "10.0.1.30")));
    // Its (allow-all) entries are new.
    assert!(result.entries.iter().any(|change| change.endpoints == ["shop/worker"] && !change.added.is_empty()));
    assert!(!result.is_empty());
}

#[test]
fn a_dual_stack_cluster_has_two_worlds() {
    let policy = "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress:
  - fromCIDR: [0.0.0.0/0]
";
    let settings = Settings { dual_stack: true, ..Settings::default() };
    let (old, new) = (lower_with(INVENTORY, "", settings.clone()), lower_with(INVENTORY, policy, settings));
    let result = diff(&old.ir, &new.ir);
    let worlds: Vec<String> = result.ends.iter().filter(|end| matches!(end.kind, EndKind::External { .. })).map(|end| end.describe()).collect();
    assert_eq!(worlds, ["world (IPv4)", "world (IPv6)"]);
    // Only the IPv6 world loses access to api.
    let to_api: Vec<String> =
        result.flows.iter().filter(|flow| names(&result, &flow.destinations) == ["shop/api"]).flat_map(|flow| names(&result, &flow.sources)).collect();
    assert!(to_api.contains(&"world (IPv6)".to_owned()) && !to_api.contains(&"world (IPv4)".to_owned()), "{to_api:?}");

    // Single stack: one world.
    let (old, new) = (lower_with(INVENTORY, "", Settings::default()), lower_with(INVENTORY, policy, Settings::default()));
    let result = diff(&old.ir, &new.ir);
    let worlds: Vec<String> = result.ends.iter().filter(|end| matches!(end.kind, EndKind::External { .. })).map(|end| end.describe()).collect();
    assert_eq!(worlds, ["world"]);
}

#[test]
fn port_classes_cut_ranges_where_rules_differ() {
    let old = "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress:
  - toPorts: [{ports: [{port: \"8000\", endPort: 8100, protocol: TCP}]}]
";
    let new = "apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {name: api, namespace: shop}
spec:
  endpointSelector: {matchLabels: {app: api}}
  ingress:
  - toPorts: [{ports: [{port: \"8000\", endPort: 8100, protocol: TCP}]}]
  ingressDeny:
  - toPorts: [{ports: [{port: \"8080\", protocol: TCP}, {port: \"53\", protocol: UDP}]}]
";
    let result = compare(old, new);
    let classes = &result.port_classes;
    let described: Vec<String> = classes.classes().iter().map(|class| class.describe()).collect();
    assert_eq!(described, ["TCP 8000-8079, 8081-8100", "TCP 8080", "UDP 53", "any other port or protocol"]);
    assert_eq!(classes.class_of(Protocol::TCP, 8050), Some(0));
    assert_eq!(classes.class_of(Protocol::TCP, 8080), Some(1));
    assert_eq!(classes.class_of(Protocol::UDP, 53), Some(2));
    assert_eq!(classes.class_of(Protocol::TCP, 22), Some(3));
    assert_eq!(classes.class_of(Protocol::SCTP, 8080), Some(3));
    // 8080/TCP from every source to api changes. 53/UDP was denied before (default-deny), but
    // for the local host, which allow-localhost let in on every port: a deny beats it.
    // (The local host's flows are groups of their own: allow-localhost decided them too.)
    assert!(!result.flows.is_empty());
    let mut local_host_ports: Vec<usize> = Vec::new();
    for flow in &result.flows {
        if flow.sources.iter().any(|index| result.ends[*index].kind == EndKind::LocalHost) {
            assert_eq!(flow.sources.len(), 1, "{flow:#?}");
            local_host_ports.extend(&flow.ports);
        } else {
            assert_eq!(flow.ports, [1], "{flow:#?}");
        }
        assert_eq!(names(&result, &flow.destinations), ["shop/api"]);
        assert!(flow.old.allowed && !flow.new.allowed);
        assert!(flow.new_reasons.iter().any(|reason| reason.decision == polc_ir::Decision::Denied && !reason.rules.is_empty()));
    }
    local_host_ports.sort_unstable();
    assert_eq!(local_host_ports, [1, 2]);
}
