//! Policy resolution at Cilium's benchmark shape: 3,000 CiliumNetworkPolicy rules over 1,000
//! identities (1,000 pods with distinct labels in 10 namespaces on 4 nodes). The rules use
//! `matchLabels` and `matchExpressions` selectors, cross-namespace peers, single, named and
//! ranged ports, CIDR sets with exceptions, entities, and ingress and egress denies
//! (`benches/support/cluster.rs`, shape `RESOLVE`).
//!
//! Timed: lowering end to end from the parsed objects — inventory, identities, every rule
//! resolved for every endpoint it selects, and the analysis checks — that is, the policy of
//! every endpoint. Target: under 1 s on a 2-core machine.
//!
//! Run with `cargo bench -p polc-compiler --bench resolve`. Before the timings, one run prints a
//! JSON line with the sizes (identities, rule elements, endpoints, entries, policy map keys), the
//! findings by code and the time of each stage, then the CPU time of lowering. With
//! `POLC_BENCH_DUMP=DIR` the inputs are also written to `DIR`. Results are recorded in
//! `docs/benchmarks.md`.

#[path = "support/cluster.rs"]
#[allow(dead_code)]
mod cluster;

use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use polc_compiler::checks::analysis::policy_map_limit::endpoint_key_counts;
use polc_compiler::lower::{LowerOptions, lower};
use polc_compiler::{Options, SourceMap, parse};

fn bench(c: &mut Criterion) {
    let shape = cluster::RESOLVE;
    let (inventory, policies) = (cluster::inventory(&shape), cluster::policies(&shape));
    cluster::dump_if_asked(&inventory, &policies);
    let mut sources = SourceMap::new();
    sources.add("inventory.yaml", inventory);
    sources.add("policies.yaml", policies);

    let started = Instant::now();
    let parsed = parse(&sources, &Options::default());
    let parse_time = started.elapsed();
    assert!(parsed.diagnostics.iter().all(|diagnostic| !diagnostic.is_error()), "the synthetic inputs are valid: {:?}", parsed.diagnostics.first());
    let options = LowerOptions::default();
    let started = Instant::now();
    let lowered = lower(&parsed.objects, &options);
    let lower_time = started.elapsed();

    let identities = lowered.ir.identities.iter().filter(|identity| identity.kind == polc_ir::IdentityKind::Endpoint).count();
    let cidr_identities = lowered.ir.identities.iter().filter(|identity| matches!(identity.kind, polc_ir::IdentityKind::Cidr { .. })).count();
    let pods = lowered.ir.endpoints.iter().filter(|endpoint| !endpoint.is_host()).count();
    let entries: usize = lowered.ir.endpoints.iter().map(|endpoint| endpoint.ingress.entries.len() + endpoint.egress.entries.len()).sum();
    let selections: usize = lowered.ir.endpoints.iter().map(|endpoint| endpoint.ingress.selected_by.len() + endpoint.egress.selected_by.len()).sum();
    let keys = endpoint_key_counts(&lowered.ir);
    let policies = parsed.objects.iter().filter(|object| object.kind() == "CiliumNetworkPolicy").count();
    let mut codes: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for diagnostic in &lowered.diagnostics {
        *codes.entry(diagnostic.code.id).or_default() += 1;
    }
    let codes: Vec<String> = codes.iter().map(|(code, count)| format!("\"{code}\":{count}")).collect();
    println!(
        "{{\"bench\":\"resolve\",\"policies\":{policies},\"identities\":{identities},\"cidrIdentities\":{cidr_identities},\"pods\":{pods},\"endpoints\":{},\"ruleSelections\":{selections},\"entries\":{entries},\"mapKeysTotal\":{},\"mapKeysMax\":{},\"findings\":{{{}}},\"parseMs\":{},\"lowerMs\":{}}}",
        lowered.ir.endpoints.len(),
        keys.iter().sum::<usize>(),
        keys.iter().max().copied().unwrap_or(0),
        codes.join(","),
        parse_time.as_millis(),
        lower_time.as_millis(),
    );
    assert_eq!(identities, 1_000, "one identity per pod");
    assert_eq!(policies, 3_000, "3,000 policies of one rule each");

    // CPU time of lowering, mean of 5 runs (steadier than wall time while other jobs run).
    if let Some(before) = cluster::process_cpu_time() {
        for _ in 0..5 {
            drop(lower(&parsed.objects, &options));
        }
        if let Some(after) = cluster::process_cpu_time() {
            println!("{{\"bench\":\"resolve\",\"lowerCpuMsPerRun\":{}}}", ((after - before) / 5).as_millis());
        }
    }

    let mut group = c.benchmark_group("resolve");
    group.sample_size(10).measurement_time(Duration::from_secs(15));
    group.bench_function("lower_3000_rules_1000_identities", |b| b.iter(|| lower(&parsed.objects, &options)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
