//! PRIVILEGED: hand-built IRs run through the iptables engine (real namespaces, real iptables on
//! both backends, real packets) must agree with the reference evaluator on every flow. Skipped,
//! with a message, when not root.

#![cfg(feature = "netns")]

mod common;

use common::*;
use polc_iptables::Family;
use polc_iptables::engine::{Backend, Cluster, EngineOptions, FlowVerdict, Layout, is_root};
use polc_ir::{AuthMode, Flow, FlowEnd, L4Match, Peers, PolicyIr, PortRange, Protocol, ReservedAddress, evaluate};

fn skip_unless_root(test: &str) -> bool {
    if is_root() {
        return false;
    }
    eprintln!("skipping {test}: it needs root to create network namespaces and load iptables rules");
    true
}

fn flow(source: &str, destination: &str, protocol: Protocol, port: u16) -> Flow {
    Flow { source: FlowEnd::Address(address(source)), destination: FlowEnd::Address(address(destination)), protocol, port, l7: None }
}

/// Runs `flows` on both backends (in parallel) and asserts that each agrees with the evaluator
/// on every flow. Returns the expected verdicts.
fn assert_engine_agrees(ir: &PolicyIr, flows: &[Flow]) -> Vec<bool> {
    let expected: Vec<bool> = flows.iter().map(|flow| evaluate(ir, flow).allowed).collect();
    let results: Vec<(Backend, Vec<FlowVerdict>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = Backend::ALL
            .into_iter()
            .map(|backend| {
                scope.spawn(move || {
                    (backend, polc_iptables::engine::run_flows(ir, flows, backend).unwrap_or_else(|error| panic!("{}: {error}", backend.as_str())))
                })
            })
            .collect();
        handles.into_iter().map(|handle| handle.join().expect("engine thread")).collect()
    });
    let mut problems = Vec::new();
    for (backend, verdicts) in &results {
        for ((flow, verdict), expected) in flows.iter().zip(verdicts).zip(&expected) {
            if verdict.allowed() != Some(*expected) {
                problems.push(format!(
                    "{}: {:?} -> {:?} {}/{}: engine {verdict}, evaluator {} ({})",
                    backend.as_str(),
                    flow.source,
                    flow.destination,
                    flow.protocol,
                    flow.port,
                    if *expected { "allow" } else { "deny" },
                    evaluate(ir, flow).reason
                ));
            }
        }
    }
    assert!(problems.is_empty(), "the iptables engine disagrees with the evaluator:\n{}", problems.join("\n"));
    expected
}

