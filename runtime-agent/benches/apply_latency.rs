//! Apply latency: from the agent receiving `apply` to the generation flip, for bundles of
//! 1k, 100k and 1M ipcache entries (/32 entries, in the default lookup modes: each in the
//! ipcache trie and in its host HASH, so the agent writes twice as many records). Each iteration
//! applies the other of two bundles of the same size, so every apply builds and flips a
//! full generation. The time measured is the agent's own request-to-flip figure (reading
//! and verifying the bundle, building the inner maps, filling the spare slots, the flip).
//!
//! Needs root (it loads BPF programs and mounts a bpffs); prints why and does nothing
//! otherwise. Run: `cargo bench -p polc-agent --bench apply_latency`.

#[path = "../tests/common/mod.rs"]
mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use common::{ENDPOINT, GenerationSpec, InProcessAgent, NODE, TestNode, v4};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use polc_ebpf::bundle::{Bundle, BundleBuilder, Digest, MapImage, MapKind, ObjectImage};
use polc_ebpf::layout::{IPCACHE_KEY_SIZE, IPCACHE_VALUE_SIZE, encode_ipcache_key, encode_ipcache_value};

/// A one-endpoint bundle whose ipcache has `entries - 1` host entries (identity `seed + i`),
/// also in the host HASH, next to a one-entry policy HASH map (the default lookup modes).
fn bundle(entries: u32, seed: u32) -> Bundle {
    let spec = GenerationSpec::new(v4(10, 0, 0, 1), seed, v4(10, 0, 0, 2), &[5001]);
    let mut keys: Vec<([u8; IPCACHE_KEY_SIZE], [u8; IPCACHE_VALUE_SIZE])> = (0..entries - 1)
        .map(|index| {
            let address = IpAddr::V4(Ipv4Addr::from(0x0a00_0000u32 + 16 + index));
            (encode_ipcache_key(address, 32, 0), encode_ipcache_value(seed + index))
        })
        .collect();
    keys.sort();
    let mut records = Vec::with_capacity(keys.len() * (IPCACHE_KEY_SIZE + IPCACHE_VALUE_SIZE));
    for (key, value) in &keys {
        records.extend_from_slice(key);
        records.extend_from_slice(value);
    }
    let ipcache = MapImage {
        name: "ipcache".to_owned(),
        kind: MapKind::LpmTrie,
        key_size: IPCACHE_KEY_SIZE as u32,
        value_size: IPCACHE_VALUE_SIZE as u32,
        max_entries: entries.max(1024),
        records: records.clone(),
    };
    // Every entry is a host entry, so the host HASH holds the same records.
    let hosts = MapImage { name: "ipcache-hosts".to_owned(), kind: MapKind::Hash, max_entries: (entries - 1).max(1), ..ipcache.clone() };
    let mut builder = BundleBuilder::new("polc bench", Digest::of(&seed.to_le_bytes()));
    builder.add_map(NODE, ipcache).expect("ipcache");
    builder.add_map(NODE, hosts).expect("ipcache hosts");
    builder.add_map(NODE, MapImage::policy_hash("policy", &spec.policy())).expect("policy");
    builder.add_object(NODE, ObjectImage::datapath("web", &spec.config)).expect("object");
    let bindings = [("polc_ipcache", "ipcache"), ("polc_ipcache_hash", "ipcache-hosts"), ("polc_policy_hash", "policy")];
    builder.add_endpoint(NODE, ENDPOINT, 3000, &[v4(10, 0, 0, 2)], "web", &bindings).expect("endpoint");
    builder.finish().expect("bundle")
}

fn apply_latency(criterion: &mut Criterion) {
    if !polc_ebpf::kernel::running_as_root() {
        eprintln!("skipping apply_latency: it loads BPF programs, mounts a bpffs and needs root (effective uid 0)");
        return;
    }
    let node = TestNode::new();
    let agent = InProcessAgent::start(node.config(), None);
    let mut group = criterion.benchmark_group("apply_request_to_flip");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    for entries in [1_000u32, 100_000, 1_000_000] {
        let paths = [node.write(&format!("{entries}-a"), &bundle(entries, 1_000_000)), node.write(&format!("{entries}-b"), &bundle(entries, 5_000_000))];
        group.measurement_time(Duration::from_secs(if entries >= 1_000_000 { 30 } else { 5 }));
        let mut next = 0usize;
        let mut totals = Vec::new();
        let mut phases = Vec::new();
        group.bench_with_input(BenchmarkId::from_parameter(entries), &entries, |bencher, _| {
            bencher.iter_custom(|iterations| {
                let mut flip = Duration::ZERO;
                for _ in 0..iterations {
                    let started = Instant::now();
                    let report = node.apply(&paths[next % 2]).expect("apply");
                    totals.push(started.elapsed());
                    phases.push((report.verified_us, report.staged_us, report.request_to_flip_us));
                    assert!(!report.unchanged);
                    next += 1;
                    flip += Duration::from_micros(report.request_to_flip_us);
                }
                flip
            })
        });
        totals.sort();
        phases.sort_by_key(|(_, _, flip)| *flip);
        if let (Some(median), Some((verified, staged, flip))) = (totals.get(totals.len() / 2), phases.get(phases.len() / 2)) {
            eprintln!(
                "{entries} entries: median request-to-flip {flip} us (read and verified at {verified} us, built to the side at {staged} us); \
                 median client round trip (release included) {median:?}"
            );
        }
    }
    group.finish();
    drop(agent);
}

criterion_group!(benches, apply_latency);
criterion_main!(benches);
