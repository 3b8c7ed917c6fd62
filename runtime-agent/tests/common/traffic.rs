//! Numbered UDP traffic from the node namespace to one or more pods, and the datapath's
//! verdict events read off the pinned ring buffer.
//!
//! Every datagram carries its sequence number in its first 8 payload bytes. With
//! `emit_verdict_events` on, the datapath writes one record for every packet that reaches a
//! verdict, with the generation slot it used and the first 8 payload bytes, so each record
//! names its packet. [`Outcome::check_every_packet`] then asserts, for every datagram sent,
//! that exactly one record exists, that the generation in its slot gives exactly that
//! verdict (and that identity), and that the datagram arrived exactly when it was allowed.

/// The ports of the two-generation swap scenarios: allowed in both generations, only in A,
/// only in B, in neither.
pub const BOTH: u16 = 7001;
pub const ONLY_A: u16 = 7002;
pub const ONLY_B: u16 = 7003;
pub const NEITHER: u16 = 7004;
pub const PORTS: [u16; 4] = [BOTH, ONLY_A, ONLY_B, NEITHER];
/// The sender's identity in generation A and in generation B.
pub const IDENTITY_A: u32 = 1000;
pub const IDENTITY_B: u32 = 2000;

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use aya::maps::{Map, MapData, RingBuf};
use polc_ebpf::verdict::VerdictEvent;
use polc_ebpf::{Direction, DropEvent};

use super::{UDP, enter_namespace};

/// Sequence numbers with this bit are warm-up datagrams (ARP resolution), not counted.
pub const WARM_UP: u64 = 1 << 63;

/// A pod the node sends to.
#[derive(Clone, Debug)]
pub struct Target {
    /// The pod's network namespace.
    pub namespace: String,
    pub address: IpAddr,
    pub ports: Vec<u16>,
    /// The endpoint identity its programs report (`local_identity` of its records).
    pub endpoint_identity: u32,
}

/// One datagram sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Sent {
    pub sequence: u64,
    /// Index into the targets.
    pub target: usize,
    pub port: u16,
}

/// Traffic running in the background.
pub struct Traffic {
    stop: Arc<AtomicBool>,
    next_sequence: Arc<AtomicU64>,
    sender: JoinHandle<(Vec<Sent>, u64)>,
    receivers: Vec<JoinHandle<Vec<(u64, u16)>>>,
    events: JoinHandle<(Vec<VerdictEvent>, Vec<DropEvent>)>,
    targets: Vec<Target>,
}

