//! The agent against the real kernel: apply and status over the socket, refused bundles
//! that leave the live generation untouched, restart adoption, the watch directory and the
//! metrics endpoint. The node here is this process's network namespace; no endpoint has a
//! host route, so nothing is attached and verdicts are read with BPF_PROG_TEST_RUN on the
//! pinned programs. The bundles use the default (HASH) lookup modes, except the restart test,
//! which runs in the LPM modes.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::*;
use polc_agent::client::ClientError;
use polc_ebpf::bundle::MapKind;

fn generation_a() -> GenerationSpec {
    GenerationSpec::new(v4(10, 210, 0, 1), 1000, v4(10, 210, 0, 2), &[5001, 5002])
}

fn generation_b() -> GenerationSpec {
    GenerationSpec::new(v4(10, 210, 0, 1), 2000, v4(10, 210, 0, 2), &[5001, 5003])
}

/// Asserts that generation A decides: 5001 and 5002 allowed, 5003 dropped.
fn assert_generation_a_live(node: &TestNode, instance: &str) {
    let verdict = |port| node.ingress_verdict(instance, v4(10, 210, 0, 1), v4(10, 210, 0, 2), port);
    assert_eq!(verdict(5001), TC_ACT_OK, "5001 is allowed in generation A");
    assert_eq!(verdict(5002), TC_ACT_OK, "5002 is allowed in generation A");
    assert_eq!(verdict(5003), TC_ACT_SHOT, "5003 is dropped in generation A");
}

fn refused(result: Result<polc_agent::protocol::ApplyReport, ClientError>) -> (String, String) {
    match result {
        Err(ClientError::Refused { kind, message }) => (kind, message),
        other => panic!("the apply was not refused: {other:?}"),
    }
}

#[test]
fn apply_and_status_over_the_socket_privileged() {
    if !privileged("apply_and_status_over_the_socket_privileged") {
        return;
    }
    let node = TestNode::new();
    let agent = InProcessAgent::start(node.config(), None);
    let status = node.status();
    assert_eq!(status.generation, 0);
    assert!(status.last_error.is_none(), "{status:?}");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&node.socket).unwrap().permissions()) & 0o777;
    assert_eq!(mode, 0o600);
    assert!(polc_agent::kernel::is_bpffs(&node.bpffs), "the agent mounted a bpffs");

    let bundle_a = generation_a().bundle();
    let path_a = node.write("a", &bundle_a);
    let report = node.apply(&path_a).expect("generation A applies");
    assert_eq!(report.generation, 1);
    assert!(!report.unchanged);
    assert_eq!(report.bundle_digest, bundle_a.digest().to_string());
    // Policy HASH map: 2 entries and the summary of (1000, ingress, UDP); ipcache trie: 2;
    // HASH of the ipcache's host entries: 2.
    assert_eq!(report.entries, 3 + 2 + 2);
    assert!(report.request_to_flip_us > 0 && report.request_to_flip_us <= report.total_us, "{report:?}");

    let status = node.status();
    assert_eq!(status.generation, 1);
    assert_eq!(status.bundle_digest.as_deref(), Some(bundle_a.digest().to_string().as_str()));
    assert!(status.applied_at.as_deref().is_some_and(|at| at.ends_with('Z')), "{status:?}");
    assert_eq!(status.maps.get("ipcache").map(|map| map.entries), Some(2));
    assert_eq!(status.maps.get("ipcache-hosts").map(|map| (map.kind.as_str(), map.entries)), Some(("hash", 2)));
    assert_eq!(status.maps.get("policy/default/web").map(|map| (map.kind.as_str(), map.entries)), Some(("hash", 3)));
    assert_eq!(status.slot, Some(1));
    assert_eq!(node.selector(), Some(1));
    let endpoint = status.endpoints.get(ENDPOINT).expect("the endpoint is in the status");
    assert!(!endpoint.attached, "no interface has a host route to the endpoint here");
    let generation_a_policy = node.inner_map_id(&endpoint.instance, "polc_policy_hash", 1);
    assert!(generation_a_policy.is_some());
    assert!(node.inner_map_id(&endpoint.instance, "polc_ipcache_hash", 1).is_some(), "the host HASH is in the live slot");
    assert!(node.inner_map_id(&endpoint.instance, "polc_policy", 1).is_none(), "no LPM policy map is built for a HASH-mode object");
    assert_generation_a_live(&node, &endpoint.instance.clone());

    // Generation B: the same object and constants, so the same instance gets the new maps.
    let bundle_b = generation_b().bundle();
    let report = node.apply(&node.write("b", &bundle_b)).expect("generation B applies");
    assert_eq!((report.generation, report.slot), (2, 0));
    let instance = node.status().endpoints[ENDPOINT].instance.clone();
    assert_eq!(node.instances(), vec![instance.clone()]);
    let verdict = |port| node.ingress_verdict(&instance, v4(10, 210, 0, 1), v4(10, 210, 0, 2), port);
    assert_eq!(verdict(5001), TC_ACT_OK, "5001 is allowed in both generations");
    assert_eq!(verdict(5002), TC_ACT_SHOT, "the peer is identity 2000 now, allowed only on 5001 and 5003");
    assert_eq!(verdict(5003), TC_ACT_OK, "5003 is allowed in generation B");
    // The old slot was released: it holds an empty placeholder, not generation A's maps.
    let released = node.inner_map_id(&instance, "polc_policy_hash", 1);
    assert_eq!(node.slot_max_entries(&instance, "polc_ipcache_hash", 1), Some(1), "the old host HASH is released too");
    assert!(released.is_some() && released != generation_a_policy, "{released:?} {generation_a_policy:?}");

    let again = node.apply(&node.write("b-again", &bundle_b)).expect("the live bundle applies again");
    assert!(again.unchanged);
    assert_eq!(again.generation, 2);
    let status = node.status();
    assert_eq!((status.generation, status.applies, status.failures), (2, 2, 0));
    agent.stop().expect("the agent stops cleanly");
    assert!(!node.socket.exists(), "the socket is removed on shutdown");
}

