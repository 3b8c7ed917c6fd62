//! SIGKILL during an apply, at every stage, under real traffic. The `polc-agent` binary runs
//! as a child process in the node's network namespace with `POLC_AGENT_FAULT=kill-at:STAGE:2`,
//! so that its second apply (A → B) kills it with SIGKILL at STAGE. A new agent then starts.
//!
//! Each case asserts: the agent died of SIGKILL; the selector shows the old generation
//! before the flip and the new one after it; the restarted agent adopts that generation
//! without detaching the links (their kernel ids never change) and, before the flip,
//! without rebuilding the live maps; it removes what the interrupted apply left (instances,
//! maps in spare slots, the journal); it says why in the status; a further apply succeeds.
//! Throughout, numbered datagrams flow from the node to the pod, and every one is checked
//! against its verdict record (see `common::traffic`): one record each, decided entirely by
//! the generation in the slot it read, and old verdicts hold until the flip.

mod common;

use std::time::Duration;

use common::traffic::{BOTH, Expected, IDENTITY_A, IDENTITY_B, ONLY_A, ONLY_B, PORTS, Traffic};
use common::*;
use polc_agent::fault::ApplyStage;
use polc_agent::kernel::{LinkState, NodeKernel};

/// Datagrams per second; several cases may run at once on two cores.
const RATE: u64 = 3_000;

fn spec(identity: u32, ports: &[u16]) -> GenerationSpec {
    let node = v4(NODE_ADDRESS[0], NODE_ADDRESS[1], NODE_ADDRESS[2], NODE_ADDRESS[3]);
    let pod = v4(POD_ADDRESS[0], POD_ADDRESS[1], POD_ADDRESS[2], POD_ADDRESS[3]);
    let mut spec = GenerationSpec::new(node, identity, pod, ports);
    spec.config.emit_verdict_events = true;
    spec
}

/// How generation B differs from A.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    /// Only the maps: the same instance gets B's maps in its spare slot.
    Maps,
    /// A constant too: B loads a new instance, and the links get its programs.
    Program,
}