impl Traffic {
    /// Starts receivers in every target's namespace, the ring reader on `ring` (the pinned
    /// `polc_drops`), and a sender in `node_namespace` that sends about `rate` datagrams a
    /// second, round robin over every (target, port), once a warm-up datagram reached
    /// every target.
    pub fn start(node_namespace: &str, targets: Vec<Target>, ring: PathBuf, rate: u64) -> Traffic {
        let stop = Arc::new(AtomicBool::new(false));
        let next_sequence = Arc::new(AtomicU64::new(0));
        let warmed: Arc<Vec<AtomicBool>> = Arc::new(targets.iter().map(|_| AtomicBool::new(false)).collect());

        let mut receivers = Vec::new();
        for (index, target) in targets.iter().cloned().enumerate() {
            let (ready_sender, ready) = std::sync::mpsc::channel::<()>();
            let (receiver_stop, receiver_warmed) = (Arc::clone(&stop), Arc::clone(&warmed));
            receivers.push(std::thread::spawn(move || {
                enter_namespace(&target.namespace);
                let sockets: Vec<UdpSocket> = target
                    .ports
                    .iter()
                    .map(|port| {
                        let socket = UdpSocket::bind(SocketAddr::new(target.address, *port)).expect("pod socket");
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
                    for (socket, port) in sockets.iter().zip(target.ports.iter()) {
                        while let Ok(length) = socket.recv(&mut buffer) {
                            got = true;
                            if length >= 8 {
                                let sequence = u64::from_le_bytes(buffer[..8].try_into().unwrap_or([0; 8]));
                                if sequence & WARM_UP != 0 {
                                    receiver_warmed[index].store(true, Ordering::SeqCst);
                                } else {
                                    received.push((sequence, *port));
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
            }));
            ready.recv().expect("the receiver is ready");
        }

        let events_stop = Arc::clone(&stop);
        let events = std::thread::spawn(move || {
            let data = MapData::from_pin(&ring).expect("pinned ring buffer");
            let map = Map::from_map_data(data).expect("ring buffer map");
            let mut ring = RingBuf::try_from(map).expect("ring buffer");
            let (mut verdicts, mut drops) = (Vec::new(), Vec::new());
            let mut stopped_at: Option<Instant> = None;
            loop {
                let mut got = false;
                while let Some(item) = ring.next() {
                    got = true;
                    if let Some(record) = VerdictEvent::decode(&item) {
                        verdicts.push(record);
                    } else if let Some(event) = DropEvent::decode(&item) {
                        drops.push(event);
                    }
                }
                if events_stop.load(Ordering::SeqCst) {
                    let since = *stopped_at.get_or_insert_with(Instant::now);
                    if since.elapsed() > Duration::from_millis(500) {
                        break;
                    }
                }
                if !got {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            (verdicts, drops)
        });

        let node_namespace = node_namespace.to_owned();
        let sender_targets = targets.clone();
        let (sender_stop, sender_sequence, sender_warmed) = (Arc::clone(&stop), Arc::clone(&next_sequence), Arc::clone(&warmed));
        let (warmed_sender, warmed_up) = std::sync::mpsc::channel::<()>();
        let sender = std::thread::spawn(move || {
            enter_namespace(&node_namespace);
            let socket = UdpSocket::bind("0.0.0.0:0").expect("node socket");
            let deadline = Instant::now() + Duration::from_secs(30);
            let mut warm_up = 0u64;
            while !sender_warmed.iter().all(|warmed| warmed.load(Ordering::SeqCst)) {
                assert!(Instant::now() < deadline, "no warm-up datagram reached some pod");
                for (target, warmed) in sender_targets.iter().zip(sender_warmed.iter()) {
                    if !warmed.load(Ordering::SeqCst) {
                        let _ = socket.send_to(&(WARM_UP | warm_up).to_le_bytes(), SocketAddr::new(target.address, target.ports[0]));
                    }
                }
                warm_up += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            let _ = warmed_sender.send(());
            let destinations: Vec<(usize, u16)> =
                sender_targets.iter().enumerate().flat_map(|(index, target)| target.ports.iter().map(move |port| (index, *port))).collect();
            let mut sent = Vec::new();
            let mut failed = 0u64;
            let mut sequence = 0u64;
            let mut last = Instant::now();
            let mut credit = 0.0f64;
            while !sender_stop.load(Ordering::SeqCst) {
                // About `rate` datagrams per second, in small bursts; time lost to a busy CPU
                // is not made up with a flood.
                let now = Instant::now();
                credit = (credit + now.duration_since(last).as_secs_f64() * rate as f64).min(20.0);
                last = now;
                while credit >= 1.0 {
                    credit -= 1.0;
                    let (target, port) = destinations[(sequence % destinations.len() as u64) as usize];
                    let address = SocketAddr::new(sender_targets[target].address, port);
                    if socket.send_to(&sequence.to_le_bytes(), address).is_ok() {
                        sent.push(Sent { sequence, target, port });
                    } else {
                        failed += 1;
                    }
                    sequence += 1;
                    sender_sequence.store(sequence, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_micros(500));
            }
            (sent, failed)
        });
        warmed_up.recv().expect("the sender warmed up");
        Traffic { stop, next_sequence, sender, receivers, events, targets }
    }

    /// The next sequence number the sender will use.
    pub fn sequence(&self) -> u64 {
        self.next_sequence.load(Ordering::SeqCst)
    }

    pub fn finish(self) -> Outcome {
        self.stop.store(true, Ordering::SeqCst);
        let (sent, failed_sends) = self.sender.join().expect("sender");
        let mut received = Vec::new();
        for (target, receiver) in self.receivers.into_iter().enumerate() {
            received.extend(receiver.join().expect("receiver").into_iter().map(|(sequence, port)| Sent { sequence, target, port }));
        }
        let (verdicts, drops) = self.events.join().expect("ring reader");
        Outcome { targets: self.targets, sent, failed_sends, received, verdicts, drops }
    }
}

/// What one generation decides for a datagram: allowed or not, and the remote identity the
/// datapath must have looked up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Expected {
    pub allowed: bool,
    pub remote_identity: u32,
}

/// Per generation slot: datagrams it decided, allowed and dropped.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SlotTotals {
    pub decided: usize,
    pub allowed: usize,
    pub dropped: usize,
}

/// The result of a traffic run.
pub struct Outcome {
    pub targets: Vec<Target>,
    pub sent: Vec<Sent>,
    /// Sends the socket refused (not counted as sent).
    pub failed_sends: u64,
    pub received: Vec<Sent>,
    pub verdicts: Vec<VerdictEvent>,
    /// Plain drop events (only objects without `emit_verdict_events` write them).
    pub drops: Vec<DropEvent>,
}

impl Outcome {
    /// The verdict records of counted datagrams (UDP towards a pod), by sequence number.
    pub fn records(&self) -> HashMap<u64, Vec<VerdictEvent>> {
        let mut records: HashMap<u64, Vec<VerdictEvent>> = HashMap::new();
        for record in &self.verdicts {
            let sequence = u64::from_le_bytes(record.payload_prefix);
            if record.event.protocol != UDP || record.event.direction != Direction::Ingress || sequence & WARM_UP != 0 {
                continue;
            }
            records.entry(sequence).or_default().push(*record);
        }
        records
    }

    /// Asserts for every datagram sent: exactly one verdict record, for its port and its
    /// endpoint; `judge(slot, target, port)` (what the generation in that slot decides) gives
    /// exactly the recorded verdict and identity; the datagram arrived, once, exactly when it
    /// was allowed. No record names a datagram that was not sent. Returns the totals per slot.
    pub fn check_every_packet(&self, judge: impl Fn(u8, usize, u16) -> Expected) -> BTreeMap<u8, SlotTotals> {
        let records = self.records();
        let mut received: HashMap<u64, usize> = HashMap::new();
        for datagram in &self.received {
            *received.entry(datagram.sequence).or_default() += 1;
        }
        let sent: HashMap<u64, &Sent> = self.sent.iter().map(|datagram| (datagram.sequence, datagram)).collect();
        let unsent: Vec<&u64> = records.keys().filter(|sequence| !sent.contains_key(sequence)).collect();
        assert!(self.failed_sends > 0 || unsent.is_empty(), "verdict records for datagrams never sent: {:?}", &unsent[..unsent.len().min(10)]);
        let mut totals: BTreeMap<u8, SlotTotals> = BTreeMap::new();
        let mut missing = Vec::new();
        for datagram in &self.sent {
            let found = records.get(&datagram.sequence).map(Vec::as_slice).unwrap_or_default();
            if found.is_empty() {
                missing.push(datagram.sequence);
                continue;
            }
            assert_eq!(found.len(), 1, "datagram {datagram:?} has {} verdict records: {found:?}", found.len());
            let record = found[0];
            assert_eq!(record.event.policy_port, datagram.port, "{datagram:?}: {record:?}");
            assert_eq!(record.event.local_identity, self.targets[datagram.target].endpoint_identity, "{datagram:?} was judged by another endpoint: {record:?}");
            let expected = judge(record.event.generation_slot, datagram.target, datagram.port);
            assert_eq!(
                (record.is_allowed(), record.event.remote_identity),
                (expected.allowed, expected.remote_identity),
                "datagram {datagram:?}: the record {record:?} is not what the generation in slot {} decides",
                record.event.generation_slot
            );
            let arrivals = received.get(&datagram.sequence).copied().unwrap_or(0);
            assert_eq!(
                arrivals,
                usize::from(expected.allowed),
                "datagram {datagram:?} was {} and arrived {arrivals} times",
                if expected.allowed { "allowed" } else { "dropped" }
            );
            let slot = totals.entry(record.event.generation_slot).or_default();
            slot.decided += 1;
            if expected.allowed {
                slot.allowed += 1;
            } else {
                slot.dropped += 1;
            }
        }
        assert!(missing.is_empty(), "{} of {} datagrams have no verdict record, e.g. {:?}", missing.len(), self.sent.len(), &missing[..missing.len().min(10)]);
        assert_eq!(received.keys().filter(|sequence| !sent.contains_key(sequence)).count(), 0, "a datagram arrived that was never sent");
        totals
    }

    /// The generation slot that decided each datagram, in send order.
    pub fn slots_in_send_order(&self) -> Vec<(u64, u8)> {
        let records = self.records();
        let mut slots: Vec<(u64, u8)> = self
            .sent
            .iter()
            .filter_map(|datagram| {
                records.get(&datagram.sequence).and_then(|found| found.first()).map(|record| (datagram.sequence, record.event.generation_slot))
            })
            .collect();
        slots.sort();
        slots
    }

    /// How often the deciding slot changes in send order (the tc program runs in the
    /// sender's own system call, so send order is decision order).
    pub fn slot_changes(&self) -> usize {
        self.slots_in_send_order().windows(2).filter(|pair| pair[0].1 != pair[1].1).count()
    }
}
