//! `polc compile` at scale: 3,000 CiliumNetworkPolicy rules over 1,000 pods with 1,000 distinct
//! identities on 4 nodes, through the front end, lowering, the per-node compile (map images and
//! constants), the bundle builder and the bundle writer. Prints one JSON document with the time
//! of each phase (median of the runs), the entry counts and the bundle's size, and checks that
//! two compiles of the same inputs give byte-identical bundles.
//!
//! Run with `cargo bench -p polc --bench compile_bundle` (optionally followed by `-- RUNS`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use polc_compiler::lower::{LowerOptions, lower};
use polc_compiler::{Options, Severity, SourceMap, parse};
use polc_ebpf::bundle::{Digest, write_bundle};
use polc_ebpf::compile::{CompileOptions, compile, to_bundle};

const PODS: usize = 1_000;
const RULES: usize = 3_000;
const NODES: usize = 4;
const NAMESPACES: usize = 10;
const TIERS: usize = 20;

/// The inventory: namespaces, nodes and pods; every pod has its own `app` label, so its own
/// identity.
fn inventory() -> String {
    let mut out = String::from("apiVersion: v1\nkind: List\nitems:\n");
    for namespace in 0..NAMESPACES {
        let _ = write!(out, "- apiVersion: v1\n  kind: Namespace\n  metadata:\n    name: ns-{namespace}\n    labels:\n      team: team-{}\n", namespace % 3);
    }
    for node in 0..NODES {
        let _ = write!(
            out,
            "- apiVersion: v1\n  kind: Node\n  metadata:\n    name: node-{node}\n  spec:\n    podCIDRs:\n    - 10.{}.0.0/16\n  status:\n    addresses:\n    - type: InternalIP\n      address: 172.20.0.{}\n",
            128 + node,
            node + 1
        );
    }
    for pod in 0..PODS {
        let node = pod % NODES;
        let index = pod / NODES;
        let _ = write!(
            out,
            "- apiVersion: v1\n  kind: Pod\n  metadata:\n    name: pod-{pod}\n    namespace: ns-{}\n    labels:\n      app: app-{pod}\n      tier: t-{}\n  spec:\n    nodeName: node-{node}\n    containers:\n    - name: main\n      image: busybox\n      ports:\n      - name: http\n        containerPort: 8080\n        protocol: TCP\n  status:\n    podIP: 10.{}.{}.{}\n    podIPs:\n    - ip: 10.{}.{}.{}\n",
            pod % NAMESPACES,
            pod % TIERS,
            128 + node,
            index / 200,
            index % 200 + 1,
            128 + node,
            index / 200,
            index % 200 + 1,
        );
    }
    out
}

/// The policies: one rule per CiliumNetworkPolicy. Rule `k` lives in namespace `k mod 10`,
/// selects one pod there, and is an ingress allow from a tier (single port, a port range every
/// 10th rule, the named port every 9th), an egress allow to a tier on 443 (every 5th), an egress
/// allow to a CIDR (every 50th), or an ingress deny from another namespace's tier (every 7th).
fn policies() -> String {
    let mut out = String::new();
    for rule in 0..RULES {
        let namespace = rule % NAMESPACES;
        let subject = ((rule * 37) % (PODS / NAMESPACES)) * NAMESPACES + namespace;
        let tier = rule % TIERS;
        let _ = write!(
            out,
            "---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: rule-{rule}\n  namespace: ns-{namespace}\nspec:\n  endpointSelector:\n    matchLabels:\n      app: app-{subject}\n"
        );
        if rule % 50 == 0 {
            let _ = write!(
                out,
                "  egress:\n  - toCIDR:\n    - 203.0.{}.0/24\n    toPorts:\n    - ports:\n      - port: \"443\"\n        protocol: TCP\n",
                rule / 50 % 256
            );
        } else if rule % 7 == 0 {
            let other = (namespace + 1) % NAMESPACES;
            let _ = write!(
                out,
                "  ingressDeny:\n  - fromEndpoints:\n    - matchLabels:\n        tier: t-{tier}\n        io.kubernetes.pod.namespace: ns-{other}\n    toPorts:\n    - ports:\n      - port: \"22\"\n        protocol: TCP\n"
            );
        } else if rule % 5 == 0 {
            let _ = write!(
                out,
                "  egress:\n  - toEndpoints:\n    - matchLabels:\n        tier: t-{tier}\n    toPorts:\n    - ports:\n      - port: \"443\"\n        protocol: TCP\n"
            );
        } else if rule % 10 == 1 {
            let _ = write!(
                out,
                "  ingress:\n  - fromEndpoints:\n    - matchLabels:\n        tier: t-{tier}\n    toPorts:\n    - ports:\n      - port: \"9000\"\n        endPort: 9100\n        protocol: TCP\n"
            );
        } else if rule % 9 == 0 {
            let _ = write!(
                out,
                "  ingress:\n  - fromEndpoints:\n    - matchLabels:\n        tier: t-{tier}\n    toPorts:\n    - ports:\n      - port: http\n        protocol: TCP\n"
            );
        } else {
            let _ = write!(
                out,
                "  ingress:\n  - fromEndpoints:\n    - matchLabels:\n        tier: t-{tier}\n    toPorts:\n    - ports:\n      - port: \"{}\"\n        protocol: TCP\n",
                8000 + rule % 100
            );
        }
    }
    out
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1000.0 * 10.0).round() / 10.0
}

