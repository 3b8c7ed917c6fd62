//! Real traffic: two network namespaces joined by a veth pair, the programs attached with
//! tcx on the endpoint's interface, and real TCP and UDP sockets over IPv4 and IPv6.
//! Allowed flows connect (replies pass through connection tracking); denied flows do not,
//! although a listener waits on every denied port.

mod common;

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aya::programs::{SchedClassifier, TcAttachType};
use common::{privileged, v4, v6};
use polc_ebpf::kernel::Datapath;
use polc_ebpf::{DatapathConfig, Direction, IpPrefix, IpcacheEntry, IpcacheImage, PolicyEntry, PolicyMapImage, Reason};
use rustix::net::{AddressFamily, SocketType, sockopt};
use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

const TCP: u8 = 6;
const UDP: u8 = 17;
const PEER: u32 = 1000;
const STRANGER: u32 = 2000;
const ENDPOINT: u32 = 3000;
/// How long a denied exchange is given before it counts as blocked.
const DENIED_WAIT: Duration = Duration::from_millis(400);
/// How long an allowed exchange may take.
const ALLOWED_WAIT: Duration = Duration::from_secs(3);

static NEXT_PAIR: AtomicUsize = AtomicUsize::new(0);

/// Two namespaces joined by a veth pair: `endpoint` (interface `ve0`, addresses .2 / ::2)
/// and `peer` (interface `vp0`, addresses .1 and .3 / ::1 and ::3). Deleted on drop.
struct NamespacePair {
    endpoint: String,
    peer: String,
}

fn ip(arguments: &[&str]) {
    let output = Command::new("ip").args(arguments).output().expect("`ip` runs (iproute2 is installed)");
    assert!(output.status.success(), "`ip {}` failed: {}", arguments.join(" "), String::from_utf8_lossy(&output.stderr));
}

impl NamespacePair {
    fn create() -> NamespacePair {
        let index = NEXT_PAIR.fetch_add(1, Ordering::SeqCst);
        let prefix = format!("polc-{}-{index}", std::process::id());
        let pair = NamespacePair { endpoint: format!("{prefix}-ep"), peer: format!("{prefix}-peer") };
        ip(&["netns", "add", &pair.endpoint]);
        ip(&["netns", "add", &pair.peer]);
        ip(&["link", "add", "ve0", "netns", &pair.endpoint, "type", "veth", "peer", "name", "vp0", "netns", &pair.peer]);
        let endpoint_side: (&str, &str, &[&str]) = (&pair.endpoint, "ve0", &["10.77.0.2/24", "fd77::2/64"]);
        let peer_side: (&str, &str, &[&str]) = (&pair.peer, "vp0", &["10.77.0.1/24", "10.77.0.3/24", "fd77::1/64", "fd77::3/64"]);
        for (namespace, device, addresses) in [endpoint_side, peer_side] {
            ip(&["-n", namespace, "link", "set", "lo", "up"]);
            for address in addresses {
                // `nodad`: IPv6 addresses are usable at once (ignored for IPv4).
                let mut arguments = vec!["-n", namespace, "addr", "add", address, "dev", device];
                if address.contains(':') {
                    arguments.push("nodad");
                }
                ip(&arguments);
            }
            ip(&["-n", namespace, "link", "set", device, "up"]);
        }
        pair
    }
}

impl Drop for NamespacePair {
    fn drop(&mut self) {
        for namespace in [&self.endpoint, &self.peer] {
            let _ = Command::new("ip").args(["netns", "del", namespace]).output();
        }
    }
}

/// Runs `work` on a fresh thread that has joined network namespace `namespace`.
fn in_namespace<T: Send>(namespace: &str, work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let handle = File::open(format!("/var/run/netns/{namespace}")).expect("namespace handle");
                move_into_link_name_space(handle.as_fd(), Some(LinkNameSpaceType::Network)).expect("setns");
                work()
            })
            .join()
            .expect("namespace thread")
    })
}

fn endpoint_address(family: u8) -> IpAddr {
    if family == 4 { v4(10, 77, 0, 2) } else { v6([0xfd77, 0, 0, 0, 0, 0, 0, 2]) }
}

fn peer_address(family: u8) -> IpAddr {
    if family == 4 { v4(10, 77, 0, 1) } else { v6([0xfd77, 0, 0, 0, 0, 0, 0, 1]) }
}

