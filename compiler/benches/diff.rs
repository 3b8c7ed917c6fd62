//! `polc diff` on a large case: two versions of 3,000 rules over 1,000 identities (1,000 pods
//! with distinct labels in 10 namespaces on 4 nodes, 1,000 CiliumNetworkPolicies of three rules
//! each). The new version moves the ingress port of 50 policies and adds a deny to them, drops
//! a rule from 20 others, and adds a clusterwide policy that opens port 443 of every pod to the
//! world and lets every pod reach a new database prefix (which renumbers the CIDR identities
//! after it). Target: the whole diff (parse, lower and compare both versions) under 2 s on a
//! 2-core machine.
//!
//! Run with `cargo bench -p polc-compiler --bench diff`. Before the timings, one run prints a
//! JSON line with the sizes and the time of each stage.

use std::fmt::Write;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use polc_compiler::diff::diff;
use polc_compiler::lower::{LowerOptions, Lowered, lower};
use polc_compiler::{Options, SourceMap, parse};

const PODS: usize = 1_000;
const NAMESPACES: usize = 10;
const NODES: usize = 4;

fn inventory() -> String {
    let mut out = String::new();
    for namespace in 0..NAMESPACES {
        let _ = write!(out, "---\napiVersion: v1\nkind: Namespace\nmetadata: {{name: ns-{namespace}, labels: {{team: team-{namespace}}}}}\n");
    }
    for node in 0..NODES {
        let _ = write!(
            out,
            "---\napiVersion: v1\nkind: Node\nmetadata: {{name: node-{node}}}\nspec: {{podCIDRs: [10.{node}.0.0/16]}}\nstatus: {{addresses: [{{type: InternalIP, address: 192.168.1.{}}}]}}\n",
            node + 1
        );
    }
    for pod in 0..PODS {
        let node = pod % NODES;
        let _ = write!(
            out,
            "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: svc-{pod}, namespace: ns-{}, labels: {{app: svc-{pod}, tier: tier-{}}}}}\nspec:\n  nodeName: node-{node}\n  containers: [{{name: main, image: app, ports: [{{name: http, containerPort: 8080, protocol: TCP}}]}}]\nstatus: {{phase: Running, podIP: 10.{node}.{}.{}}}\n",
            pod % NAMESPACES,
            pod % 5,
            pod / 250,
            pod % 250 + 1
        );
    }
    out
}

/// The selector of pod `pod` from any namespace.
fn selector(pod: usize) -> String {
    format!("{{matchLabels: {{app: svc-{pod}, k8s:io.kubernetes.pod.namespace: ns-{}}}}}", pod % NAMESPACES)
}

/// The policy of pod `pod`: three rules; `changed` gives the new version. Pod `i` takes
/// traffic from pods `i-1` and `i-7` on port 8080 and sends to `i+1` and `i+7` on that port.
fn policy(pod: usize, changed: bool) -> String {
    let namespace = pod % NAMESPACES;
    let moved = changed && pod.is_multiple_of(20);
    let dropped = changed && pod % 50 == 1;
    let ingress_port = if moved { 9090 } else { 8080 };
    let mut out = format!(
        "---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {{name: svc-{pod}, namespace: ns-{namespace}}}\nspec:\n  endpointSelector: {{matchLabels: {{app: svc-{pod}}}}}\n  ingress:\n  - fromEndpoints: [{}, {}]\n    toPorts: [{{ports: [{{port: \"{ingress_port}\", protocol: TCP}}]}}]\n  egress:\n  - toEndpoints: [{}, {}]\n    toPorts: [{{ports: [{{port: \"8080\", protocol: TCP}}]}}]\n",
        selector((pod + PODS - 1) % PODS),
        selector((pod + PODS - 7) % PODS),
        selector((pod + 1) % PODS),
        selector((pod + 7) % PODS),
    );
    if !dropped {
        match pod % 3 {
            0 => {
                let _ = write!(
                    out,
                    "  - toCIDRSet: [{{cidr: 172.16.{}.0/24, except: [172.16.{}.128/25]}}]\n    toPorts: [{{ports: [{{port: \"{}\", protocol: TCP}}]}}]\n",
                    pod % 32,
                    pod % 32,
                    1000 + pod % 50
                );
            }
            1 => {
                let _ = write!(out, "  - toEntities: [kube-apiserver]\n    toPorts: [{{ports: [{{port: \"6443\", protocol: TCP}}]}}]\n");
            }
            _ => {
                let _ = write!(out, "  egressDeny:\n  - toEntities: [world]\n    toPorts: [{{ports: [{{port: \"25\", protocol: TCP}}]}}]\n");
            }
        }
    }
    if moved {
        let _ = write!(out, "  ingressDeny:\n  - fromEndpoints: [{}]\n", selector((pod + PODS - 1) % PODS));
    }
    out
}

