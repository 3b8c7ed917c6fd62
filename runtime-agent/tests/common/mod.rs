//! Helpers of the agent's integration tests: the root check, bundles, an agent in this
//! process or in a child process, a private bpffs, network namespaces, test runs of the
//! pinned programs, and a datapath object the verifier rejects.

#![allow(dead_code)]

pub mod traffic;

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use aya::maps::{ArrayOfMaps, Map, MapData};
use aya::programs::links::{FdLink, PinnedLink};
use aya::programs::{SchedClassifier, TestRun, TestRunOptions};
use polc_agent::client;
use polc_agent::{AgentConfig, Status};
use polc_ebpf::bundle::{Bundle, BundleBuilder, Digest, MapImage, ObjectImage, write_bundle};
use polc_ebpf::packet::{PacketSpec, build_frame};
use polc_ebpf::{DatapathConfig, Direction, IpPrefix, IpcacheEntry, IpcacheImage, PolicyEntry, PolicyMapImage};

pub const UDP: u8 = 17;
pub const TCP: u8 = 6;
pub const NODE: &str = "node-a";
pub const ENDPOINT: &str = "default/web";
pub const ENDPOINT_KEY: &str = "default~web";
pub const TC_ACT_OK: u32 = 0;
pub const TC_ACT_SHOT: u32 = 2;

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// Whether privileged tests can run; prints why not when they cannot.
pub fn privileged(test: &str) -> bool {
    if polc_ebpf::kernel::running_as_root() {
        true
    } else {
        eprintln!("skipping {test}: it loads BPF programs, mounts a bpffs and needs root (effective uid 0)");
        false
    }
}

/// A name unique to this process and call.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}-{}", std::process::id() % 100_000, NEXT.fetch_add(1, Ordering::SeqCst))
}

pub fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

/// One generation of a one-endpoint node: the peer has `peer_identity`, and the endpoint
/// allows ingress from it on `allowed_udp_ports`.
#[derive(Clone, Debug)]
pub struct GenerationSpec {
    pub peer: IpAddr,
    pub peer_identity: u32,
    pub endpoint_address: IpAddr,
    pub allowed_udp_ports: Vec<u16>,
    /// Extra L4-only ingress allows (identity 0), to make the policy map larger.
    pub filler_entries: u32,
    pub config: DatapathConfig,
}

impl GenerationSpec {
    pub fn new(peer: IpAddr, peer_identity: u32, endpoint_address: IpAddr, allowed_udp_ports: &[u16]) -> GenerationSpec {
        GenerationSpec {
            peer,
            peer_identity,
            endpoint_address,
            allowed_udp_ports: allowed_udp_ports.to_vec(),
            filler_entries: 0,
            config: DatapathConfig { endpoint_identity: 3000, ..DatapathConfig::default() },
        }
    }

    pub fn policy(&self) -> PolicyMapImage {
        let mut entries: Vec<PolicyEntry> =
            self.allowed_udp_ports.iter().map(|port| PolicyEntry::allow(self.peer_identity, Direction::Ingress, UDP, *port, 16)).collect();
        for index in 0..self.filler_entries {
            entries.push(PolicyEntry::allow(100_000 + index, Direction::Egress, TCP, 443, 16));
        }
        PolicyMapImage::build(&entries).expect("policy builds")
    }

    pub fn ipcache(&self) -> IpcacheImage {
        IpcacheImage::build(
            &[
                IpcacheEntry { prefix: IpPrefix::host(self.peer), identity: self.peer_identity },
                IpcacheEntry { prefix: IpPrefix::host(self.endpoint_address), identity: 3000 },
            ],
            0,
        )
        .expect("ipcache builds")
    }

    /// The same generation in the LPM lookup modes (LPM trie policy map and ipcache only).
    pub fn lpm(mut self) -> GenerationSpec {
        self.config.policy_map_hash = false;
        self.config.ipcache_host_hash = false;
        self
    }

