//! Lowering a large cluster: 50,000 pods (5,000 deployments of 10 replicas in 2 versions:
//! 10,000 identities) in 500 namespaces on 200 nodes, with 10,000 policies (CiliumNetworkPolicies,
//! NetworkPolicies and clusterwide policies; `benches/support/cluster.rs`, shape `LARGE`).
//!
//! Not a criterion benchmark: one process generates the inputs, parses them, then lowers them
//! (inventory, identities, every rule resolved for every endpoint, the analysis checks) and prints
//! one JSON line with the sizes, the time of each stage and the peak resident memory (`VmHWM` of
//! `/proc/self/status`), both over the whole run and during lowering alone (the peak is reset
//! through `/proc/self/clear_refs` before lowering, where the kernel allows it).
//!
//! Run with `cargo bench -p polc-compiler --bench large_cluster`. `POLC_BENCH_RUNS=N` lowers N
//! times (default 3) and reports each time (wall and CPU); the peak of lowering is taken on the
//! first run. With `POLC_BENCH_DUMP=DIR` the inputs are also written to `DIR`.

#[path = "support/cluster.rs"]
#[allow(dead_code)]
mod cluster;

use std::time::Instant;

use polc_compiler::checks::analysis::policy_map_limit::endpoint_key_counts;
use polc_compiler::lower::{LowerOptions, lower};
use polc_compiler::{Options, SourceMap, parse};

/// A field of `/proc/self/status` in KiB (`VmHWM`, `VmRSS`).
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets the peak resident set size to the current one (Linux 4.0 and later).
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn mib(kib: Option<u64>) -> String {
    kib.map(|kib| format!("{:.1}", kib as f64 / 1024.0)).unwrap_or_else(|| "null".to_owned())
}

fn main() {
    // `cargo bench` passes `--bench`; a filter that does not name this benchmark skips it.
    let filters: Vec<String> = std::env::args().skip(1).filter(|arg| !arg.starts_with("--")).collect();
    if !filters.is_empty() && !filters.iter().any(|filter| "large_cluster".contains(filter.as_str())) {
        return;
    }
    let runs: usize = std::env::var("POLC_BENCH_RUNS").ok().and_then(|text| text.parse().ok()).filter(|runs| *runs > 0).unwrap_or(3);
    let shape = cluster::LARGE;

    let started = Instant::now();
    let inventory = cluster::inventory(&shape);
    let policies = cluster::policies(&shape);
    let generate_time = started.elapsed();
    cluster::dump_if_asked(&inventory, &policies);
    let mut sources = SourceMap::new();
    // Files of at most a few MiB, as a `kubectl get` dump split per resource would give.
    for (name, text) in [("inventory", &inventory), ("policies", &policies)] {
        let mut chunk = String::new();
        let mut part = 0;
        for document in text.split("---\n").filter(|document| !document.trim().is_empty()) {
            chunk.push_str("---\n");
            chunk.push_str(document);
            if chunk.len() > 4 << 20 {
                sources.add(format!("{name}-{part:03}.yaml"), std::mem::take(&mut chunk));
                part += 1;
            }
        }
        if !chunk.is_empty() {
            sources.add(format!("{name}-{part:03}.yaml"), chunk);
        }
    }
    let input_bytes = inventory.len() + policies.len();
    drop((inventory, policies));

    let started = Instant::now();
    let parsed = parse(&sources, &Options::default());
    let parse_time = started.elapsed();
    let errors = parsed.diagnostics.iter().filter(|diagnostic| diagnostic.is_error()).count();
    if let Some(first) = parsed.diagnostics.iter().find(|diagnostic| diagnostic.is_error()) {
        eprintln!("the synthetic inputs have {errors} errors; first: {} {}", first.code.id, first.message);
        std::process::exit(1);
    }
    let peak_after_parse = status_kib("VmHWM:");
    let resident_before_lower = status_kib("VmRSS:");

    let options = LowerOptions::default();
    let reset = reset_peak();
    let mut times = Vec::new();
    let mut cpu_times = Vec::new();
    let mut peak_lowering = None;
    let mut summary = String::new();
    for run in 0..runs {
        let started = Instant::now();
        let cpu_before = cluster::process_cpu_time();
        let lowered = lower(&parsed.objects, &options);
        times.push(started.elapsed());
        if let (Some(before), Some(after)) = (cpu_before, cluster::process_cpu_time()) {
            cpu_times.push(after - before);
        }
        if run == 0 {
            peak_lowering = status_kib("VmHWM:");
            let endpoints = lowered.ir.endpoints.len();
            let pods = lowered.ir.endpoints.iter().filter(|endpoint| !endpoint.is_host()).count();
            let identities = lowered.ir.identities.iter().filter(|identity| identity.kind == polc_ir::IdentityKind::Endpoint).count();
            let cidr_identities = lowered.ir.identities.iter().filter(|identity| matches!(identity.kind, polc_ir::IdentityKind::Cidr { .. })).count();
            let entries: usize = lowered.ir.endpoints.iter().map(|endpoint| endpoint.ingress.entries.len() + endpoint.egress.entries.len()).sum();
            let keys = endpoint_key_counts(&lowered.ir);
            let policies = parsed
                .objects
                .iter()
                .filter(|object| matches!(object.kind(), "CiliumNetworkPolicy" | "CiliumClusterwideNetworkPolicy" | "NetworkPolicy"))
                .count();
            let mut codes: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
            for diagnostic in &lowered.diagnostics {
                *codes.entry(diagnostic.code.id).or_default() += 1;
            }
            let codes: Vec<String> = codes.iter().map(|(code, count)| format!("\"{code}\":{count}")).collect();
            summary = format!(
                "\"policies\":{policies},\"pods\":{pods},\"identities\":{identities},\"cidrIdentities\":{cidr_identities},\"endpoints\":{endpoints},\"entries\":{entries},\"mapKeysTotal\":{},\"mapKeysMax\":{},\"findings\":{{{}}}",
                keys.iter().sum::<usize>(),
                keys.iter().max().copied().unwrap_or(0),
                codes.join(",")
            );
        }
        drop(lowered);
    }
    let lower_ms: Vec<String> = times.iter().map(|time| time.as_millis().to_string()).collect();
    let lower_cpu_ms: Vec<String> = cpu_times.iter().map(|time| time.as_millis().to_string()).collect();
    println!(
        "{{\"bench\":\"large_cluster\",{summary},\"inputBytes\":{input_bytes},\"files\":{},\"generateMs\":{},\"parseMs\":{},\"lowerMs\":[{}],\"lowerCpuMs\":[{}],\"peakRssAfterParseMiB\":{},\"rssBeforeLowerMiB\":{},\"peakRssDuringLowerMiB\":{},\"peakReset\":{reset},\"peakRssMiB\":{}}}",
        sources.len(),
        generate_time.as_millis(),
        parse_time.as_millis(),
        lower_ms.join(","),
        lower_cpu_ms.join(","),
        mib(peak_after_parse),
        mib(resident_before_lower),
        mib(peak_lowering),
        mib(status_kib("VmHWM:").max(peak_after_parse)),
    );
}
