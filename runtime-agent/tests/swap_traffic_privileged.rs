//! Generation swaps under real traffic. Two network namespaces joined by a veth pair: the
//! node (where the agent runs and finds the pod's host-side interface from the host route)
//! and the pod. The node sends thousands of numbered UDP datagrams per second to four ports
//! of the pod while the agent swaps between two generations over and over.
//!
//! The generations are built so that every verdict names the generation that made it:
//! - generation A: the node's address has identity 1000; 1000 may reach ports 7001 and 7002;
//! - generation B: the node's address has identity 2000; 2000 may reach ports 7001 and 7003;
//! - port 7004 is allowed in neither.
//!
//! A packet that mixed generation A's ipcache with generation B's policy (or the other way
//! round) would be dropped on 7001, the port both allow. Received 7002 packets were decided
//! by A and received 7003 packets by B; every drop carries its generation slot and the
//! identity it looked up (the datapath's drop events), which must belong together. The
//! datapath reports the slot only for drops (and in BPF_PROG_TEST_RUN), so allowed packets
//! are attributed by port as above.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use aya::maps::{Map, MapData, RingBuf};
use common::*;
use polc_ebpf::{Direction, DropEvent};

const BOTH: u16 = 7001;
const ONLY_A: u16 = 7002;
const ONLY_B: u16 = 7003;
const NEITHER: u16 = 7004;
const PORTS: [u16; 4] = [BOTH, ONLY_A, ONLY_B, NEITHER];
const IDENTITY_A: u32 = 1000;
const IDENTITY_B: u32 = 2000;
/// Datagrams per second the node sends.
const RATE: u64 = 10_000;
/// Sequence numbers with this bit are warm-up datagrams (ARP resolution), not counted.
const WARM_UP: u64 = 1 << 63;

fn node_ip() -> std::net::IpAddr {
    v4(NODE_ADDRESS[0], NODE_ADDRESS[1], NODE_ADDRESS[2], NODE_ADDRESS[3])
}

fn pod_ip() -> std::net::IpAddr {
    v4(POD_ADDRESS[0], POD_ADDRESS[1], POD_ADDRESS[2], POD_ADDRESS[3])
}

fn generation_a() -> GenerationSpec {
    GenerationSpec::new(node_ip(), IDENTITY_A, pod_ip(), &[BOTH, ONLY_A])
}

fn generation_b() -> GenerationSpec {
    GenerationSpec::new(node_ip(), IDENTITY_B, pod_ip(), &[BOTH, ONLY_B])
}

/// Numbered UDP from the node to the pod, and the drop events read off the pinned ring.
struct Traffic {
    stop: Arc<AtomicBool>,
    /// The next sequence number the sender will use.
    next_sequence: Arc<AtomicU64>,
    sender: JoinHandle<Vec<(u64, u16)>>,
    receiver: JoinHandle<Vec<(u64, u16)>>,
    drops: JoinHandle<Vec<DropEvent>>,
}

impl Traffic {
    fn start(pair: &NodeAndPod, node: &TestNode) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let next_sequence = Arc::new(AtomicU64::new(0));
        let warm = Arc::new(AtomicBool::new(false));
        let (ready_sender, ready) = std::sync::mpsc::channel::<()>();

        let pod = pair.pod.clone();
        let (receiver_stop, receiver_warm) = (Arc::clone(&stop), Arc::clone(&warm));
        let receiver = std::thread::spawn(move || {
            enter_namespace(&pod);
            let sockets: Vec<UdpSocket> = PORTS
                .iter()
                .map(|port| {
                    let socket = UdpSocket::bind(SocketAddr::new(pod_ip(), *port)).expect("pod socket");
                    socket.set_nonblocking(true).expect("nonblocking");
                    let _ = rustix::net::sockopt::set_socket_recv_buffer_size_force(socket.as_fd(), 8 << 20);
                    socket
                })
                .collect();
            let _ = ready_sender.send(());
            let mut received = Vec::new();
            let mut buffer = [0u8; 64];
            let mut quiet_since: Option<Instant> = None;
            loop {
                let mut got = false;
                for (socket, port) in sockets.iter().zip(PORTS) {
                    while let Ok(length) = socket.recv(&mut buffer) {
                        got = true;
                        if length >= 8 {
                            let sequence = u64::from_le_bytes(buffer[..8].try_into().unwrap_or([0; 8]));
                            if sequence & WARM_UP != 0 {
                                receiver_warm.store(true, Ordering::SeqCst);
                            } else {
                                received.push((sequence, port));
                            }
                        }
                    }
                }
                if receiver_stop.load(Ordering::SeqCst) {
                    // Stop after 300 ms without a datagram.
                    let since = *quiet_since.get_or_insert_with(Instant::now);
                    if got {
                        quiet_since = Some(Instant::now());
                    } else if since.elapsed() > Duration::from_millis(300) {
                        break;
                    }
                }
                if !got {
                    std::thread::sleep(Duration::from_micros(200));
                }
            }
            received
        });
        ready.recv().expect("the receiver is ready");

