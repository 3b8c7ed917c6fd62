//! Every YAML block of Cilium's BGP, L2 announcement and LB-IPAM documentation
//! (`corpus/cilium/cilium/Documentation/network/{bgp-control-plane*,l2-announcements*,lb-ipam*}`)
//! lints, and the findings are exactly the genuine ones listed here:
//!
//! - `bgp-control-plane-v1.rst.blocks/block-11.yaml`: `connetRetryTimeSeconds` is a typo of
//!   `connectRetryTimeSeconds` (the API server rejects the unknown field) — the one error;
//! - `bgp-control-plane-v1.rst.blocks/block-12.yaml`: `eBGPMultihopTTL` on an iBGP neighbor
//!   (peerASN = localASN = 64512), which Cilium ignores — a warning;
//! - `bgp-control-plane-v2.rst.blocks/block-11.yaml`: a `CiliumPodIPPool`, which polc does not
//!   model — a note;
//! - `lb-ipam.rst.blocks/block-02.yaml`: `red-pool` has the same block as `blue-pool`, so Cilium
//!   marks it `cilium.io/PoolConflict` — a warning.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polc_compiler::diag::Severity;
use polc_compiler::frontend::{Options, parse};
use polc_compiler::source::SourceMap;

fn corpus_dir() -> Option<PathBuf> {
    let candidates = std::env::var_os("POLC_CORPUS").map(PathBuf::from).into_iter().chain([Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus")]);
    for candidate in candidates {
        if candidate.join("cilium/cilium/Documentation/network").is_dir() {
            return Some(candidate);
        }
    }
    eprintln!("skipped: the corpus is absent (set POLC_CORPUS or provide ../shared/corpus)");
    None
}

/// The YAML files of the BGP, L2 and LB-IPAM documentation, relative to `Documentation/network`.
fn documentation_blocks(network: &Path) -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, base, out);
            } else if path.extension().is_some_and(|extension| extension == "yaml" || extension == "yml")
                && let Ok(relative) = path.strip_prefix(base)
            {
                out.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let mut out = Vec::new();
    for entry in std::fs::read_dir(network).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("bgp-control-plane") || name.starts_with("l2-announcements") || name.starts_with("lb-ipam") {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, network, &mut out);
            } else if name.ends_with(".yaml") || name.ends_with(".yml") {
                out.push(name);
            }
        }
    }
    out.sort();
    out
}

/// (code, severity, line, message) of every finding of the front end, the schema, and this
/// area (`PLC1xxx`, `PLC2xxx`, `PLC5xxx`).
fn lint(paths: &[PathBuf]) -> Vec<(&'static str, Severity, u32, String, Option<String>)> {
    let mut sources = SourceMap::default();
    for path in paths {
        sources.add(path.display().to_string(), std::fs::read_to_string(path).unwrap_or_default());
    }
    parse(&sources, &Options::default())
        .diagnostics
        .into_iter()
        .map(|d| (d.code.id, d.severity, d.location.as_ref().map_or(0, |l| l.span.start.line), d.message, d.help))
        .collect()
}

fn ours(code: &str) -> bool {
    code.starts_with("PLC1") || code.starts_with("PLC2") || code.starts_with("PLC5")
}

#[test]
fn documentation_blocks_lint_with_only_the_genuine_findings() {
    let Some(corpus) = corpus_dir() else { return };
    let network = corpus.join("cilium/cilium/Documentation/network");
    let blocks = documentation_blocks(&network);
    assert!(blocks.len() >= 40, "expected the BGP v1/v2, L2 and LB-IPAM blocks, found {}", blocks.len());
    let expected: BTreeMap<&str, Vec<(&str, Severity, u32)>> = [
        ("bgp-control-plane/bgp-control-plane-v1.rst.blocks/block-11.yaml", vec![("PLC2001", Severity::Error, 12)]),
        ("bgp-control-plane/bgp-control-plane-v1.rst.blocks/block-12.yaml", vec![("PLC5204", Severity::Warning, 12)]),
        ("bgp-control-plane/bgp-control-plane-v2.rst.blocks/block-11.yaml", vec![("PLC1103", Severity::Note, 3)]),
        ("lb-ipam.rst.blocks/block-02.yaml", vec![("PLC5006", Severity::Warning, 18)]),
    ]
    .into_iter()
    .collect();
    let mut seen_expected = 0;
    for block in &blocks {
        let found = lint(&[network.join(block)]);
        let errors: Vec<_> = found.iter().filter(|finding| finding.1 == Severity::Error).collect();
        let mine: Vec<(&str, Severity, u32)> = found.iter().filter(|finding| ours(finding.0)).map(|finding| (finding.0, finding.1, finding.2)).collect();
        match expected.get(block.as_str()) {
            Some(want) => {
                seen_expected += 1;
                assert_eq!(&mine, want, "{block}: {found:#?}");
            }
            None => {
                assert!(errors.is_empty(), "{block}: {found:#?}");
                assert!(mine.is_empty(), "{block}: {found:#?}");
            }
        }
    }
    assert_eq!(seen_expected, expected.len(), "some expected blocks were not found");
}

#[test]
fn the_one_documentation_error_is_a_typo_with_a_suggestion() {
    let Some(corpus) = corpus_dir() else { return };
    let path = corpus.join("cilium/cilium/Documentation/network/bgp-control-plane/bgp-control-plane-v1.rst.blocks/block-11.yaml");
    let found = lint(&[path]);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].3, "unknown field `connetRetryTimeSeconds` in `spec.virtualRouters[].neighbors[]`");
    assert_eq!(found[0].4.as_deref(), Some("did you mean `connectRetryTimeSeconds`?"));
}

#[test]
fn the_pool_conflict_names_both_pools() {
    let Some(corpus) = corpus_dir() else { return };
    let found = lint(&[corpus.join("cilium/cilium/Documentation/network/lb-ipam.rst.blocks/block-02.yaml")]);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].3.starts_with("pool `red-pool` overlaps the older pool `blue-pool`"), "{}", found[0].3);
    assert!(found[0].3.contains("`cilium.io/PoolConflict` (reason `cidr_overlap`)"), "{}", found[0].3);
}

#[test]
fn bgp_v2_documentation_blocks_resolve_their_references_together() {
    let Some(corpus) = corpus_dir() else { return };
    let network = corpus.join("cilium/cilium/Documentation/network");
    let paths: Vec<PathBuf> =
        documentation_blocks(&network).into_iter().filter(|block| block.contains("bgp-control-plane-v2")).map(|block| network.join(block)).collect();
    assert!(paths.len() >= 19, "{paths:?}");
    let found = lint(&paths);
    // The cluster config refers to `cilium-peer`, the peer configs select `advertise: bgp`, and
    // the node override names `instance-65000` and its peers: all present, so no PLC53xx.
    let mine: Vec<_> = found.iter().filter(|finding| finding.0.starts_with("PLC5")).collect();
    assert!(mine.is_empty(), "{mine:#?}");
    assert!(found.iter().all(|finding| finding.1 != Severity::Error), "{found:#?}");
}