fn version(changed: bool) -> SourceMap {
    let mut sources = SourceMap::new();
    sources.add("inventory.yaml", inventory());
    let mut policies = String::new();
    for pod in 0..PODS {
        policies.push_str(&policy(pod, changed));
    }
    if changed {
        // Every pod: the world may reach port 443; pods may reach a database network (a new
        // prefix, which moves the numbers of the CIDR identities after it).
        policies.push_str(
            "---\napiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: public-https}\nspec:\n  endpointSelector: {}\n  ingress:\n  - fromEntities: [world]\n    toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]\n  egress:\n  - toCIDR: [10.99.0.0/16]\n    toPorts: [{ports: [{port: \"5432\", protocol: TCP}]}]\n",
        );
    }
    sources.add("policies.yaml", policies);
    sources
}

fn compile(sources: &SourceMap) -> Lowered {
    let parsed = parse(sources, &Options::default());
    lower(&parsed.objects, &LowerOptions::default())
}

fn bench(c: &mut Criterion) {
    let (old_sources, new_sources) = (version(false), version(true));

    // One run outside the timing: sizes, and the time of each stage.
    let started = Instant::now();
    let old = compile(&old_sources);
    let new = compile(&new_sources);
    let compiled = started.elapsed();
    let started = Instant::now();
    let result = diff(&old.ir, &new.ir);
    let compared = started.elapsed();
    let rules: usize = old.ir.endpoints.iter().map(|endpoint| endpoint.ingress.selected_by.len() + endpoint.egress.selected_by.len()).sum();
    let endpoint_identities = old.ir.identities.iter().filter(|identity| identity.kind == polc_ir::IdentityKind::Endpoint).count();
    println!(
        "{{\"bench\":\"diff\",\"identities\":{endpoint_identities},\"ruleSelections\":{rules},\"endpoints\":{},\"ends\":{},\"portClasses\":{},\"endPairs\":{},\"rows\":{},\"flowGroups\":{},\"changedPairs\":{},\"entryGroups\":{},\"compileBothMs\":{},\"diffMs\":{}}}",
        result.stats.common_endpoints,
        result.stats.ends,
        result.stats.port_classes,
        result.stats.end_pairs,
        result.stats.rows,
        result.flows.len(),
        result.changed_endpoint_pairs(),
        result.entries.len(),
        compiled.as_millis(),
        compared.as_millis()
    );
    assert!(!result.flows.is_empty() && !result.entries.is_empty(), "the new version changes flows and entries");
    assert_eq!(endpoint_identities, PODS, "one identity per pod");

    let mut group = c.benchmark_group("diff");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.bench_function("compare_3000_rules_1000_identities", |b| b.iter(|| diff(&old.ir, &new.ir)));
    group.bench_function("parse_lower_compare_3000_rules_1000_identities", |b| {
        b.iter(|| {
            let old = compile(&old_sources);
            let new = compile(&new_sources);
            diff(&old.ir, &new.ir)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