    /// The outer map holding the endpoint's policy map: `polc_policy_hash` in the default
    /// (HASH) lookup mode, `polc_policy` in the LPM mode.
    pub fn policy_outer(&self) -> &'static str {
        if self.config.policy_map_hash { "polc_policy_hash" } else { "polc_policy" }
    }

    /// The outer maps the endpoint's object reads, with the bundle's map for each.
    pub fn bindings(&self) -> Vec<(String, String)> {
        let mut bindings = vec![("polc_ipcache".to_owned(), "ipcache".to_owned()), (self.policy_outer().to_owned(), "policy/default/web".to_owned())];
        if self.config.ipcache_host_hash {
            bindings.push(("polc_ipcache_hash".to_owned(), "ipcache-hosts".to_owned()));
        }
        bindings
    }

    pub fn bundle(&self) -> Bundle {
        self.bundle_with(|_| {})
    }

    /// The bundle, after `change` had a go at the builder's parts. The maps are those the
    /// object's lookup modes read (as `polc compile` writes them).
    pub fn bundle_with(&self, change: impl FnOnce(&mut Parts)) -> Bundle {
        let policy = if self.config.policy_map_hash {
            MapImage::policy_hash("policy/default/web", &self.policy())
        } else {
            MapImage::policy("policy/default/web", &self.policy())
        };
        let mut extra_maps = Vec::new();
        if self.config.ipcache_host_hash {
            extra_maps.push(MapImage::ipcache_hosts("ipcache-hosts", &self.ipcache()));
        }
        let mut parts = Parts {
            policy,
            ipcache: MapImage::ipcache("ipcache", &self.ipcache()),
            object: ObjectImage::datapath("default/web", &self.config),
            bindings: self.bindings(),
            extra_maps,
        };
        change(&mut parts);
        let mut builder = BundleBuilder::new("polc test", Digest::of(b"agent tests"));
        builder.add_map(NODE, parts.policy).expect("policy map");
        builder.add_map(NODE, parts.ipcache).expect("ipcache map");
        for map in parts.extra_maps {
            builder.add_map(NODE, map).expect("extra map");
        }
        builder.add_object(NODE, parts.object).expect("object");
        let bindings: Vec<(&str, &str)> = parts.bindings.iter().map(|(outer, map)| (outer.as_str(), map.as_str())).collect();
        builder.add_endpoint(NODE, ENDPOINT, 3000, &[self.endpoint_address], "default/web", &bindings).expect("endpoint");
        builder.finish().expect("bundle builds")
    }
}

/// What goes into a test bundle.
pub struct Parts {
    pub policy: MapImage,
    pub ipcache: MapImage,
    pub object: ObjectImage,
    pub bindings: Vec<(String, String)>,
    pub extra_maps: Vec<MapImage>,
}

/// Directories of one test: a bpffs mount point, a state directory, a socket, bundles.
/// Drop unmounts the bpffs (which detaches every pinned link) and removes everything.
pub struct TestNode {
    pub root: tempfile::TempDir,
    pub bpffs: PathBuf,
    pub state: PathBuf,
    pub socket: PathBuf,
}

impl TestNode {
    pub fn new() -> TestNode {
        let root = tempfile::Builder::new().prefix("polc-agent-test-").tempdir().expect("temporary directory");
        TestNode { bpffs: root.path().join("bpffs"), state: root.path().join("state"), socket: root.path().join("agent.sock"), root }
    }

    pub fn config(&self) -> AgentConfig {
        let mut config = AgentConfig::new(&self.bpffs, &self.state, &self.socket);
        config.rescan_interval = Duration::from_millis(200);
        config.watch_interval = Duration::from_millis(100);
        config
    }

    /// Writes `bundle` under `name` in the test directory and returns its path.
    pub fn write(&self, name: &str, bundle: &Bundle) -> PathBuf {
        let path = self.root.path().join("bundles").join(name);
        write_bundle(bundle, &path).expect("bundle written");
        path
    }

    pub fn status(&self) -> Status {
        client::status(&self.socket, Some(Duration::from_secs(30))).expect("status")
    }

