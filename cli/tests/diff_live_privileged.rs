//! `polc diff BUNDLE --live BPFFS_DIR` against a real agent on a private bpffs: the bundle that
//! is live shows no difference (exit 0); another bundle shows exactly the entries a swap would
//! change (exit 1), until it is applied. The bundles use the default (`hash`) lookup mode, whose
//! maps are the policy HASH maps and the HASH of the ipcache's host entries; a bundle compiled
//! with `--policy-lookup lpm` is then compared and applied too. Loads BPF programs and mounts a
//! bpffs, so it needs root; without root it says why and skips.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn polc(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_polc")).args(args).current_dir(root()).output().expect("polc runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// An agent started by this test, killed and its bpffs unmounted when the test ends.
struct Agent {
    child: Child,
    bpffs: PathBuf,
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = Command::new("umount").arg("--lazy").arg(&self.bpffs).status();
    }
}

fn start_agent(dir: &Path) -> Agent {
    let bpffs = dir.join("bpffs");
    let socket = dir.join("agent.sock");
    let child = Command::new(env!("CARGO_BIN_EXE_polc"))
        .arg("agent")
        .arg("--bpffs")
        .arg(&bpffs)
        .arg("--state")
        .arg(dir.join("state"))
        .arg("--socket")
        .arg(&socket)
        .args(["--node", "node-b"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("polc agent starts");
    let agent = Agent { child, bpffs };
    let deadline = Instant::now() + Duration::from_secs(20);
    let socket_text = socket.to_str().unwrap().to_owned();
    while !polc(&["status", "--socket", &socket_text]).status.success() {
        assert!(Instant::now() < deadline, "the agent did not answer on `{socket_text}`");
        std::thread::sleep(Duration::from_millis(50));
    }
    agent
}

fn compile(inputs: &[&str], output: &Path) {
    compile_with(inputs, &[], output);
}

fn compile_with(inputs: &[&str], options: &[&str], output: &Path) {
    let mut args = vec!["compile"];
    args.extend_from_slice(inputs);
    args.extend_from_slice(options);
    let output_text = output.to_str().unwrap();
    args.extend_from_slice(&["-o", output_text]);
    let result = polc(&args);
    assert!(result.status.success(), "polc compile: {}", stderr(&result));
}

#[test]
fn a_live_node_differs_from_a_bundle_exactly_by_what_applying_it_would_change() {
    if !polc_ebpf::kernel::running_as_root() {
        eprintln!("skipping: the test runs an agent, which loads BPF programs and mounts a bpffs, and needs root (effective uid 0)");
        return;
    }
    let dir = tempfile::Builder::new().prefix("polc-diff-live-").tempdir().unwrap();
    let (old_bundle, new_bundle) = (dir.path().join("old"), dir.path().join("new"));
    compile(&["tests/golden/diff/basic/inventory.yaml", "tests/golden/diff/basic/old"], &old_bundle);
    compile(&["tests/golden/diff/basic/inventory.yaml", "tests/golden/diff/basic/new"], &new_bundle);
    let agent = start_agent(dir.path());
    let socket = dir.path().join("agent.sock");
    let (old_text, new_text, bpffs, socket) =
        (old_bundle.to_str().unwrap(), new_bundle.to_str().unwrap(), agent.bpffs.to_str().unwrap(), socket.to_str().unwrap());

    let applied = polc(&["apply", old_text, "--socket", socket]);
    assert!(applied.status.success(), "{}", stderr(&applied));

    // The live bundle: no difference.
    let same = polc(&["diff", old_text, "--live", bpffs, "--node", "node-b"]);
    assert_eq!(same.status.code(), Some(0), "{}{}", stdout(&same), stderr(&same));
    assert!(
        stdout(&same).contains("0 entries of the bundle not live, 0 entries live but not in the bundle, 0 entries with another value"),
        "{}",
        stdout(&same)
    );

    // The new bundle: the backend admits the client and sends the frontend through the proxy;
    // the database gets its own entries. The summary records that follow from the entries are
    // counted, not listed.
    let other = polc(&["diff", new_text, "--live", bpffs, "--node", "node-b"]);
    assert_eq!(other.status.code(), Some(1), "{}{}", stdout(&other), stderr(&other));
    let text = stdout(&other);
    for expected in [
        "- not live: ingress identity 257 TCP 8080: allow",
        "~ ingress identity 259 TCP 8080: bundle redirect to proxy port 10080",
        "- not live: ingress identity 256 TCP 5432: allow, auth type 1 (explicit)",
        "+ only live: ingress identity 0 any protocol: allow",
        "- not live: 203.0.113.0/24",
        "summary records differ (they follow from the entries",
    ] {
        assert!(text.contains(expected), "missing `{expected}` in\n{text}");
    }
    let json = polc(&["diff", new_text, "--live", bpffs, "--node", "node-b", "--format", "json"]);
    assert_eq!(json.status.code(), Some(1));
    let document: serde_json::Value = serde_json::from_str(&stdout(&json)).expect("one JSON document");
    assert_eq!(document["changed"], true);
    assert_eq!(document["node"], "node-b");
    let roles: std::collections::BTreeSet<&str> = document["endpoints"]
        .as_array()
        .expect("endpoints")
        .iter()
        .flat_map(|endpoint| endpoint["maps"].as_array().expect("maps").iter().map(|map| map["role"].as_str().expect("role")))
        .collect();
    assert_eq!(roles.into_iter().collect::<Vec<_>>(), vec!["polc_ipcache", "polc_ipcache_hash", "polc_policy_hash"]);
    let summaries_listed = document["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|endpoint| endpoint["maps"].as_array().unwrap().iter())
        .flat_map(|map| map["onlyLive"].as_array().unwrap().iter().chain(map["notLive"].as_array().unwrap().iter()))
        .filter(|entry| entry["key"].as_str().is_some_and(|key| key.ends_with(" summary")))
        .count();
    assert!(summaries_listed > 0, "JSON lists the summary records");

    // After the swap, the new bundle is what is live.
    let applied = polc(&["apply", new_text, "--socket", socket]);
    assert!(applied.status.success(), "{}", stderr(&applied));
    let same = polc(&["diff", new_text, "--live", bpffs, "--node", "node-b"]);
    assert_eq!(same.status.code(), Some(0), "{}{}", stdout(&same), stderr(&same));
    assert_eq!(polc(&["diff", old_text, "--live", bpffs, "--node", "node-b"]).status.code(), Some(1));

    // The same inputs in the LPM lookup mode: other constants (a new datapath instance) and
    // other maps; once applied, the LPM tries are what is live.
    let lpm_bundle = dir.path().join("new-lpm");
    compile_with(&["tests/golden/diff/basic/inventory.yaml", "tests/golden/diff/basic/new"], &["--policy-lookup", "lpm"], &lpm_bundle);
    let lpm_text = lpm_bundle.to_str().unwrap();
    let other_mode = polc(&["diff", lpm_text, "--live", bpffs, "--node", "node-b"]);
    assert_eq!(other_mode.status.code(), Some(1), "{}{}", stdout(&other_mode), stderr(&other_mode));
    assert!(stdout(&other_mode).contains("the bundle's is"), "{}", stdout(&other_mode));
    let applied = polc(&["apply", lpm_text, "--socket", socket]);
    assert!(applied.status.success(), "{}", stderr(&applied));
    let same = polc(&["diff", lpm_text, "--live", bpffs, "--node", "node-b", "--format", "json"]);
    assert_eq!(same.status.code(), Some(0), "{}{}", stdout(&same), stderr(&same));
    let document: serde_json::Value = serde_json::from_str(&stdout(&same)).expect("one JSON document");
    let lpm_roles: std::collections::BTreeSet<&str> = document["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|endpoint| endpoint["maps"].as_array().unwrap().iter().map(|map| map["role"].as_str().unwrap()))
        .collect();
    assert_eq!(lpm_roles.into_iter().collect::<Vec<_>>(), vec!["polc_ipcache", "polc_policy"]);

    // A directory that is no bpffs is an error.
    let not_bpffs = polc(&["diff", new_text, "--live", dir.path().to_str().unwrap(), "--node", "node-b"]);
    assert_eq!(not_bpffs.status.code(), Some(2));
    assert!(stderr(&not_bpffs).contains("is not a bpffs"), "{}", stderr(&not_bpffs));
    drop(agent);
}
