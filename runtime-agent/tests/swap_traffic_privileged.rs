//! Generation swaps under real traffic. Two network namespaces joined by a veth pair: the
//! node (where the agent runs and finds the pod's host-side interface from the host route)
//! and the pod. The node sends thousands of numbered UDP datagrams per second to four ports
//! of the pod while the agent swaps between two generations over and over.
//!
//! The generations:
//! - generation A: the node's address has identity 1000; 1000 may reach ports 7001 and 7002;
//! - generation B: the node's address has identity 2000; 2000 may reach ports 7001 and 7003;
//! - port 7004 is allowed in neither.
//!
//! The generations use the default (HASH) lookup modes; the swap test also runs in the LPM
//! modes.
//!
//! The objects run with `emit_verdict_events`: every packet that reaches a verdict writes a
//! record with the generation slot it read and its first 8 payload bytes, which hold the
//! datagram's sequence number. For EVERY datagram the tests assert one record, that the
//! generation in the record's slot gives exactly the recorded verdict with its own identity
//! (a packet that mixed A's ipcache with B's policy would show A's slot with B's identity,
//! or a drop on 7001), and that the datagram arrived exactly when it was allowed.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::traffic::{BOTH, Expected, IDENTITY_A, IDENTITY_B, NEITHER, ONLY_A, ONLY_B, Outcome, PORTS, SlotTotals, Traffic};
use common::*;

/// Datagrams per second the node sends.
const RATE: u64 = 10_000;

fn node_ip() -> std::net::IpAddr {
    v4(NODE_ADDRESS[0], NODE_ADDRESS[1], NODE_ADDRESS[2], NODE_ADDRESS[3])
}

fn pod_ip() -> std::net::IpAddr {
    v4(POD_ADDRESS[0], POD_ADDRESS[1], POD_ADDRESS[2], POD_ADDRESS[3])
}

fn with_verdict_events(mut spec: GenerationSpec) -> GenerationSpec {
    spec.config.emit_verdict_events = true;
    spec
}

fn generation_a() -> GenerationSpec {
    with_verdict_events(GenerationSpec::new(node_ip(), IDENTITY_A, pod_ip(), &[BOTH, ONLY_A]))
}

fn generation_b() -> GenerationSpec {
    with_verdict_events(GenerationSpec::new(node_ip(), IDENTITY_B, pod_ip(), &[BOTH, ONLY_B]))
}

fn start_traffic(pair: &NodeAndPod, node: &TestNode) -> Traffic {
    Traffic::start(&pair.node, vec![pair.target(&PORTS)], node.bpffs.join("polc_drops"), RATE)
}

/// What the generation in `slot` decides for a datagram to `port`: A in `slot_a`, B in the
/// other slot.
fn judge(slot_a: u32) -> impl Fn(u8, usize, u16) -> Expected {
    move |slot, _target, port| {
        if u32::from(slot) == slot_a {
            Expected { allowed: port == BOTH || port == ONLY_A, remote_identity: IDENTITY_A }
        } else if u32::from(slot) == 1 - slot_a {
            Expected { allowed: port == BOTH || port == ONLY_B, remote_identity: IDENTITY_B }
        } else {
            panic!("a packet read generation slot {slot}")
        }
    }
}

fn describe(totals: &BTreeMap<u8, SlotTotals>) -> String {
    totals
        .iter()
        .map(|(slot, totals)| format!("slot {slot}: {} decided ({} allowed, {} dropped)", totals.decided, totals.allowed, totals.dropped))
        .collect::<Vec<_>>()
        .join("; ")
}

fn received_on(outcome: &Outcome, port: u16) -> usize {
    outcome.received.iter().filter(|datagram| datagram.port == port).count()
}

#[test]
fn swaps_under_traffic_never_mix_generations_privileged() {
    if !privileged("swaps_under_traffic_never_mix_generations_privileged") {
        return;
    }
    swaps_under_traffic(generation_a(), generation_b());
}

#[test]
fn swaps_under_traffic_never_mix_generations_in_the_lpm_lookup_modes_privileged() {
    if !privileged("swaps_under_traffic_never_mix_generations_in_the_lpm_lookup_modes_privileged") {
        return;
    }
    swaps_under_traffic(generation_a().lpm(), generation_b().lpm());
}