fn interrupted_apply(stage: ApplyStage, change: Change) {
    let pair = NodeAndPod::create();
    let node = TestNode::new();
    let generation_a = spec(IDENTITY_A, &[BOTH, ONLY_A]);
    let mut generation_b = spec(IDENTITY_B, &[BOTH, ONLY_B]);
    if change == Change::Program {
        generation_b.config.conntrack_lifetime_other_ns = 30 * 1_000_000_000;
    }
    let bundle_b = generation_b.bundle();
    let path_a = node.write("a", &generation_a.bundle());
    let path_b = node.write("b", &bundle_b);
    let fault = format!("kill-at:{stage}:2");
    let agent = ChildAgent::start_with_environment(&node, Some(&pair.node), &[], &[("POLC_AGENT_FAULT", &fault)]);

    let slot_a = node.apply(&path_a).expect("generation A applies").slot;
    let slot_b = 1 - slot_a;
    let before = node.status();
    let instance_a = before.endpoints[ENDPOINT].instance.clone();
    assert!(before.endpoints[ENDPOINT].attached, "{before:?}");
    let links = node.link_ids(ENDPOINT_KEY);
    assert!(links.iter().all(Option::is_some), "both links are pinned: {links:?}");
    // The outer maps the (default, HASH lookup mode) objects read.
    let outers: Vec<String> = generation_a.bindings().into_iter().map(|(outer, _)| outer).collect();
    let policy_outer = generation_a.policy_outer();
    let map_ids = |slot| outers.iter().map(|outer| node.inner_map_id(&instance_a, outer, slot)).collect::<Vec<_>>();
    let live_maps = map_ids(slot_a);
    assert!(live_maps.iter().all(Option::is_some), "{live_maps:?}");

    let traffic = Traffic::start(&pair.node, vec![pair.target(&PORTS)], node.bpffs.join("polc_drops"), RATE);
    std::thread::sleep(Duration::from_millis(150));
    let b_requested_at = traffic.sequence();
    let answer = node.apply(&path_b);
    assert!(answer.is_err(), "the apply killed at `{stage}` answered: {answer:?}");
    agent.expect_killed();
    let killed_at = traffic.sequence();

    // With no agent at all: the kernel shows the flip happened exactly when it should.
    let live_slot = if stage.after_flip() { slot_b } else { slot_a };
    assert_eq!(node.selector(), Some(live_slot), "the selector after a kill at `{stage}`");
    let journal: serde_json::Value =
        serde_json::from_slice(&std::fs::read(node.state.join("apply-journal.json")).expect("the journal is left behind")).unwrap();
    assert_eq!(journal["stage"], stage.name(), "{journal}");
    // What the interrupted apply left, for the restarted agent to clean up.
    let fresh_instance_left = change == Change::Program && (ApplyStage::Loaded..=ApplyStage::Upgraded).contains(&stage);
    assert_eq!(node.instances().len(), if fresh_instance_left { 2 } else { 1 }, "instances left by a kill at `{stage}`: {:?}", node.instances());
    if (ApplyStage::Staged..=ApplyStage::Recorded).contains(&stage) {
        let spare = node.slot_max_entries(&instance_a, policy_outer, slot_b);
        assert!(spare.is_some_and(|max_entries| max_entries > 1), "B's policy map sits in A's spare slot: {spare:?}");
    }
    std::thread::sleep(Duration::from_millis(200));

    let agent = ChildAgent::start(&node, Some(&pair.node), &[]);
    let restarted_at = traffic.sequence();
    let after = node.status();
    let live_instance = after.endpoints[ENDPOINT].instance.clone();
    assert!(after.adopted, "{after:?}");
    let error = after.last_error.clone().expect("the restarted agent says what happened");
    assert_eq!(error.kind, "interrupted");
    assert!(error.bundle.as_deref().is_some_and(|bundle| bundle.ends_with("/b")), "{error:?}");
    let prefix = format!("apply of bundle {} interrupted at {stage} by an agent restart; ", bundle_b.digest());
    // Before the flip, the message counts what the apply left (after it, the old instance
    // goes as part of finishing the switch).
    if !stage.after_flip() {
        let maps = if (ApplyStage::Staged..=ApplyStage::Recorded).contains(&stage) { outers.len() } else { 0 };
        let instances = usize::from(fresh_instance_left);
        if instances + maps > 0 {
            assert!(error.message.ends_with(&format!("; removed {instances} instance(s) and {maps} map(s) left behind")), "{}", error.message);
        }
    }
    if stage.after_flip() {
        assert_eq!((after.generation, after.bundle_digest.clone()), (2, Some(bundle_b.digest().to_string())));
        assert!(error.message.starts_with(&format!("{prefix}its flip had happened, so generation 2 is live and its switch was finished")), "{}", error.message);
        assert_eq!((after.applies, after.failures), (2, 0));
    } else {
        assert_eq!((after.generation, after.bundle_digest.clone()), (1, before.bundle_digest.clone()));
        assert!(error.message.starts_with(&format!("{prefix}generation 1 kept live")), "{}", error.message);
        assert_eq!((after.applies, after.failures), (1, 1));
        assert_eq!(live_instance, instance_a);
        assert_eq!(map_ids(slot_a), live_maps, "the live maps are the same maps");
    }
    // Nothing is left over: one instance, no journal, spare slots empty or placeholders.
    assert_eq!(node.instances(), vec![live_instance.clone()]);
    assert!(!node.state.join("apply-journal.json").exists());
    let spare_slot = 1 - live_slot;
    for outer in &outers {
        let spare = node.slot_max_entries(&live_instance, outer, spare_slot);
        assert!(spare.is_none_or(|max_entries| max_entries == 1), "{outer} slot {spare_slot} still holds a map of {spare:?} entries");
    }
    // The links were never detached and run the live instance's programs.
    assert_eq!(node.link_ids(ENDPOINT_KEY), links, "the links kept their kernel ids");
    let kernel = NodeKernel::new(&node.bpffs);
    for program in ["polc_ingress", "polc_egress"] {
        assert_eq!(kernel.link_state(ENDPOINT_KEY, &live_instance, program).unwrap(), LinkState::Current, "{program}");
    }

    // The restarted agent applies the generation that is not live.
    std::thread::sleep(Duration::from_millis(150));
    let next_requested_at = traffic.sequence();
    let (next, next_slot, next_generation) = if stage.after_flip() { (&path_a, slot_a, 3) } else { (&path_b, slot_b, 2) };
    let report = node.apply(next).expect("an apply after the restart succeeds");
    assert_eq!((report.generation, report.slot), (next_generation, next_slot));
    std::thread::sleep(Duration::from_millis(150));
    let outcome = traffic.finish();
    drop(agent);

    let totals = outcome.check_every_packet(|slot, _, port| {
        if u32::from(slot) == slot_a {
            Expected { allowed: port == BOTH || port == ONLY_A, remote_identity: IDENTITY_A }
        } else {
            Expected { allowed: port == BOTH || port == ONLY_B, remote_identity: IDENTITY_B }
        }
    });
    let decided = outcome.slots_in_send_order();
    let wrong =
        |from: u64, to: u64, slot: u32| decided.iter().filter(|(sequence, decided)| (from..to).contains(sequence) && u32::from(*decided) != slot).count();
    if stage.after_flip() {
        assert_eq!(wrong(0, b_requested_at, slot_a), 0, "A decided everything before B was requested");
        assert_eq!(wrong(killed_at, next_requested_at, slot_b), 0, "B decided everything from the kill to the next apply");
    } else {
        assert_eq!(wrong(0, next_requested_at, slot_a), 0, "A decided everything until the next apply");
    }
    // Before the flip the killed apply changed nothing: one flip in all (the next apply);
    // after it, two (the killed apply's and the next one's).
    let flips = if stage.after_flip() { 2 } else { 1 };
    assert_eq!(outcome.slot_changes(), flips, "{flips} flip(s), no other change: {totals:?}");
    assert!(outcome.sent.len() > 500, "the traffic ran: {} datagrams", outcome.sent.len());
    eprintln!(
        "kill at {stage} ({change:?}): {} datagrams, {} between the kill and the restart, per slot {totals:?}; status: {}",
        outcome.sent.len(),
        restarted_at - killed_at,
        error.message
    );
}

