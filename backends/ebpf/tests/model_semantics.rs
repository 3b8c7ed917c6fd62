//! The map images plus the datapath's lookup (the model) implement the policy semantics:
//! at one priority, a matching deny beats every allow whatever the L3/L4 specificity, any
//! matching allow allows, and otherwise the direction's default decides. A naive evaluator
//! over the raw entries states that directly; the model over the built image must agree.

mod common;

use common::strategies;
use polc_ebpf::packet::{build_frame, parse_frame};
use polc_ebpf::{DatapathConfig, DatapathModel, Direction, IpcacheEntry, IpcacheImage, PolicyEntry, PolicyMapImage, Reason};
use proptest::prelude::*;
use std::collections::BTreeMap;

#[derive(Debug, PartialEq, Eq)]
enum Naive {
    Deny,
    Allow,
    NoMatch,
}

fn entry_matches(entry: &PolicyEntry, remote: u32, direction: Direction, protocol: u8, port: u16) -> bool {
    let port_matches = entry.port_prefix_len == 0 || {
        let shift = 16 - u32::from(entry.port_prefix_len);
        (port >> shift) == (entry.port >> shift)
    };
    entry.direction == direction && (entry.identity == 0 || entry.identity == remote) && (entry.protocol == 0 || entry.protocol == protocol) && port_matches
}

fn naive(entries: &[PolicyEntry], config: &DatapathConfig, remote: u32, direction: Direction, protocol: u8, port: u16) -> Naive {
    let matching: Vec<_> = entries.iter().filter(|entry| entry_matches(entry, remote, direction, protocol, port)).collect();
    if matching.iter().any(|entry| entry.deny) {
        return Naive::Deny;
    }
    let localhost = direction == Direction::Ingress
        && config.allow_localhost
        && config.default_deny_ingress
        && remote == config.host_identity
        && config.endpoint_identity != config.host_identity;
    if !matching.is_empty() || localhost { Naive::Allow } else { Naive::NoMatch }
}

fn priority_zero_entry() -> impl Strategy<Value = PolicyEntry> {
    strategies::policy_entry(false).prop_map(|entry| {
        if entry.deny {
            PolicyEntry::deny(entry.identity, entry.direction, entry.protocol, entry.port, entry.port_prefix_len)
        } else if entry.proxy_port != 0 {
            PolicyEntry::redirect(entry.identity, entry.direction, entry.protocol, entry.port, entry.port_prefix_len, entry.proxy_port)
        } else {
            PolicyEntry::allow(entry.identity, entry.direction, entry.protocol, entry.port, entry.port_prefix_len)
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 800, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn deny_beats_allow_at_one_priority(
        entries in prop::collection::vec(priority_zero_entry(), 0..60),
        ipcache_entries in prop::collection::vec(strategies::ipcache_entry(), 0..10),
        config in strategies::config().prop_map(|config| DatapathConfig { audit_mode: false, ..config }),
        packets in prop::collection::vec(strategies::packet(), 30),
    ) {
        let mut by_prefix = BTreeMap::new();
        for entry in &ipcache_entries {
            by_prefix.entry(entry.prefix).or_insert(entry.identity);
        }
        let unique: Vec<_> = by_prefix.into_iter().map(|(prefix, identity)| IpcacheEntry { prefix, identity }).collect();
        let model = DatapathModel::new(config, &PolicyMapImage::build(&entries).unwrap(), &IpcacheImage::build(&unique, 0).unwrap());
        for (direction, spec) in &packets {
            let frame = build_frame(spec).unwrap();
            let verdict = model.evaluate(*direction, &frame);
            if matches!(verdict.reason, Reason::AllowIcmpControl | Reason::DropInvalid | Reason::AllowNonIp | Reason::DropUnknownL3) {
                continue;
            }
            let parsed = parse_frame(&frame, &config).packet;
            let remote = model.remote_identity(&parsed, *direction);
            let expected = naive(&entries, &config, remote, *direction, parsed.protocol, parsed.policy_port);
            match expected {
                Naive::Deny => prop_assert_eq!(verdict.reason, Reason::DropPolicyDeny, "{:?} {:?}", direction, spec),
                Naive::Allow => prop_assert!(
                    matches!(verdict.reason, Reason::AllowL3 | Reason::AllowL4Only | Reason::AllowRedirect | Reason::AllowLocalhost),
                    "{:?} {:?} gave {:?}", direction, spec, verdict
                ),
                Naive::NoMatch => prop_assert!(
                    matches!(verdict.reason, Reason::AllowDefault | Reason::DropPolicy | Reason::DropFragmentNotSupported),
                    "{:?} {:?} gave {:?}", direction, spec, verdict
                ),
            }
        }
    }
}