fn swaps_under_traffic(generation_a: GenerationSpec, generation_b: GenerationSpec) {
    const SWAPS: usize = 20;
    let pair = NodeAndPod::create();
    let node = TestNode::new();
    let agent = InProcessAgent::start(node.config(), Some(&pair.node));
    let path_a = node.write("a", &generation_a.bundle());
    let path_b = node.write("b", &generation_b.bundle());
    let policy_outer = generation_a.policy_outer();
    let first = node.apply(&path_a).expect("generation A applies");
    let slot_a = first.slot;
    let status = node.status();
    let endpoint = &status.endpoints[ENDPOINT];
    assert!(endpoint.attached, "the endpoint is attached at once, found from its host route: {status:?}");
    assert_eq!(endpoint.interface.as_deref(), Some(HOST_INTERFACE));
    assert!(node.inner_map_id(&endpoint.instance, policy_outer, slot_a).is_some(), "the policy map is in `{policy_outer}`");

    let traffic = start_traffic(&pair, &node);
    std::thread::sleep(Duration::from_millis(100));
    let mut flips = Vec::new();
    for swap in 0..SWAPS {
        let (path, expected_slot) = if swap % 2 == 0 { (&path_b, 1 - slot_a) } else { (&path_a, slot_a) };
        let report = node.apply(path).expect("the swap applies");
        assert_eq!(report.slot, expected_slot);
        assert!(!report.unchanged);
        flips.push(report.request_to_flip_us);
        std::thread::sleep(Duration::from_millis(25));
    }
    std::thread::sleep(Duration::from_millis(100));
    let outcome = traffic.finish();
    drop(agent);

    // Every datagram: one record, decided entirely by the generation in its slot.
    let totals = outcome.check_every_packet(judge(slot_a));
    let slot_b = 1 - slot_a;
    let decided = |slot: u32| totals.get(&(slot as u8)).copied().unwrap_or_default();
    assert!(decided(slot_a).decided > 0 && decided(slot_b).decided > 0, "both generations decided traffic: {}", describe(&totals));
    assert_eq!(received_on(&outcome, NEITHER), 0);
    assert_eq!(
        received_on(&outcome, BOTH),
        outcome.sent.iter().filter(|datagram| datagram.port == BOTH).count(),
        "every datagram allowed by both generations arrives"
    );

    // In send order, the generation changes at most once per flip.
    let changes = outcome.slot_changes();
    let mut sorted_flips = flips.clone();
    sorted_flips.sort();
    eprintln!(
        "{policy_outer}: {} datagrams sent ({} refused by the socket) in {SWAPS} swaps, {} verdict records: {}; {} received on {BOTH}; \
         {changes} generation changes in send order; request-to-flip median {} us, max {} us",
        outcome.sent.len(),
        outcome.failed_sends,
        outcome.records().values().map(Vec::len).sum::<usize>(),
        describe(&totals),
        received_on(&outcome, BOTH),
        sorted_flips[SWAPS / 2],
        sorted_flips[SWAPS - 1]
    );
    assert!(changes <= SWAPS, "{changes} generation changes for {SWAPS} flips: a flip was not a single step");
    assert!(changes >= SWAPS / 2, "only {changes} of {SWAPS} flips were seen by the traffic");
    assert!(outcome.sent.len() > 1000, "the traffic ran: {} datagrams", outcome.sent.len());
}

#[test]
fn a_killed_agent_is_adopted_without_disturbing_traffic_privileged() {
    if !privileged("a_killed_agent_is_adopted_without_disturbing_traffic_privileged") {
        return;
    }
    let pair = NodeAndPod::create();
    let node = TestNode::new();
    let agent = ChildAgent::start(&node, Some(&pair.node), &[]);
    node.apply(&node.write("a", &generation_a().bundle())).expect("generation A applies");
    let before = node.status();
    assert!(before.endpoints[ENDPOINT].attached, "{before:?}");
    let instance = before.endpoints[ENDPOINT].instance.clone();
    let slot = before.slot.expect("a live slot");
    let live_map_ids = |slot| ["polc_policy_hash", "polc_ipcache", "polc_ipcache_hash"].map(|outer| node.inner_map_id(&instance, outer, slot));
    let live_maps = live_map_ids(slot);
    assert!(live_maps.iter().all(Option::is_some), "{live_maps:?}");
    let links = node.link_ids(ENDPOINT_KEY);

    let traffic = start_traffic(&pair, &node);
    std::thread::sleep(Duration::from_millis(200));
    agent.kill();
    let killed_at = traffic.sequence();
    std::thread::sleep(Duration::from_millis(300));
    let agent = ChildAgent::start(&node, Some(&pair.node), &[]);
    let after = node.status();
    let restarted_at = traffic.sequence();
    let adopted_maps = live_map_ids(slot);
    std::thread::sleep(Duration::from_millis(200));
    let b_requested_at = traffic.sequence();
    node.apply(&node.write("b", &generation_b().bundle())).expect("the restarted agent applies generation B");
    std::thread::sleep(Duration::from_millis(200));
    let outcome = traffic.finish();
    drop(agent);

    assert!(after.adopted, "{after:?}");
    assert_eq!((after.generation, after.bundle_digest.clone()), (before.generation, before.bundle_digest.clone()));
    assert_eq!(after.endpoints[ENDPOINT].interface.as_deref(), Some(HOST_INTERFACE));
    assert_eq!(adopted_maps, live_maps, "the adopting agent did not rebuild the live maps");
    assert_eq!(node.link_ids(ENDPOINT_KEY), links, "the links were never detached");
    let totals = outcome.check_every_packet(judge(slot));
    assert!(killed_at < restarted_at, "datagrams were sent while no agent ran");
    // Generation A decided everything sent before B was requested, through the kill and
    // the restart.
    let early_b: Vec<(u64, u8)> =
        outcome.slots_in_send_order().into_iter().filter(|(sequence, decided)| *sequence < b_requested_at && u32::from(*decided) != slot).collect();
    assert!(early_b.is_empty(), "datagrams decided by another generation before B was requested: {:?}", &early_b[..early_b.len().min(10)]);
    assert_eq!(outcome.slot_changes(), 1, "one flip, to B");
    eprintln!("{} datagrams; {} sent between the kill and the restart; {}", outcome.sent.len(), restarted_at - killed_at, describe(&totals));
}

