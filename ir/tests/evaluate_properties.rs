//! Properties of the reference evaluator on generated policies and flows:
//! adding an allow never turns an allowed flow into a denied one; a matching deny is never
//! overridden by an allow; with no policy everything is allowed; the order of entries does not
//! change the verdict.

mod common;

use common::*;
use polc_ir::*;
use proptest::prelude::*;

const ENDPOINT_IDS: [EndpointId; 5] = [FRONTEND, BACKEND, DB, HOST_A, HOST_B];

fn identity_strategy() -> impl Strategy<Value = NumericIdentity> {
    prop::sample::select(vec![FRONTEND_ID, BACKEND_ID, DB_ID, CIDR_ID, NumericIdentity::WORLD, NumericIdentity::HOST, NumericIdentity::REMOTE_NODE])
}

fn peers_strategy() -> impl Strategy<Value = Peers> {
    prop_oneof![
        1 => Just(Peers::Any),
        4 => prop::collection::btree_set(identity_strategy(), 0..3).prop_map(Peers::Identities),
    ]
}

fn protocol_strategy() -> impl Strategy<Value = Protocol> {
    prop::sample::select(vec![Protocol::TCP, Protocol::UDP, Protocol::ICMP])
}

fn port_strategy() -> impl Strategy<Value = u16> {
    prop::sample::select(vec![53u16, 80, 443, 8080, 8081, 9000])
}

fn l4_strategy() -> impl Strategy<Value = L4Match> {
    prop_oneof![
        1 => Just(L4Match::Any),
        2 => (protocol_strategy(), port_strategy()).prop_map(|(protocol, port)| L4Match::protocol(protocol, PortRange::single(port))),
        1 => (protocol_strategy(), port_strategy(), 0u16..2000).prop_map(|(protocol, port, width)| L4Match::protocol(protocol, PortRange::new(port, port.saturating_add(width)))),
        1 => protocol_strategy().prop_map(|protocol| L4Match::protocol(protocol, PortRange::ALL)),
    ]
}

fn l7_strategy() -> impl Strategy<Value = Option<L7Rules>> {
    prop_oneof![
        3 => Just(None),
        1 => prop::sample::select(vec!["GET", "POST", "GET|HEAD"]).prop_map(|method| Some(L7Rules::Http(vec![HttpRule { method: Some(method.to_owned()), ..HttpRule::default() }]))),
        1 => prop::sample::select(vec!["*.example.com", "example.org"]).prop_map(|pattern| Some(L7Rules::Dns(vec![DnsRule::MatchPattern(pattern.to_owned())]))),
    ]
}

fn auth_strategy() -> impl Strategy<Value = Option<AuthMode>> {
    prop::sample::select(vec![None, None, Some(AuthMode::Disabled), Some(AuthMode::Required), Some(AuthMode::TestAlwaysFail)])
}

fn entry_strategy() -> impl Strategy<Value = PolicyEntry> {
    (any::<bool>(), peers_strategy(), l4_strategy(), l7_strategy(), auth_strategy(), 0usize..4).prop_map(|(deny, peers, l4, l7, auth, rule)| {
        let verdict = if deny { RuleVerdict::Deny } else { RuleVerdict::Allow };
        PolicyEntry {
            verdict,
            peers,
            l4,
            l7: if deny { None } else { l7 },
            auth: if deny { None } else { auth },
            pending_fqdns: Vec::new(),
            origin: origin(&format!("policy-{rule}"), &format!("spec.ingress[{rule}]")),
        }
    })
}

fn direction_strategy() -> impl Strategy<Value = DirectionPolicy> {
    (any::<bool>(), any::<bool>(), prop::collection::vec(entry_strategy(), 0..6)).prop_map(|(enforced, default_deny, entries)| DirectionPolicy {
        enforced,
        default_deny,
        selected_by: entries.iter().map(|entry| entry.origin.clone()).collect(),
        entries,
    })
}

fn ir_strategy() -> impl Strategy<Value = PolicyIr> {
    prop::collection::vec((direction_strategy(), direction_strategy()), ENDPOINT_IDS.len()).prop_map(|policies| {
        let mut endpoints = endpoints();
        for (endpoint, (ingress, egress)) in endpoints.iter_mut().zip(policies) {
            endpoint.ingress = ingress;
            endpoint.egress = egress;
        }
        ir_with(endpoints)
    })
}

fn end_strategy() -> impl Strategy<Value = FlowEnd> {
    prop_oneof![
        3 => prop::sample::select(ENDPOINT_IDS.to_vec()).prop_map(FlowEnd::Endpoint),
        1 => prop::sample::select(vec!["203.0.113.9", "198.51.100.1", "10.0.2.20", "192.168.0.2"]).prop_map(|address| FlowEnd::Address(ip(address))),
    ]
}

