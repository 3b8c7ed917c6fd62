//! Golden renderings of small hand-built IRs, one per feature of the rendering. Regenerate with
//! `INSTA_UPDATE=always cargo test -p polc-iptables --test render_golden` and review the diff.

mod common;

use common::*;
use polc_iptables::{Rendering, render_all, render_node};
use polc_ir::{AuthMode, DnsRule, HttpRule, L4Match, L7Rules, Peers, PortRange, Protocol, ReservedAddress};

fn shown(rendering: &Rendering) -> String {
    format!("===== ipset =====\n{}===== iptables =====\n{}===== ip6tables =====\n{}", rendering.ipset, rendering.iptables, rendering.ip6tables)
}

#[test]
fn default_deny_ingress_with_one_allowed_port() {
    let ir = ir(
        vec![endpoint_identity(256, "frontend"), endpoint_identity(257, "backend")],
        vec![node("node-a", &["192.168.10.11"])],
        vec![
            pod(1, "frontend", 256, "node-a", &["10.244.1.10"], open(), open()),
            pod(2, "backend", 257, "node-a", &["10.244.1.20"], policy(true, vec![allow(peers(&[256]), tcp(8080, 8080), "spec.ingress[0]")]), open()),
        ],
        Vec::new(),
    );
    insta::assert_snapshot!(shown(&render_node(&ir, Some("node-a"))));
}

#[test]
fn deny_entries_come_before_allows_whatever_their_specificity() {
    let ir = ir(
        vec![endpoint_identity(256, "frontend"), endpoint_identity(257, "backend")],
        Vec::new(),
        vec![
            pod(1, "frontend", 256, "node-a", &["10.244.1.10"], open(), open()),
            pod(
                2,
                "backend",
                257,
                "node-a",
                &["10.244.1.20"],
                policy(true, vec![allow(peers(&[256]), tcp(8080, 8080), "spec.ingress[0]"), deny(Peers::Any, L4Match::Any, "spec.ingressDeny[0]")]),
                open(),
            ),
        ],
        Vec::new(),
    );
    insta::assert_snapshot!(shown(&render_node(&ir, Some("node-a"))));
}

#[test]
fn without_default_deny_only_denies_restrict() {
    let ir = ir(
        vec![endpoint_identity(256, "frontend")],
        Vec::new(),
        vec![pod(
            1,
            "frontend",
            256,
            "node-a",
            &["10.244.1.10"],
            open(),
            policy(false, vec![deny(Peers::Identities(identity_set(&[2])), tcp(22, 22), "spec.egressDeny[0]")]),
        )],
        Vec::new(),
    );
    insta::assert_snapshot!(shown(&render_node(&ir, Some("node-a"))));
}

#[test]
fn port_ranges_protocols_and_icmp_types_in_both_families() {
    let ir = ir(
        vec![endpoint_identity(256, "client"), endpoint_identity(257, "server")],
        Vec::new(),
        vec![
            pod(1, "client", 256, "node-a", &["10.244.1.10", "fd00::10"], open(), open()),
            pod(
                2,
                "server",
                257,
                "node-a",
                &["10.244.1.20", "fd00::20"],
                policy(
                    true,
                    vec![
                        allow(peers(&[256]), tcp(8000, 8099), "spec.ingress[0]"),
                        allow(peers(&[256]), udp(53, 53), "spec.ingress[1]"),
                        allow(peers(&[256]), L4Match::protocol(Protocol::SCTP, PortRange::single(9000)), "spec.ingress[2]"),
                        allow(peers(&[256]), L4Match::protocol(Protocol::TCP, PortRange::ALL), "spec.ingress[3]"),
                        allow(peers(&[256]), L4Match::protocol(Protocol::ICMP, PortRange::single(8)), "spec.ingress[4]"),
                        allow(peers(&[256]), L4Match::protocol(Protocol::ICMPV6, PortRange::new(128, 129)), "spec.ingress[5]"),
                        allow(peers(&[256]), L4Match::protocol(Protocol::ICMP, PortRange::ALL), "spec.ingress[6]"),
                    ],
                ),
                open(),
            ),
        ],
        Vec::new(),
    );
    insta::assert_snapshot!(shown(&render_node(&ir, Some("node-a"))));
}

