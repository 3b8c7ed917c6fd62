//! `polc diff` as a user runs it: golden outputs (insta) of the human, JSON and markdown forms
//! on the cases under `tests/golden/diff/`, exit codes (0 no change, 1 changes, 2 errors), the
//! inventory choices, stdin, and determinism.
//!
//! Regenerate the snapshots with `INSTA_UPDATE=always cargo test -p polc --test diff_cli` and
//! review them like code.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn polc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_polc")).args(args).current_dir(root()).output().expect("polc runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

const BASIC: &str = "tests/golden/diff/basic";

/// `polc diff` of the `basic` case: both sides read the shared inventory.
fn basic(format: &str) -> Output {
    polc(&[
        "diff",
        &format!("{BASIC}/inventory.yaml"),
        &format!("{BASIC}/old"),
        "--against",
        &format!("{BASIC}/inventory.yaml"),
        &format!("{BASIC}/new"),
        "--format",
        format,
    ])
}

#[test]
fn basic_human() {
    let output = basic("human");
    assert_eq!(output.status.code(), Some(1), "changes exit 1\n{}", stderr(&output));
    insta::assert_snapshot!("basic_human", stdout(&output));
}

#[test]
fn basic_json() {
    let output = basic("json");
    assert_eq!(output.status.code(), Some(1), "changes exit 1\n{}", stderr(&output));
    let text = stdout(&output);
    let document: serde_json::Value = serde_json::from_str(&text).expect("one JSON document");
    assert_eq!(document["changed"], true);
    assert_eq!(document["summary"]["flowGroups"].as_u64(), Some(document["flows"].as_array().map_or(0, Vec::len) as u64));
    insta::assert_snapshot!("basic_json", text);
}

#[test]
fn basic_markdown() {
    let output = basic("markdown");
    assert_eq!(output.status.code(), Some(1), "changes exit 1\n{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.starts_with("### polc diff:"), "{text}");
    insta::assert_snapshot!("basic_markdown", text);
}

#[test]
fn the_same_inputs_on_both_sides_change_nothing_and_exit_0() {
    for format in ["human", "json", "markdown"] {
        let output = polc(&["diff", BASIC, "--against", BASIC, "--format", format]);
        assert_eq!(output.status.code(), Some(0), "{format}: {}", stderr(&output));
        insta::assert_snapshot!(format!("unchanged_{format}"), stdout(&output));
    }
}

#[test]
fn a_cluster_dump_against_repository_files_borrows_the_dump_inventory() {
    let dump = "tests/golden/diff/cluster-dump/live";
    let repository = "tests/golden/diff/cluster-dump/repo";
    let output = polc(&["diff", dump, "--against", repository]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("note: the new inputs have no pods: they are evaluated against the old inputs' inventory"), "{text}");
    insta::assert_snapshot!("cluster_dump_human", text);
    let markdown = polc(&["diff", dump, "--against", repository, "--format", "markdown"]);
    assert_eq!(markdown.status.code(), Some(1));
    insta::assert_snapshot!("cluster_dump_markdown", stdout(&markdown));

    // Each side on its own inventory: the repository has no pods, so every endpoint is on the
    // old side only and no flow is compared.
    let own = polc(&["diff", dump, "--against", repository, "--inventory", "own", "--format", "json"]);
    assert_eq!(own.status.code(), Some(1));
    let document: serde_json::Value = serde_json::from_str(&stdout(&own)).unwrap();
    assert_eq!(document["flows"].as_array().map(Vec::len), Some(0));
    let only_old: Vec<&str> = document["endpointsOnlyInOld"].as_array().unwrap().iter().filter_map(|name| name.as_str()).collect();
    assert!(only_old.contains(&"payments/web-5c6d7e8f9-abcde") && only_old.contains(&"node:worker-1"), "{only_old:?}");
}

#[test]
fn the_inventory_of_one_side_can_be_used_for_both() {
    // The new side brings its own pods (a FlowTest fixture, say); `--inventory old` evaluates it
    // against the live cluster instead.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("fixture.yaml"),
        "apiVersion: v1\nkind: Pod\nmetadata: {name: fixture, namespace: payments, labels: {app: web}}\nspec: {nodeName: worker-1}\nstatus: {podIP: 10.42.1.99}\n",
    )
    .unwrap();
    std::fs::copy(root().join("tests/golden/diff/cluster-dump/repo/web.yaml"), dir.path().join("web.yaml")).unwrap();
    let new_side = dir.path().to_str().unwrap();
    let auto = polc(&["diff", "tests/golden/diff/cluster-dump/live", "--against", new_side, "--format", "json"]);
    let auto: serde_json::Value = serde_json::from_str(&stdout(&auto)).unwrap();
    assert!(auto["endpointsOnlyInNew"].as_array().unwrap().iter().any(|name| name == "payments/fixture"), "{auto}");
    let old = polc(&["diff", "tests/golden/diff/cluster-dump/live", "--against", new_side, "--inventory", "old", "--format", "json"]);
    assert_eq!(old.status.code(), Some(1));
    let old: serde_json::Value = serde_json::from_str(&stdout(&old)).unwrap();
    assert_eq!(old["endpointsOnlyInNew"].as_array().map(Vec::len), Some(0), "{old}");
    assert!(old["notes"].as_array().unwrap().iter().any(|note| note.as_str().is_some_and(|note| note.contains("`--inventory old`"))), "{old}");
    // The world may now reach the web pod on 8080.
    let flows = old["flows"].as_array().unwrap();
    assert!(
        flows.iter().any(|flow| flow["old"] == "deny"
            && flow["new"] == "allow"
            && flow["from"].as_array().unwrap().iter().any(|end| end["kind"] == "world")
            && flow["ports"].as_array().unwrap().iter().any(|port| port["description"] == "TCP 8080")),
        "{old}"
    );
}

