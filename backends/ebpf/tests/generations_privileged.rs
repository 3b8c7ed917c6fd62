//! Generation switches: a new generation changes verdicts, slots alternate, and a packet
//! never sees the policy of one generation with the ipcache of another, even while
//! generations flip under a stream of packets.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};

use common::{Harnesses, privileged, v4};
use polc_ebpf::kernel::Datapath;
use polc_ebpf::packet::{PacketSpec, build_frame};
use polc_ebpf::{DatapathConfig, Direction, IpPrefix, IpcacheEntry, IpcacheImage, PolicyEntry, PolicyMapImage, Reason};

const TCP: u8 = 6;

fn ipcache(identity: u32) -> IpcacheImage {
    IpcacheImage::build(&[IpcacheEntry { prefix: IpPrefix::host(v4(10, 9, 0, 1)), identity }], 0).expect("ipcache builds")
}

#[test]
fn generation_switch_changes_verdicts_privileged() {
    if !privileged("generation_switch_changes_verdicts_privileged") {
        return;
    }
    let first = PolicyMapImage::build(&[PolicyEntry::allow(100, Direction::Ingress, TCP, 80, 16)]).expect("policy");
    let second = PolicyMapImage::build(&[PolicyEntry::deny(100, Direction::Ingress, TCP, 80, 16), PolicyEntry::allow(100, Direction::Ingress, TCP, 443, 16)])
        .expect("policy");
    let web = PacketSpec::tcp(v4(10, 9, 0, 1), v4(10, 9, 0, 2), 80);
    let secure = PacketSpec::tcp(v4(10, 9, 0, 1), v4(10, 9, 0, 2), 443);

    let mut harness = Harnesses::new(DatapathConfig::for_test_run(), &first, &ipcache(100));
    assert_eq!(harness.0[1].datapath.active_slot(), Some(0));
    harness.expect(Direction::Ingress, &web, Reason::AllowL3);
    harness.expect(Direction::Ingress, &secure, Reason::DropPolicy);

    harness.install(&second, &ipcache(100));
    assert_eq!(harness.0[1].datapath.active_slot(), Some(1));
    harness.expect(Direction::Ingress, &web, Reason::DropPolicyDeny);
    harness.expect(Direction::Ingress, &secure, Reason::AllowL3);

    // A new ipcache alone changes the identity, and with it the verdict.
    harness.install(&second, &ipcache(101));
    assert_eq!(harness.0[1].datapath.active_slot(), Some(0));
    let verdict = harness.expect(Direction::Ingress, &secure, Reason::DropPolicy);
    assert_eq!(verdict.remote_identity, 101);

    harness.install(&first, &ipcache(100));
    assert_eq!(harness.0[1].datapath.active_slot(), Some(1));
    assert_eq!(harness.0[1].datapath.generation(), 4);
    harness.expect(Direction::Ingress, &web, Reason::AllowL3);
    let kernel = harness.0[1].datapath.test_run(Direction::Ingress, &build_frame(&web).expect("frame")).expect("test run");
    assert_eq!(kernel.slot, Some(1));
}

#[test]
fn switches_under_load_are_never_torn_privileged() {
    if !privileged("switches_under_load_are_never_torn_privileged") {
        return;
    }
    // Generation k: the peer has identity 100 + k and only 100 + k is allowed. A packet that
    // mixed the ipcache of one generation with the policy of another would be dropped, so
    // every packet must be allowed, with an identity installed in the slot it reports.
    const SWITCHES: u32 = 16;
    let generations: Vec<(PolicyMapImage, IpcacheImage)> = (0..=SWITCHES)
        .map(|k| {
            let policy = PolicyMapImage::build(&[PolicyEntry::allow(100 + k, Direction::Ingress, TCP, 80, 16)]).expect("policy");
            (policy, ipcache(100 + k))
        })
        .collect();
    let datapath = Datapath::load(&DatapathConfig::for_test_run()).expect("datapath loads");
    datapath.install(&generations[0].0, &generations[0].1).expect("install");
    let frame = build_frame(&PacketSpec::tcp(v4(10, 9, 0, 1), v4(10, 9, 0, 2), 80)).expect("frame");
    let stop = AtomicBool::new(false);

    let (runs, per_slot, slot_changes, violations) = std::thread::scope(|scope| {
        let sender = scope.spawn(|| {
            let mut runs = 0u64;
            let mut per_slot = [0u64; 2];
            let mut slot_changes = 0u64;
            let mut last_slot = None;
            let mut violations = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let result = datapath.test_run(Direction::Ingress, &frame).expect("test run");
                runs += 1;
                let (Some(verdict), Some(slot)) = (result.verdict, result.slot) else {
                    violations.push(format!("no recorded verdict: {result:?}"));
                    continue;
                };
                // Generation k lives in slot k % 2.
                let generation = verdict.remote_identity.wrapping_sub(100);
                if !verdict.allowed() || generation > SWITCHES || generation % 2 != slot {
                    violations.push(format!("slot {slot}: {verdict:?}"));
                }
                per_slot[(slot as usize).min(1)] += 1;
                if last_slot.is_some_and(|last| last != slot) {
                    slot_changes += 1;
                }
                last_slot = Some(slot);
            }
            (runs, per_slot, slot_changes, violations)
        });
        for (k, (policy, ipcache)) in generations.iter().enumerate().skip(1) {
            let done = datapath.install(policy, ipcache).expect("install");
            assert_eq!(done.slot as usize, k % 2);
        }
        stop.store(true, Ordering::Relaxed);
        sender.join().expect("sender thread")
    });
    eprintln!("{runs} packets, {per_slot:?} per slot, {slot_changes} slot changes seen, {} violations", violations.len());
    assert!(violations.is_empty(), "torn or wrong verdicts: {:?}", &violations[..violations.len().min(5)]);
    assert!(per_slot[0] > 0 && per_slot[1] > 0, "both generations were used: {per_slot:?}");
    assert!(slot_changes >= u64::from(SWITCHES / 2), "the sender saw {slot_changes} of {SWITCHES} switches");
}
