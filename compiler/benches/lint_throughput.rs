//! Front-end throughput: 10,000 CiliumNetworkPolicy documents in one stream through
//! `polc_compiler::parse` (YAML, schema check, decode, checks). Target: under 1 s on a
//! 2-core machine. Run with `cargo bench -p polc-compiler --bench lint_throughput`;
//! results are recorded in `docs/benchmarks.md`.

#[path = "support/cnp_stream.rs"]
mod cnp_stream;

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use polc_compiler::{Options, SourceMap, parse};

const DOCUMENTS: usize = 10_000;

fn sources(text: &str) -> SourceMap {
    let mut sources = SourceMap::new();
    sources.add("policies.yaml", text.to_owned());
    sources
}

fn throughput(c: &mut Criterion) {
    let text = cnp_stream::stream(DOCUMENTS);
    let sources = sources(&text);

    // Check once, outside the timing, that the stream is what it claims to be.
    let started = Instant::now();
    let parsed = parse(&sources, &Options::default());
    eprintln!(
        "{DOCUMENTS} documents, {} bytes: {} objects, {} findings, first run {:?}",
        text.len(),
        parsed.objects.len(),
        parsed.diagnostics.len(),
        started.elapsed()
    );
    match parsed.diagnostics.first() {
        None => assert_eq!(parsed.objects.len(), DOCUMENTS, "every document decodes"),
        Some(first) => eprintln!("WARNING: the benchmark stream has findings (first: {} {}); the timing includes error paths", first.code.id, first.message),
    }

    // The same documents as 100 files of 100: the front end parses files on every core.
    let mut split = SourceMap::new();
    for file in 0..100 {
        let mut chunk = String::new();
        for index in file * 100..(file + 1) * 100 {
            chunk.push_str("---\n");
            chunk.push_str(&cnp_stream::policy(index));
        }
        split.add(format!("policies-{file:03}.yaml"), chunk);
    }

    // CPU time is steadier than wall time on a shared machine: report it too, with the share
    // of the YAML reader (node trees with spans, no schema) in it.
    for (what, sources) in [("one stream", &sources), ("100 files", &split)] {
        if let Some(cpu) = cpu_time_per_run(5, || drop(parse(sources, &Options::default()))) {
            eprintln!("{what}: {cpu:?} of CPU time per run (user + system, all threads, mean of 5)");
        }
    }
    let limits = polc_compiler::yaml::Limits::default();
    if let Some(cpu) = cpu_time_per_run(5, || drop(polc_compiler::yaml::parse_stream(polc_compiler::SourceId(0), &text, &limits))) {
        eprintln!("of which the YAML reader alone: {cpu:?} per run");
    }

    let mut group = c.benchmark_group("lint_throughput");
    group.sample_size(10).measurement_time(Duration::from_secs(20)).throughput(Throughput::Elements(DOCUMENTS as u64));
    group.bench_function("parse_10000_cnp_one_stream", |b| b.iter(|| parse(&sources, &Options::default())));
    group.bench_function("parse_10000_cnp_100_files", |b| b.iter(|| parse(&split, &Options::default())));
    group.finish();
}

/// The process's CPU time (user + system, every thread) from `/proc/self/stat`, in clock ticks
/// of 10 ms (`CLK_TCK` is 100 on Linux).
fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Mean CPU time of `runs` calls of `work`, when the platform reports it.
fn cpu_time_per_run(runs: u32, mut work: impl FnMut()) -> Option<Duration> {
    let before = process_cpu_time()?;
    for _ in 0..runs {
        work();
    }
    Some((process_cpu_time()? - before) / runs)
}

criterion_group!(benches, throughput);
criterion_main!(benches);
