//! The reference evaluator on hand-built cases, one per rule of the semantics.

mod common;

use common::*;
use polc_ir::*;

fn endpoint_mut(endpoints: &mut [Endpoint], id: EndpointId) -> &mut Endpoint {
    endpoints.iter_mut().find(|endpoint| endpoint.id == id).unwrap()
}

#[test]
fn with_no_policy_everything_is_allowed() {
    let ir = ir_with(endpoints());
    let verdict = evaluate(&ir, &flow(FlowEnd::Endpoint(FRONTEND), FlowEnd::Endpoint(BACKEND), 8080));
    assert!(verdict.allowed);
    assert_eq!(verdict.egress.unwrap().decision, Decision::NotEnforced);
    assert_eq!(verdict.ingress.unwrap().decision, Decision::NotEnforced);
}

#[test]
fn a_flow_needs_both_the_source_egress_and_the_destination_ingress() {
    let mut endpoints = endpoints();
    enforce(&mut endpoint_mut(&mut endpoints, BACKEND).ingress, vec![entry(RuleVerdict::Allow, peers(&[FRONTEND_ID]), tcp(8080), "backend-in")]);
    enforce(&mut endpoint_mut(&mut endpoints, FRONTEND).egress, vec![entry(RuleVerdict::Allow, peers(&[DB_ID]), tcp(5432), "frontend-out")]);
    let ir = ir_with(endpoints);
    let verdict = evaluate(&ir, &flow(FlowEnd::Endpoint(FRONTEND), FlowEnd::Endpoint(BACKEND), 8080));
    assert!(!verdict.allowed, "{verdict:?}");
    let egress = verdict.egress.unwrap();
    assert_eq!(egress.decision, Decision::DefaultDenied);
    assert_eq!(egress.enforced_by, vec![origin("frontend-out", "spec.ingress[0]")]);
    let ingress = verdict.ingress.unwrap();
    assert!(ingress.allowed);
    assert_eq!(ingress.deciding.len(), 1);
    assert_eq!(ingress.deciding[0].origin, origin("backend-in", "spec.ingress[0]"));
    assert!(verdict.reason.starts_with("denied (egress of `default/frontend`"), "{}", verdict.reason);
}

#[test]
fn a_deny_wins_over_a_more_specific_allow() {
    let mut endpoints = endpoints();
    enforce(
        &mut endpoint_mut(&mut endpoints, BACKEND).ingress,
        vec![entry(RuleVerdict::Allow, peers(&[FRONTEND_ID]), tcp(8080), "allow-exact"), entry(RuleVerdict::Deny, Peers::Any, L4Match::Any, "deny-everything")],
    );
    let ir = ir_with(endpoints);
    let verdict = evaluate(&ir, &flow(FlowEnd::Endpoint(FRONTEND), FlowEnd::Endpoint(BACKEND), 8080));
    assert!(!verdict.allowed);
    let ingress = verdict.ingress.unwrap();
    assert_eq!(ingress.decision, Decision::Denied);
    assert_eq!(ingress.deciding.iter().map(|rule| rule.origin.clone()).collect::<Vec<_>>(), vec![origin("deny-everything", "spec.ingress[0]")]);
}

#[test]
fn ports_protocols_and_ranges_must_match() {
    let mut endpoints = endpoints();
    enforce(
        &mut endpoint_mut(&mut endpoints, BACKEND).ingress,
        vec![entry(RuleVerdict::Allow, Peers::Any, L4Match::protocol(Protocol::TCP, PortRange::new(8000, 8999)), "range")],
    );
    let ir = ir_with(endpoints);
    let from = FlowEnd::Endpoint(FRONTEND);
    let to = FlowEnd::Endpoint(BACKEND);
    assert!(evaluate(&ir, &flow(from, to, 8000)).allowed);
    assert!(evaluate(&ir, &flow(from, to, 8999)).allowed);
    assert!(!evaluate(&ir, &flow(from, to, 9000)).allowed);
    let udp = Flow { protocol: Protocol::UDP, ..flow(from, to, 8080) };
    assert!(!evaluate(&ir, &udp).allowed);
}

