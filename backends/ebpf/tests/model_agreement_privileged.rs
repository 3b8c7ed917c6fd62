//! The userspace model agrees with the kernel, field for field, on thousands of random
//! map images and packets (proptest; every case installs a new generation).

mod common;

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use common::strategies;
use polc_ebpf::kernel::{Datapath, TC_ACT_OK, TC_ACT_SHOT};
use polc_ebpf::packet::build_frame;
use polc_ebpf::{DatapathConfig, DatapathModel, IpcacheEntry, IpcacheImage, PolicyMapImage, Reason};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

const CONFIGS: usize = 8;
const CASES: u32 = 160;
const PACKETS_PER_CASE: usize = 40;

/// Loads one datapath per configuration: the default test-run configuration (the HASH lookup
/// modes) and the same in the LPM modes, and a few random ones from a fixed seed (loading
/// verifies the programs, so it is not done per case).
fn load_datapaths() -> Vec<Datapath> {
    let default = DatapathConfig { endpoint_identity: 3000, ..DatapathConfig::for_test_run() };
    let mut configs = vec![default, DatapathConfig { policy_map_hash: false, ipcache_host_hash: false, ..default }];
    let mut seeded = TestRunner::new_with_rng(Config::default(), TestRng::deterministic_rng(RngAlgorithm::ChaCha));
    while configs.len() < CONFIGS {
        let config = strategies::config().new_tree(&mut seeded).expect("config generates").current();
        configs.push(config);
    }
    configs.iter().map(|config| Datapath::load(config).expect("datapath loads")).collect()
}

fn unique_ipcache(entries: &[IpcacheEntry]) -> Vec<IpcacheEntry> {
    let mut by_prefix = BTreeMap::new();
    for entry in entries {
        by_prefix.entry(entry.prefix).or_insert(entry.identity);
    }
    by_prefix.into_iter().map(|(prefix, identity)| IpcacheEntry { prefix, identity }).collect()
}

#[test]
fn model_agrees_with_kernel_on_random_images_and_packets_privileged() {
    if !common::privileged("model_agrees_with_kernel_on_random_images_and_packets_privileged") {
        return;
    }
    let datapaths = RefCell::new(load_datapaths());
    let packets_checked = RefCell::new(0usize);
    let entries_installed = RefCell::new(0usize);
    let reasons_seen = RefCell::new(BTreeSet::new());

    let strategy = (
        0..CONFIGS,
        prop::collection::vec(strategies::policy_entry(true), 0..80),
        prop::collection::vec(strategies::ipcache_entry(), 0..12),
        prop::collection::vec(strategies::packet(), PACKETS_PER_CASE),
    );
    let mut runner = TestRunner::new(Config { cases: CASES, failure_persistence: None, ..Config::default() });
    let result = runner.run(&strategy, |(config_index, entries, ipcache_entries, packets)| {
        let policy = PolicyMapImage::build(&entries).map_err(|error| TestCaseError::fail(error.to_string()))?;
        let ipcache = IpcacheImage::build(&unique_ipcache(&ipcache_entries), 0).map_err(|error| TestCaseError::fail(error.to_string()))?;
        let mut datapaths = datapaths.borrow_mut();
        let datapath = &mut datapaths[config_index];
        datapath.install(&policy, &ipcache).map_err(|error| TestCaseError::fail(error.to_string()))?;
        *entries_installed.borrow_mut() += policy.len();
        let model = DatapathModel::new(*datapath.config(), &policy, &ipcache);
        for (direction, spec) in &packets {
            let frame = build_frame(spec).map_err(|error| TestCaseError::fail(error.to_string()))?;
            let kernel = datapath.test_run(*direction, &frame).map_err(|error| TestCaseError::fail(error.to_string()))?;
            let expected = model.evaluate(*direction, &frame);
            prop_assert_eq!(kernel.verdict, Some(expected), "{:?} {:?}", direction, spec);
            prop_assert_eq!(kernel.return_code, if expected.allowed() { TC_ACT_OK } else { TC_ACT_SHOT });
            prop_assert_eq!(kernel.slot, datapath.active_slot());
            reasons_seen.borrow_mut().insert(expected.reason);
            *packets_checked.borrow_mut() += 1;
        }
        Ok(())
    });
    if let Err(error) = result {
        panic!("kernel and model disagree: {error}");
    }
    let packets = *packets_checked.borrow();
    let reasons = reasons_seen.borrow();
    eprintln!(
        "checked {packets} packets over {CASES} generations with {} policy entries in total; reasons seen: {:?}",
        entries_installed.borrow(),
        reasons.iter().map(|reason| reason.name()).collect::<Vec<_>>()
    );
    assert_eq!(packets, CASES as usize * PACKETS_PER_CASE);
    for reason in [Reason::AllowL3, Reason::AllowL4Only, Reason::AllowRedirect, Reason::DropPolicy, Reason::DropPolicyDeny] {
        assert!(reasons.contains(&reason), "the random packets never produced `{}`", reason.name());
    }
}
