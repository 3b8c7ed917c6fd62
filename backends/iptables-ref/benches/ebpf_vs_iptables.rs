//! PRIVILEGED (root): eBPF against iptables, with real packets, in the same run.
//!
//! For each size (policy entries of one endpoint: UDP allows, each of one CIDR peer identity and
//! one port, `size / 10` identities), two network namespaces are joined by a veth pair: `client`
//! (the peers' addresses) and `server` (the endpoint). The server's ingress policy is enforced
//! in four ways, one after the other, each in fresh namespaces:
//!
//! - `none`: no policy at all (the baseline);
//! - `ebpf`: the generated datapath, compiled from the IR with `polc_ebpf::compile`, loaded and
//!   attached with tcx on the server's veth (`polc_ebpf::kernel::Datapath`);
//! - `legacy` / `nft`: the iptables rendering of the same IR (`render_node`) in the server
//!   namespace, loaded with `ipset restore` and `iptables-legacy-restore` /
//!   `iptables-nft-restore` (INPUT hook; IPv4 only, the traffic is IPv4).
//!
//! Measured for each:
//! - latency: UDP request/response round trips, each from a fresh source port (a new flow, so
//!   neither conntrack lets it skip policy), to the port of the LAST rule of the iptables chain
//!   (iptables' worst case) and of the middle one; median and p99;
//! - throughput: a one-way UDP flood from one socket for a fixed time, counted at the receiver
//!   (one-way UDP stays `NEW` in conntrack, so iptables walks the chain for every packet);
//! - update cost of changing one rule (the last entry's port): `iptables-restore` of the whole
//!   table, `iptables-restore --noflush` of the endpoint's chain, and `--noflush` of one `-R`
//!   (replace rule) line; for eBPF one in-place update of the live policy map (delete the old
//!   key, insert the new: two `bpf(BPF_MAP_*_ELEM)` calls on the map the packets read) and a
//!   whole generation swap (`Datapath::install`: new inner maps built to the side, then the flip).
//!
//! Before measuring, every engine must pass a packet of the tested flows and drop a packet to a
//! port no rule allows, so the numbers are those of a live, enforcing policy.
//!
//! Prints one JSON document, then a Markdown table, and writes an SVG plot (log-scale rule count
//! against median latency and update cost) to `docs/ebpf-vs-iptables.svg`.
//!
//! Run: `cargo bench -p polc-iptables --bench ebpf_vs_iptables` (as root). Settings (environment):
//! `POLC_BENCH_SIZES` (default `10,100,1000,10000,50000`), `POLC_BENCH_ROUND_TRIPS` (per latency
//! series, default 1000), `POLC_BENCH_LATENCY_SECONDS` (time cap of one latency series, default
//! 3), `POLC_BENCH_FLOOD_MS` (default 1000), `POLC_BENCH_UPDATES` (repetitions of each update,
//! default 5), `POLC_BENCH_ENGINES` (default `none,ebpf,legacy,nft`), `POLC_BENCH_SVG` (the plot's
//! path; `-` for none).

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use aya::maps::lpm_trie::{Key, LpmTrie};
use aya::maps::{ArrayOfMaps, MapData};
use polc_ebpf::compile::{CompileOptions, compile};
use polc_ebpf::kernel::Datapath;
use polc_ebpf::layout::{POLICY_KEY_SIZE, POLICY_VALUE_SIZE};
use polc_iptables::engine::{Backend, find_tool, is_root};
use polc_iptables::{Family, chain_name, render_node, set_name};
use polc_ir::{
    Direction, DirectionPolicy, Endpoint, EndpointId, EndpointKind, IdentityInfo, IdentityKind, IpPrefix, L4Match, Label, NumericIdentity, Peers, PolicyEntry,
    PolicyIr, PortRange, Protocol, RuleOrigin, RuleVerdict, Settings,
};
use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};
use serde_json::{Value, json};

const NODE: &str = "node-a";
const SERVER_ADDRESS: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 1);
/// The first peer identity's address; identity `i` (from 1) has `PEER_BASE + i - 1`.
const PEER_BASE: u32 = u32::from_be_bytes([10, 200, 0, 0]);
/// The first rule's port; entry `i` has port `FIRST_PORT + i`.
const FIRST_PORT: u16 = 1000;
/// A port no rule allows.
const DENIED_PORT: u16 = 999;
const SERVER_INTERFACE: &str = "vs0";
const CLIENT_INTERFACE: &str = "vc0";

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|value| value.trim().parse().ok()).unwrap_or(default)
}

struct BenchSettings {
    sizes: Vec<usize>,
    round_trips: usize,
    latency_cap: Duration,
    flood: Duration,
    updates: usize,
    engines: Vec<Engine>,
    svg: Option<PathBuf>,
}

impl BenchSettings {
    fn from_environment() -> Result<BenchSettings, String> {
        let sizes = match std::env::var("POLC_BENCH_SIZES") {
            Ok(text) => text
                .split(',')
                .map(|size| size.trim().parse::<usize>().map_err(|_| format!("POLC_BENCH_SIZES: `{size}` is not a number")))
                .collect::<Result<Vec<_>, _>>()?,
            Err(_) => vec![10, 100, 1_000, 10_000, 50_000],
        };
        if let Some(size) = sizes.iter().find(|size| !(1..=60_000).contains(*size)) {
            return Err(format!("POLC_BENCH_SIZES: {size} is outside 1 to 60,000 (one port per rule, and the policy map holds at most 65,536 entries)"));
        }
        let engines = match std::env::var("POLC_BENCH_ENGINES") {
            Ok(text) => text
                .split(',')
                .map(|name| Engine::parse(name.trim()).ok_or_else(|| format!("POLC_BENCH_ENGINES: unknown engine `{name}` (none, ebpf, legacy, nft)")))
                .collect::<Result<Vec<_>, _>>()?,
            Err(_) => vec![Engine::None, Engine::Ebpf, Engine::Iptables(Backend::Legacy), Engine::Iptables(Backend::Nft)],
        };
        let svg = match std::env::var("POLC_BENCH_SVG") {
            Ok(text) if text == "-" => None,
            Ok(text) => Some(PathBuf::from(text)),
            Err(_) => Some(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/ebpf-vs-iptables.svg")),
        };
        Ok(BenchSettings {
            sizes,
            round_trips: setting("POLC_BENCH_ROUND_TRIPS", 1000).clamp(10, 40_000) as usize,
            latency_cap: Duration::from_secs(setting("POLC_BENCH_LATENCY_SECONDS", 3).max(1)),
            flood: Duration::from_millis(setting("POLC_BENCH_FLOOD_MS", 1000).max(100)),
            updates: setting("POLC_BENCH_UPDATES", 5).clamp(1, 100) as usize,
            engines,
            svg,
        })
    }
}

/// Where the server's policy is enforced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Engine {
    None,
    Ebpf,
    Iptables(Backend),
}