#[test]
fn a_node_is_host_to_its_own_pods_and_remote_node_to_others() {
    let mut endpoints = endpoints();
    // frontend and db run on node-a, backend on node-b.
    enforce(&mut endpoint_mut(&mut endpoints, FRONTEND).ingress, vec![entry(RuleVerdict::Allow, peers(&[NumericIdentity::HOST]), L4Match::Any, "from-host")]);
    enforce(&mut endpoint_mut(&mut endpoints, BACKEND).ingress, vec![entry(RuleVerdict::Allow, peers(&[NumericIdentity::HOST]), L4Match::Any, "from-host")]);
    let ir = ir_with(endpoints);
    let from_node_a = evaluate(&ir, &flow(FlowEnd::Endpoint(HOST_A), FlowEnd::Endpoint(FRONTEND), 80));
    assert!(from_node_a.allowed);
    assert_eq!(from_node_a.ingress.unwrap().remote_identity, NumericIdentity::HOST);
    let to_other_node = evaluate(&ir, &flow(FlowEnd::Endpoint(HOST_A), FlowEnd::Endpoint(BACKEND), 80));
    assert!(!to_other_node.allowed);
    assert_eq!(to_other_node.ingress.unwrap().remote_identity, NumericIdentity::REMOTE_NODE);
    // A node address resolves to its host endpoint too.
    let by_address = evaluate(&ir, &flow(FlowEnd::Address(ip("192.168.0.2")), FlowEnd::Endpoint(BACKEND), 80));
    assert!(by_address.allowed);
}

#[test]
fn outside_addresses_get_the_longest_cidr_identity_or_world() {
    let mut endpoints = endpoints();
    enforce(&mut endpoint_mut(&mut endpoints, BACKEND).ingress, vec![entry(RuleVerdict::Allow, peers(&[CIDR_ID]), tcp(443), "from-cidr")]);
    let ir = ir_with(endpoints);
    let inside = evaluate(&ir, &flow(FlowEnd::Address(ip("203.0.113.7")), FlowEnd::Endpoint(BACKEND), 443));
    assert!(inside.allowed);
    assert!(inside.egress.is_none(), "an outside address has no policy of its own");
    let outside = evaluate(&ir, &flow(FlowEnd::Address(ip("198.51.100.1")), FlowEnd::Endpoint(BACKEND), 443));
    assert!(!outside.allowed);
    assert_eq!(outside.ingress.unwrap().remote_identity, NumericIdentity::WORLD);
    // A pod address is the pod, never a CIDR identity.
    assert_eq!(ir.identity_of_address(ip("10.0.1.10"), Some("node-b")), FRONTEND_ID);
}

#[test]
fn without_default_deny_only_denies_and_l7_restrict() {
    let mut endpoints = endpoints();
    let backend = endpoint_mut(&mut endpoints, BACKEND);
    let mut l7_entry = entry(RuleVerdict::Allow, peers(&[FRONTEND_ID]), tcp(80), "l7");
    l7_entry.l7 = Some(L7Rules::Http(vec![HttpRule { method: Some("GET".to_owned()), ..HttpRule::default() }]));
    enforce(&mut backend.ingress, vec![entry(RuleVerdict::Deny, peers(&[DB_ID]), L4Match::Any, "deny-db"), l7_entry]);
    backend.ingress.default_deny = false;
    let ir = ir_with(endpoints);
    let other_port = evaluate(&ir, &flow(FlowEnd::Endpoint(FRONTEND), FlowEnd::Endpoint(BACKEND), 9999));
    assert_eq!(other_port.ingress.as_ref().unwrap().decision, Decision::AllowedByDefault);
    assert!(other_port.allowed);
    assert!(!evaluate(&ir, &flow(FlowEnd::Endpoint(DB), FlowEnd::Endpoint(BACKEND), 9999)).allowed);
    let post = Flow {
        l7: Some(L7Request::Http(HttpRequest { method: "POST".to_owned(), ..HttpRequest::default() })),
        ..flow(FlowEnd::Endpoint(FRONTEND), FlowEnd::Endpoint(BACKEND), 80)
    };
    let verdict = evaluate(&ir, &post);
    assert!(!verdict.allowed);
    assert_eq!(verdict.ingress.unwrap().decision, Decision::DeniedByL7);
}

