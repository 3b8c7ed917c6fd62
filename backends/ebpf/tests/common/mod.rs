//! Helpers shared by the integration tests: the root check and address shorthands.

#![allow(dead_code)]

pub mod strategies;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether privileged tests can run; prints why not when they cannot.
pub fn privileged(test: &str) -> bool {
    if polc_ebpf::kernel::running_as_root() {
        true
    } else {
        eprintln!("skipping {test}: it loads BPF programs and needs root (effective uid 0)");
        false
    }
}

pub fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

pub fn v6(segments: [u16; 8]) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(segments[0], segments[1], segments[2], segments[3], segments[4], segments[5], segments[6], segments[7]))
}

use polc_ebpf::kernel::{Datapath, TC_ACT_OK, TC_ACT_SHOT};
use polc_ebpf::packet::{PacketSpec, build_frame};
use polc_ebpf::{DatapathConfig, DatapathModel, Direction, IpcacheImage, PolicyMapImage, Reason, Verdict};

/// A loaded datapath with one installed generation, and the model of the same generation.
pub struct Harness {
    pub datapath: Datapath,
    pub model: DatapathModel,
}

impl Harness {
    pub fn new(config: DatapathConfig, policy: &PolicyMapImage, ipcache: &IpcacheImage) -> Harness {
        let datapath = Datapath::load(&config).expect("datapath loads");
        datapath.install(policy, ipcache).expect("generation installs");
        Harness { datapath, model: DatapathModel::new(config, policy, ipcache) }
    }

    /// Installs a new generation and updates the model.
    pub fn install(&mut self, policy: &PolicyMapImage, ipcache: &IpcacheImage) {
        self.datapath.install(policy, ipcache).expect("generation installs");
        self.model = DatapathModel::new(*self.datapath.config(), policy, ipcache);
    }

    /// Runs `frame` in the kernel, checks the kernel and the model agree on every field and
    /// that the tc return code matches the verdict, and returns the verdict.
    pub fn run_frame(&self, direction: Direction, frame: &[u8]) -> Verdict {
        let kernel = self.datapath.test_run(direction, frame).expect("test run");
        let verdict = kernel.verdict.expect("the datapath records verdicts");
        let modelled = self.model.evaluate(direction, frame);
        assert_eq!(verdict, modelled, "kernel and model disagree on {direction:?} frame {frame:02x?}");
        let expected_code = if verdict.allowed() { TC_ACT_OK } else { TC_ACT_SHOT };
        assert_eq!(kernel.return_code, expected_code, "return code of {verdict:?}");
        assert_eq!(kernel.mark, verdict.mark);
        verdict
    }

    pub fn run(&self, direction: Direction, spec: &PacketSpec) -> Verdict {
        self.run_frame(direction, &build_frame(spec).expect("frame builds"))
    }

    /// Asserts the reason of `spec` in `direction`.
    pub fn expect(&self, direction: Direction, spec: &PacketSpec, reason: Reason) -> Verdict {
        let verdict = self.run(direction, spec);
        assert_eq!(verdict.reason, reason, "{direction:?} {spec:?} gave {verdict:?}");
        verdict
    }
}

/// The same images loaded once per lookup mode (LPM tries; HASH probes for the policy and
/// the ipcache's host entries); every run goes through all of them, which must agree with
/// each other and with the model.
pub struct Harnesses(pub Vec<Harness>);

impl Harnesses {
    pub fn new(config: DatapathConfig, policy: &PolicyMapImage, ipcache: &IpcacheImage) -> Harnesses {
        Harnesses(
            [false, true]
                .into_iter()
                .map(|hash| Harness::new(DatapathConfig { policy_map_hash: hash, ipcache_host_hash: hash, ..config }, policy, ipcache))
                .collect(),
        )
    }

    pub fn run_frame(&self, direction: Direction, frame: &[u8]) -> Verdict {
        let verdicts: Vec<Verdict> = self.0.iter().map(|harness| harness.run_frame(direction, frame)).collect();
        verdicts[0]
    }

    pub fn run(&self, direction: Direction, spec: &PacketSpec) -> Verdict {
        self.run_frame(direction, &build_frame(spec).expect("frame builds"))
    }

    pub fn expect(&self, direction: Direction, spec: &PacketSpec, reason: Reason) -> Verdict {
        let verdict = self.run(direction, spec);
        assert_eq!(verdict.reason, reason, "{direction:?} {spec:?} gave {verdict:?}");
        verdict
    }

    pub fn install(&mut self, policy: &PolicyMapImage, ipcache: &IpcacheImage) {
        for harness in &mut self.0 {
            harness.install(policy, ipcache);
        }
    }
}
