//! The committed datapath object and the names inside it.
//!
//! `bpf/polc_policy.bpf.o` is built from `bpf/polc_policy.bpf.c` with the command in
//! [`CLANG_ARGUMENTS`] and committed, so that machines without clang can load it. The test
//! `tests/committed_object.rs` rebuilds it where clang is present and fails when the
//! committed bytes are stale.

/// The datapath object (ELF, BPF target), aligned for the ELF parser.
pub static POLICY_OBJECT: &[u8] = aya::include_bytes_aligned!("../bpf/polc_policy.bpf.o");

/// Source files the object is built from, relative to `bpf/`, in build order.
pub const SOURCE_FILES: [&str; 2] = ["polc_maps.h", "polc_policy.bpf.c"];
/// The object's file name inside `bpf/`.
pub const OBJECT_FILE: &str = "polc_policy.bpf.o";
/// clang arguments (run inside `bpf/`); deterministic: relative paths and a fixed
/// compilation directory, so the output does not depend on where the tree lives.
pub const CLANG_ARGUMENTS: [&str; 11] = [
    "-O2",
    "-g",
    "-target",
    "bpf",
    "-D__TARGET_ARCH_x86",
    "-I/usr/include/x86_64-linux-gnu",
    "-Wall",
    "-fdebug-compilation-dir=.",
    "-c",
    "polc_policy.bpf.c",
    "-o",
];

/// Program for traffic arriving at the endpoint (attach on tc/tcx ingress).
pub const INGRESS_PROGRAM: &str = "polc_ingress";
/// Program for traffic leaving the endpoint (attach on tc/tcx egress).
pub const EGRESS_PROGRAM: &str = "polc_egress";
/// ARRAY_OF_MAPS of per-generation policy maps.
pub const POLICY_GENERATIONS_MAP: &str = "polc_policy";
/// ARRAY_OF_MAPS of per-generation policy HASH maps (the `policy_map_hash` mode).
pub const POLICY_HASH_GENERATIONS_MAP: &str = "polc_policy_hash";
/// ARRAY_OF_MAPS of per-generation ipcache maps.
pub const IPCACHE_GENERATIONS_MAP: &str = "polc_ipcache";
/// ARRAY_OF_MAPS of per-generation HASH maps of the ipcache's host entries (the
/// `ipcache_host_hash` mode).
pub const IPCACHE_HASH_GENERATIONS_MAP: &str = "polc_ipcache_hash";
/// ARRAY[1] holding the active generation slot.
pub const GENERATION_SELECTOR_MAP: &str = "polc_generation";
/// PERCPU_ARRAY of verdict counters, index = reason × 2 + egress.
pub const COUNTERS_MAP: &str = "polc_counters";
/// RINGBUF of drop events.
pub const DROP_EVENTS_MAP: &str = "polc_drops";
/// LRU_HASH connection tracking table.
pub const CONNTRACK_MAP: &str = "polc_ct";
/// Number of generation slots in the outer maps.
pub const GENERATION_SLOTS: u32 = 2;
/// Flags of every inner map: BPF_F_NO_PREALLOC | BPF_F_RDONLY_PROG (must equal the template's).
pub const INNER_MAP_FLAGS: u32 = 0x01 | 0x80;