/// Two nodes, dual-stack pods, CIDR identities, a reserved address, host and remote-node.
fn two_node_ir() -> PolicyIr {
    let localhost = polc_ir::PolicyEntry {
        verdict: polc_ir::RuleVerdict::Allow,
        peers: peers(&[1]),
        l4: L4Match::Any,
        l7: None,
        auth: None,
        pending_fqdns: Vec::new(),
        origin: polc_ir::RuleOrigin::Implicit(polc_ir::ImplicitRule::AllowLocalhost),
    };
    ir(
        vec![
            endpoint_identity(256, "client"),
            endpoint_identity(257, "server"),
            endpoint_identity(258, "db"),
            cidr_identity(16777217, "203.0.113.0/24"),
            cidr_identity(16777218, "203.0.113.128/25"),
            cidr_identity(16777219, "2001:db8::/32"),
        ],
        vec![node("node-a", &["192.168.10.11", "fd10::11"]), node("node-b", &["192.168.10.12", "fd10::12"])],
        vec![
            // client: egress default-deny: server ports, CIDR 203.0.113.0/24 on 443 except the
            // /25 inside it, world on 80, the API server on 6443, DNS to db, ICMP echo anywhere.
            pod(
                1,
                "client",
                256,
                "node-a",
                &["10.244.1.10", "fd00:1::10"],
                open(),
                policy(
                    true,
                    vec![
                        allow(peers(&[257]), L4Match::Any, "spec.egress[0]"),
                        allow(peers(&[16777217, 16777219]), tcp(443, 443), "spec.egress[1]"),
                        allow(peers(&[16777218]), tcp(443, 443), "spec.egress[2]"),
                        deny(peers(&[16777218]), L4Match::Any, "spec.egressDeny[0]"),
                        allow(peers(&[2]), tcp(80, 80), "spec.egress[3]"),
                        allow(peers(&[7]), tcp(6443, 6443), "spec.egress[4]"),
                        allow(peers(&[258]), udp(53, 53), "spec.egress[5]"),
                        allow(Peers::Any, L4Match::protocol(Protocol::ICMP, PortRange::single(8)), "spec.egress[6]"),
                        allow(Peers::Any, L4Match::protocol(Protocol::ICMPV6, PortRange::single(128)), "spec.egress[7]"),
                        allow(peers(&[258]), L4Match::protocol(Protocol::SCTP, PortRange::single(9000)), "spec.egress[8]"),
                    ],
                ),
            ),
            // server: ingress default-deny with a port range, a deny inside it, auth, the node.
            pod(
                2,
                "server",
                257,
                "node-a",
                &["10.244.1.20", "fd00:1::20"],
                policy(
                    true,
                    vec![
                        localhost,
                        allow(peers(&[256]), tcp(8000, 8099), "spec.ingress[0]"),
                        deny(peers(&[256]), tcp(8050, 8050), "spec.ingressDeny[0]"),
                        allow(peers(&[256]), udp(5000, 5001), "spec.ingress[1]"),
                        with_auth(allow(peers(&[256]), tcp(9000, 9000), "spec.ingress[2]"), AuthMode::TestAlwaysFail),
                        with_auth(allow(peers(&[256]), tcp(9001, 9001), "spec.ingress[3]"), AuthMode::Required),
                        allow(peers(&[256]), L4Match::protocol(Protocol::ICMP, PortRange::single(8)), "spec.ingress[4]"),
                        allow(peers(&[256]), L4Match::protocol(Protocol::ICMPV6, PortRange::single(128)), "spec.ingress[5]"),
                        allow(peers(&[6]), tcp(10250, 10250), "spec.ingress[6]"),
                    ],
                ),
                // Nothing may leave the server, but replies to allowed flows still do.
                policy(true, Vec::new()),
            ),
            // db on the other node: only denies (no default deny), and remote-node admitted.
            pod(
                3,
                "db",
                258,
                "node-b",
                &["10.244.2.30", "fd00:2::30"],
                policy(false, vec![deny(peers(&[2, 16777217]), L4Match::Any, "spec.ingressDeny[0]"), deny(Peers::Any, udp(5432, 5432), "spec.ingressDeny[1]")]),
                open(),
            ),
            // node-a's host: its ingress admits SSH from world only.
            host(4, "node-a", &["192.168.10.11", "fd10::11"], policy(true, vec![allow(peers(&[2]), tcp(22, 22), "spec.ingress[0]")]), open()),
            host(5, "node-b", &["192.168.10.12", "fd10::12"], open(), open()),
        ],
        vec![ReservedAddress { prefix: prefix("192.168.10.5/32"), identity: id(7) }],
    )
}