#[test]
fn refused_bundles_leave_the_live_generation_untouched_privileged() {
    if !privileged("refused_bundles_leave_the_live_generation_untouched_privileged") {
        return;
    }
    let node = TestNode::new();
    let mut config = node.config();
    config.limits.max_entries_per_map = 1_000_000;
    let _agent = InProcessAgent::start(config, None);
    let bundle_a = generation_a().bundle();
    node.apply(&node.write("a", &bundle_a)).expect("generation A applies");
    let instance = node.status().endpoints[ENDPOINT].instance.clone();
    let live_policy = node.inner_map_id(&instance, "polc_policy_hash", 1);
    assert!(live_policy.is_some());

    let check_untouched = |what: &str| {
        let status = node.status();
        assert_eq!(status.generation, 1, "{what}: {status:?}");
        assert_eq!(status.bundle_digest.as_deref(), Some(bundle_a.digest().to_string().as_str()), "{what}");
        assert_eq!(node.selector(), Some(1), "{what}: the selector did not move");
        assert_eq!(node.inner_map_id(&instance, "polc_policy_hash", 1), live_policy, "{what}: the live maps are the same maps");
        assert_eq!(node.instances(), vec![instance.clone()], "{what}: nothing loaded for the refused bundle is left");
        assert_generation_a_live(&node, &instance);
    };

    // 1. A program the verifier rejects (a new object: a new instance is loaded, then removed).
    let rejected = generation_b().bundle_with(|parts| parts.object.bytes = object_the_verifier_rejects());
    let (kind, message) = refused(node.apply(&node.write("rejected", &rejected)));
    assert_eq!(kind, "kernel");
    assert!(message.starts_with("the kernel refused program `polc_ingress` of object `default/web`"), "{message}");
    check_untouched("verifier");
    let last_error = node.status().last_error.expect("the failure is recorded");
    assert_eq!(last_error.kind, "kernel");
    assert!(last_error.bundle.is_some_and(|bundle| bundle.ends_with("rejected")));

    // 2. A map larger than the node allows.
    let too_large = generation_b().bundle_with(|parts| parts.ipcache.max_entries = 2_000_000);
    let (kind, message) = refused(node.apply(&node.write("too-large", &too_large)));
    assert_eq!(kind, "contract");
    assert_eq!(message, "map `ipcache` asks for 2000000 entries, more than this node allows (1000000)");
    check_untouched("map too large for the node");

    // 3. A map the kernel refuses to create (a HASH policy map beyond 2^31 entries), in a
    //    bundle whose other maps (the ipcache and its host HASH) were already built.
    let kernel_refuses = generation_b().bundle_with(|parts| {
        assert_eq!(parts.policy.kind, MapKind::Hash);
        parts.policy.max_entries = 3_000_000_000;
    });
    let mut unlimited = node.config();
    unlimited.limits.max_entries_per_map = u32::MAX;
    drop(_agent);
    let _agent = InProcessAgent::start(unlimited, None);
    let (kind, message) = refused(node.apply(&node.write("kernel-refuses", &kernel_refuses)));
    assert_eq!(kind, "kernel");
    assert!(message.starts_with("cannot create map `policy/default/web` (3000000000 entries)"), "{message}");
    check_untouched("map the kernel refuses");

    // 4. A corrupted blob.
    let path = node.write("corrupted", &generation_b().bundle());
    let blobs = path.join("blobs/sha256");
    let victim = std::fs::read_dir(&blobs).unwrap().flatten().next().expect("a blob").path();
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[10] ^= 0xff;
    std::fs::write(&victim, bytes).unwrap();
    let (kind, message) = refused(node.apply(&path));
    assert_eq!(kind, "bundle");
    assert!(message.starts_with("blob `sha256:") && message.contains("is corrupted"), "{message}");
    check_untouched("corrupted blob");

    // 5. A bundle of another format version.
    let path = node.write("future", &generation_b().bundle());
    let manifest = std::fs::read_to_string(path.join("manifest.json")).unwrap();
    std::fs::write(path.join("manifest.json"), manifest.replace("\"format_version\": 1", "\"format_version\": 2")).unwrap();
    let (kind, message) = refused(node.apply(&path));
    assert_eq!((kind.as_str(), message.as_str()), ("bundle", "bundle format version `2` is not supported; this build reads version 1"));
    check_untouched("format version");

    // After all that, a good bundle still goes live.
    let report = node.apply(&node.write("b", &generation_b().bundle())).expect("generation B applies");
    assert_eq!(report.generation, 2);
    assert_eq!(node.status().failures, 5);
}