fn request_strategy() -> impl Strategy<Value = Option<L7Request>> {
    prop_oneof![
        2 => Just(None),
        1 => prop::sample::select(vec!["GET", "POST", "HEAD"]).prop_map(|method| Some(L7Request::Http(HttpRequest { method: method.to_owned(), ..HttpRequest::default() }))),
        1 => prop::sample::select(vec!["api.example.com", "example.org", "evil.test"]).prop_map(|name| Some(L7Request::Dns(DnsQuery { name: name.to_owned() }))),
    ]
}

fn flow_strategy() -> impl Strategy<Value = Flow> {
    (end_strategy(), end_strategy(), protocol_strategy(), port_strategy(), request_strategy()).prop_map(|(source, destination, protocol, port, l7)| Flow {
        source,
        destination,
        protocol,
        port,
        l7,
    })
}

/// The endpoints whose policy a flow meets, with the direction.
fn policed(ir: &PolicyIr, flow: &Flow) -> Vec<(EndpointId, Direction)> {
    let resolve = |end: FlowEnd| match end {
        FlowEnd::Endpoint(id) => Some(id),
        FlowEnd::Address(address) => ir.endpoint_by_address(address).map(|endpoint| endpoint.id),
    };
    let mut out = Vec::new();
    if let Some(id) = resolve(flow.source) {
        out.push((id, Direction::Egress));
    }
    if let Some(id) = resolve(flow.destination) {
        out.push((id, Direction::Ingress));
    }
    out
}

fn with_entry(ir: &PolicyIr, endpoint: EndpointId, direction: Direction, entry: PolicyEntry) -> PolicyIr {
    let mut endpoints = ir.endpoints.clone();
    let target = endpoints.iter_mut().find(|candidate| candidate.id == endpoint).unwrap();
    target.policy_mut(direction).entries.push(entry);
    PolicyIr::new(ir.settings.clone(), ir.identities.clone(), ir.nodes.clone(), endpoints, ir.reserved_addresses.clone())
}