#[test]
fn hand_built_policies_agree_with_the_reference_evaluator_on_both_backends_privileged() {
    if skip_unless_root("hand_built_policies_agree_with_the_reference_evaluator_on_both_backends_privileged") {
        return;
    }
    let ir = two_node_ir();
    let client = "10.244.1.10";
    let server = "10.244.1.20";
    let db = "10.244.2.30";
    let flows = vec![
        // Pod to pod on one node: egress of the client and ingress of the server.
        flow(client, server, Protocol::TCP, 8000),
        flow(client, server, Protocol::TCP, 8099),
        flow(client, server, Protocol::TCP, 8100),
        flow(client, server, Protocol::TCP, 8050),
        flow(client, server, Protocol::UDP, 5001),
        flow(client, server, Protocol::UDP, 5002),
        flow(client, server, Protocol::TCP, 9000),
        flow(client, server, Protocol::TCP, 9001),
        flow(client, server, Protocol::ICMP, 8),
        flow(client, server, Protocol::ICMP, 13),
        flow("fd00:1::10", "fd00:1::20", Protocol::TCP, 8080),
        flow("fd00:1::10", "fd00:1::20", Protocol::ICMPV6, 128),
        flow("fd00:1::10", "fd00:1::20", Protocol::ICMPV6, 129),
        // The server may send nothing new.
        flow(server, client, Protocol::TCP, 8000),
        // Across nodes.
        flow(client, db, Protocol::UDP, 53),
        flow(client, db, Protocol::UDP, 54),
        flow(client, db, Protocol::SCTP, 9000),
        flow(client, db, Protocol::SCTP, 9001),
        flow(db, server, Protocol::TCP, 8000),
        flow(db, client, Protocol::UDP, 5432),
        // CIDR identities, world and the API server.
        flow(client, "203.0.113.7", Protocol::TCP, 443),
        flow(client, "203.0.113.200", Protocol::TCP, 443),
        flow(client, "198.51.100.1", Protocol::TCP, 443),
        flow(client, "198.51.100.1", Protocol::TCP, 80),
        flow("fd00:1::10", "2001:db8::7", Protocol::TCP, 443),
        flow("fd00:1::10", "2001:db9::7", Protocol::TCP, 443),
        flow(client, "192.168.10.5", Protocol::TCP, 6443),
        flow(client, "198.51.100.1", Protocol::ICMP, 8),
        flow("203.0.113.7", db, Protocol::TCP, 80),
        flow("198.51.100.9", db, Protocol::TCP, 80),
        flow("203.0.113.200", db, Protocol::TCP, 80),
        flow("198.51.100.9", "192.168.10.11", Protocol::TCP, 22),
        flow("198.51.100.9", "192.168.10.11", Protocol::TCP, 23),
        // The node itself (allow-localhost) and the other node (remote-node).
        flow("192.168.10.11", server, Protocol::TCP, 1234),
        flow("192.168.10.12", server, Protocol::TCP, 10250),
        flow("192.168.10.12", server, Protocol::TCP, 10251),
        flow("fd10::12", "fd00:1::20", Protocol::TCP, 10250),
        flow(client, "192.168.10.11", Protocol::TCP, 22),
        flow("192.168.10.12", "192.168.10.11", Protocol::TCP, 22),
        flow("192.168.10.11", "192.168.10.11", Protocol::TCP, 2222),
    ];
    let expected = assert_engine_agrees(&ir, &flows);
    let allowed = expected.iter().filter(|allowed| **allowed).count();
    assert!(allowed >= 10 && expected.len() - allowed >= 10, "the flows must exercise both verdicts: {allowed} of {} allowed", expected.len());
}

#[test]
fn flows_between_endpoints_by_id_pick_a_common_address_family_privileged() {
    if skip_unless_root("flows_between_endpoints_by_id_pick_a_common_address_family_privileged") {
        return;
    }
    let ir = two_node_ir();
    let by_id = |source: u16, destination: u16, protocol: Protocol, port: u16| Flow {
        source: FlowEnd::Endpoint(polc_ir::EndpointId(source)),
        destination: FlowEnd::Endpoint(polc_ir::EndpointId(destination)),
        protocol,
        port,
        l7: None,
    };
    let flows = vec![
        by_id(1, 2, Protocol::TCP, 8080),
        by_id(1, 2, Protocol::ICMPV6, 128),
        by_id(1, 2, Protocol::ICMP, 8),
        by_id(1, 3, Protocol::UDP, 53),
        by_id(2, 1, Protocol::TCP, 80),
        // The node's own traffic to itself passes its OUTPUT and INPUT hooks.
        by_id(4, 4, Protocol::TCP, 22),
        // A pod's traffic to itself never leaves it.
        by_id(2, 2, Protocol::TCP, 7),
    ];
    assert_engine_agrees(&ir, &flows);
}