fn stranger_address(family: u8) -> IpAddr {
    if family == 4 { v4(10, 77, 0, 3) } else { v6([0xfd77, 0, 0, 0, 0, 0, 0, 3]) }
}

fn ipcache() -> IpcacheImage {
    let mut entries = Vec::new();
    for family in [4, 6] {
        for (address, identity) in [(peer_address(family), PEER), (stranger_address(family), STRANGER), (endpoint_address(family), ENDPOINT)] {
            entries.push(IpcacheEntry { prefix: IpPrefix::host(address), identity });
        }
    }
    IpcacheImage::build(&entries, 0).expect("ipcache builds")
}

/// Loads the datapath, installs `policy`, and attaches it to `ve0` inside the endpoint namespace.
fn attach(pair: &NamespacePair, policy: &[PolicyEntry]) -> Datapath {
    let config = DatapathConfig { endpoint_identity: ENDPOINT, ..DatapathConfig::default() };
    let mut datapath = Datapath::load(&config).expect("datapath loads");
    datapath.install(&PolicyMapImage::build(policy).expect("policy builds"), &ipcache()).expect("install");
    let datapath_ref = &mut datapath;
    let attached = in_namespace(&pair.endpoint, move || {
        datapath_ref.attach("ve0").expect("tcx attach on ve0");
        [TcAttachType::Ingress, TcAttachType::Egress].map(|attach_type| {
            let (_, programs) = SchedClassifier::query_tcx("ve0", attach_type).expect("tcx query");
            programs.iter().filter_map(|program| program.name_as_str().map(str::to_string)).collect::<Vec<_>>()
        })
    });
    assert_eq!(attached, [vec!["polc_ingress".to_string()], vec!["polc_egress".to_string()]], "tcx links on ve0");
    datapath
}