#[test]
fn l7_rules_decide_requests_unless_a_plain_allow_matches() {
    let mut endpoints = endpoints();
    let mut l7_entry = entry(RuleVerdict::Allow, Peers::Any, tcp(80), "l7");
    l7_entry.l7 = Some(L7Rules::Http(vec![HttpRule { path: Some("/public/.*".to_owned()), ..HttpRule::default() }]));
    enforce(&mut endpoint_mut(&mut endpoints, BACKEND).ingress, vec![l7_entry.clone()]);
    let ir = ir_with(endpoints.clone());
    let request = |path: &str| Flow {
        l7: Some(L7Request::Http(HttpRequest { path: path.to_owned(), ..HttpRequest::default() })),
        ..flow(FlowEnd::Endpoint(FRONTEND), FlowEnd::Endpoint(BACKEND), 80)
    };
    let public = evaluate(&ir, &request("/public/a"));
    assert!(public.allowed);
    let ingress = public.ingress.unwrap();
    assert_eq!(ingress.decision, Decision::AllowedByL7);
    assert!(ingress.proxy);
    assert!(ingress.deciding[0].l7.as_deref().unwrap_or("").contains("/public/.*"));
    assert!(!evaluate(&ir, &request("/admin")).allowed);
    let no_request = evaluate(&ir, &flow(FlowEnd::Endpoint(FRONTEND), FlowEnd::Endpoint(BACKEND), 80));
    assert_eq!(no_request.ingress.unwrap().decision, Decision::AllowedToProxy);
    // A plain L4 allow of the same port lets every request through.
    enforce(&mut endpoint_mut(&mut endpoints, BACKEND).ingress, vec![l7_entry, entry(RuleVerdict::Allow, peers(&[FRONTEND_ID]), tcp(80), "plain")]);
    let ir = ir_with(endpoints);
    let admin = evaluate(&ir, &request("/admin"));
    assert!(admin.allowed);
    assert_eq!(admin.ingress.unwrap().decision, Decision::Allowed);
}

#[test]
fn dns_rules_decide_queries() {
    let mut endpoints = endpoints();
    let mut dns_entry = entry(RuleVerdict::Allow, peers(&[DB_ID]), L4Match::protocol(Protocol::UDP, PortRange::single(53)), "dns");
    dns_entry.l7 = Some(L7Rules::Dns(vec![DnsRule::MatchPattern("*.example.com".to_owned())]));
    enforce(&mut endpoint_mut(&mut endpoints, FRONTEND).egress, vec![dns_entry]);
    let ir = ir_with(endpoints);
    let query = |name: &str| Flow {
        protocol: Protocol::UDP,
        l7: Some(L7Request::Dns(DnsQuery { name: name.to_owned() })),
        ..flow(FlowEnd::Endpoint(FRONTEND), FlowEnd::Endpoint(DB), 53)
    };
    assert!(evaluate(&ir, &query("api.example.com")).allowed);
    assert!(!evaluate(&ir, &query("api.example.org")).allowed);
}

#[test]
fn authentication_modes() {
    let mut endpoints = endpoints();
    let mut required = entry(RuleVerdict::Allow, peers(&[FRONTEND_ID]), tcp(80), "auth");
    required.auth = Some(AuthMode::Required);
    let mut failing = entry(RuleVerdict::Allow, peers(&[FRONTEND_ID]), tcp(81), "fail");
    failing.auth = Some(AuthMode::TestAlwaysFail);
    enforce(&mut endpoint_mut(&mut endpoints, BACKEND).ingress, vec![required, failing]);
    let ir = ir_with(endpoints);
    let verdict = evaluate(&ir, &flow(FlowEnd::Endpoint(FRONTEND), FlowEnd::Endpoint(BACKEND), 80));
    assert!(verdict.allowed);
    let ingress = verdict.ingress.unwrap();
    assert_eq!(ingress.auth, Some(AuthMode::Required));
    assert!(ingress.notes.iter().any(|note| note.contains("mutual authentication")));
    let verdict = evaluate(&ir, &flow(FlowEnd::Endpoint(FRONTEND), FlowEnd::Endpoint(BACKEND), 81));
    assert!(!verdict.allowed);
    assert_eq!(verdict.ingress.unwrap().decision, Decision::AuthenticationFails);
}