    pub fn apply(&self, bundle: &Path) -> Result<polc_agent::protocol::ApplyReport, client::ClientError> {
        client::apply(&self.socket, bundle, Some(Duration::from_secs(120)))
    }

    /// The pinned generation selector.
    pub fn selector(&self) -> Option<u32> {
        let path = self.bpffs.join("polc_generation");
        let data = MapData::from_pin(&path).ok()?;
        let map = Map::from_map_data(data).ok()?;
        let array: aya::maps::Array<MapData, u32> = aya::maps::Array::try_from(map).ok()?;
        array.get(&0, 0).ok()
    }

    /// The endpoint's instance directory names on the bpffs.
    pub fn instances(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.bpffs.join("endpoints").join(ENDPOINT_KEY))
            .map(|entries| entries.flatten().map(|entry| entry.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        names.sort();
        names
    }

    /// The kernel id of the inner map in `slot` of the instance's outer map `outer`.
    pub fn inner_map_id(&self, instance: &str, outer: &str, slot: u32) -> Option<u32> {
        let path = self.bpffs.join("endpoints").join(ENDPOINT_KEY).join(instance).join(outer);
        let data = MapData::from_pin(&path).ok()?;
        let map = Map::from_map_data(data).ok()?;
        let outer: ArrayOfMaps<MapData, MapData> = ArrayOfMaps::try_from(map).ok()?;
        let inner = outer.get(&slot, 0).ok()?;
        inner.info().ok().map(|info| info.id())
    }

    /// The kernel ids of the endpoint's pinned tcx links (ingress program, egress program);
    /// `None` where no link is pinned. A link that keeps its id was never detached.
    pub fn link_ids(&self, endpoint_key: &str) -> [Option<u32>; 2] {
        ["polc_ingress", "polc_egress"].map(|program| {
            let pinned = PinnedLink::from_pin(self.bpffs.join("links").join(endpoint_key).join(program)).ok()?;
            FdLink::from(pinned).info().ok().map(|info| info.id())
        })
    }

    /// The max entries of the inner map in `slot` of the instance's outer map `outer`
    /// (1 for the agent's placeholders), or `None` for an empty slot.
    pub fn slot_max_entries(&self, instance: &str, outer: &str, slot: u32) -> Option<u32> {
        let path = self.bpffs.join("endpoints").join(ENDPOINT_KEY).join(instance).join(outer);
        let data = MapData::from_pin(&path).ok()?;
        let map = Map::from_map_data(data).ok()?;
        let outer: ArrayOfMaps<MapData, MapData> = ArrayOfMaps::try_from(map).ok()?;
        let inner = outer.get(&slot, 0).ok()?;
        inner.info().ok().map(|info| info.max_entries())
    }

    /// Runs a UDP frame from `source` to `destination:port` through the live instance's
    /// ingress program (BPF_PROG_TEST_RUN) and returns the tc verdict.
    pub fn ingress_verdict(&self, instance: &str, source: IpAddr, destination: IpAddr, port: u16) -> u32 {
        let path = self.bpffs.join("endpoints").join(ENDPOINT_KEY).join(instance).join("polc_ingress");
        let program = SchedClassifier::from_pin(&path).expect("pinned ingress program");
        let frame = build_frame(&PacketSpec::udp(source, destination, port)).expect("frame");
        let context_in = [0u8; 256];
        let mut context_out = [0u8; 256];
        let result = program
            .test_run(TestRunOptions {
                data_in: Some(&frame),
                ctx_in: Some(&context_in),
                ctx_out: Some(&mut context_out),
                repeat: 1,
                ..TestRunOptions::default()
            })
            .expect("test run");
        result.return_value
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        if polc_ebpf::kernel::running_as_root() {
            let _ = rustix::mount::unmount(&self.bpffs, rustix::mount::UnmountFlags::DETACH);
        }
    }
}

/// Waits until the agent answers on `socket`.
pub fn wait_for_agent(socket: &Path) -> Status {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match client::status(socket, Some(Duration::from_secs(5))) {
            Ok(status) => return status,
            Err(error) if Instant::now() > deadline => panic!("the agent did not answer on `{}`: {error}", socket.display()),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// An agent running in this process (on a thread that joined `namespace`, if given).
pub struct InProcessAgent {
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), String>>>,
}

impl InProcessAgent {
    pub fn start(config: AgentConfig, namespace: Option<&str>) -> InProcessAgent {
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        let socket = config.socket.clone();
        let namespace = namespace.map(str::to_owned);
        let thread = std::thread::spawn(move || {
            if let Some(namespace) = namespace {
                enter_namespace(&namespace);
            }
            polc_agent::run_until(config, async move {
                let _ = stopped.await;
            })
            .map_err(|error| polc_agent::describe_error(&error))
        });
        let agent = InProcessAgent { shutdown: Some(shutdown), thread: Some(thread) };
        wait_for_agent(&socket);
        agent
    }

    /// Stops the agent and returns how it ended.
    pub fn stop(mut self) -> Result<(), String> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<(), String> {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        match self.thread.take() {
            Some(thread) => thread.join().unwrap_or_else(|_| Err("the agent thread panicked".to_owned())),
            None => Ok(()),
        }
    }
}

impl Drop for InProcessAgent {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}

/// The `polc-agent` binary running as a child process (started from a thread in
/// `namespace`, so the child is in that network namespace and in this mount namespace).
pub struct ChildAgent {
    child: Option<Child>,
}

impl ChildAgent {
    pub fn start(node: &TestNode, namespace: Option<&str>, extra: &[&str]) -> ChildAgent {
        ChildAgent::start_with_environment(node, namespace, extra, &[])
    }

    /// Starts the agent with extra environment variables (such as `POLC_AGENT_FAULT`).
    pub fn start_with_environment(node: &TestNode, namespace: Option<&str>, extra: &[&str], environment: &[(&str, &str)]) -> ChildAgent {
        let mut command = Command::new(env!("CARGO_BIN_EXE_polc-agent"));
        command.envs(environment.iter().copied());
        command.arg("--bpffs").arg(&node.bpffs).arg("--state").arg(&node.state).arg("--socket").arg(&node.socket).arg("--rescan-ms").arg("200").args(extra);
        let namespace = namespace.map(str::to_owned);
        let child = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    if let Some(namespace) = &namespace {
                        enter_namespace(namespace);
                    }
                    command.spawn().expect("polc-agent starts")
                })
                .join()
                .expect("spawning thread")
        });
        wait_for_agent(&node.socket);
        ChildAgent { child: Some(child) }
    }

    /// Waits for the agent to die and asserts that SIGKILL ended it (not an exit).
    pub fn expect_killed(mut self) {
        use std::os::unix::process::ExitStatusExt;
        let mut child = self.child.take().expect("a running agent");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match child.try_wait().expect("wait for the agent") {
                Some(status) => {
                    assert_eq!(status.signal(), Some(9), "the agent ended with {status:?}, not by SIGKILL");
                    return;
                }
                None if Instant::now() > deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("the agent did not kill itself");
                }
                None => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    /// SIGKILL: the agent gets no chance to clean anything up.
    pub fn kill(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for ChildAgent {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Moves the calling thread into network namespace `namespace`.
pub fn enter_namespace(namespace: &str) {
    let handle = File::open(format!("/var/run/netns/{namespace}")).expect("namespace handle");
    rustix::thread::move_into_link_name_space(handle.as_fd(), Some(rustix::thread::LinkNameSpaceType::Network)).expect("setns");
}

/// Runs `work` on a fresh thread inside network namespace `namespace`.
pub fn in_namespace<T: Send>(namespace: &str, work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                enter_namespace(namespace);
                work()
            })
            .join()
            .expect("namespace thread")
    })
}