#[test]
fn single_stack_endpoints_send_flows_of_the_other_family_from_an_extra_address_privileged() {
    if skip_unless_root("single_stack_endpoints_send_flows_of_the_other_family_from_an_extra_address_privileged") {
        return;
    }
    // The client keeps only its IPv4 address, the db only its IPv6 one.
    let mut ir = two_node_ir();
    for endpoint in &mut ir.endpoints {
        match endpoint.id.0 {
            1 => endpoint.addresses.retain(|address| address.is_ipv4()),
            3 => endpoint.addresses.retain(|address| address.is_ipv6()),
            _ => {}
        }
    }
    let endpoint = |id: u16| FlowEnd::Endpoint(polc_ir::EndpointId(id));
    let outside = |text: &str| FlowEnd::Address(address(text));
    let cross = |source: FlowEnd, destination: FlowEnd, protocol: Protocol, port: u16| Flow { source, destination, protocol, port, l7: None };
    let flows = vec![
        // The client's egress decides by the destination's identity: the CIDR on 443, world on 80.
        cross(endpoint(1), outside("2001:db8::7"), Protocol::TCP, 443),
        cross(endpoint(1), outside("2001:db9::7"), Protocol::TCP, 443),
        cross(endpoint(1), outside("2001:db9::7"), Protocol::TCP, 80),
        // The server's ingress admits ICMPv6 echo from the client's identity only: the client's
        // extra IPv6 address carries that identity.
        cross(endpoint(1), endpoint(2), Protocol::ICMPV6, 128),
        cross(endpoint(1), endpoint(2), Protocol::ICMPV6, 129),
        // IPv4-only client to IPv6-only db, across nodes.
        cross(endpoint(1), endpoint(3), Protocol::UDP, 53),
        cross(endpoint(1), endpoint(3), Protocol::UDP, 54),
        // Outside IPv4 addresses to the IPv6-only db: its ingress denies the CIDR and world, and
        // its extra IPv4 address does not change who may reach it otherwise (its own node).
        cross(outside("203.0.113.7"), endpoint(3), Protocol::TCP, 80),
        cross(outside("198.51.100.9"), endpoint(3), Protocol::TCP, 80),
        cross(outside("192.168.10.12"), endpoint(3), Protocol::TCP, 80),
    ];
    let extended = polc_iptables::engine::with_addresses_for_flows(&ir, &flows).expect("the flows need extra addresses");
    assert!(extended.endpoints.iter().all(|endpoint| endpoint.addresses.iter().any(|address| address.is_ipv4())
        && (endpoint.id.0 == 5 || endpoint.addresses.iter().any(|address| address.is_ipv6()))));
    let expected = assert_engine_agrees(&ir, &flows);
    assert_eq!(expected, [true, false, true, true, false, true, false, false, false, true]);
}

#[test]
fn flows_the_network_cannot_hold_are_reported_not_run_privileged() {
    if skip_unless_root("flows_the_network_cannot_hold_are_reported_not_run_privileged") {
        return;
    }
    let ir = two_node_ir();
    let flows = vec![
        flow("10.244.1.10", "10.244.1.20", Protocol::TCP, 0),
        flow("10.244.1.10", "127.0.0.1", Protocol::TCP, 80),
        flow("10.244.1.10", "fd00:1::20", Protocol::TCP, 80),
        flow("10.244.1.10", "10.244.1.20", Protocol::ICMP, 300),
        flow("10.244.1.10", "10.244.1.20", Protocol::GRE, 5),
        flow("10.244.1.10", "10.244.1.20", Protocol::TCP, 8080),
    ];
    let verdicts = polc_iptables::engine::run_flows(&ir, &flows, Backend::Nft).expect("engine");
    let not_run: Vec<String> =
        verdicts.iter().filter_map(|verdict| if let FlowVerdict::NotRun(reason) = verdict { Some(reason.clone()) } else { None }).collect();
    assert_eq!(not_run.len(), 5, "{verdicts:?}");
    assert!(not_run[0].contains("needs a port"), "{not_run:?}");
    assert!(not_run[1].contains("loopback"), "{not_run:?}");
    assert!(not_run[2].contains("same family"), "{not_run:?}");
    assert!(not_run[3].contains("ICMP type 300"), "{not_run:?}");
    assert!(not_run[4].contains("has no ports"), "{not_run:?}");
    assert_eq!(verdicts[5], FlowVerdict::Allowed);
}