fn directory_size(path: &Path) -> (u64, usize) {
    let mut bytes = 0;
    let mut files = 0;
    let mut pending = vec![path.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable bundle directory").flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                bytes += entry.metadata().map(|metadata| metadata.len()).unwrap_or(0);
                files += 1;
            }
        }
    }
    (bytes, files)
}

fn main() {
    let runs: usize = std::env::args().skip(1).find_map(|argument| argument.parse().ok()).unwrap_or(5).max(1);
    let mut sources = SourceMap::new();
    sources.add("inventory.yaml", inventory());
    sources.add("policies.yaml", policies());
    let input_bytes: usize = sources.ids().map(|id| sources.get(id).text.len()).sum();
    let dir = tempfile::tempdir().expect("a temporary directory");

    let mut phases: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    let mut digests = Vec::new();
    let mut report = serde_json::Value::Null;
    for run in 0..runs {
        let started = Instant::now();
        let parsed = parse(&sources, &Options::default());
        let parsed_at = Instant::now();
        let errors = parsed.diagnostics.iter().filter(|diagnostic| diagnostic.severity == Severity::Error).count();
        assert_eq!(errors, 0, "the generated inputs have errors: {:?}", parsed.diagnostics.first());
        let lowered = lower(&parsed.objects, &LowerOptions::default());
        let lowered_at = Instant::now();
        let compiled = compile(&lowered.ir, &CompileOptions::default(), &|_| None).expect("the generated inputs compile");
        let compiled_at = Instant::now();
        let bundle = to_bundle(&compiled, "polc bench", Digest::of(b"bench")).expect("the bundle assembles");
        let bundled_at = Instant::now();
        let target = dir.path().join(format!("bundle-{run}"));
        write_bundle(&bundle, &target).expect("the bundle is written");
        let written_at = Instant::now();
        phases.entry("parse_ms").or_default().push(parsed_at - started);
        phases.entry("lower_ms").or_default().push(lowered_at - parsed_at);
        phases.entry("compile_ms").or_default().push(compiled_at - lowered_at);
        phases.entry("bundle_ms").or_default().push(bundled_at - compiled_at);
        phases.entry("write_ms").or_default().push(written_at - bundled_at);
        phases.entry("total_ms").or_default().push(written_at - started);
        digests.push(bundle.digest());
        if run == 0 {
            let endpoints: usize = compiled.nodes.iter().map(|node| node.endpoints.len()).sum();
            let entries: usize = compiled.nodes.iter().flat_map(|node| node.endpoints.iter()).map(|endpoint| endpoint.policy.len()).sum();
            let largest = compiled.nodes.iter().flat_map(|node| node.endpoints.iter()).map(|endpoint| endpoint.policy.len()).max().unwrap_or(0);
            let ipcache: usize = compiled.nodes.iter().map(|node| node.ipcache.len()).sum();
            let (bytes, files) = directory_size(&target);
            let manifest = bundle.manifest_bytes().len();
            let blob_bytes: usize = bundle.files().iter().skip(1).map(|(_, bytes)| bytes.len()).sum();
            report = serde_json::json!({
                "inputs": {"pods": PODS, "rules": RULES, "nodes": NODES, "identities": lowered.ir.identities.len(), "input_bytes": input_bytes},
                "output": {
                    "endpoints": endpoints,
                    "policy_map_entries": entries,
                    "largest_policy_map": largest,
                    "ipcache_entries": ipcache,
                    "rule_origin_sets": compiled.origins.len(),
                    "bundle_bytes": bytes,
                    "bundle_files": files,
                    "manifest_bytes": manifest,
                    "blob_bytes": blob_bytes,
                },
            });
        }
    }
    let identical = digests.windows(2).all(|pair| pair[0] == pair[1]);
    assert!(identical, "two compiles of the same inputs gave different bundles");
    let timings: serde_json::Map<String, serde_json::Value> =
        phases.into_iter().map(|(name, samples)| (name.to_owned(), serde_json::json!(millis(median(samples))))).collect();
    if let serde_json::Value::Object(map) = &mut report {
        map.insert("runs".to_owned(), serde_json::json!(runs));
        map.insert("median".to_owned(), serde_json::Value::Object(timings));
        map.insert("byte_identical".to_owned(), serde_json::json!(identical));
        map.insert("bundle_digest".to_owned(), serde_json::json!(digests[0].to_string()));
    }
    println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
}