/// Runs `ip` with `arguments` and asserts that it worked.
pub fn ip(arguments: &[&str]) {
    let output = Command::new("ip").args(arguments).output().expect("`ip` runs (iproute2 is installed)");
    assert!(output.status.success(), "`ip {}` failed: {}", arguments.join(" "), String::from_utf8_lossy(&output.stderr));
}

/// Two network namespaces joined by a veth pair: `node` (the agent's; interface `lxcweb`,
/// 10.201.0.1, with a host route to the pod) and `pod` (interface `eth0`, 10.201.0.2).
/// Deleted on drop.
pub struct NodeAndPod {
    pub node: String,
    pub pod: String,
}

pub const NODE_ADDRESS: [u8; 4] = [10, 201, 0, 1];
pub const POD_ADDRESS: [u8; 4] = [10, 201, 0, 2];
pub const HOST_INTERFACE: &str = "lxcweb";

impl NodeAndPod {
    /// The pod as a traffic target on `ports`, for an endpoint with identity 3000.
    pub fn target(&self, ports: &[u16]) -> traffic::Target {
        traffic::Target { namespace: self.pod.clone(), address: v4(10, 201, 0, 2), ports: ports.to_vec(), endpoint_identity: 3000 }
    }

    pub fn create() -> NodeAndPod {
        let pair = NodeAndPod::namespaces();
        pair.connect();
        pair
    }

