//! The committed datapath object is up to date with its C sources.
//!
//! `bpf/polc_policy.bpf.stamp` records the clang version, the build command, and the
//! SHA-256 of every source and of the object. This test
//! 1. always checks that the sources and the object still have the recorded digests, so an
//!    edited source without a rebuilt object fails even where clang is absent;
//! 2. where the recorded clang version is installed, rebuilds the object in a scratch
//!    directory and requires the exact committed bytes (the build is deterministic: relative
//!    paths, `-fdebug-compilation-dir=.`);
//! 3. with `POLC_REGENERATE_BPF=1`, rebuilds the object in place and rewrites the stamp.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use polc_ebpf::object::{CLANG_ARGUMENTS, OBJECT_FILE, SOURCE_FILES};
use sha2::{Digest, Sha256};

const STAMP_FILE: &str = "polc_policy.bpf.stamp";

fn bpf_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("bpf")
}

fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for byte in digest.iter() {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

fn read(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap_or_else(|error| panic!("cannot read `{}`: {error}", path.display()))
}

/// The first line of `clang --version`, or `None` when clang is not installed.
fn clang_version() -> Option<String> {
    let output = Command::new("clang").arg("--version").output().ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8_lossy(&output.stdout).lines().next().map(|line| line.trim().to_string())
}

fn build_command() -> String {
    format!("clang {} {OBJECT_FILE}", CLANG_ARGUMENTS.join(" "))
}

/// Builds the object from the sources in `directory` and returns its bytes.
fn build_in(directory: &Path) -> Vec<u8> {
    let output = Command::new("clang").args(CLANG_ARGUMENTS).arg(OBJECT_FILE).current_dir(directory).output().expect("clang runs");
    assert!(output.status.success(), "clang failed in `{}`:\n{}", directory.display(), String::from_utf8_lossy(&output.stderr));
    read(&directory.join(OBJECT_FILE))
}

fn stamp_text(clang: &str, object: &[u8]) -> String {
    let mut text = String::new();
    text.push_str("# written by `POLC_REGENERATE_BPF=1 cargo test -p polc-ebpf --test committed_object`; do not edit\n");
    let _ = writeln!(text, "clang: {clang}");
    let _ = writeln!(text, "command: {}", build_command());
    for source in SOURCE_FILES {
        let _ = writeln!(text, "source {source} sha256:{}", sha256_hex(&read(&bpf_dir().join(source))));
    }
    let _ = writeln!(text, "object {OBJECT_FILE} sha256:{}", sha256_hex(object));
    text
}

fn recorded(stamp: &str, prefix: &str) -> Option<String> {
    stamp.lines().find_map(|line| line.strip_prefix(prefix).map(|rest| rest.trim().to_string()))
}

#[test]
fn committed_object_is_up_to_date() {
    let directory = bpf_dir();
    let regenerate = std::env::var_os("POLC_REGENERATE_BPF").is_some();
    if regenerate {
        let clang = clang_version().expect("POLC_REGENERATE_BPF needs clang");
        let object = build_in(&directory);
        std::fs::write(directory.join(STAMP_FILE), stamp_text(&clang, &object)).expect("stamp written");
        eprintln!("rebuilt `{OBJECT_FILE}` with {clang}");
    }

    let stamp = String::from_utf8(read(&directory.join(STAMP_FILE))).expect("stamp is text");
    let committed = read(&directory.join(OBJECT_FILE));
    // After regenerating, the crate embeds the new object only once it is rebuilt.
    if !regenerate {
        assert!(committed == polc_ebpf::object::POLICY_OBJECT, "the embedded object differs from `bpf/{OBJECT_FILE}`; rebuild the crate");
    }

    // 1. Digests of the sources and the object, with or without clang.
    let recorded_clang = recorded(&stamp, "clang:").expect("stamp names the clang version");
    assert_eq!(recorded(&stamp, "command:"), Some(build_command()), "the build command changed; regenerate the object");
    for source in SOURCE_FILES {
        let actual = sha256_hex(&read(&directory.join(source)));
        assert_eq!(
            recorded(&stamp, &format!("source {source} sha256:")),
            Some(actual),
            "`bpf/{source}` changed since `{OBJECT_FILE}` was built; run `POLC_REGENERATE_BPF=1 cargo test -p polc-ebpf --test committed_object`"
        );
    }
    assert_eq!(
        recorded(&stamp, &format!("object {OBJECT_FILE} sha256:")),
        Some(sha256_hex(&committed)),
        "`bpf/{OBJECT_FILE}` is not the object the stamp records"
    );

    // 2. A real rebuild where the same clang is installed.
    let Some(clang) = clang_version() else {
        eprintln!("clang is not installed: checked the recorded digests only, not a rebuild");
        return;
    };
    if clang != recorded_clang {
        eprintln!("installed `{clang}` differs from the recorded `{recorded_clang}`: checked the recorded digests only, not a rebuild");
        return;
    }
    let scratch = tempfile::tempdir().expect("scratch directory");
    for source in SOURCE_FILES {
        std::fs::copy(directory.join(source), scratch.path().join(source)).expect("source copied");
    }
    let rebuilt = build_in(scratch.path());
    assert!(
        rebuilt == committed,
        "`bpf/{OBJECT_FILE}` is stale: rebuilding it from the sources gives different bytes (sha256 {} vs committed {}); run `POLC_REGENERATE_BPF=1 cargo test -p polc-ebpf --test committed_object`",
        sha256_hex(&rebuilt),
        sha256_hex(&committed)
    );
}