impl Engine {
    fn parse(text: &str) -> Option<Engine> {
        match text {
            "none" => Some(Engine::None),
            "ebpf" => Some(Engine::Ebpf),
            other => Backend::parse(other).map(Engine::Iptables),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Engine::None => "none",
            Engine::Ebpf => "ebpf",
            Engine::Iptables(backend) => backend.as_str(),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The policy.

fn peer_address(identity_index: u32) -> Ipv4Addr {
    Ipv4Addr::from(PEER_BASE + identity_index - 1)
}

/// One pod whose ingress (default deny) holds `n_entries` UDP allows: entry `i` from CIDR
/// identity `i % (n_entries / 10) + 1` to port `FIRST_PORT + i`. `last_port` replaces the port
/// of the last entry (to change one rule).
fn policy_ir(n_entries: usize, last_port: Option<u16>) -> PolicyIr {
    let n_identities = (n_entries / 10).max(1);
    let identities: Vec<IdentityInfo> = (1..=n_identities as u32)
        .map(|index| {
            let prefix = IpPrefix::host(IpAddr::V4(peer_address(index)));
            IdentityInfo { id: NumericIdentity::local(index), kind: IdentityKind::Cidr { prefix }, labels: [Label::new("cidr", prefix.to_string(), "")].into() }
        })
        .collect();
    let entries: Vec<PolicyEntry> = (0..n_entries)
        .map(|index| {
            let port = match last_port {
                Some(port) if index + 1 == n_entries => port,
                _ => FIRST_PORT + index as u16,
            };
            PolicyEntry {
                verdict: RuleVerdict::Allow,
                peers: Peers::Identities([NumericIdentity::local((index % n_identities) as u32 + 1)].into()),
                l4: L4Match::protocol(Protocol::UDP, PortRange::single(port)),
                l7: None,
                auth: None,
                pending_fqdns: Vec::new(),
                origin: RuleOrigin::Policy {
                    kind: "CiliumNetworkPolicy".to_owned(),
                    namespace: Some("default".to_owned()),
                    name: "scale".to_owned(),
                    rule_path: format!("spec.ingress[{index}]"),
                    location: None,
                },
            }
        })
        .collect();
    let pod = Endpoint {
        id: EndpointId(1),
        kind: EndpointKind::Pod { namespace: "default".to_owned(), name: "server".to_owned() },
        identity: NumericIdentity(256),
        node: Some(NODE.to_owned()),
        addresses: vec![IpAddr::V4(SERVER_ADDRESS)],
        ingress: DirectionPolicy { enforced: true, default_deny: true, entries, selected_by: Vec::new() },
        egress: DirectionPolicy::default(),
    };
    PolicyIr::new(Settings::default(), identities, Vec::new(), vec![pod], Vec::new())
}

/// A flow the policy allows: the peer address and the port of one rule.
#[derive(Clone, Copy, Debug)]
struct Target {
    source: Ipv4Addr,
    port: u16,
    /// The rule's place in the endpoint's iptables chain, from 1.
    position: usize,
}

/// The rules of the endpoint's ingress chain, in order, without the `-A CHAIN ` prefix.
fn chain_rules(iptables: &str) -> Vec<String> {
    let prefix = format!("-A {} ", chain_name(EndpointId(1), Direction::Ingress));
    iptables.lines().filter_map(|line| line.strip_prefix(prefix.as_str()).map(str::to_owned)).collect()
}

/// The last and the middle allow rule of the chain, as the renderer ordered them, checked against
/// the rendered text.
fn targets(ir: &PolicyIr, iptables: &str) -> Result<(Target, Target), String> {
    let mut entries: Vec<&PolicyEntry> = ir.endpoints[0].ingress.entries.iter().collect();
    entries.sort();
    let rules = chain_rules(iptables);
    let target = |position: usize| -> Result<Target, String> {
        let entry = entries[position];
        let identity = match &entry.peers {
            Peers::Identities(set) => *set.iter().next().ok_or("an entry without a peer")?,
            Peers::Any => return Err("an entry without a peer".to_owned()),
        };
        let port = match entry.l4 {
            L4Match::Protocol { ports, .. } => ports.first(),
            L4Match::Any => return Err("an entry without a port".to_owned()),
        };
        let rule = rules.get(position).ok_or("the chain is shorter than the policy")?;
        let wanted_set = format!("--match-set {} src", set_name(identity, Family::V4));
        let wanted_port = format!("--dport {port} ");
        if !rule.contains(&wanted_set) || !rule.contains(&wanted_port) || !rule.ends_with("-j RETURN") {
            return Err(format!("rule {} of the chain is `{rule}`, not the allow of identity {identity} port {port}", position + 1));
        }
        Ok(Target { source: peer_address(identity.0 & 0x00FF_FFFF), port, position: position + 1 })
    };
    let last = target(entries.len() - 1)?;
    let middle = target(entries.len() / 2)?;
    if rules.len() != entries.len() + 1 {
        return Err(format!("the chain holds {} rules for {} entries and the default", rules.len(), entries.len()));
    }
    Ok((last, middle))
}

// ---------------------------------------------------------------------------------------------
// Namespaces.

/// Two namespaces joined by a veth pair; deleted on drop.
struct Pair {
    client: Namespace,
    server: Namespace,
}

struct Namespace {
    name: String,
    handle: File,
}

fn ip_batch(input: &str) -> Result<(), String> {
    run_tool("ip", &["-batch", "-"], input).map(|_| ())
}

/// Runs a tool with `input` on stdin in the calling thread's namespace; returns its wall time.
fn run_tool(tool: &str, arguments: &[&str], input: &str) -> Result<Duration, String> {
    let program = find_tool(tool).ok_or_else(|| format!("`{tool}` is not installed"))?;
    let started = Instant::now();
    let mut child = Command::new(program)
        .args(arguments)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| format!("cannot run `{tool}`: {error}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(input.as_bytes()).map_err(|error| format!("cannot write to `{tool}`: {error}"))?;
    }
    let output = child.wait_with_output().map_err(|error| format!("`{tool}` did not finish: {error}"))?;
    let elapsed = started.elapsed();
    if output.status.success() {
        Ok(elapsed)
    } else {
        Err(format!("`{tool} {}` failed: {}", arguments.join(" "), String::from_utf8_lossy(&output.stderr).trim()))
    }
}

impl Namespace {
    /// Runs `work` on a thread inside this namespace.
    fn enter<T: Send>(&self, work: impl FnOnce() -> T + Send) -> T {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    move_into_link_name_space(self.handle.as_fd(), Some(LinkNameSpaceType::Network)).expect("setns into a benchmark namespace");
                    work()
                })
                .join()
                .expect("a benchmark thread panicked")
        })
    }
}