/// Serves TCP on every address until `stop`: reads `ping`, answers `pong`.
fn serve_tcp(listeners: Vec<TcpListener>, stop: &AtomicBool) {
    for listener in &listeners {
        listener.set_nonblocking(true).expect("nonblocking listener");
    }
    while !stop.load(Ordering::Relaxed) {
        for listener in &listeners {
            match listener.accept() {
                Ok((mut stream, _)) => {
                    let _ = stream.set_nonblocking(false);
                    let _ = stream.set_read_timeout(Some(ALLOWED_WAIT));
                    let mut request = [0u8; 4];
                    if stream.read_exact(&mut request).is_ok() && &request == b"ping" {
                        let _ = stream.write_all(b"pong");
                    }
                }
                Err(error) if error.kind() == ErrorKind::WouldBlock => {}
                Err(_) => {}
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Connects from `source` (or the default source) to `destination`, sends `ping`, and
/// returns whether `pong` came back within `wait`.
fn tcp_exchange(namespace: &str, source: Option<IpAddr>, destination: SocketAddr, wait: Duration) -> bool {
    in_namespace(namespace, || {
        let family = if destination.is_ipv4() { AddressFamily::INET } else { AddressFamily::INET6 };
        let socket = rustix::net::socket(family, SocketType::STREAM, None).expect("socket");
        if let Some(source) = source {
            rustix::net::bind(&socket, &SocketAddr::new(source, 0)).expect("bind source");
        }
        // On Linux a blocking connect gives up after SO_SNDTIMEO.
        sockopt::set_socket_timeout(&socket, sockopt::Timeout::Send, Some(wait)).expect("send timeout");
        sockopt::set_socket_timeout(&socket, sockopt::Timeout::Recv, Some(wait)).expect("receive timeout");
        if rustix::net::connect(&socket, &destination).is_err() {
            return false;
        }
        let mut stream = TcpStream::from(socket);
        let mut answer = [0u8; 4];
        stream.write_all(b"ping").is_ok() && stream.read_exact(&mut answer).is_ok() && &answer == b"pong"
    })
}

/// Serves UDP on every socket until `stop`: records each datagram and echoes it back.
fn serve_udp(sockets: Vec<UdpSocket>, received: &Mutex<Vec<(SocketAddr, Vec<u8>)>>, stop: &AtomicBool) {
    for socket in &sockets {
        socket.set_nonblocking(true).expect("nonblocking socket");
    }
    let mut buffer = [0u8; 256];
    while !stop.load(Ordering::Relaxed) {
        for socket in &sockets {
            if let Ok((length, from)) = socket.recv_from(&mut buffer) {
                let local = socket.local_addr().expect("local address");
                received.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).push((local, buffer[..length].to_vec()));
                let _ = socket.send_to(&buffer[..length], from);
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Sends `payload` from `source` to `destination`; returns whether the echo came back.
fn udp_exchange(namespace: &str, source: IpAddr, destination: SocketAddr, payload: &[u8], wait: Duration) -> bool {
    in_namespace(namespace, || {
        let socket = UdpSocket::bind(SocketAddr::new(source, 0)).expect("bind");
        socket.set_read_timeout(Some(wait)).expect("read timeout");
        let deadline = Instant::now() + wait;
        socket.send_to(payload, destination).expect("send");
        let mut buffer = [0u8; 256];
        while Instant::now() < deadline {
            match socket.recv_from(&mut buffer) {
                Ok((length, from)) if from == destination && &buffer[..length] == payload => return true,
                Ok(_) => {}
                Err(_) => return false,
            }
        }
        false
    })
}

#[test]
fn tcp_over_ipv4_and_ipv6_follows_policy_privileged() {
    if !privileged("tcp_over_ipv4_and_ipv6_follows_policy_privileged") {
        return;
    }
    let pair = NamespacePair::create();
    let datapath = attach(&pair, &[PolicyEntry::allow(PEER, Direction::Ingress, TCP, 8080, 16), PolicyEntry::allow(PEER, Direction::Egress, TCP, 9090, 16)]);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let mut endpoint_listeners = Vec::new();
        let mut peer_listeners = Vec::new();
        for family in [4, 6] {
            for port in [8080, 8081] {
                let address = SocketAddr::new(endpoint_address(family), port);
                endpoint_listeners.push(in_namespace(&pair.endpoint, || TcpListener::bind(address).expect("endpoint listener")));
            }
            for port in [9090, 9091] {
                let address = SocketAddr::new(peer_address(family), port);
                peer_listeners.push(in_namespace(&pair.peer, || TcpListener::bind(address).expect("peer listener")));
            }
        }
        let stop_ref = &stop;
        scope.spawn(move || serve_tcp(endpoint_listeners, stop_ref));
        scope.spawn(move || serve_tcp(peer_listeners, stop_ref));

        let mut failures = Vec::new();
        let mut check = |what: String, expected: bool, actual: bool| {
            if expected != actual {
                failures.push(format!(
                    "{what}: expected {}, got {}",
                    if expected { "connected" } else { "blocked" },
                    if actual { "connected" } else { "blocked" }
                ));
            }
        };
        for family in [4, 6] {
            let to_endpoint = |port| SocketAddr::new(endpoint_address(family), port);
            let to_peer = |port| SocketAddr::new(peer_address(family), port);
            check(format!("ipv{family} peer -> endpoint:8080"), true, tcp_exchange(&pair.peer, Some(peer_address(family)), to_endpoint(8080), ALLOWED_WAIT));
            check(format!("ipv{family} peer -> endpoint:8081"), false, tcp_exchange(&pair.peer, Some(peer_address(family)), to_endpoint(8081), DENIED_WAIT));
            check(
                format!("ipv{family} stranger -> endpoint:8080"),
                false,
                tcp_exchange(&pair.peer, Some(stranger_address(family)), to_endpoint(8080), DENIED_WAIT),
            );
            check(format!("ipv{family} endpoint -> peer:9090"), true, tcp_exchange(&pair.endpoint, None, to_peer(9090), ALLOWED_WAIT));
            check(format!("ipv{family} endpoint -> peer:9091"), false, tcp_exchange(&pair.endpoint, None, to_peer(9091), DENIED_WAIT));
        }
        stop.store(true, Ordering::Relaxed);
        assert!(failures.is_empty(), "{failures:#?}");
    });

    let counters = datapath.counters().expect("counters");
    let packets = |reason: Reason, direction: Direction| counters.get(&(reason, direction)).map(|counter| counter.packets).unwrap_or(0);
    assert!(packets(Reason::AllowL3, Direction::Ingress) >= 2, "{counters:?}");
    assert!(packets(Reason::AllowConntrackReply, Direction::Egress) >= 2, "replies pass by conntrack: {counters:?}");
    assert!(packets(Reason::DropPolicy, Direction::Ingress) >= 4, "{counters:?}");
    assert!(packets(Reason::DropPolicy, Direction::Egress) >= 2, "{counters:?}");
}

#[test]
fn udp_over_ipv4_and_ipv6_follows_policy_privileged() {
    if !privileged("udp_over_ipv4_and_ipv6_follows_policy_privileged") {
        return;
    }
    let pair = NamespacePair::create();
    let mut datapath = attach(
        &pair,
        &[
            PolicyEntry::allow(PEER, Direction::Ingress, UDP, 5353, 16),
            PolicyEntry::allow(0, Direction::Egress, UDP, 9053, 16),
            PolicyEntry::deny(STRANGER, Direction::Egress, 0, 0, 0),
        ],
    );
    let stop = AtomicBool::new(false);
    let received = Arc::new(Mutex::new(Vec::new()));
    std::thread::scope(|scope| {
        let mut endpoint_sockets = Vec::new();
        let mut peer_sockets = Vec::new();
        for family in [4, 6] {
            for port in [5353, 5354] {
                let address = SocketAddr::new(endpoint_address(family), port);
                endpoint_sockets.push(in_namespace(&pair.endpoint, || UdpSocket::bind(address).expect("endpoint socket")));
            }
            for (address, port) in [(peer_address(family), 9053), (peer_address(family), 9054), (stranger_address(family), 9053)] {
                let address = SocketAddr::new(address, port);
                peer_sockets.push(in_namespace(&pair.peer, || UdpSocket::bind(address).expect("peer socket")));
            }
        }
        let (stop_ref, received_ref) = (&stop, &*received);
        scope.spawn(move || serve_udp(endpoint_sockets, received_ref, stop_ref));
        scope.spawn(move || serve_udp(peer_sockets, received_ref, stop_ref));

        let mut failures = Vec::new();
        let mut check = |what: String, expected: bool, actual: bool| {
            if expected != actual {
                failures.push(format!("{what}: expected {}, got {}", if expected { "echoed" } else { "blocked" }, if actual { "echoed" } else { "blocked" }));
            }
        };
        for family in [4, 6] {
            let to_endpoint = |port| SocketAddr::new(endpoint_address(family), port);
            let flows = [
                (&pair.peer, peer_address(family), to_endpoint(5353), true),
                (&pair.peer, peer_address(family), to_endpoint(5354), false),
                (&pair.peer, stranger_address(family), to_endpoint(5353), false),
                (&pair.endpoint, endpoint_address(family), SocketAddr::new(peer_address(family), 9053), true),
                (&pair.endpoint, endpoint_address(family), SocketAddr::new(peer_address(family), 9054), false),
                (&pair.endpoint, endpoint_address(family), SocketAddr::new(stranger_address(family), 9053), false),
            ];
            for (index, (namespace, source, destination, expected)) in flows.iter().enumerate() {
                let payload = format!("polc-{family}-{index}");
                let wait = if *expected { ALLOWED_WAIT } else { DENIED_WAIT };
                let echoed = udp_exchange(namespace, *source, *destination, payload.as_bytes(), wait);
                check(format!("ipv{family} {source} -> {destination}"), *expected, echoed);
                let arrived = received
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .iter()
                    .any(|(local, data)| local == destination && data == payload.as_bytes());
                check(format!("ipv{family} {source} -> {destination} (arrival)"), *expected, arrived);
            }
        }
        stop.store(true, Ordering::Relaxed);
        assert!(failures.is_empty(), "{failures:#?}");
    });

    let events = datapath.drain_drop_events().expect("drop events");
    let denied_to_stranger = events
        .iter()
        .filter(|event| event.reason == Some(Reason::DropPolicyDeny) && event.remote_identity == STRANGER && event.direction == Direction::Egress)
        .count();
    assert!(denied_to_stranger >= 2, "{events:?}");
    assert!(events.iter().any(|event| event.reason == Some(Reason::DropPolicy) && event.policy_port == 5354 && event.local_identity == ENDPOINT), "{events:?}");
    datapath.detach().expect("detach");
}