macro_rules! fault_case {
    ($name:ident, $stage:expr, $change:expr) => {
        #[test]
        fn $name() {
            if !privileged(stringify!($name)) {
                return;
            }
            interrupted_apply($stage, $change);
        }
    };
}

fault_case!(killed_after_verify_privileged, ApplyStage::Verified, Change::Maps);
fault_case!(killed_after_loading_new_programs_privileged, ApplyStage::Loaded, Change::Program);
fault_case!(killed_while_building_maps_privileged, ApplyStage::Building, Change::Program);
fault_case!(killed_with_maps_built_in_the_spare_slot_privileged, ApplyStage::Staged, Change::Maps);
fault_case!(killed_with_programs_and_maps_staged_privileged, ApplyStage::Staged, Change::Program);
fault_case!(killed_with_the_flip_recorded_but_not_done_privileged, ApplyStage::Recorded, Change::Program);
fault_case!(killed_right_after_the_flip_privileged, ApplyStage::Flipped, Change::Maps);
fault_case!(killed_right_after_the_flip_of_new_programs_privileged, ApplyStage::Flipped, Change::Program);
fault_case!(killed_after_the_links_got_new_programs_privileged, ApplyStage::Upgraded, Change::Program);
fault_case!(killed_while_releasing_the_old_generation_privileged, ApplyStage::Releasing, Change::Maps);

#[test]
fn a_bad_fault_plan_stops_the_agent_with_a_clear_message() {
    // The plan is read before anything else, so this needs no root.
    let node = TestNode::new();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_polc-agent"))
        .env("POLC_AGENT_FAULT", "kill-at:later")
        .arg("--bpffs")
        .arg(&node.bpffs)
        .arg("--state")
        .arg(&node.state)
        .arg("--socket")
        .arg(&node.socket)
        .output()
        .expect("polc-agent runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.starts_with("polc-agent: `POLC_AGENT_FAULT` names stage `later`; the stages are `verified`"), "{stderr}");
}