impl Pair {
    fn create(index: usize, sources: &[Ipv4Addr]) -> Result<Pair, String> {
        let prefix = format!("polcbench-{}-{index}", std::process::id());
        let (client, server) = (format!("{prefix}-c"), format!("{prefix}-s"));
        ip_batch(&format!("netns add {client}\nnetns add {server}\n"))?;
        let open = |name: &str| File::open(format!("/run/netns/{name}")).map_err(|error| format!("cannot open namespace `{name}`: {error}"));
        let pair =
            Pair { client: Namespace { name: client.clone(), handle: open(&client)? }, server: Namespace { name: server.clone(), handle: open(&server)? } };
        ip_batch(&format!("link add {CLIENT_INTERFACE} netns {client} type veth peer name {SERVER_INTERFACE} netns {server}\n"))?;
        let mut client_lines = format!("link set lo up\nlink set {CLIENT_INTERFACE} up\n");
        let sources: BTreeSet<&Ipv4Addr> = sources.iter().collect();
        for source in sources {
            client_lines.push_str(&format!("addr add {source}/32 dev {CLIENT_INTERFACE}\n"));
        }
        client_lines.push_str(&format!("route add {SERVER_ADDRESS}/32 dev {CLIENT_INTERFACE}\n"));
        run_tool("ip", &["-n", &client, "-batch", "-"], &client_lines)?;
        let server_lines = format!(
            "link set lo up\nlink set {SERVER_INTERFACE} up\naddr add {SERVER_ADDRESS}/32 dev {SERVER_INTERFACE}\nroute add 10.200.0.0/16 dev {SERVER_INTERFACE}\n"
        );
        run_tool("ip", &["-n", &server, "-batch", "-"], &server_lines)?;
        Ok(pair)
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        let _ = ip_batch(&format!("netns del {}\nnetns del {}\n", self.client.name, self.server.name));
    }
}

// ---------------------------------------------------------------------------------------------
// Traffic.

/// The CPU that the two ends of a latency measurement share (see [`pin_to_latency_cpu`]).
const LATENCY_CPU: usize = 0;

/// Pins the calling thread to [`LATENCY_CPU`]. The client and the echo both run there: each
/// wakes the other on the same CPU, so no cross-CPU wake-up of an idle virtual CPU (tens of
/// microseconds, and varying) is part of a round trip, and the packet processing (softirq) of
/// both directions happens on that CPU too.
fn pin_to_latency_cpu() {
    let mut cpus = rustix::thread::CpuSet::new();
    cpus.set(LATENCY_CPU);
    let _ = rustix::thread::sched_setaffinity(None, &cpus);
}

/// Echoes UDP datagrams on each of `ports` until `stop` (run inside the server namespace).
fn echo(ports: &[u16], stop: &AtomicBool, ready: &AtomicBool) {
    pin_to_latency_cpu();
    let sockets: Vec<UdpSocket> = ports
        .iter()
        .map(|port| {
            let socket = UdpSocket::bind(SocketAddr::new(IpAddr::V4(SERVER_ADDRESS), *port)).expect("bind the echo socket");
            socket.set_nonblocking(true).expect("non-blocking echo socket");
            socket
        })
        .collect();
    ready.store(true, Ordering::SeqCst);
    let mut buffer = [0u8; 64];
    let mut poll_fds: Vec<rustix::event::PollFd<'_>> = sockets.iter().map(|socket| rustix::event::PollFd::new(socket, rustix::event::PollFlags::IN)).collect();
    let wait = rustix::event::Timespec { tv_sec: 0, tv_nsec: 20_000_000 };
    while !stop.load(Ordering::Relaxed) {
        let _ = rustix::event::poll(&mut poll_fds, Some(&wait));
        for socket in &sockets {
            while let Ok((length, from)) = socket.recv_from(&mut buffer) {
                let _ = socket.send_to(&buffer[..length], from);
            }
        }
    }
}