/// Cilium settles authentication per policy-map key, not over every matching rule: the most
/// specific key of each lookup keeps its own explicit mode.
#[test]
fn authentication_is_the_mode_of_the_deciding_map_key() {
    let ingress_auth = |entries: Vec<PolicyEntry>, port: u16| {
        let mut endpoints = endpoints();
        enforce(&mut endpoint_mut(&mut endpoints, BACKEND).ingress, entries);
        let ir = ir_with(endpoints);
        let verdict = evaluate(&ir, &flow(FlowEnd::Endpoint(FRONTEND), FlowEnd::Endpoint(BACKEND), port));
        let ingress = verdict.ingress.unwrap();
        (verdict.allowed, ingress.auth)
    };
    let with_auth = |mut entry: PolicyEntry, mode: AuthMode| {
        entry.auth = Some(mode);
        entry
    };

    // An L3 allow that always fails, and a TCP allow that requires authentication: the TCP key is
    // the more specific one for the remote identity, and its own mode decides.
    let l3_failing = with_auth(entry(RuleVerdict::Allow, peers(&[FRONTEND_ID]), L4Match::Any, "l3"), AuthMode::TestAlwaysFail);
    let tcp_required = with_auth(entry(RuleVerdict::Allow, peers(&[FRONTEND_ID]), tcp(80), "tcp"), AuthMode::Required);
    assert_eq!(ingress_auth(vec![l3_failing.clone(), tcp_required.clone()], 80), (true, Some(AuthMode::Required)));
    // On another port only the L3 key matches.
    assert_eq!(ingress_auth(vec![l3_failing.clone(), tcp_required], 81), (false, Some(AuthMode::TestAlwaysFail)));

    // A port without a mode of its own inherits the mode of the covering L3 key of the same identity.
    let tcp_plain = entry(RuleVerdict::Allow, peers(&[FRONTEND_ID]), tcp(80), "plain");
    assert_eq!(ingress_auth(vec![l3_failing.clone(), tcp_plain.clone()], 80), (false, Some(AuthMode::TestAlwaysFail)));
    // An explicit `disabled` on the port is its own mode.
    let tcp_disabled = with_auth(tcp_plain.clone(), AuthMode::Disabled);
    assert_eq!(ingress_auth(vec![l3_failing.clone(), tcp_disabled], 80), (true, Some(AuthMode::Disabled)));

    // The identity-0 lookup: an L7 redirect for any peer has a higher precedence than a plain
    // allow, so its key decides, and it has no mode; the failing L3 allow is not consulted.
    let mut redirect = entry(RuleVerdict::Allow, Peers::Any, tcp(80), "redirect");
    redirect.l7 = Some(L7Rules::Http(vec![HttpRule { method: Some("GET".to_owned()), path: None, host: None, headers: Vec::new() }]));
    assert_eq!(ingress_auth(vec![l3_failing.clone(), redirect], 80), (true, None));

    // At equal precedence, a chosen key without an explicit mode borrows the other lookup's higher type.
    let any_required = with_auth(entry(RuleVerdict::Allow, Peers::Any, L4Match::Any, "any"), AuthMode::Required);
    assert_eq!(ingress_auth(vec![tcp_plain.clone(), any_required.clone()], 80), (true, Some(AuthMode::Required)));
    // ... but not over an explicit mode of its own.
    let tcp_disabled = with_auth(tcp_plain, AuthMode::Disabled);
    assert_eq!(ingress_auth(vec![tcp_disabled, any_required], 80), (true, Some(AuthMode::Disabled)));

    // Two entries on one key: the explicit and higher type wins.
    let also_failing = with_auth(entry(RuleVerdict::Allow, peers(&[FRONTEND_ID]), L4Match::Any, "l3-too"), AuthMode::Required);
    assert_eq!(ingress_auth(vec![also_failing, l3_failing], 80), (false, Some(AuthMode::TestAlwaysFail)));
}