#[test]
fn the_kernel_reads_the_rules_back_exactly_as_rendered_privileged() {
    if skip_unless_root("the_kernel_reads_the_rules_back_exactly_as_rendered_privileged") {
        return;
    }
    let ir = two_node_ir();
    // Comments aside, and with the packet counters of the chain lines zeroed (the kernel's own
    // IPv6 packets count), the saved table is the rendered one.
    let strip = |text: &str| {
        text.lines()
            .filter(|line| !line.starts_with('#'))
            .map(|line| match (line.starts_with(':'), line.rfind(" [")) {
                (true, Some(position)) => format!("{} [0:0]", &line[..position]),
                _ => line.to_owned(),
            })
            .collect::<Vec<_>>()
    };
    for backend in Backend::ALL {
        let cluster = Cluster::new(&Layout::new(&ir, Vec::new()), backend).expect("cluster");
        cluster.apply(&ir).expect("apply");
        for node in ["node-a", "node-b"] {
            let rendering = polc_iptables::render_node(&ir, Some(node));
            for (family, text) in [(Family::V4, &rendering.iptables), (Family::V6, &rendering.ip6tables)] {
                let saved = cluster.saved_rules(Some(node), family).expect("save");
                assert_eq!(strip(&saved), strip(text), "{} {node} {family}: iptables-save differs from the rendering", backend.as_str());
            }
        }
    }
}

#[test]
fn a_cluster_takes_one_ir_after_another_privileged() {
    if skip_unless_root("a_cluster_takes_one_ir_after_another_privileged") {
        return;
    }
    let mut ir = two_node_ir();
    let flows = vec![flow("10.244.1.10", "10.244.1.20", Protocol::TCP, 8080), flow("198.51.100.9", "10.244.2.30", Protocol::TCP, 80)];
    let layout = Layout::new(
        &ir,
        flows.iter().flat_map(|flow| [flow.source, flow.destination]).filter_map(|end| if let FlowEnd::Address(a) = end { Some(a) } else { None }),
    );
    let cluster = Cluster::new(&layout, Backend::Legacy).expect("cluster");
    let options = EngineOptions::default();
    cluster.apply(&ir).expect("apply");
    assert_eq!(cluster.run(&ir, &flows, &options).expect("run"), [FlowVerdict::Allowed, FlowVerdict::Denied]);
    // Swap the verdicts: the server denies its port, the db stops denying the world.
    let server = ir.endpoints.iter_mut().find(|endpoint| endpoint.id.0 == 2).expect("server");
    server.ingress.entries.push(deny(peers(&[256]), tcp(8080, 8080), "spec.ingressDeny[9]"));
    let db = ir.endpoints.iter_mut().find(|endpoint| endpoint.id.0 == 3).expect("db");
    db.ingress.entries.retain(|entry| !entry.peers.contains(id(2)));
    cluster.apply(&ir).expect("apply again");
    assert_eq!(cluster.run(&ir, &flows, &options).expect("run"), [FlowVerdict::Denied, FlowVerdict::Allowed]);
    for (flow, verdict) in flows.iter().zip([false, true]) {
        assert_eq!(evaluate(&ir, flow).allowed, verdict);
    }
}