/// This test runs in the LPM lookup modes (Cilium's map types), so that the agent keeps
/// building, adopting and releasing LPM trie generations.
#[test]
fn restart_adopts_the_live_generation_without_rewriting_it_privileged() {
    if !privileged("restart_adopts_the_live_generation_without_rewriting_it_privileged") {
        return;
    }
    let node = TestNode::new();
    let agent = InProcessAgent::start(node.config(), None);
    let bundle_a = generation_a().lpm().bundle();
    node.apply(&node.write("a", &bundle_a)).expect("generation A applies");
    let before = node.status();
    let instance = before.endpoints[ENDPOINT].instance.clone();
    let live_maps = (node.inner_map_id(&instance, "polc_policy", 1), node.inner_map_id(&instance, "polc_ipcache", 1));
    agent.stop().expect("the first agent stops");

    // The datapath is still there with no agent at all.
    assert_generation_a_live(&node, &instance);

    let agent = InProcessAgent::start(node.config(), None);
    let after = node.status();
    assert!(after.adopted, "{after:?}");
    assert_eq!(after.generation, 1);
    assert_eq!(after.bundle_digest, before.bundle_digest);
    assert_eq!(after.applied_at, before.applied_at);
    assert_eq!(node.selector(), Some(1));
    assert_eq!(
        (node.inner_map_id(&instance, "polc_policy", 1), node.inner_map_id(&instance, "polc_ipcache", 1)),
        live_maps,
        "adoption does not rebuild the live maps"
    );
    assert_generation_a_live(&node, &instance);
    let report = node.apply(&node.write("b", &generation_b().lpm().bundle())).expect("the adopting agent applies");
    assert_eq!(report.generation, 2);
    assert_eq!(report.entries, 4, "LPM policy map (2) and ipcache (2)");
    assert!(node.inner_map_id(&instance, "polc_policy", 0).is_some());
    assert_eq!(node.slot_max_entries(&instance, "polc_policy", 1), Some(1), "generation A's policy map was released");
    agent.stop().expect("the second agent stops");
}