        let node_namespace = pair.node.clone();
        let (sender_stop, sender_sequence, sender_warm) = (Arc::clone(&stop), Arc::clone(&next_sequence), Arc::clone(&warm));
        let (warmed_sender, warmed) = std::sync::mpsc::channel::<()>();
        let sender = std::thread::spawn(move || {
            enter_namespace(&node_namespace);
            let socket = UdpSocket::bind(SocketAddr::new(node_ip(), 0)).expect("node socket");
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut warm_up = 0u64;
            while !sender_warm.load(Ordering::SeqCst) {
                assert!(Instant::now() < deadline, "no warm-up datagram reached the pod");
                let _ = socket.send_to(&(WARM_UP | warm_up).to_le_bytes(), SocketAddr::new(pod_ip(), BOTH));
                warm_up += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = warmed_sender.send(());
            let mut sent = Vec::new();
            let mut sequence = 0u64;
            let mut last = Instant::now();
            let mut credit = 0.0f64;
            while !sender_stop.load(Ordering::SeqCst) {
                // About RATE datagrams per second, in small bursts; time lost to a busy CPU is
                // not made up with a flood.
                let now = Instant::now();
                credit = (credit + now.duration_since(last).as_secs_f64() * RATE as f64).min(20.0);
                last = now;
                while credit >= 1.0 {
                    credit -= 1.0;
                    let port = PORTS[(sequence % 4) as usize];
                    if socket.send_to(&sequence.to_le_bytes(), SocketAddr::new(pod_ip(), port)).is_ok() {
                        sent.push((sequence, port));
                    }
                    sequence += 1;
                    sender_sequence.store(sequence, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_micros(500));
            }
            sent
        });
        warmed.recv().expect("the sender warmed up");

        let ring_path = node.bpffs.join("polc_drops");
        let drops_stop = Arc::clone(&stop);
        let drops = std::thread::spawn(move || {
            let data = MapData::from_pin(&ring_path).expect("pinned drop events");
            let map = Map::from_map_data(data).expect("ring buffer map");
            let mut ring = RingBuf::try_from(map).expect("ring buffer");
            let mut events = Vec::new();
            let mut stopped_at: Option<Instant> = None;
            loop {
                let mut got = false;
                while let Some(item) = ring.next() {
                    got = true;
                    if let Some(event) = DropEvent::decode(&item) {
                        events.push(event);
                    }
                }
                if drops_stop.load(Ordering::SeqCst) {
                    let since = *stopped_at.get_or_insert_with(Instant::now);
                    if since.elapsed() > Duration::from_millis(500) {
                        break;
                    }
                }
                if !got {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            events
        });

        Traffic { stop, next_sequence, sender, receiver, drops }
    }

    fn sequence(&self) -> u64 {
        self.next_sequence.load(Ordering::SeqCst)
    }

    fn finish(self) -> Outcome {
        self.stop.store(true, Ordering::SeqCst);
        let sent = self.sender.join().expect("sender");
        let received = self.receiver.join().expect("receiver");
        let drops = self
            .drops
            .join()
            .expect("drop events")
            .into_iter()
            .filter(|event| event.protocol == UDP && event.direction == Direction::Ingress && PORTS.contains(&event.policy_port))
            .collect();
        Outcome { sent, received, drops }
    }
}

struct Outcome {
    sent: Vec<(u64, u16)>,
    received: Vec<(u64, u16)>,
    drops: Vec<DropEvent>,
}

impl Outcome {
    fn sent_to(&self, port: u16) -> usize {
        self.sent.iter().filter(|(_, to)| *to == port).count()
    }

    fn received_on(&self, port: u16) -> usize {
        self.received.iter().filter(|(_, on)| *on == port).count()
    }

    fn dropped_on(&self, port: u16) -> Vec<&DropEvent> {
        self.drops.iter().filter(|event| event.policy_port == port).collect()
    }

    /// Checks what holds for any run: nothing received that was not sent, each datagram
    /// received once, nothing on the port no generation allows, no drop on the port every
    /// generation allows, and every datagram of the other ports accounted for exactly once.
    fn check_common(&self) {
        let sent: BTreeSet<(u64, u16)> = self.sent.iter().copied().collect();
        let received: BTreeSet<(u64, u16)> = self.received.iter().copied().collect();
        assert_eq!(received.len(), self.received.len(), "a datagram arrived twice");
        assert!(received.is_subset(&sent), "a datagram arrived that was never sent");
        assert_eq!(self.received_on(NEITHER), 0, "no generation allows port {NEITHER}");
        assert_eq!(self.dropped_on(NEITHER).len(), self.sent_to(NEITHER), "every datagram to {NEITHER} is dropped once");
        assert!(self.dropped_on(BOTH).is_empty(), "a datagram allowed by both generations was dropped: {:?}", self.dropped_on(BOTH));
        assert_eq!(self.received_on(BOTH), self.sent_to(BOTH), "every datagram allowed by both generations arrives");
        for port in [ONLY_A, ONLY_B] {
            assert_eq!(self.received_on(port) + self.dropped_on(port).len(), self.sent_to(port), "every datagram to {port} is either received or dropped once");
        }
    }
}

#[test]
fn swaps_under_traffic_never_mix_generations_privileged() {
    if !privileged("swaps_under_traffic_never_mix_generations_privileged") {
        return;
    }
    const SWAPS: usize = 20;
    let pair = NodeAndPod::create();
    let node = TestNode::new();
    let agent = InProcessAgent::start(node.config(), Some(&pair.node));
    let path_a = node.write("a", &generation_a().bundle());
    let path_b = node.write("b", &generation_b().bundle());
    let first = node.apply(&path_a).expect("generation A applies");
    let slot_a = first.slot;
    let status = node.status();
    let endpoint = &status.endpoints[ENDPOINT];
    assert!(endpoint.attached, "the endpoint is attached at once, found from its host route: {status:?}");
    assert_eq!(endpoint.interface.as_deref(), Some(HOST_INTERFACE));

    let traffic = Traffic::start(&pair, &node);
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

    outcome.check_common();
    let slot_b = 1 - slot_a;
    // A drop on A's own port was decided by B with B's identity, and the other way round.
    for event in outcome.dropped_on(ONLY_A) {
        assert_eq!((u32::from(event.generation_slot), event.remote_identity), (slot_b, IDENTITY_B), "torn or wrong: {event:?}");
    }
    for event in outcome.dropped_on(ONLY_B) {
        assert_eq!((u32::from(event.generation_slot), event.remote_identity), (slot_a, IDENTITY_A), "torn or wrong: {event:?}");
    }
    for event in outcome.dropped_on(NEITHER) {
        let pair = (u32::from(event.generation_slot), event.remote_identity);
        assert!(pair == (slot_a, IDENTITY_A) || pair == (slot_b, IDENTITY_B), "a slot with the other generation's identity: {event:?}");
    }

    // Packets per generation, over the datagrams whose verdict names it.
    let by_generation = |slot: u32| outcome.dropped_on(NEITHER).iter().filter(|event| u32::from(event.generation_slot) == slot).count();
    let generation_a_packets = outcome.received_on(ONLY_A) + outcome.dropped_on(ONLY_B).len() + by_generation(slot_a);
    let generation_b_packets = outcome.received_on(ONLY_B) + outcome.dropped_on(ONLY_A).len() + by_generation(slot_b);
    assert!(generation_a_packets > 0 && generation_b_packets > 0);

    // In send order, the generation changes at most once per flip (the tc program runs in
    // the sender's own system call, so send order is decision order).
    let mut decided: BTreeMap<u64, char> = BTreeMap::new();
    for (sequence, port) in &outcome.received {
        match *port {
            ONLY_A => decided.insert(*sequence, 'A'),
            ONLY_B => decided.insert(*sequence, 'B'),
            _ => None,
        };
    }
    let labels: Vec<char> = decided.values().copied().collect();
    let changes = labels.windows(2).filter(|pair| pair[0] != pair[1]).count();
    let mut sorted_flips = flips.clone();
    sorted_flips.sort();
    eprintln!(
        "{} datagrams sent in {} swaps: generation A decided {generation_a_packets}, generation B {generation_b_packets}; \
         {} received on {BOTH}, {} drops on {NEITHER}; {changes} generation changes in send order; \
         request-to-flip median {} us, max {} us",
        outcome.sent.len(),
        SWAPS,
        outcome.received_on(BOTH),
        outcome.dropped_on(NEITHER).len(),
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
    let live_maps = (node.inner_map_id(&instance, "polc_policy", slot), node.inner_map_id(&instance, "polc_ipcache", slot));

    let traffic = Traffic::start(&pair, &node);
    std::thread::sleep(Duration::from_millis(200));
    agent.kill();
    let killed_at = traffic.sequence();
    std::thread::sleep(Duration::from_millis(300));
    let agent = ChildAgent::start(&node, Some(&pair.node), &[]);
    let after = node.status();
    let restarted_at = traffic.sequence();
    let adopted_maps = (node.inner_map_id(&instance, "polc_policy", slot), node.inner_map_id(&instance, "polc_ipcache", slot));
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
    outcome.check_common();
    assert!(killed_at < restarted_at, "datagrams were sent while no agent ran");
    // Generation A decided everything sent before B was requested: all of A's datagrams
    // arrived, through the kill and the restart.
    let lost: Vec<u64> = outcome
        .sent
        .iter()
        .filter(|(sequence, port)| *sequence < b_requested_at && *port == ONLY_A)
        .filter(|sent| !outcome.received.contains(sent))
        .map(|(sequence, _)| *sequence)
        .collect();
    assert!(lost.is_empty(), "datagrams to {ONLY_A} lost under generation A: {:?}", &lost[..lost.len().min(10)]);
    assert!(outcome.dropped_on(ONLY_A).iter().all(|event| event.remote_identity == IDENTITY_B));
    eprintln!(
        "{} datagrams; {} sent between the kill and the restart; {} received on {BOTH}",
        outcome.sent.len(),
        restarted_at - killed_at,
        outcome.received_on(BOTH)
    );
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

    let traffic = Traffic::start(&pair, &node);
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
    outcome.check_common();
    let slot_b = 1 - slot_a;
    for event in outcome.dropped_on(ONLY_A) {
        assert_eq!((u32::from(event.generation_slot), event.remote_identity), (slot_b, IDENTITY_B), "{event:?}");
    }
    for event in outcome.dropped_on(ONLY_B) {
        assert_eq!((u32::from(event.generation_slot), event.remote_identity), (slot_a, IDENTITY_A), "{event:?}");
    }
    eprintln!("{} datagrams over {SWAPS} program upgrades; {} received on {BOTH}", outcome.sent.len(), outcome.received_on(BOTH));
}

#[test]
fn endpoints_are_attached_when_their_interface_appears_and_detached_when_it_goes_privileged() {
    if !privileged("endpoints_are_attached_when_their_interface_appears_and_detached_when_it_goes_privileged") {
        return;
    }
    let pair = NodeAndPod::namespaces();
    let node = TestNode::new();
    let _agent = InProcessAgent::start(node.config(), Some(&pair.node));
    node.apply(&node.write("a", &generation_a().bundle())).expect("generation A applies before the pod exists");
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
        let traffic = Traffic::start(&pair, &node);
        std::thread::sleep(Duration::from_millis(200));
        traffic.finish()
    };
    outcome.check_common();
    assert!(outcome.received_on(BOTH) > 0);

    pair.disconnect();
    let status = wait_for(false);
    assert!(status.interfaces.is_empty());
    assert!(!node.bpffs.join("links").join(ENDPOINT_KEY).exists(), "the dead links were unpinned");

    // The pod comes back with a new interface (a new index): attached again.
    pair.connect();
    wait_for(true);
}