/// Why "an added allow never denies an allowed flow" holds only without `test-always-fail`: a
/// narrower allow without a mode inherits the failing mode of its identity's L3 key, and, being
/// as specific as the identity-0 key that allowed the flow, is the one the datapath takes.
#[test]
fn a_narrower_allow_can_inherit_a_failing_mode() {
    let mut any_port = entry(RuleVerdict::Allow, Peers::Any, tcp(80), "any-port-80");
    any_port.auth = Some(AuthMode::Disabled);
    let mut l3_failing = entry(RuleVerdict::Allow, peers(&[FRONTEND_ID]), L4Match::Any, "l3");
    l3_failing.auth = Some(AuthMode::TestAlwaysFail);
    let narrower = entry(RuleVerdict::Allow, peers(&[FRONTEND_ID]), tcp(80), "narrower");
    let allowed = |entries: Vec<PolicyEntry>| {
        let mut endpoints = endpoints();
        enforce(&mut endpoint_mut(&mut endpoints, BACKEND).ingress, entries);
        evaluate(&ir_with(endpoints), &flow(FlowEnd::Endpoint(FRONTEND), FlowEnd::Endpoint(BACKEND), 80)).allowed
    };
    assert!(allowed(vec![any_port.clone(), l3_failing.clone()]), "identity 0's port key is more specific than the L3 key");
    assert!(!allowed(vec![any_port, l3_failing, narrower]), "the narrower key inherits test-always-fail and wins the tie");
}

#[test]
fn port_ranges_are_keyed_as_cilium_masks_them() {
    // 1000-1999 becomes 1000/13, 1008/12, 1024/7, 1536/8, 1792/9, 1920/10, 1984/12.
    let range = PortRange::new(1000, 1999);
    let expected = [(1000, 13), (1007, 13), (1008, 12), (1023, 12), (1024, 7), (1535, 7), (1536, 8), (1792, 9), (1920, 10), (1984, 12), (1999, 12)];
    for (port, length) in expected {
        assert_eq!(range.key_prefix_len(port), Some(length), "port {port}");
    }
    assert_eq!(range.key_prefix_len(999), None);
    assert_eq!(range.key_prefix_len(2000), None);
    assert_eq!(PortRange::ALL.key_prefix_len(7), Some(0));
    assert_eq!(PortRange::single(0).key_prefix_len(0), Some(16));
    assert_eq!(PortRange::new(0, 5).key_prefix_len(3), Some(14));
    assert_eq!(PortRange::new(0, 5).key_prefix_len(5), Some(15));
    assert_eq!(PortRange::new(32768, 65535).key_prefix_len(40000), Some(1));
    // Every port of a range is in exactly one block, and the blocks tile the range.
    for (first, last) in [(1, 1), (3, 17), (0, 65534), (1, 65535), (1023, 1025), (443, 8443)] {
        let range = PortRange::new(first, last);
        let mut port = u32::from(first);
        while port <= u32::from(last) {
            let length = range.key_prefix_len(port as u16).unwrap();
            let size = 1u32 << (16 - u32::from(length));
            assert_eq!(port % size, 0, "{first}-{last}: block at {port} of {size} ports is aligned");
            assert!(port + size - 1 <= u32::from(last), "{first}-{last}: block at {port} stays inside");
            for inside in port..port + size {
                assert_eq!(range.key_prefix_len(inside as u16), Some(length));
            }
            port += size;
        }
    }
}