/// Counts UDP datagrams on `port` until `stop` (run inside the server namespace).
fn sink(port: u16, stop: &AtomicBool, ready: &AtomicBool, received: &AtomicU64) {
    let socket = UdpSocket::bind(SocketAddr::new(IpAddr::V4(SERVER_ADDRESS), port)).expect("bind the sink socket");
    socket.set_read_timeout(Some(Duration::from_millis(20))).expect("read timeout");
    ready.store(true, Ordering::SeqCst);
    let mut buffer = [0u8; 64];
    while !stop.load(Ordering::Relaxed) {
        if socket.recv_from(&mut buffer).is_ok() {
            received.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn wait_ready(ready: &AtomicBool) {
    while !ready.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// One round trip from a fresh socket bound to `source:source_port`; its time, or `None` when
/// no answer came within `wait`.
fn round_trip(source: Ipv4Addr, source_port: u16, port: u16, wait: Duration) -> Option<Duration> {
    let socket = UdpSocket::bind(SocketAddr::new(IpAddr::V4(source), source_port)).ok()?;
    socket.set_read_timeout(Some(wait)).ok()?;
    let destination = SocketAddr::new(IpAddr::V4(SERVER_ADDRESS), port);
    let mut buffer = [0u8; 64];
    let started = Instant::now();
    socket.send_to(b"polc-bench", destination).ok()?;
    loop {
        match socket.recv_from(&mut buffer) {
            Ok((_, from)) if from == destination => return Some(started.elapsed()),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

/// Source ports rotate through 20000–59999 within one namespace pair, so every round trip is a
/// new flow.
struct Ports(u32);

impl Ports {
    fn next(&mut self) -> u16 {
        self.0 += 1;
        20000 + (self.0 % 40000) as u16
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Latency {
    median_us: f64,
    p99_us: f64,
    samples: usize,
    lost: usize,
}

fn micros(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e6
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// Round trips to each of `targets`, taken in turn (so that every series sees the same load),
/// until `settings.round_trips` each or the time cap.
fn measure_latency(pair: &Pair, targets: [Target; 2], settings: &BenchSettings, ports: &mut Ports) -> [Latency; 2] {
    let stop = AtomicBool::new(false);
    let ready = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| pair.server.enter(|| echo(&targets.map(|target| target.port), &stop, &ready)));
        wait_ready(&ready);
        let series = pair.client.enter(|| {
            pin_to_latency_cpu();
            let mut samples: [Vec<Duration>; 2] = [Vec::with_capacity(settings.round_trips), Vec::with_capacity(settings.round_trips)];
            let mut lost = [0usize; 2];
            // Warm-up (neighbours, caches), not counted.
            for target in targets.iter().cycle().take(40) {
                let _ = round_trip(target.source, ports.next(), target.port, Duration::from_secs(1));
            }
            let started = Instant::now();
            while samples[0].len() < settings.round_trips && (samples[0].len() < 50 || started.elapsed() < settings.latency_cap) {
                for (index, target) in targets.iter().enumerate() {
                    match round_trip(target.source, ports.next(), target.port, Duration::from_secs(1)) {
                        Some(time) => samples[index].push(time),
                        None => lost[index] += 1,
                    }
                }
                if lost.iter().any(|count| *count > 10) {
                    break;
                }
            }
            [(std::mem::take(&mut samples[0]), lost[0]), (std::mem::take(&mut samples[1]), lost[1])]
        });
        stop.store(true, Ordering::Relaxed);
        series.map(|(mut samples, lost)| {
            samples.sort();
            if samples.is_empty() {
                return Latency { lost, ..Latency::default() };
            }
            Latency { median_us: micros(percentile(&samples, 0.5)), p99_us: micros(percentile(&samples, 0.99)), samples: samples.len(), lost }
        })
    })
}

/// Packets per second the server receives from a one-way flood to `target`.
fn measure_throughput(pair: &Pair, target: Target, duration: Duration, source_port: u16) -> (f64, u64) {
    let stop = AtomicBool::new(false);
    let ready = AtomicBool::new(false);
    let received = AtomicU64::new(0);
    std::thread::scope(|scope| {
        scope.spawn(|| pair.server.enter(|| sink(target.port, &stop, &ready, &received)));
        wait_ready(&ready);
        let sent = pair.client.enter(|| {
            let socket = UdpSocket::bind(SocketAddr::new(IpAddr::V4(target.source), source_port)).expect("bind the flood socket");
            socket.connect(SocketAddr::new(IpAddr::V4(SERVER_ADDRESS), target.port)).expect("connect the flood socket");
            let payload = [0x5Au8; 18];
            let mut sent = 0u64;
            let deadline = Instant::now() + duration;
            while Instant::now() < deadline {
                for _ in 0..64 {
                    if socket.send(&payload).is_ok() {
                        sent += 1;
                    }
                }
            }
            sent
        });
        std::thread::sleep(Duration::from_millis(100));
        stop.store(true, Ordering::Relaxed);
        (received.load(Ordering::Relaxed) as f64 / duration.as_secs_f64(), sent)
    })
}

/// Whether the policy is live: a packet of `target` gets an answer and one to a port no rule
/// allows gets none.
fn check_enforcing(pair: &Pair, target: Target, engine: Engine, ports: &mut Ports) -> Result<(), String> {
    let stop = AtomicBool::new(false);
    let ready = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| pair.server.enter(|| echo(&[target.port, DENIED_PORT], &stop, &ready)));
        wait_ready(&ready);
        let (allowed, denied) = pair.client.enter(|| {
            let allowed = (0..3).any(|_| round_trip(target.source, ports.next(), target.port, Duration::from_secs(1)).is_some());
            let denied = round_trip(target.source, ports.next(), DENIED_PORT, Duration::from_millis(300)).is_some();
            (allowed, denied)
        });
        stop.store(true, Ordering::Relaxed);
        if !allowed {
            return Err(format!("{}: the tested flow from {} to port {} got no answer", engine.name(), target.source, target.port));
        }
        if denied != (engine == Engine::None) {
            return Err(format!(
                "{}: a packet to port {DENIED_PORT} was {}",
                engine.name(),
                if denied { "answered: the policy is not enforced" } else { "dropped without a policy" }
            ));
        }
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Engines: load and update.

/// The live eBPF policy map of one datapath (the inner map of its active generation).
enum LiveMap {
    Trie(LpmTrie<MapData, [u8; POLICY_KEY_SIZE - 4], [u8; POLICY_VALUE_SIZE]>),
    Hash(aya::maps::HashMap<MapData, [u8; POLICY_KEY_SIZE], [u8; POLICY_VALUE_SIZE]>),
}

type PolicyImageEntry = ([u8; POLICY_KEY_SIZE], [u8; POLICY_VALUE_SIZE]);

fn trie_key(key: &[u8; POLICY_KEY_SIZE]) -> Key<[u8; POLICY_KEY_SIZE - 4]> {
    let prefix_len = u32::from_le_bytes([key[0], key[1], key[2], key[3]]);
    let mut data = [0u8; POLICY_KEY_SIZE - 4];
    data.copy_from_slice(&key[4..]);
    Key::new(prefix_len, data)
}

impl LiveMap {
    fn holds(&self, entry: &PolicyImageEntry) -> bool {
        match self {
            LiveMap::Trie(map) => map.get(&trie_key(&entry.0), 0).is_ok_and(|value| value == entry.1),
            LiveMap::Hash(map) => map.get(&entry.0, 0).is_ok_and(|value| value == entry.1),
        }
    }

    fn insert(&mut self, entry: &PolicyImageEntry) -> Result<(), String> {
        match self {
            LiveMap::Trie(map) => map.insert(&trie_key(&entry.0), entry.1, 0),
            LiveMap::Hash(map) => map.insert(entry.0, entry.1, 0),
        }
        .map_err(|error| format!("map update: {error}"))
    }

    fn remove(&mut self, key: &[u8; POLICY_KEY_SIZE]) -> Result<(), String> {
        match self {
            LiveMap::Trie(map) => map.remove(&trie_key(key)),
            LiveMap::Hash(map) => map.remove(key),
        }
        .map_err(|error| format!("map delete: {error}"))
    }
}

/// The kernel's name of a map (at most 15 characters).
fn kernel_map_name(name: &str) -> &str {
    &name[..name.len().min(15)]
}

fn outer_map_ids(name: &str) -> BTreeSet<u32> {
    aya::maps::loaded_maps().filter_map(Result::ok).filter(|info| info.name_as_str() == Some(kernel_map_name(name))).map(|info| info.id()).collect()
}

/// Finds the live policy map of the datapath loaded after `before` was taken: the inner map in
/// the active slot of an outer map created since, that holds `probe`.
fn live_policy_map(hash_mode: bool, before: &BTreeSet<u32>, slot: u32, probe: &PolicyImageEntry) -> Result<LiveMap, String> {
    let name = if hash_mode { polc_ebpf::object::POLICY_HASH_GENERATIONS_MAP } else { polc_ebpf::object::POLICY_GENERATIONS_MAP };
    for id in outer_map_ids(name).difference(before) {
        let Ok(data) = MapData::from_id(*id).and_then(aya::maps::Map::from_map_data) else { continue };
        let live = if hash_mode {
            let Ok(outer) = ArrayOfMaps::<MapData, aya::maps::HashMap<MapData, [u8; POLICY_KEY_SIZE], [u8; POLICY_VALUE_SIZE]>>::try_from(data) else {
                continue;
            };
            outer.get(&slot, 0).map(LiveMap::Hash)
        } else {
            let Ok(outer) = ArrayOfMaps::<MapData, LpmTrie<MapData, [u8; POLICY_KEY_SIZE - 4], [u8; POLICY_VALUE_SIZE]>>::try_from(data) else { continue };
            outer.get(&slot, 0).map(LiveMap::Trie)
        };
        if let Ok(live) = live
            && live.holds(probe)
        {
            return Ok(live);
        }
    }
    Err(format!("cannot find the live `{name}` map of the benchmark's datapath"))
}

/// The entries only in `old` and only in `new`.
fn changed_entries(old: &[PolicyImageEntry], new: &[PolicyImageEntry]) -> (Vec<PolicyImageEntry>, Vec<PolicyImageEntry>) {
    let old_set: BTreeSet<&PolicyImageEntry> = old.iter().collect();
    let new_set: BTreeSet<&PolicyImageEntry> = new.iter().collect();
    (old_set.difference(&new_set).map(|entry| **entry).collect(), new_set.difference(&old_set).map(|entry| **entry).collect())
}

fn image_entries(policy: &polc_ebpf::PolicyMapImage, hash_mode: bool) -> Vec<PolicyImageEntry> {
    if hash_mode { policy.hash_map_entries() } else { policy.entries().to_vec() }
}

/// One compiled endpoint: its datapath constants, policy map and node ipcache.
struct CompiledServer {
    config: polc_ebpf::DatapathConfig,
    policy: polc_ebpf::PolicyMapImage,
    ipcache: polc_ebpf::IpcacheImage,
}

fn compile_server(ir: &PolicyIr) -> Result<CompiledServer, String> {
    let options = CompileOptions { node: Some(NODE.to_owned()), policy_map_max_entries: 65_536, ..CompileOptions::default() };
    let compiled = compile(ir, &options, &|_| None).map_err(|error| format!("compile: {error}"))?;
    let (node, endpoint) = compiled.endpoint(EndpointId(1)).ok_or("the server is not compiled")?;
    Ok(CompiledServer { config: endpoint.config, policy: endpoint.policy.clone(), ipcache: node.ipcache.clone() })
}

/// The update costs of eBPF: one in-place change of the live map (delete the old key, insert
/// the new) and a generation swap.
fn ebpf_updates(datapath: &Datapath, live: &mut LiveMap, old: &CompiledServer, new: &CompiledServer, repeats: usize) -> Result<(Duration, Duration), String> {
    let hash_mode = old.config.policy_map_hash;
    let (removed, added) = changed_entries(&image_entries(&old.policy, hash_mode), &image_entries(&new.policy, hash_mode));
    if removed.len() != 1 || added.len() != 1 {
        return Err(format!("changing one rule changed {} and added {} policy map entries, expected 1 and 1", removed.len(), added.len()));
    }
    let in_place = alternate(repeats.max(21), |to_new| {
        let (insert, delete) = if to_new { (&added[0], &removed[0]) } else { (&removed[0], &added[0]) };
        // Delete first: the map may be sized to exactly its entries.
        let started = Instant::now();
        live.remove(&delete.0)?;
        live.insert(insert)?;
        Ok(started.elapsed())
    })?;
    let swap = alternate(repeats, |to_new| {
        let server = if to_new { new } else { old };
        let started = Instant::now();
        datapath.install(&server.policy, &server.ipcache).map_err(|error| format!("install: {error}"))?;
        Ok(started.elapsed())
    })?;
    Ok((in_place, swap))
}

/// Runs `change` `repeats` times, from the old policy to the new one and back in turn (each is
/// a change of one rule), and once more untimed if needed to end on the old policy; the median.
fn alternate(repeats: usize, mut change: impl FnMut(bool) -> Result<Duration, String>) -> Result<Duration, String> {
    let mut times = Vec::with_capacity(repeats);
    for index in 0..repeats {
        times.push(change(index % 2 == 0)?);
    }
    if repeats % 2 == 1 {
        change(false)?;
    }
    Ok(median(times))
}

fn restore_arguments(backend: Backend, noflush: bool) -> Vec<&'static str> {
    let mut arguments = Vec::new();
    if backend == Backend::Legacy {
        arguments.extend(["-w", "10"]);
    }
    if noflush {
        arguments.push("--noflush");
    }
    arguments
}

/// `iptables-restore --noflush` input that re-declares (and so flushes) the endpoint's chain
/// and fills it again.
fn chain_restore(iptables: &str) -> String {
    let chain = chain_name(EndpointId(1), Direction::Ingress);
    let mut text = format!("*filter\n:{chain} - [0:0]\n");
    for rule in chain_rules(iptables) {
        text.push_str(&format!("-A {chain} {rule}\n"));
    }
    text.push_str("COMMIT\n");
    text
}

/// `iptables-restore --noflush` input that replaces rule `position` of the chain.
fn rule_restore(iptables: &str, position: usize) -> Result<String, String> {
    let chain = chain_name(EndpointId(1), Direction::Ingress);
    let rule = chain_rules(iptables).get(position - 1).cloned().ok_or("no such rule")?;
    Ok(format!("*filter\n-R {chain} {position} {rule}\nCOMMIT\n"))
}

#[derive(Clone, Copy, Debug, Default)]
struct IptablesUpdates {
    table: Duration,
    chain: Duration,
    rule: Duration,
}

/// The update costs of iptables in the server namespace: the whole table, the chain, one rule.
fn iptables_updates(pair: &Pair, backend: Backend, old: &str, new: &str, position: usize, repeats: usize) -> Result<IptablesUpdates, String> {
    let old_rules = chain_rules(old);
    let new_rules = chain_rules(new);
    let differing: Vec<usize> = (0..old_rules.len().max(new_rules.len())).filter(|index| old_rules.get(*index) != new_rules.get(*index)).collect();
    if differing != [position - 1] {
        return Err(format!("changing one rule changed chain rules {differing:?}, expected only rule {position}"));
    }
    let tool = backend.restore_tool(Family::V4);
    pair.server.enter(|| {
        let (old_chain, new_chain) = (chain_restore(old), chain_restore(new));
        let (old_rule, new_rule) = (rule_restore(old, position)?, rule_restore(new, position)?);
        let table = alternate(repeats, |to_new| run_tool(tool, &restore_arguments(backend, false), if to_new { new } else { old }))?;
        let chain = alternate(repeats, |to_new| run_tool(tool, &restore_arguments(backend, true), if to_new { &new_chain } else { &old_chain }))?;
        let rule = alternate(repeats, |to_new| run_tool(tool, &restore_arguments(backend, true), if to_new { &new_rule } else { &old_rule }))?;
        Ok(IptablesUpdates { table, chain, rule })
    })
}

// ---------------------------------------------------------------------------------------------
// One size.

#[derive(Clone, Debug, Default)]
struct EngineResult {
    load: Duration,
    last: Latency,
    middle: Latency,
    packets_per_second: f64,
    sent: u64,
    updates: BTreeMap<&'static str, Duration>,
}

fn run_engine(index: usize, size: usize, engine: Engine, settings: &BenchSettings, ir: &PolicyIr, changed: &PolicyIr) -> Result<EngineResult, String> {
    let rendering = render_node(ir, Some(NODE));
    let (last, middle) = targets(ir, &rendering.iptables)?;
    let pair = Pair::create(index, &[last.source, middle.source])?;
    let mut ports = Ports(0);
    let mut result = EngineResult::default();
    // Kept alive (attached) until the pair is measured.
    let mut datapath: Option<Datapath> = None;
    let mut live: Option<LiveMap> = None;
    let mut compiled: Option<CompiledServer> = None;
    match engine {
        Engine::None => {}
        Engine::Ebpf => {
            let server = compile_server(ir)?;
            let hash_mode = server.config.policy_map_hash;
            let started = Instant::now();
            let before = outer_map_ids(if hash_mode { polc_ebpf::object::POLICY_HASH_GENERATIONS_MAP } else { polc_ebpf::object::POLICY_GENERATIONS_MAP });
            let mut loaded = Datapath::load(&server.config).map_err(|error| format!("load: {error}"))?;
            let switch = loaded.install(&server.policy, &server.ipcache).map_err(|error| format!("install: {error}"))?;
            let loaded_ref = &mut loaded;
            pair.server.enter(move || loaded_ref.attach(SERVER_INTERFACE)).map_err(|error| format!("attach: {error}"))?;
            result.load = started.elapsed();
            let probe = image_entries(&server.policy, hash_mode).into_iter().next_back().ok_or("an empty policy map")?;
            live = Some(live_policy_map(hash_mode, &before, switch.slot, &probe)?);
            datapath = Some(loaded);
            compiled = Some(server);
        }
        Engine::Iptables(backend) => {
            result.load = pair.server.enter(|| -> Result<Duration, String> {
                let ipset = run_tool("ipset", &["-exist", "restore"], &rendering.ipset)?;
                Ok(ipset + run_tool(backend.restore_tool(Family::V4), &restore_arguments(backend, false), &rendering.iptables)?)
            })?;
        }
    }
    check_enforcing(&pair, last, engine, &mut ports)?;
    check_enforcing(&pair, middle, engine, &mut ports)?;
    [result.last, result.middle] = measure_latency(&pair, [last, middle], settings, &mut ports);
    let (packets_per_second, sent) = measure_throughput(&pair, last, settings.flood, 61000);
    result.packets_per_second = packets_per_second;
    result.sent = sent;
    eprintln!(
        "ebpf_vs_iptables: {size} rules, {}: latency last {:.1} us (p99 {:.1}), middle {:.1} us, {:.0} packets/s",
        engine.name(),
        result.last.median_us,
        result.last.p99_us,
        result.middle.median_us,
        packets_per_second
    );
    match engine {
        Engine::None => {}
        Engine::Ebpf => {
            let (Some(datapath), Some(live), Some(old)) = (datapath.as_ref(), live.as_mut(), compiled.as_ref()) else {
                return Err("the datapath is gone".to_owned());
            };
            let new = compile_server(changed)?;
            let (in_place, swap) = ebpf_updates(datapath, live, old, &new, settings.updates)?;
            result.updates.insert("map_update", in_place);
            result.updates.insert("generation_swap", swap);
        }
        Engine::Iptables(backend) => {
            let new = render_node(changed, Some(NODE));
            let updates = iptables_updates(&pair, backend, &rendering.iptables, &new.iptables, last.position, settings.updates)?;
            result.updates.insert("restore_table", updates.table);
            result.updates.insert("restore_chain", updates.chain);
            result.updates.insert("restore_rule", updates.rule);
        }
    }
    drop(live);
    drop(datapath);
    drop(pair);
    Ok(result)
}

// ---------------------------------------------------------------------------------------------
// Output: JSON, table, plot.

fn latency_json(latency: &Latency) -> Value {
    json!({ "median_us": round(latency.median_us, 1), "p99_us": round(latency.p99_us, 1), "samples": latency.samples, "lost": latency.lost })
}

fn round(value: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (value * scale).round() / scale
}

/// `numerator / denominator` to 3 significant digits.
fn ratio(numerator: f64, denominator: f64) -> Option<f64> {
    (numerator > 0.0 && denominator > 0.0).then(|| {
        let value = numerator / denominator;
        round(value, 2 - value.log10().floor() as i32)
    })
}

struct SizeResult {
    size: usize,
    rules_ipv4: usize,
    engines: BTreeMap<Engine, EngineResult>,
}

fn size_json(result: &SizeResult) -> Value {
    let mut engines = serde_json::Map::new();
    for (engine, measured) in &result.engines {
        let updates: serde_json::Map<String, Value> =
            measured.updates.iter().map(|(name, time)| ((*name).to_owned(), json!(round(micros(*time), 1)))).collect();
        engines.insert(
            engine.name().to_owned(),
            json!({
                "load_ms": round(millis(measured.load), 2),
                "latency_last_rule": latency_json(&measured.last),
                "latency_middle_rule": latency_json(&measured.middle),
                "packets_per_second": measured.packets_per_second.round(),
                "packets_sent": measured.sent,
                "update_us": updates,
            }),
        );
    }
    let mut ratios = serde_json::Map::new();
    if let Some(ebpf) = result.engines.get(&Engine::Ebpf) {
        for backend in Backend::ALL {
            let Some(iptables) = result.engines.get(&Engine::Iptables(backend)) else { continue };
            let update = |ebpf_name: &str, iptables_name: &str| {
                ratio(ebpf.updates.get(ebpf_name).map_or(0.0, |time| micros(*time)), iptables.updates.get(iptables_name).map_or(0.0, |time| micros(*time)))
            };
            ratios.insert(
                backend.as_str().to_owned(),
                json!({
                    "latency_last_rule": ratio(ebpf.last.median_us, iptables.last.median_us),
                    "latency_middle_rule": ratio(ebpf.middle.median_us, iptables.middle.median_us),
                    "packets_per_second": ratio(ebpf.packets_per_second, iptables.packets_per_second),
                    "map_update_vs_restore_rule": update("map_update", "restore_rule"),
                    "generation_swap_vs_restore_table": update("generation_swap", "restore_table"),
                }),
            );
        }
    }
    json!({ "rules": result.size, "iptables_rules_ipv4": result.rules_ipv4, "engines": engines, "ratios_ebpf_over_iptables": ratios })
}

fn thousands(value: usize) -> String {
    let digits = value.to_string();
    let mut out = String::new();
    for (index, character) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(character);
    }
    out
}

fn short_time(duration: Option<&Duration>) -> String {
    match duration {
        None => "—".to_owned(),
        Some(time) if *time < Duration::from_micros(10) => format!("{:.1} µs", micros(*time)),
        Some(time) if *time < Duration::from_millis(1) => format!("{:.0} µs", micros(*time)),
        Some(time) if *time < Duration::from_secs(1) => format!("{:.1} ms", millis(*time)),
        Some(time) => format!("{:.2} s", time.as_secs_f64()),
    }
}

fn table(results: &[SizeResult]) -> String {
    let mut out = String::new();
    out.push_str("| rules | engine | latency, last rule (median / p99) | latency, middle rule (median) | packets/s (one-way flood) | change one rule |\n");
    out.push_str("| --- | --- | --- | --- | --- | --- |\n");
    for result in results {
        for (engine, measured) in &result.engines {
            let update = match engine {
                Engine::None => "—".to_owned(),
                Engine::Ebpf => format!(
                    "map update {}; generation swap {}",
                    short_time(measured.updates.get("map_update")),
                    short_time(measured.updates.get("generation_swap"))
                ),
                Engine::Iptables(_) => format!(
                    "table {}; chain {}; one rule {}",
                    short_time(measured.updates.get("restore_table")),
                    short_time(measured.updates.get("restore_chain")),
                    short_time(measured.updates.get("restore_rule"))
                ),
            };
            let engine_name = match engine {
                Engine::None => "no policy".to_owned(),
                Engine::Ebpf => "eBPF (tcx)".to_owned(),
                Engine::Iptables(backend) => format!("iptables {}", backend.as_str()),
            };
            out.push_str(&format!(
                "| {} | {engine_name} | {:.0} / {:.0} µs | {:.0} µs | {} | {update} |\n",
                thousands(result.size),
                measured.last.median_us,
                measured.last.p99_us,
                measured.middle.median_us,
                thousands(measured.packets_per_second.round() as usize)
            ));
        }
    }
    out.push('\n');
    out.push_str("| rules | backend | eBPF / iptables latency (last rule) | (middle rule) | eBPF / iptables packets/s | map update / `-R` restore | generation swap / table restore |\n");
    out.push_str("| --- | --- | --- | --- | --- | --- | --- |\n");
    for result in results {
        let json = size_json(result);
        let Some(ratios) = json["ratios_ebpf_over_iptables"].as_object() else { continue };
        for (backend, values) in ratios {
            let show =
                |name: &str| values[name].as_f64().map_or("—".to_owned(), |value| if value >= 10.0 { format!("{value:.0}") } else { format!("{value}") });
            out.push_str(&format!(
                "| {} | {backend} | {} | {} | {} | {} | {} |\n",
                thousands(result.size),
                show("latency_last_rule"),
                show("latency_middle_rule"),
                show("packets_per_second"),
                show("map_update_vs_restore_rule"),
                show("generation_swap_vs_restore_table")
            ));
        }
    }
    out
}

/// One plotted line.
struct Series {
    label: String,
    color: &'static str,
    dashed: bool,
    points: Vec<(f64, f64)>,
}

/// A log-log panel at `(left, top)` of `width` × `height`, with the series, axes and legend.
#[allow(clippy::too_many_arguments)]
fn panel(svg: &mut String, left: f64, top: f64, width: f64, height: f64, title: &str, y_label: &str, series: &[Series]) {
    let points: Vec<(f64, f64)> = series.iter().flat_map(|line| line.points.iter().copied()).filter(|(x, y)| *x > 0.0 && *y > 0.0).collect();
    if points.is_empty() {
        return;
    }
    let (x_min, x_max) = points.iter().fold((f64::MAX, f64::MIN), |(low, high), (x, _)| (low.min(*x), high.max(*x)));
    let (y_min, y_max) = points.iter().fold((f64::MAX, f64::MIN), |(low, high), (_, y)| (low.min(*y), high.max(*y)));
    let (x_low, x_high) = (x_min.log10().floor(), x_max.log10().ceil().max(x_min.log10().floor() + 1.0));
    let (y_low, y_high) = (y_min.log10().floor(), y_max.log10().ceil().max(y_min.log10().floor() + 1.0));
    let x_of = |x: f64| left + (x.log10() - x_low) / (x_high - x_low) * width;
    let y_of = |y: f64| top + height - (y.log10() - y_low) / (y_high - y_low) * height;
    svg.push_str(&format!("<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"15\" font-weight=\"bold\">{title}</text>\n", left, top - 14.0));
    svg.push_str(&format!("<rect x=\"{left:.1}\" y=\"{top:.1}\" width=\"{width:.1}\" height=\"{height:.1}\" fill=\"none\" stroke=\"#333\"/>\n"));
    let mut decade = x_low;
    while decade <= x_high + 1e-9 {
        let x = left + (decade - x_low) / (x_high - x_low) * width;
        svg.push_str(&format!("<line x1=\"{x:.1}\" y1=\"{top:.1}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#ddd\"/>\n", top + height));
        svg.push_str(&format!(
            "<text x=\"{x:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\">{}</text>\n",
            top + height + 16.0,
            thousands(10f64.powf(decade).round() as usize)
        ));
        decade += 1.0;
    }
    let mut decade = y_low;
    while decade <= y_high + 1e-9 {
        let y = top + height - (decade - y_low) / (y_high - y_low) * height;
        svg.push_str(&format!("<line x1=\"{left:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#ddd\"/>\n", left + width));
        let value = 10f64.powf(decade);
        let text = if value >= 1.0 { thousands(value.round() as usize) } else { format!("{value}") };
        svg.push_str(&format!("<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\">{text}</text>\n", left - 6.0, y + 4.0));
        decade += 1.0;
    }
    svg.push_str(&format!(
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\">policy rules of the endpoint (log scale)</text>\n",
        left + width / 2.0,
        top + height + 34.0
    ));
    svg.push_str(&format!(
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\" transform=\"rotate(-90 {:.1} {:.1})\">{y_label}</text>\n",
        left - 62.0,
        top + height / 2.0,
        left - 62.0,
        top + height / 2.0
    ));
    for (index, line) in series.iter().enumerate() {
        let drawn: Vec<String> = line.points.iter().filter(|(x, y)| *x > 0.0 && *y > 0.0).map(|(x, y)| format!("{:.1},{:.1}", x_of(*x), y_of(*y))).collect();
        if drawn.is_empty() {
            continue;
        }
        let dash = if line.dashed { " stroke-dasharray=\"6 4\"" } else { "" };
        svg.push_str(&format!("<polyline points=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\"{dash}/>\n", drawn.join(" "), line.color));
        for point in &drawn {
            let (x, y) = point.split_once(',').unwrap_or(("0", "0"));
            svg.push_str(&format!("<circle cx=\"{x}\" cy=\"{y}\" r=\"3\" fill=\"{}\"/>\n", line.color));
        }
        let legend_y = top + height + 58.0 + index as f64 * 16.0;
        svg.push_str(&format!(
            "<line x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"{}\" stroke-width=\"2\"{dash}/>\n",
            left + 10.0,
            legend_y - 4.0,
            left + 34.0,
            legend_y - 4.0,
            line.color
        ));
        svg.push_str(&format!("<text x=\"{:.1}\" y=\"{legend_y:.1}\" font-size=\"12\">{}</text>\n", left + 40.0, line.label));
    }
}

fn plot(results: &[SizeResult], caption: &str) -> String {
    let colors = |engine: Engine| match engine {
        Engine::None => "#777777",
        Engine::Ebpf => "#1f77b4",
        Engine::Iptables(Backend::Legacy) => "#d62728",
        Engine::Iptables(Backend::Nft) => "#ff7f0e",
    };
    let engines: BTreeSet<Engine> = results.iter().flat_map(|result| result.engines.keys().copied()).collect();
    let mut latency = Vec::new();
    for engine in &engines {
        let label = match engine {
            Engine::None => "no policy".to_owned(),
            Engine::Ebpf => "eBPF (tcx)".to_owned(),
            Engine::Iptables(backend) => format!("iptables-{}", backend.as_str()),
        };
        let points = results.iter().filter_map(|result| result.engines.get(engine).map(|measured| (result.size as f64, measured.last.median_us))).collect();
        latency.push(Series { label, color: colors(*engine), dashed: *engine == Engine::None, points });
    }
    let mut updates = Vec::new();
    let update_series: [(Engine, &str, &str, bool); 6] = [
        (Engine::Ebpf, "map_update", "eBPF: in-place map update (delete + insert)", false),
        (Engine::Ebpf, "generation_swap", "eBPF: generation swap", true),
        (Engine::Iptables(Backend::Legacy), "restore_table", "legacy: iptables-restore (table)", false),
        (Engine::Iptables(Backend::Legacy), "restore_rule", "legacy: --noflush -R (one rule)", true),
        (Engine::Iptables(Backend::Nft), "restore_table", "nft: iptables-restore (table)", false),
        (Engine::Iptables(Backend::Nft), "restore_rule", "nft: --noflush -R (one rule)", true),
    ];
    for (engine, name, label, dashed) in update_series {
        if !engines.contains(&engine) {
            continue;
        }
        let points = results
            .iter()
            .filter_map(|result| result.engines.get(&engine).and_then(|measured| measured.updates.get(name)).map(|time| (result.size as f64, millis(*time))))
            .collect();
        updates.push(Series { label: label.to_owned(), color: colors(engine), dashed, points });
    }
    let mut svg = String::new();
    svg.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    svg.push_str("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1000\" height=\"560\" viewBox=\"0 0 1000 560\" font-family=\"sans-serif\">\n");
    svg.push_str("<rect width=\"1000\" height=\"560\" fill=\"white\"/>\n");
    panel(&mut svg, 80.0, 50.0, 380.0, 300.0, "Per packet: UDP round trip, new flow, last rule", "median round trip (µs, log scale)", &latency);
    panel(&mut svg, 590.0, 50.0, 380.0, 300.0, "Update: change one rule", "time (ms, log scale)", &updates);
    svg.push_str(&format!("<text x=\"20\" y=\"548\" font-size=\"11\" fill=\"#444\">{caption}</text>\n"));
    svg.push_str("</svg>\n");
    svg
}

fn main() {
    if !is_root() {
        eprintln!("ebpf_vs_iptables: skipped, it needs root to create network namespaces, load iptables rules and attach BPF programs");
        return;
    }
    let settings = match BenchSettings::from_environment() {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("ebpf_vs_iptables: {message}");
            std::process::exit(2);
        }
    };
    let started = Instant::now();
    let mut results = Vec::new();
    let mut run_index = 0;
    for size in &settings.sizes {
        let ir = policy_ir(*size, None);
        let changed = policy_ir(*size, Some(FIRST_PORT + *size as u16));
        let rules_ipv4 = render_node(&ir, Some(NODE)).stats.rules_ipv4;
        let mut engines = BTreeMap::new();
        for engine in &settings.engines {
            run_index += 1;
            match run_engine(run_index, *size, *engine, &settings, &ir, &changed) {
                Ok(result) => {
                    engines.insert(*engine, result);
                }
                Err(message) => {
                    eprintln!("ebpf_vs_iptables: {size} rules, {}: {message}", engine.name());
                    std::process::exit(1);
                }
            }
        }
        results.push(SizeResult { size: *size, rules_ipv4, engines });
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let load = load.split_whitespace().take(3).collect::<Vec<_>>().join(" ");
    let document = json!({
        "bench": "ebpf_vs_iptables",
        "settings": {
            "round_trips": settings.round_trips,
            "latency_cap_seconds": settings.latency_cap.as_secs(),
            "flood_ms": settings.flood.as_millis() as u64,
            "update_repeats": settings.updates,
        },
        "load_average_after": load,
        "seconds": round(started.elapsed().as_secs_f64(), 1),
        "sizes": results.iter().map(size_json).collect::<Vec<_>>(),
    });
    println!("{}", serde_json::to_string_pretty(&document).unwrap_or_default());
    println!();
    print!("{}", table(&results));
    if let Some(path) = &settings.svg {
        let caption = format!(
            "cargo bench -p polc-iptables --bench ebpf_vs_iptables; {} round trips (cap {} s) per point, medians; load average after the run {load}",
            settings.round_trips,
            settings.latency_cap.as_secs()
        );
        match std::fs::write(path, plot(&results, &caption)) {
            Ok(()) => eprintln!("ebpf_vs_iptables: wrote {}", path.display()),
            Err(error) => eprintln!("ebpf_vs_iptables: cannot write {}: {error}", path.display()),
        }
    }
}
