//! Several endpoints on one node, each with its own policy and its own instance of the
//! datapath object, in one bundle. The node namespace has a veth pair per pod
//! (`lxc<i>` ↔ the pod's `eth0`, 10.202.<i>.1 ↔ 10.202.<i>.2):
//! - pods 1, 2 and 4 have a host route (found as a CNI plugin would leave it);
//! - pod 3 has none and is found through the agent's `interfaces.json` mapping;
//! - pod 4 appears after the agent started and applied, pod 2 disappears later.
//!
//! Generation A lets the node (identity 1000) reach port 7001 and 7100+i of pod i;
//! generation B (the node is identity 2000) port 7001 and 7200+i. The node sends numbered
//! datagrams round robin to every pod and port while the agent swaps A → B; every datagram is
//! checked against its verdict record (see `common::traffic`), and the deciding generation
//! changes once in send order over all pods together: one flip switches every endpoint.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use common::traffic::{Expected, Target, Traffic};
use common::*;
use polc_ebpf::bundle::{Bundle, BundleBuilder, Digest, MapImage, ObjectImage};
use polc_ebpf::{DatapathConfig, Direction, IpPrefix, IpcacheEntry, IpcacheImage, PolicyEntry, PolicyMapImage};

const PODS: [u8; 4] = [1, 2, 3, 4];
const BOTH: u16 = 7001;
const IDENTITY_A: u32 = 1000;
const IDENTITY_B: u32 = 2000;
const RATE: u64 = 4_000;

fn node_side(pod: u8) -> IpAddr {
    v4(10, 202, pod, 1)
}

fn pod_address(pod: u8) -> IpAddr {
    v4(10, 202, pod, 2)
}

fn endpoint_name(pod: u8) -> String {
    format!("default/web{pod}")
}

fn endpoint_identity(pod: u8) -> u32 {
    3000 + u32::from(pod)
}

/// The port only generation A (`b` false) or only B (`b` true) opens on `pod`.
fn own_port(pod: u8, b: bool) -> u16 {
    if b { 7200 + u16::from(pod) } else { 7100 + u16::from(pod) }
}

/// One generation: every node-side address has `peer_identity`; pod i allows it on 7001
/// and its own port.
fn bundle(b: bool) -> Bundle {
    let peer_identity = if b { IDENTITY_B } else { IDENTITY_A };
    let mut ipcache = Vec::new();
    for pod in PODS {
        ipcache.push(IpcacheEntry { prefix: IpPrefix::host(node_side(pod)), identity: peer_identity });
        ipcache.push(IpcacheEntry { prefix: IpPrefix::host(pod_address(pod)), identity: endpoint_identity(pod) });
    }
    let mut builder = BundleBuilder::new("polc test", Digest::of(b"multi-endpoint tests"));
    // The default (HASH) lookup modes: the endpoints share the ipcache and its host HASH.
    let ipcache = IpcacheImage::build(&ipcache, 0).expect("ipcache builds");
    builder.add_map(NODE, MapImage::ipcache("ipcache", &ipcache)).expect("ipcache");
    builder.add_map(NODE, MapImage::ipcache_hosts("ipcache-hosts", &ipcache)).expect("ipcache hosts");
    for pod in PODS {
        let entries: Vec<PolicyEntry> =
            [BOTH, own_port(pod, b)].iter().map(|port| PolicyEntry::allow(peer_identity, Direction::Ingress, UDP, *port, 16)).collect();
        let policy = format!("policy/{}", endpoint_name(pod));
        builder.add_map(NODE, MapImage::policy_hash(&policy, &PolicyMapImage::build(&entries).expect("policy builds"))).expect("policy map");
        let config = DatapathConfig { endpoint_identity: endpoint_identity(pod), emit_verdict_events: true, ..DatapathConfig::default() };
        let object = format!("web{pod}");
        builder.add_object(NODE, ObjectImage::datapath(&object, &config)).expect("object");
        builder
            .add_endpoint(
                NODE,
                &endpoint_name(pod),
                endpoint_identity(pod),
                &[pod_address(pod)],
                &object,
                &[("polc_ipcache", "ipcache"), ("polc_ipcache_hash", "ipcache-hosts"), ("polc_policy_hash", &policy)],
            )
            .expect("endpoint");
    }
    builder.finish().expect("bundle builds")
}