#[test]
fn a_flip_the_agent_did_not_finish_is_adopted_after_a_crash_privileged() {
    if !privileged("a_flip_the_agent_did_not_finish_is_adopted_after_a_crash_privileged") {
        return;
    }
    // The state file says generation 2 is pending in slot 0, and the selector says 0: the
    // agent died after the flip and before writing that down. The next agent commits it.
    let node = TestNode::new();
    let agent = InProcessAgent::start(node.config(), None);
    node.apply(&node.write("a", &generation_a().bundle())).expect("generation A applies");
    node.apply(&node.write("b", &generation_b().bundle())).expect("generation B applies");
    agent.stop().expect("the agent stops");
    let store = polc_agent::state::StateStore::open(&node.state).unwrap();
    let mut state = store.load().unwrap();
    let live = state.committed.clone().expect("a committed generation");
    assert_eq!(live.slot, 0);
    let mut pretend_previous = live.clone();
    pretend_previous.generation = 1;
    pretend_previous.slot = 1;
    state.pending = Some(live.clone());
    state.committed = Some(pretend_previous);
    state.applies = 1;
    store.save(&state).unwrap();

    let _agent = InProcessAgent::start(node.config(), None);
    let status = node.status();
    assert_eq!(status.generation, 2, "{status:?}");
    assert!(status.adopted);
    let saved = store.load().unwrap();
    assert!(saved.pending.is_none());
    assert_eq!(saved.committed.map(|committed| committed.slot), Some(0));
}