/// `ir` with every `test-always-fail` mode removed.
fn without_failing_auth(ir: PolicyIr) -> PolicyIr {
    let mut endpoints = ir.endpoints.clone();
    for endpoint in &mut endpoints {
        for direction in [Direction::Ingress, Direction::Egress] {
            for entry in &mut endpoint.policy_mut(direction).entries {
                if entry.auth == Some(AuthMode::TestAlwaysFail) {
                    entry.auth = None;
                }
            }
        }
    }
    PolicyIr::new(ir.settings.clone(), ir.identities.clone(), ir.nodes.clone(), endpoints, ir.reserved_addresses.clone())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    /// An L3/L4 allow (no L7) added anywhere never denies a flow that was allowed, when no rule
    /// uses `test-always-fail`. (An allow with L7 rules can restrict a direction that is not
    /// default-deny; and with `test-always-fail` on a broad rule, a narrower allow without a mode
    /// inherits it and can deny what a broader key of the other lookup allowed — see
    /// `a_narrower_allow_can_inherit_a_failing_mode` in evaluate_cases.rs. Both are Cilium's
    /// semantics.)
    #[test]
    fn adding_an_allow_never_turns_allow_into_deny(
        ir in ir_strategy().prop_map(without_failing_auth),
        flow in flow_strategy(),
        mut added in entry_strategy(),
        target in prop::sample::select(ENDPOINT_IDS.to_vec()),
        ingress in any::<bool>(),
    ) {
        added.verdict = RuleVerdict::Allow;
        added.l7 = None;
        if added.auth == Some(AuthMode::TestAlwaysFail) {
            added.auth = None;
        }
        let direction = if ingress { Direction::Ingress } else { Direction::Egress };
        let before = evaluate(&ir, &flow);
        let after = evaluate(&with_entry(&ir, target, direction, added), &flow);
        prop_assert!(!before.allowed || after.allowed, "before: {before:?}\nafter: {after:?}");
    }

    /// In a default-deny direction, even an allow with L7 rules never denies an allowed flow
    /// (without `test-always-fail`, as above).
    #[test]
    fn adding_an_l7_allow_to_a_default_deny_direction_never_denies(
        ir in ir_strategy().prop_map(without_failing_auth),
        flow in flow_strategy(),
        mut added in entry_strategy(),
        target in prop::sample::select(ENDPOINT_IDS.to_vec()),
        ingress in any::<bool>(),
    ) {
        added.verdict = RuleVerdict::Allow;
        if added.auth == Some(AuthMode::TestAlwaysFail) {
            added.auth = None;
        }
        let direction = if ingress { Direction::Ingress } else { Direction::Egress };
        let endpoint = ir.endpoint(target).unwrap();
        prop_assume!(!endpoint.policy(direction).enforced || endpoint.policy(direction).default_deny);
        let before = evaluate(&ir, &flow);
        let after = evaluate(&with_entry(&ir, target, direction, added), &flow);
        prop_assert!(!before.allowed || after.allowed, "before: {before:?}\nafter: {after:?}");
    }

    /// A flow denied by a deny entry stays denied whatever allows are added, even allows of
    /// every identity and every port on the same endpoint.
    #[test]
    fn a_deny_is_never_overridden_by_an_allow(
        ir in ir_strategy(),
        flow in flow_strategy(),
        added in prop::collection::vec(entry_strategy(), 1..4),
        targets in prop::collection::vec((prop::sample::select(ENDPOINT_IDS.to_vec()), any::<bool>()), 4),
    ) {
        let sides = policed(&ir, &flow);
        prop_assume!(!sides.is_empty());
        let self_flow = matches!(sides.as_slice(), [(a, _), (b, _)] if a == b && !ir.endpoint(*a).unwrap().is_host());
        prop_assume!(!self_flow);
        let (endpoint, direction) = sides[0];
        let deny = PolicyEntry {
            verdict: RuleVerdict::Deny,
            peers: Peers::Any,
            l4: L4Match::protocol(flow.protocol, PortRange::single(flow.port)),
            l7: None,
            auth: None,
            pending_fqdns: Vec::new(),
            origin: origin("deny-one-port", "spec.ingressDeny[0]"),
        };
        let mut changed = with_entry(&ir, endpoint, direction, deny);
        for candidate in &mut changed.endpoints {
            if candidate.id == endpoint {
                candidate.policy_mut(direction).enforced = true;
            }
        }
        prop_assert!(!evaluate(&changed, &flow).allowed);
        let allow_all = PolicyEntry {
            verdict: RuleVerdict::Allow,
            peers: Peers::Any,
            l4: L4Match::Any,
            l7: None,
            auth: None,
            pending_fqdns: Vec::new(),
            origin: origin("allow-all", "spec.ingress[9]"),
        };
        changed = with_entry(&changed, endpoint, direction, allow_all);
        for (mut entry, (target, ingress)) in added.into_iter().zip(targets) {
            entry.verdict = RuleVerdict::Allow;
            let target_direction = if ingress { Direction::Ingress } else { Direction::Egress };
            changed = with_entry(&changed, target, target_direction, entry);
        }
        let after = evaluate(&changed, &flow);
        prop_assert!(!after.allowed, "{after:?}");
    }

    /// A deny matching the flow, put on an enforced direction the flow meets, denies it.
    #[test]
    fn a_matching_deny_always_denies(ir in ir_strategy(), flow in flow_strategy()) {
        let sides = policed(&ir, &flow);
        prop_assume!(!sides.is_empty());
        let (endpoint, direction) = sides[0];
        let deny = PolicyEntry {
            verdict: RuleVerdict::Deny,
            peers: Peers::Any,
            l4: L4Match::Any,
            l7: None,
            auth: None,
            pending_fqdns: Vec::new(),
            origin: origin("deny-all", "spec.ingressDeny[0]"),
        };
        let mut changed = with_entry(&ir, endpoint, direction, deny);
        for candidate in &mut changed.endpoints {
            if candidate.id == endpoint {
                candidate.policy_mut(direction).enforced = true;
            }
        }
        let self_flow = matches!(sides.as_slice(), [(a, _), (b, _)] if a == b && !changed.endpoint(*a).unwrap().is_host());
        prop_assume!(!self_flow);
        let verdict = evaluate(&changed, &flow);
        prop_assert!(!verdict.allowed, "{verdict:?}");
    }

    /// With no direction enforced, every flow is allowed.
    #[test]
    fn with_no_policy_everything_is_allowed(ir in ir_strategy(), flow in flow_strategy()) {
        let mut open = ir.clone();
        for endpoint in &mut open.endpoints {
            endpoint.ingress.enforced = false;
            endpoint.egress.enforced = false;
        }
        prop_assert!(evaluate(&open, &flow).allowed);
    }

    /// Shuffling the entries of every direction changes nothing in the verdict.
    #[test]
    fn evaluation_does_not_depend_on_entry_order(ir in ir_strategy(), flow in flow_strategy(), seed in any::<u64>()) {
        let mut shuffled = ir.clone();
        let mut state = seed | 1;
        for endpoint in &mut shuffled.endpoints {
            for direction in [Direction::Ingress, Direction::Egress] {
                let entries = &mut endpoint.policy_mut(direction).entries;
                for index in (1..entries.len()).rev() {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    entries.swap(index, (state % (index as u64 + 1)) as usize);
                }
            }
        }
        prop_assert_eq!(evaluate(&ir, &flow), evaluate(&shuffled, &flow));
    }
}