    /// The two namespaces, not joined yet.
    pub fn namespaces() -> NodeAndPod {
        let prefix = unique("polcag-");
        let pair = NodeAndPod { node: format!("{prefix}-node"), pod: format!("{prefix}-pod") };
        ip(&["netns", "add", &pair.node]);
        ip(&["netns", "add", &pair.pod]);
        ip(&["-n", &pair.node, "link", "set", "lo", "up"]);
        ip(&["-n", &pair.pod, "link", "set", "lo", "up"]);
        pair
    }

    /// Removes the veth pair (and with it the host route).
    pub fn disconnect(&self) {
        ip(&["-n", &self.node, "link", "del", HOST_INTERFACE]);
    }

    /// Joins the namespaces with the veth pair, addresses and the host route.
    pub fn connect(&self) {
        let pair = self;
        ip(&["link", "add", HOST_INTERFACE, "netns", &pair.node, "type", "veth", "peer", "name", "eth0", "netns", &pair.pod]);
        ip(&["-n", &pair.node, "addr", "add", "10.201.0.1/24", "dev", HOST_INTERFACE]);
        ip(&["-n", &pair.pod, "addr", "add", "10.201.0.2/24", "dev", "eth0"]);
        ip(&["-n", &pair.node, "link", "set", HOST_INTERFACE, "up"]);
        ip(&["-n", &pair.pod, "link", "set", "eth0", "up"]);
        // The host route a CNI plugin installs towards the pod's host-side veth.
        ip(&["-n", &pair.node, "route", "add", "10.201.0.2/32", "dev", HOST_INTERFACE]);
    }
}

impl Drop for NodeAndPod {
    fn drop(&mut self) {
        for namespace in [&self.node, &self.pod] {
            let _ = Command::new("ip").args(["netns", "del", namespace]).output();
        }
    }
}

/// A datapath object whose `polc_ingress` program starts with `exit` before `r0` is set:
/// the verifier rejects it.
pub fn object_the_verifier_rejects() -> Vec<u8> {
    use object::{Object, ObjectSection, ObjectSymbol};
    let mut bytes = polc_ebpf::object::POLICY_OBJECT.to_vec();
    let file = object::File::parse(polc_ebpf::object::POLICY_OBJECT).expect("the committed object parses");
    let symbol = file.symbols().find(|symbol| symbol.name() == Ok("polc_ingress")).expect("polc_ingress symbol");
    let section = file.section_by_index(symbol.section_index().expect("symbol section")).expect("section");
    let (section_offset, _) = section.file_range().expect("section bytes");
    let offset = (section_offset + symbol.address()) as usize;
    // BPF_JMP | BPF_EXIT, no registers, no offset, no immediate.
    bytes[offset..offset + 8].copy_from_slice(&[0x95, 0, 0, 0, 0, 0, 0, 0]);
    bytes
}