/// The node namespace and one namespace per pod; deleted on drop.
struct Pods {
    node: String,
    pods: BTreeMap<u8, String>,
}

impl Pods {
    fn create() -> Pods {
        let prefix = unique("polcme-");
        let pods = Pods { node: format!("{prefix}-node"), pods: PODS.iter().map(|pod| (*pod, format!("{prefix}-pod{pod}"))).collect() };
        for namespace in std::iter::once(&pods.node).chain(pods.pods.values()) {
            ip(&["netns", "add", namespace]);
            ip(&["-n", namespace, "link", "set", "lo", "up"]);
        }
        pods
    }

    fn interface(pod: u8) -> String {
        format!("lxc{pod}")
    }

    /// Joins pod `pod` to the node; with `host_route`, adds the /32 route to the pod.
    fn connect(&self, pod: u8, host_route: bool) {
        let interface = Pods::interface(pod);
        let namespace = &self.pods[&pod];
        ip(&["link", "add", &interface, "netns", &self.node, "type", "veth", "peer", "name", "eth0", "netns", namespace]);
        ip(&["-n", &self.node, "addr", "add", &format!("{}/24", node_side(pod)), "dev", &interface]);
        ip(&["-n", namespace, "addr", "add", &format!("{}/24", pod_address(pod)), "dev", "eth0"]);
        ip(&["-n", &self.node, "link", "set", &interface, "up"]);
        ip(&["-n", namespace, "link", "set", "eth0", "up"]);
        if host_route {
            ip(&["-n", &self.node, "route", "add", &format!("{}/32", pod_address(pod)), "dev", &interface]);
        }
    }

    fn disconnect(&self, pod: u8) {
        ip(&["-n", &self.node, "link", "del", &Pods::interface(pod)]);
    }

    fn target(&self, pod: u8) -> Target {
        Target {
            namespace: self.pods[&pod].clone(),
            address: pod_address(pod),
            ports: vec![BOTH, own_port(pod, false), own_port(pod, true)],
            endpoint_identity: endpoint_identity(pod),
        }
    }
}

impl Drop for Pods {
    fn drop(&mut self) {
        for namespace in std::iter::once(&self.node).chain(self.pods.values()) {
            let _ = Command::new("ip").args(["netns", "del", namespace]).output();
        }
    }
}

/// What the generation in `slot` decides for a datagram to `port` of the pod `pods[target]`.
fn judge(slot_a: u32, pods: Vec<u8>) -> impl Fn(u8, usize, u16) -> Expected {
    move |slot, target, port| {
        let b = u32::from(slot) != slot_a;
        Expected { allowed: port == BOTH || port == own_port(pods[target], b), remote_identity: if b { IDENTITY_B } else { IDENTITY_A } }
    }
}

