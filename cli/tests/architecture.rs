//! The crate dependency rules of ARCHITECTURE.md, checked on the manifests.

use std::collections::BTreeMap;

/// The internal crates each crate may depend on (normal dependencies).
const ALLOWED: &[(&str, &[&str])] = &[
    ("ir", &[]),
    ("compiler", &["polc-ir"]),
    ("backends/ebpf", &["polc-ir"]),
    ("backends/iptables-ref", &["polc-ir"]),
    ("runtime-agent", &["polc-ebpf", "polc-ir"]),
    ("cli", &["polc-ir", "polc-compiler", "polc-ebpf", "polc-iptables", "polc-agent"]),
];

fn internal_dependencies(manifest: &str) -> Vec<String> {
    let mut in_dependencies = false;
    let mut found = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_dependencies = line == "[dependencies]";
            continue;
        }
        if in_dependencies
            && let Some(name) = line.split(['=', '.', ' ']).next()
            && name.starts_with("polc")
        {
            found.push(name.to_owned());
        }
    }
    found
}

#[test]
fn crates_depend_only_inward() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut violations = BTreeMap::new();
    for (dir, allowed) in ALLOWED {
        let manifest = std::fs::read_to_string(root.join(dir).join("Cargo.toml")).expect("crate manifest is readable");
        for dependency in internal_dependencies(&manifest) {
            if !allowed.contains(&dependency.as_str()) {
                violations.insert(format!("{dir} -> {dependency}"), ());
            }
        }
    }
    let cli_manifest = std::fs::read_to_string(root.join("cli/Cargo.toml")).expect("cli manifest is readable");
    assert!(internal_dependencies(&cli_manifest).len() >= 5, "the manifest reader found the CLI's dependencies");
    assert!(violations.is_empty(), "dependency rules broken: {:?}", violations.keys().collect::<Vec<_>>());
}

#[test]
fn the_agent_never_depends_on_the_compiler_even_indirectly() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for dir in ["runtime-agent", "backends/ebpf", "ir"] {
        let manifest = std::fs::read_to_string(root.join(dir).join("Cargo.toml")).expect("crate manifest is readable");
        assert!(!internal_dependencies(&manifest).iter().any(|d| d == "polc-compiler" || d == "polc"), "{dir} depends on the compiler or the CLI");
    }
}