#[test]
fn allow_localhost_admits_the_node_itself_and_remote_nodes_stay_apart() {
    let localhost = polc_ir::PolicyEntry {
        verdict: polc_ir::RuleVerdict::Allow,
        peers: Peers::Identities(identity_set(&[1])),
        l4: L4Match::Any,
        l7: None,
        auth: None,
        pending_fqdns: Vec::new(),
        origin: polc_ir::RuleOrigin::Implicit(polc_ir::ImplicitRule::AllowLocalhost),
    };
    let ir = ir(
        vec![endpoint_identity(256, "web")],
        vec![node("node-a", &["192.168.10.11"]), node("node-b", &["192.168.10.12"])],
        vec![
            pod(1, "web", 256, "node-a", &["10.244.1.10"], policy(true, vec![localhost, allow(peers(&[6]), tcp(10250, 10250), "spec.ingress[0]")]), open()),
            host(2, "node-a", &["192.168.10.11"], open(), open()),
            host(3, "node-b", &["192.168.10.12"], open(), open()),
        ],
        Vec::new(),
    );
    insta::assert_snapshot!(shown(&render_node(&ir, Some("node-a"))));
}

#[test]
fn l7_ports_are_allowed_at_l4_and_marked() {
    let http = L7Rules::Http(vec![HttpRule { method: Some("GET".to_owned()), path: Some("/api/.*".to_owned()), ..HttpRule::default() }]);
    let dns = L7Rules::Dns(vec![DnsRule::MatchPattern("*.example.com".to_owned())]);
    let ir = ir(
        vec![endpoint_identity(256, "client"), endpoint_identity(257, "server"), endpoint_identity(258, "dns")],
        Vec::new(),
        vec![
            pod(1, "client", 256, "node-a", &["10.244.1.10"], open(), policy(true, vec![with_l7(allow(peers(&[258]), udp(53, 53), "spec.egress[0]"), dns)])),
            pod(2, "server", 257, "node-a", &["10.244.1.20"], policy(true, vec![with_l7(allow(peers(&[256]), tcp(80, 80), "spec.ingress[0]"), http)]), open()),
            pod(3, "dns", 258, "node-a", &["10.244.1.30"], open(), open()),
        ],
        Vec::new(),
    );
    insta::assert_snapshot!(shown(&render_node(&ir, Some("node-a"))));
}

/// Cilium decides authentication per policy-map key: the client's TCP 80 key keeps its own
/// `required` under an L3 `test-always-fail`, so port 80 returns and everything else drops.
#[test]
fn authentication_is_decided_per_policy_map_key() {
    let ir = ir(
        vec![endpoint_identity(256, "client"), endpoint_identity(257, "server")],
        Vec::new(),
        vec![
            pod(1, "client", 256, "node-a", &["10.244.1.10"], open(), open()),
            pod(
                2,
                "server",
                257,
                "node-a",
                &["10.244.1.20"],
                policy(
                    true,
                    vec![
                        with_auth(allow(peers(&[256]), L4Match::Any, "spec.ingress[0]"), AuthMode::TestAlwaysFail),
                        with_auth(allow(peers(&[256]), tcp(80, 80), "spec.ingress[1]"), AuthMode::Required),
                    ],
                ),
                open(),
            ),
        ],
        Vec::new(),
    );
    let rendered = render_node(&ir, Some("node-a"));
    insta::assert_snapshot!(shown(&rendered));
}

#[test]
fn authentication_test_always_fail_drops_and_required_allows() {
    let ir = ir(
        vec![endpoint_identity(256, "client"), endpoint_identity(257, "server")],
        Vec::new(),
        vec![
            pod(1, "client", 256, "node-a", &["10.244.1.10"], open(), open()),
            pod(
                2,
                "server",
                257,
                "node-a",
                &["10.244.1.20"],
                policy(
                    true,
                    vec![
                        with_auth(allow(peers(&[256]), tcp(80, 80), "spec.ingress[0]"), AuthMode::Required),
                        with_auth(allow(peers(&[256]), tcp(81, 81), "spec.ingress[1]"), AuthMode::TestAlwaysFail),
                        allow(peers(&[256]), tcp(81, 81), "spec.ingress[2]"),
                    ],
                ),
                open(),
            ),
        ],
        Vec::new(),
    );
    insta::assert_snapshot!(shown(&render_node(&ir, Some("node-a"))));
}