#[test]
fn program_upgrades_under_traffic_replace_the_programs_on_the_live_links_privileged() {
    if !privileged("program_upgrades_under_traffic_replace_the_programs_on_the_live_links_privileged") {
        return;
    }
    // Generation B here also changes a constant, so every swap loads a new instance, puts
    // the new maps in the spare slot of both the old and the new instance, flips, and then
    // replaces the program on each pinned link (BPF_LINK_UPDATE).
    const SWAPS: usize = 6;
    let pair = NodeAndPod::create();
    let node = TestNode::new();
    let agent = InProcessAgent::start(node.config(), Some(&pair.node));
    let mut upgraded = generation_b();
    upgraded.config.conntrack_lifetime_other_ns = 30 * 1_000_000_000;
    let path_a = node.write("a", &generation_a().bundle());
    let path_b = node.write("b", &upgraded.bundle());
    let slot_a = node.apply(&path_a).expect("generation A applies").slot;
    let instance_a = node.status().endpoints[ENDPOINT].instance.clone();
    let links = node.link_ids(ENDPOINT_KEY);

    let traffic = start_traffic(&pair, &node);
    std::thread::sleep(Duration::from_millis(100));
    let mut instances = BTreeSet::new();
    for swap in 0..SWAPS {
        let path = if swap % 2 == 0 { &path_b } else { &path_a };
        node.apply(path).expect("the upgrade applies");
        let status = node.status();
        let endpoint = &status.endpoints[ENDPOINT];
        assert!(endpoint.attached, "{status:?}");
        assert_eq!(node.instances(), vec![endpoint.instance.clone()], "the replaced instance is released");
        instances.insert(endpoint.instance.clone());
        std::thread::sleep(Duration::from_millis(40));
    }
    std::thread::sleep(Duration::from_millis(100));
    let outcome = traffic.finish();
    drop(agent);

    assert_eq!(instances.len(), 2, "two instances alternate: {instances:?}");
    assert!(instances.contains(&instance_a));
    assert_eq!(node.link_ids(ENDPOINT_KEY), links, "programs are replaced on the same links");
    let totals = outcome.check_every_packet(judge(slot_a));
    assert!(outcome.slot_changes() <= SWAPS);
    eprintln!("{} datagrams over {SWAPS} program upgrades: {}", outcome.sent.len(), describe(&totals));
}

#[test]
fn endpoints_are_attached_when_their_interface_appears_and_detached_when_it_goes_privileged() {
    if !privileged("endpoints_are_attached_when_their_interface_appears_and_detached_when_it_goes_privileged") {
        return;
    }
    let pair = NodeAndPod::namespaces();
    let node = TestNode::new();
    let _agent = InProcessAgent::start(node.config(), Some(&pair.node));
    let slot_a = node.apply(&node.write("a", &generation_a().bundle())).expect("generation A applies before the pod exists").slot;
    assert!(!node.status().endpoints[ENDPOINT].attached);
    let wait_for = |attached: bool| {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let status = node.status();
            if status.endpoints[ENDPOINT].attached == attached {
                return status;
            }
            assert!(Instant::now() < deadline, "the endpoint's attachment did not become {attached}: {status:?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    };

    pair.connect();
    let status = wait_for(true);
    assert_eq!(status.interfaces, vec![HOST_INTERFACE.to_owned()]);
    // The attached programs decide real traffic: generation A drops 7004 and passes 7001.
    let outcome = {
        let traffic = start_traffic(&pair, &node);
        std::thread::sleep(Duration::from_millis(200));
        traffic.finish()
    };
    let totals = outcome.check_every_packet(judge(slot_a));
    assert_eq!(totals.keys().copied().collect::<Vec<u8>>(), vec![slot_a as u8]);
    assert!(received_on(&outcome, BOTH) > 0);

    pair.disconnect();
    let status = wait_for(false);
    assert!(status.interfaces.is_empty());
    assert!(!node.bpffs.join("links").join(ENDPOINT_KEY).exists(), "the dead links were unpinned");

    // The pod comes back with a new interface (a new index): attached again.
    pair.connect();
    wait_for(true);
}
