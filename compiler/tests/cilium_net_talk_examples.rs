//! The BGP and L2 talk examples (`shared/talk-examples/000-01` … `000-05`): the broken ones get
//! the precise code, line and help; the correct ones, and every corrected version under
//! `policies/examples/networking/`, lint clean.

use polc_compiler::diag::Severity;
use std::path::PathBuf;

mod talk_support;
use talk_support::{lint_files, talk_example, talk_examples_dir, workspace_root};

#[test]
fn talk_000_01_neighbors_outside_the_virtual_router() {
    let Some(found) = talk_example("000-01-ciliumbgppeeringpolicy.yaml") else { return };
    assert_eq!(found.len(), 2, "{found:#?}");
    // The virtual router lacks its required neighbor list...
    assert_eq!((found[0].code, found[0].severity, found[0].line), ("PLC2003", Severity::Error, 10));
    assert_eq!(found[0].message, "missing required field `neighbors` in `spec.virtualRouters[0]`");
    // ...because it was written one level too high, and the help says where it belongs.
    assert_eq!((found[1].code, found[1].severity, found[1].line), ("PLC2001", Severity::Error, 12));
    assert_eq!(found[1].message, "unknown field `neighbors` in `spec`");
    let help = found[1].help.as_deref().unwrap_or_default();
    assert!(help.starts_with("`neighbors` belongs in `spec.virtualRouters[]`, not in `spec`"), "{help}");
}

#[test]
fn talk_000_02_peers_outside_the_instance() {
    let Some(found) = talk_example("000-02-ciliumbgpclusterconfig.yaml") else { return };
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!((found[0].code, found[0].severity, found[0].line), ("PLC2001", Severity::Error, 12));
    assert_eq!(found[0].message, "unknown field `peers` in `spec`");
    let help = found[0].help.as_deref().unwrap_or_default();
    assert!(help.starts_with("`peers` belongs in `spec.bgpInstances[]`, not in `spec`"), "{help}");
}

#[test]
fn talk_000_03_peer_config_is_clean() {
    let Some(found) = talk_example("000-03-ciliumbgppeerconfig.yaml") else { return };
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn talk_000_04_selector_outside_the_advertisement() {
    let Some(found) = talk_example("000-04-ciliumbgpadvertisement.yaml") else { return };
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!((found[0].code, found[0].severity, found[0].line), ("PLC2001", Severity::Error, 15));
    assert_eq!(found[0].message, "unknown field `selector` in `spec`");
    let help = found[0].help.as_deref().unwrap_or_default();
    assert!(help.starts_with("`selector` belongs in `spec.advertisements[]`, not in `spec`"), "{help}");
}

#[test]
fn talk_000_05_l2_policy_is_clean() {
    let Some(found) = talk_example("000-05-ciliuml2announcementpolicy.yaml") else { return };
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn talk_000_01_to_05_together_report_nothing_more() {
    let Some(dir) = talk_examples_dir() else { return };
    let names = [
        "000-01-ciliumbgppeeringpolicy.yaml",
        "000-02-ciliumbgpclusterconfig.yaml",
        "000-03-ciliumbgppeerconfig.yaml",
        "000-04-ciliumbgpadvertisement.yaml",
        "000-05-ciliuml2announcementpolicy.yaml",
    ];
    let found = lint_files(&names.map(|name| dir.join(name)));
    let codes: Vec<_> = found.iter().map(|finding| (finding.code, finding.line)).collect();
    assert_eq!(codes, vec![("PLC2003", 10), ("PLC2001", 12), ("PLC2001", 12), ("PLC2001", 15)], "{found:#?}");
}

fn networking_examples() -> Vec<PathBuf> {
    let dir = workspace_root().join("policies/examples/networking");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|error| panic!("reading {}: {error}", dir.display()))
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|extension| extension == "yaml" || extension == "yml"))
        .collect();
    paths.sort();
    paths
}

#[test]
fn corrected_talk_examples_exist_and_say_what_was_fixed() {
    let paths = networking_examples();
    for (number, kind) in [
        ("01", "ciliumbgppeeringpolicy"),
        ("02", "ciliumbgpclusterconfig"),
        ("03", "ciliumbgppeerconfig"),
        ("04", "ciliumbgpadvertisement"),
        ("05", "ciliuml2announcementpolicy"),
    ] {
        let name = format!("talk-000-{number}-{kind}.yaml");
        let path = paths.iter().find(|path| path.file_name().is_some_and(|file| file == name.as_str()));
        let path = path.unwrap_or_else(|| panic!("{name} is missing from policies/examples/networking"));
        let text = std::fs::read_to_string(path).unwrap_or_default();
        assert!(text.starts_with(&format!("# Talk example 000-{number}")), "{name} must start with a comment naming the talk example");
        assert!(text.contains("What was fixed:") || text.contains("Nothing to fix"), "{name} must say what was fixed");
    }
}

#[test]
fn every_networking_example_is_clean_alone() {
    for path in networking_examples() {
        let found = lint_files(std::slice::from_ref(&path));
        assert!(found.is_empty(), "{}: {found:#?}", path.display());
    }
}

#[test]
fn networking_examples_are_clean_together() {
    let paths = networking_examples();
    assert!(paths.len() >= 10, "expected the talk examples and the realistic examples, found {paths:?}");
    let found = lint_files(&paths);
    assert!(found.is_empty(), "{found:#?}");
}

#[test]
fn networking_examples_cover_every_kind_and_both_block_forms() {
    let text: String = networking_examples().iter().map(|path| std::fs::read_to_string(path).unwrap_or_default()).collect();
    for needle in [
        "kind: CiliumBGPPeeringPolicy",
        "kind: CiliumBGPClusterConfig",
        "kind: CiliumBGPPeerConfig",
        "kind: CiliumBGPAdvertisement",
        "kind: CiliumBGPNodeConfigOverride",
        "kind: CiliumLoadBalancerIPPool",
        "kind: CiliumL2AnnouncementPolicy",
        "- cidr:",
        "- start:",
        "stop:",
        "serviceSelector:",
        "interfaces:",
        "apiVersion: cilium.io/v2\n",
    ] {
        assert!(text.contains(needle), "no networking example contains `{needle}`");
    }
}