#[test]
fn cidr_identities_nest_with_nomatch_exceptions_and_world_is_the_rest() {
    let ir = ir(
        vec![
            endpoint_identity(256, "client"),
            cidr_identity(16777217, "203.0.113.0/24"),
            cidr_identity(16777218, "203.0.113.128/25"),
            cidr_identity(16777219, "2001:db8::/32"),
        ],
        Vec::new(),
        vec![pod(
            1,
            "client",
            256,
            "node-a",
            &["10.244.1.10", "fd00::10"],
            open(),
            policy(
                true,
                vec![
                    allow(peers(&[16777217, 16777219]), tcp(443, 443), "spec.egress[0]"),
                    deny(peers(&[16777218]), L4Match::Any, "spec.egressDeny[0]"),
                    allow(peers(&[2]), tcp(80, 80), "spec.egress[1]"),
                    allow(peers(&[7]), tcp(6443, 6443), "spec.egress[2]"),
                ],
            ),
        )],
        vec![ReservedAddress { prefix: prefix("192.168.10.5/32"), identity: id(7) }],
    );
    insta::assert_snapshot!(shown(&render_node(&ir, Some("node-a"))));
}

#[test]
fn peers_that_select_nothing_add_no_rule_and_pending_fqdns_are_noted() {
    let mut fqdn = allow(Peers::Identities(identity_set(&[])), tcp(443, 443), "spec.egress[1]");
    fqdn.pending_fqdns = vec!["api.example.com".to_owned()];
    let ir = ir(
        vec![endpoint_identity(256, "client")],
        Vec::new(),
        vec![pod(
            1,
            "client",
            256,
            "node-a",
            &["10.244.1.10"],
            open(),
            policy(true, vec![allow(Peers::Identities(identity_set(&[])), L4Match::Any, "spec.egress[0]"), fqdn]),
        )],
        Vec::new(),
    );
    insta::assert_snapshot!(shown(&render_node(&ir, Some("node-a"))));
}

#[test]
fn every_node_is_rendered_with_identities_as_it_sees_them() {
    let ir = ir(
        vec![endpoint_identity(256, "a"), endpoint_identity(257, "b")],
        vec![node("node-a", &["192.168.10.11"]), node("node-b", &["192.168.10.12"])],
        vec![
            pod(1, "a", 256, "node-a", &["10.244.1.10"], policy(true, vec![allow(peers(&[1, 6]), L4Match::Any, "spec.ingress[0]")]), open()),
            pod(2, "b", 257, "node-b", &["10.244.2.10"], policy(true, vec![allow(peers(&[1, 6]), L4Match::Any, "spec.ingress[0]")]), open()),
            host(3, "node-a", &["192.168.10.11"], open(), open()),
            host(4, "node-b", &["192.168.10.12"], open(), open()),
        ],
        Vec::new(),
    );
    let renderings = render_all(&ir);
    assert_eq!(renderings.iter().map(|rendering| rendering.node.clone()).collect::<Vec<_>>(), [Some("node-a".to_owned()), Some("node-b".to_owned())]);
    let text: String = renderings.iter().map(|rendering| format!("##### node {:?}\n{}", rendering.node, shown(rendering))).collect();
    insta::assert_snapshot!(text);
}

#[test]
fn the_same_ir_in_any_order_renders_byte_identically() {
    let build = |reverse: bool| {
        let mut entries = vec![
            allow(peers(&[256, 258]), tcp(80, 80), "spec.ingress[0]"),
            deny(peers(&[258]), udp(1, 1000), "spec.ingressDeny[0]"),
            allow(Peers::Any, L4Match::protocol(Protocol::ICMP, PortRange::single(8)), "spec.ingress[1]"),
        ];
        let mut endpoints = vec![
            pod(1, "a", 256, "node-a", &["10.244.1.10", "fd00::10"], open(), open()),
            pod(2, "b", 257, "node-a", &["10.244.1.20", "fd00::20"], open(), open()),
            pod(3, "c", 258, "node-a", &["10.244.1.30"], open(), open()),
        ];
        let mut identities = vec![endpoint_identity(256, "a"), endpoint_identity(257, "b"), endpoint_identity(258, "c")];
        if reverse {
            entries.reverse();
            endpoints.reverse();
            identities.reverse();
        }
        endpoints.iter_mut().find(|endpoint| endpoint.id.0 == 2).unwrap().ingress = policy(true, entries);
        // Bypass the sorting of `PolicyIr::new` for the entries: the renderer must sort on its own.
        let mut built = ir(identities, Vec::new(), endpoints, Vec::new());
        if reverse {
            built.endpoints.iter_mut().for_each(|endpoint| endpoint.ingress.entries.reverse());
        }
        built
    };
    let first = render_node(&build(false), Some("node-a"));
    let second = render_node(&build(true), Some("node-a"));
    assert_eq!(first, second);
    assert!(first.iptables.contains("-j POLC-EP2-IN"), "{}", first.iptables);
}
