//! The verifier accepts the programs under every combination of the constants that change
//! their shape most (lookup modes, conntrack, events, verdict recording). The verifier's
//! state budget is shared by all of them, so a change that fits alone can fail combined
//! (verdict events with the HASH probes once went over the 1,000,000-instruction limit).

mod common;

use common::privileged;
use polc_ebpf::DatapathConfig;
use polc_ebpf::kernel::Datapath;

#[test]
fn every_combination_of_shape_switches_loads_privileged() {
    if !privileged("every_combination_of_shape_switches_loads_privileged") {
        return;
    }
    const SWITCHES: u32 = 6;
    let mut refused = Vec::new();
    for bits in 0..(1u32 << SWITCHES) {
        let on = |index: u32| bits & (1 << index) != 0;
        let config = DatapathConfig {
            policy_map_hash: on(0),
            ipcache_host_hash: on(1),
            emit_verdict_events: on(2),
            emit_drop_events: on(3),
            enable_conntrack: on(4),
            record_verdict: on(5),
            ..DatapathConfig::default()
        };
        if let Err(error) = Datapath::load(&config) {
            refused.push(format!("{config:?}: {error}"));
        }
    }
    assert!(refused.is_empty(), "{} of {} configurations refused:\n{}", refused.len(), 1 << SWITCHES, refused.join("\n"));
}