#[test]
fn the_old_side_can_come_from_stdin() {
    let text = std::fs::read_to_string(root().join("tests/golden/diff/cluster-dump/live/cluster.yaml")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_polc"))
        .args(["diff", "-", "--against", "tests/golden/diff/cluster-dump/repo"])
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stdout(&output).contains("(<stdin>:"), "rules of the old side are located in stdin\n{}", stdout(&output));
}

#[test]
fn errors_exit_2() {
    // A path that does not exist.
    let missing = polc(&["diff", "tests/golden/diff/no-such-dir", "--against", BASIC]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(stderr(&missing).contains("no-such-dir"), "{}", stderr(&missing));
    // Inputs with errors, on the new side.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.yaml"), "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: x, bogus: 1}\nspec: {}\n").unwrap();
    let bad = polc(&["diff", BASIC, "--against", dir.path().to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("the new inputs have errors"), "{}", stderr(&bad));
    assert!(stdout(&bad).is_empty());
    // stdin on both sides, and a missing `--against`.
    assert_eq!(polc(&["diff", "-", "--against", "-"]).status.code(), Some(2));
    assert_eq!(polc(&["diff", BASIC]).status.code(), Some(2));
}

#[test]
fn live_diff_usage_errors_exit_2() {
    // A bundle that does not exist, two bundles, and `--node` without `--live`.
    let missing = polc(&["diff", "tests/golden/diff/no-bundle", "--live", "/sys/fs/bpf"]);
    assert_eq!(missing.status.code(), Some(2), "{}", stderr(&missing));
    assert!(stderr(&missing).contains("cannot use bundle"), "{}", stderr(&missing));
    let two = polc(&["diff", "a", "b", "--live", "/sys/fs/bpf"]);
    assert_eq!(two.status.code(), Some(2));
    assert!(stderr(&two).contains("one bundle"), "{}", stderr(&two));
    assert_eq!(polc(&["diff", BASIC, "--against", BASIC, "--node", "node-a"]).status.code(), Some(2));
}

#[test]
fn the_output_is_deterministic() {
    for format in ["human", "json", "markdown"] {
        let first = basic(format);
        let second = basic(format);
        assert_eq!(stdout(&first), stdout(&second), "{format}");
    }
}