#[test]
fn a_reserved_range_yields_to_a_longer_cidr_identity() {
    let longer = NumericIdentity((1 << 24) | 2);
    let mut identities = identities();
    identities.push(IdentityInfo { id: longer, kind: IdentityKind::Cidr { prefix: IpPrefix::parse("192.0.2.10/32").unwrap() }, labels: Default::default() });
    let reserved = vec![ReservedAddress { prefix: IpPrefix::parse("192.0.2.0/24").unwrap(), identity: NumericIdentity::KUBE_APISERVER }];
    let ir = PolicyIr::new(Settings::default(), identities, nodes(), endpoints(), reserved);
    assert_eq!(ir.identity_of_external_address(ip("192.0.2.10")), longer);
    assert_eq!(ir.identity_of_external_address(ip("192.0.2.11")), NumericIdentity::KUBE_APISERVER);
    // The evaluator's answer is the ipcache's longest prefix.
    let longest = |address: std::net::IpAddr| {
        ir.ipcache(None).into_iter().filter(|(prefix, _)| prefix.contains(address)).max_by_key(|(prefix, _)| prefix.length()).map(|(_, id)| id)
    };
    for address in ["192.0.2.10", "192.0.2.11", "203.0.113.9"] {
        assert_eq!(Some(ir.identity_of_external_address(ip(address))), longest(ip(address)), "{address}");
    }
}

#[test]
fn pending_fqdn_rules_select_nothing_and_say_so() {
    let mut endpoints = endpoints();
    let mut fqdn = entry(RuleVerdict::Allow, peers(&[]), tcp(443), "fqdn");
    fqdn.pending_fqdns = vec!["api.github.com".to_owned()];
    enforce(&mut endpoint_mut(&mut endpoints, FRONTEND).egress, vec![fqdn]);
    let ir = ir_with(endpoints);
    let verdict = evaluate(&ir, &flow(FlowEnd::Endpoint(FRONTEND), FlowEnd::Address(ip("140.82.112.6")), 443));
    assert!(!verdict.allowed);
    let egress = verdict.egress.unwrap();
    assert_eq!(egress.decision, Decision::DefaultDenied);
    assert!(egress.notes.iter().any(|note| note.contains("`api.github.com`")), "{:?}", egress.notes);
}

#[test]
fn a_pod_talking_to_itself_is_not_subject_to_policy() {
    let mut endpoints = endpoints();
    enforce(&mut endpoint_mut(&mut endpoints, BACKEND).ingress, vec![]);
    let ir = ir_with(endpoints);
    assert!(evaluate(&ir, &flow(FlowEnd::Address(ip("10.0.2.20")), FlowEnd::Endpoint(BACKEND), 80)).allowed);
    assert!(!evaluate(&ir, &flow(FlowEnd::Endpoint(FRONTEND), FlowEnd::Endpoint(BACKEND), 80)).allowed);
}

#[test]
fn an_unknown_endpoint_id_is_denied_with_a_reason() {
    let ir = ir_with(endpoints());
    let verdict = evaluate(&ir, &flow(FlowEnd::Endpoint(EndpointId(99)), FlowEnd::Endpoint(BACKEND), 80));
    assert!(!verdict.allowed);
    assert!(verdict.reason.contains("99"));
}

#[test]
fn the_ipcache_is_relative_to_the_node() {
    let ir = ir_with(endpoints());
    let on_a = ir.ipcache(Some("node-a"));
    let lookup =
        |table: &[(IpPrefix, NumericIdentity)], address: &str| table.iter().find(|(prefix, _)| *prefix == IpPrefix::parse(address).unwrap()).map(|(_, id)| *id);
    assert_eq!(lookup(&on_a, "192.168.0.1"), Some(NumericIdentity::HOST));
    assert_eq!(lookup(&on_a, "192.168.0.2"), Some(NumericIdentity::REMOTE_NODE));
    assert_eq!(lookup(&on_a, "10.0.2.20"), Some(BACKEND_ID));
    assert_eq!(lookup(&on_a, "203.0.113.0/24"), Some(CIDR_ID));
}

#[test]
fn the_ir_round_trips_through_json() {
    let mut endpoints = endpoints();
    enforce(&mut endpoint_mut(&mut endpoints, BACKEND).ingress, vec![entry(RuleVerdict::Allow, peers(&[FRONTEND_ID]), tcp(8080), "x")]);
    let ir = ir_with(endpoints);
    let json = serde_json::to_string(&ir).unwrap();
    let back: PolicyIr = serde_json::from_str(&json).unwrap();
    assert_eq!(back, ir);
}
