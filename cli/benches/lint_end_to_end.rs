//! `polc lint` end to end: the built binary reads 10,000 CiliumNetworkPolicy documents from a
//! file, lints them and writes its report (human and JSON). This is the time a CI job sees,
//! process start and file reading included. Run with
//! `cargo bench -p polc --bench lint_end_to_end`; results are recorded in `docs/benchmarks.md`.

#[path = "../../compiler/benches/support/cnp_stream.rs"]
mod cnp_stream;

use std::process::Command;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

const DOCUMENTS: usize = 10_000;

fn lint(args: &[&str]) -> i32 {
    let output = Command::new(env!("CARGO_BIN_EXE_polc")).args(args).output().expect("polc runs");
    output.status.code().unwrap_or(-1)
}

fn end_to_end(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = dir.path().join("policies.yaml");
    std::fs::write(&file, cnp_stream::stream(DOCUMENTS)).expect("the stream is written");
    let file = file.to_str().expect("a UTF-8 temporary path");

    let started = Instant::now();
    let code = lint(&["lint", file]);
    eprintln!("{DOCUMENTS} documents: `polc lint` exit code {code}, first run {:?}", started.elapsed());
    if code != 0 {
        eprintln!("WARNING: the benchmark stream has findings; the timing includes rendering them");
    }

    // CPU time is steadier than wall time on a shared machine: report it too.
    if let Some(cpu) = children_cpu_time_per_run(5, || {
        lint(&["lint", "--color", "never", file]);
    }) {
        eprintln!("`polc lint`: {cpu:?} of CPU time per run (user + system, all threads, mean of 5)");
    }

    let mut group = c.benchmark_group("lint_end_to_end");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.bench_function("polc_lint_10000_cnp_human", |b| b.iter(|| lint(&["lint", "--color", "never", file])));
    group.bench_function("polc_lint_10000_cnp_json", |b| b.iter(|| lint(&["lint", "--format", "json", file])));
    group.finish();
}

/// CPU time of the finished child processes (user + system) from `/proc/self/stat`, in clock
/// ticks of 10 ms (`CLK_TCK` is 100 on Linux).
fn children_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which is in parentheses and may contain spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(13)?.parse::<u64>().ok()? + fields.get(14)?.parse::<u64>().ok()?;
    Some(Duration::from_millis(ticks * 10))
}

/// Mean CPU time of the processes `work` runs, over `runs` calls, when the platform reports it.
fn children_cpu_time_per_run(runs: u32, mut work: impl FnMut()) -> Option<Duration> {
    let before = children_cpu_time()?;
    for _ in 0..runs {
        work();
    }
    Some((children_cpu_time()? - before) / runs)
}

criterion_group!(benches, end_to_end);
criterion_main!(benches);