#[test]
fn bundles_dropped_in_the_watch_directory_are_applied_privileged() {
    if !privileged("bundles_dropped_in_the_watch_directory_are_applied_privileged") {
        return;
    }
    let node = TestNode::new();
    let watch = node.root.path().join("watch");
    std::fs::create_dir_all(&watch).unwrap();
    let mut config = node.config();
    config.watch = Some(watch.clone());
    let _agent = InProcessAgent::start(config, None);
    let bundle = generation_a().bundle();
    polc_ebpf::bundle::write_bundle(&bundle, &watch.join("0001-a")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while node.status().generation != 1 {
        assert!(Instant::now() < deadline, "the watched bundle was not applied: {:?}", node.status());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(node.status().bundle_digest, Some(bundle.digest().to_string()));
    // A damaged bundle dropped later is refused and recorded; the live one stays.
    // Damaged before it is renamed into the directory, as a half-copied bundle would be.
    let damaged = node.root.path().join("0002-damaged");
    polc_ebpf::bundle::write_bundle(&generation_b().bundle(), &damaged).unwrap();
    std::fs::remove_dir_all(damaged.join("blobs")).unwrap();
    std::fs::rename(&damaged, watch.join("0002-damaged")).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while node.status().failures != 1 {
        assert!(Instant::now() < deadline, "the damaged bundle was not looked at: {:?}", node.status());
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = node.status();
    assert_eq!(status.generation, 1);
    assert!(status.last_error.is_some_and(|error| error.message.starts_with("blob `sha256:") && error.message.ends_with("is missing from the bundle")));
}

fn scrape(address: std::net::SocketAddr) -> String {
    let mut stream = TcpStream::connect(address).expect("metrics endpoint");
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("metrics response");
    response
}

#[test]
fn metrics_report_applies_latency_entries_and_verdict_counters_privileged() {
    if !privileged("metrics_report_applies_latency_entries_and_verdict_counters_privileged") {
        return;
    }
    let node = TestNode::new();
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = free.local_addr().unwrap();
    drop(free);
    let mut config = node.config();
    config.metrics = Some(address);
    let _agent = InProcessAgent::start(config, None);
    node.apply(&node.write("a", &generation_a().bundle())).expect("generation A applies");
    let _ = node.apply(&node.write("corrupt", &generation_b().bundle_with(|parts| parts.bindings.clear())));
    let instance = node.status().endpoints[ENDPOINT].instance.clone();
    for _ in 0..3 {
        assert_eq!(node.ingress_verdict(&instance, v4(10, 210, 0, 1), v4(10, 210, 0, 2), 5003), TC_ACT_SHOT);
    }
    assert_eq!(node.ingress_verdict(&instance, v4(10, 210, 0, 1), v4(10, 210, 0, 2), 5001), TC_ACT_OK);
    let response = scrape(address);
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    for expected in [
        "polc_agent_applies_total 1",
        "polc_agent_apply_failures_total{kind=\"contract\"} 1",
        "polc_agent_apply_latency_seconds_count 1",
        "polc_agent_generation 1",
        "polc_agent_map_entries{map=\"ipcache\"} 2",
        "polc_agent_map_entries{map=\"ipcache-hosts\"} 2",
        "polc_agent_map_entries{map=\"policy/default/web\"} 3",
        "polc_datapath_packets_total{reason=\"drop-policy\",direction=\"ingress\"} 3",
        "polc_datapath_packets_total{reason=\"allow-l3\",direction=\"ingress\"} 1",
    ] {
        assert!(response.contains(expected), "`{expected}` is missing from:\n{response}");
    }
}

#[test]
fn a_second_agent_on_the_same_socket_is_refused_privileged() {
    if !privileged("a_second_agent_on_the_same_socket_is_refused_privileged") {
        return;
    }
    let node = TestNode::new();
    let _agent = InProcessAgent::start(node.config(), None);
    let error = polc_agent::run_until(node.config(), async {}).expect_err("the second agent does not start");
    assert_eq!(polc_agent::describe_error(&error), format!("another agent is listening on `{}`", node.socket.display()));
    assert_eq!(node.status().generation, 0, "the first agent is unaffected");
}

#[test]
fn a_damaged_apply_journal_is_reported_and_removed_privileged() {
    if !privileged("a_damaged_apply_journal_is_reported_and_removed_privileged") {
        return;
    }
    let node = TestNode::new();
    let agent = InProcessAgent::start(node.config(), None);
    node.apply(&node.write("a", &generation_a().bundle())).expect("generation A applies");
    assert!(!node.state.join("apply-journal.json").exists(), "a finished apply leaves no journal");
    agent.stop().expect("the agent stops");
    std::fs::write(node.state.join("apply-journal.json"), b"{\"format\": 1, \"bundle_digest\": ").unwrap();

    let _agent = InProcessAgent::start(node.config(), None);
    let status = node.status();
    assert_eq!(status.generation, 1);
    assert!(status.adopted);
    let error = status.last_error.expect("the damaged journal is reported");
    assert_eq!(error.kind, "state");
    assert!(error.message.starts_with("an interrupted apply left a journal that cannot be read: the state file `"), "{}", error.message);
    assert!(!node.state.join("apply-journal.json").exists(), "the damaged journal is removed");
    let instance = status.endpoints[ENDPOINT].instance.clone();
    assert_generation_a_live(&node, &instance);
}

#[test]
fn generations_may_switch_lookup_modes_privileged() {
    if !privileged("generations_may_switch_lookup_modes_privileged") {
        return;
    }
    // LPM → HASH → LPM: each switch loads an instance of the other constants, builds the
    // maps it reads, and removes the instance it replaces.
    let node = TestNode::new();
    let _agent = InProcessAgent::start(node.config(), None);
    node.apply(&node.write("a-lpm", &generation_a().lpm().bundle())).expect("generation A (LPM) applies");
    let lpm_instance = node.status().endpoints[ENDPOINT].instance.clone();
    assert!(node.inner_map_id(&lpm_instance, "polc_policy", 1).is_some());
    assert_generation_a_live(&node, &lpm_instance);

    let report = node.apply(&node.write("b-hash", &generation_b().bundle())).expect("generation B (HASH) applies");
    assert_eq!((report.generation, report.slot), (2, 0));
    let hash_instance = node.status().endpoints[ENDPOINT].instance.clone();
    assert_ne!(hash_instance, lpm_instance, "other constants, another instance");
    assert_eq!(node.instances(), vec![hash_instance.clone()], "the LPM instance is removed");
    for outer in ["polc_policy_hash", "polc_ipcache", "polc_ipcache_hash"] {
        assert!(node.inner_map_id(&hash_instance, outer, 0).is_some(), "{outer} holds generation B");
    }
    assert!(node.inner_map_id(&hash_instance, "polc_policy", 0).is_none());
    let verdict = |instance: &str, port| node.ingress_verdict(instance, v4(10, 210, 0, 1), v4(10, 210, 0, 2), port);
    assert_eq!([5001, 5002, 5003].map(|port| verdict(&hash_instance, port)), [TC_ACT_OK, TC_ACT_SHOT, TC_ACT_OK], "generation B decides");

    node.apply(&node.write("a-lpm-again", &generation_a().lpm().bundle())).expect("generation A (LPM) applies again");
    let status = node.status();
    assert_eq!(status.endpoints[ENDPOINT].instance, lpm_instance, "the same constants give the same instance key");
    assert_eq!(node.instances(), vec![lpm_instance.clone()]);
    assert_generation_a_live(&node, &lpm_instance);
    assert_eq!((status.generation, status.failures), (3, 0));
}
