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

    let mut group = c.benchmark_group("lint_throughput");
    group.sample_size(10).measurement_time(Duration::from_secs(20)).throughput(Throughput::Elements(DOCUMENTS as u64));
    group.bench_function("parse_10000_cnp_one_stream", |b| b.iter(|| parse(&sources, &Options::default())));

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
    group.bench_function("parse_10000_cnp_100_files", |b| b.iter(|| parse(&split, &Options::default())));
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