#[test]
fn endpoints_of_one_node_are_attached_judged_and_swapped_together_privileged() {
    if !privileged("endpoints_of_one_node_are_attached_judged_and_swapped_together_privileged") {
        return;
    }
    let pods = Pods::create();
    for pod in [1, 2, 3] {
        pods.connect(pod, pod != 3);
    }
    let node = TestNode::new();
    std::fs::create_dir_all(&node.state).unwrap();
    std::fs::write(node.state.join("interfaces.json"), format!("{{\"{}\": \"{}\"}}", endpoint_name(3), Pods::interface(3))).unwrap();
    let _agent = InProcessAgent::start(node.config(), Some(&pods.node));
    let path_a = node.write("a", &bundle(false));
    let path_b = node.write("b", &bundle(true));
    let slot_a = node.apply(&path_a).expect("generation A applies").slot;

    let status = node.status();
    assert_eq!(status.endpoints.len(), 4);
    let interfaces: BTreeMap<String, Option<String>> = status.endpoints.iter().map(|(name, endpoint)| (name.clone(), endpoint.interface.clone())).collect();
    assert_eq!(
        interfaces,
        PODS.iter().map(|pod| (endpoint_name(*pod), (*pod != 4).then(|| Pods::interface(*pod)))).collect::<BTreeMap<_, _>>(),
        "pods 1 and 2 found by host route, pod 3 by the mapping, pod 4 not there yet"
    );
    let instances: BTreeSet<&String> = status.endpoints.values().map(|endpoint| &endpoint.instance).collect();
    assert_eq!(instances.len(), 4, "one instance per endpoint (their constants differ)");

    // Pod 4 appears: the next rescan attaches it.
    pods.connect(4, true);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !node.status().endpoints[&endpoint_name(4)].attached {
        assert!(Instant::now() < deadline, "pod 4 was not attached: {:?}", node.status());
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(node.status().interfaces, vec!["lxc1", "lxc2", "lxc3", "lxc4"]);

    // Traffic to every pod while A is swapped for B.
    let targets: Vec<Target> = PODS.iter().map(|pod| pods.target(*pod)).collect();
    let traffic = Traffic::start(&pods.node, targets, node.bpffs.join("polc_drops"), RATE);
    std::thread::sleep(Duration::from_millis(250));
    let report = node.apply(&path_b).expect("generation B applies");
    assert_eq!((report.generation, report.slot), (2, 1 - slot_a));
    std::thread::sleep(Duration::from_millis(250));
    let outcome = traffic.finish();
    let totals = outcome.check_every_packet(judge(slot_a, PODS.to_vec()));
    assert_eq!(outcome.slot_changes(), 1, "one flip switched every endpoint at the same point in send order: {totals:?}");
    let records = outcome.records();
    for (target, pod) in PODS.iter().enumerate() {
        let slots: BTreeSet<u8> = outcome
            .sent
            .iter()
            .filter(|datagram| datagram.target == target)
            .filter_map(|datagram| records.get(&datagram.sequence))
            .map(|found| found[0].event.generation_slot)
            .collect();
        assert_eq!(slots.len(), 2, "pod {pod} saw both generations: {slots:?}");
    }
    eprintln!("{} datagrams to {} pods across one swap: {totals:?}", outcome.sent.len(), PODS.len());

    // Pod 2 goes away: it is detached, and applies go on for the others.
    pods.disconnect(2);
    let deadline = Instant::now() + Duration::from_secs(30);
    while node.status().endpoints[&endpoint_name(2)].attached {
        assert!(Instant::now() < deadline, "pod 2 was not detached: {:?}", node.status());
        std::thread::sleep(Duration::from_millis(50));
    }
    let report = node.apply(&path_a).expect("generation A applies with pod 2 gone");
    assert_eq!((report.generation, report.slot), (3, slot_a));
    let status = node.status();
    assert_eq!(status.interfaces, vec!["lxc1", "lxc3", "lxc4"]);
    assert!(status.last_error.as_ref().is_none_or(|error| error.kind != "attach"), "{:?}", status.last_error);
    let remaining = [1u8, 3, 4];
    let traffic = Traffic::start(&pods.node, remaining.iter().map(|pod| pods.target(*pod)).collect(), node.bpffs.join("polc_drops"), RATE);
    std::thread::sleep(Duration::from_millis(250));
    let outcome = traffic.finish();
    let totals = outcome.check_every_packet(judge(slot_a, remaining.to_vec()));
    assert_eq!(totals.keys().copied().collect::<Vec<u8>>(), vec![slot_a as u8], "generation A decides for every remaining pod");
    assert!(outcome.sent.len() > 300, "the traffic ran: {} datagrams", outcome.sent.len());
}
