//! LB-IPAM, L2 announcement and BGP kinds through the whole front end: what the schema derived
//! from the models enforces (the CRDs' required fields, enums, patterns, ranges, list-map keys),
//! the cross-object checks, and the code registry of the area.

use polc_compiler::checks::cilium_net::CODES;
use polc_compiler::diag::Severity;
use polc_compiler::frontend::{Options, parse};
use polc_compiler::kinds::KindInfo;
use polc_compiler::source::SourceMap;

#[derive(Debug)]
struct Finding {
    code: &'static str,
    severity: Severity,
    source: u32,
    line: u32,
    message: String,
    help: Option<String>,
    related: Vec<(u32, u32)>,
}

fn lint_sources(texts: &[&str]) -> Vec<Finding> {
    let mut sources = SourceMap::default();
    for (index, text) in texts.iter().enumerate() {
        sources.add(format!("input-{index}.yaml"), (*text).to_owned());
    }
    parse(&sources, &Options::default())
        .diagnostics
        .into_iter()
        .map(|d| {
            let location = d.location.clone().expect("every finding here is located");
            Finding {
                code: d.code.id,
                severity: d.severity,
                source: location.source.0,
                line: location.span.start.line,
                message: d.message,
                help: d.help,
                related: d.related.iter().map(|related| (related.location.source.0, related.location.span.start.line)).collect(),
            }
        })
        .collect()
}

fn lint(text: &str) -> Vec<Finding> {
    lint_sources(&[text])
}

fn codes(found: &[Finding]) -> Vec<(&'static str, u32)> {
    found.iter().map(|finding| (finding.code, finding.line)).collect()
}

// ---------------------------------------------------------------------------------------------
// The registry

#[test]
fn area_codes_are_in_range_documented_and_findable() {
    assert!(CODES.len() >= 25);
    for code in CODES {
        let number: u32 = code.id[3..].parse().expect("numeric id");
        assert!((5000..=5999).contains(&number), "{} is outside PLC5000-PLC5999", code.id);
        assert!(!code.explanation.is_empty() && code.explanation.contains("Fix"), "{} needs an explanation with a fix", code.id);
        assert!(code.summary.chars().next().is_some_and(|c| !c.is_uppercase()), "{}: summaries start in lower case", code.id);
        assert_eq!(polc_compiler::codes::find(code.id).map(|found| found.name), Some(code.name));
    }
}

#[test]
fn every_kind_has_a_schema_with_its_fields() {
    for (kind, fields) in [
        ("CiliumLoadBalancerIPPool", &["blocks", "allowFirstLastIPs", "serviceSelector", "disabled"][..]),
        ("CiliumL2AnnouncementPolicy", &["interfaces", "loadBalancerIPs", "externalIPs", "nodeSelector"]),
        ("CiliumBGPPeeringPolicy", &["virtualRouters", "localASN", "eBGPMultihopTTL", "advertisedPathAttributes"]),
        ("CiliumBGPClusterConfig", &["bgpInstances", "peerConfigRef", "autoDiscovery", "peerInterface"]),
        ("CiliumBGPPeerConfig", &["timers", "keepAliveTimeSeconds", "ebgpMultihop", "sourceInterface", "localPort"]),
        ("CiliumBGPAdvertisement", &["advertisementType", "aggregationLengthIPv6", "wellKnown", "large"]),
        ("CiliumBGPNodeConfigOverride", &["routerID", "localAddress", "peerInterface"]),
    ] {
        let info = KindInfo::find(kind).expect("kind is modeled");
        let schema = info.schema().json().to_string();
        for field in fields {
            assert!(schema.contains(&format!("\"{field}\"")), "{kind} schema lacks `{field}`");
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Versions

#[test]
fn l2_announcement_policies_are_only_served_at_v2alpha1() {
    let found = lint("apiVersion: cilium.io/v2\nkind: CiliumL2AnnouncementPolicy\nmetadata:\n  name: l2\nspec:\n  loadBalancerIPs: true\n");
    assert_eq!(codes(&found), vec![("PLC1102", 1)]);
    assert_eq!(found[0].help.as_deref(), Some("use one of `cilium.io/v2alpha1`"));
}

#[test]
fn bgp_v1_is_only_served_at_v2alpha1() {
    let found = lint(
        "apiVersion: cilium.io/v2\nkind: CiliumBGPPeeringPolicy\nmetadata:\n  name: v1\nspec:\n  virtualRouters:\n  - localASN: 64512\n    neighbors:\n    - {peerAddress: 10.0.0.1/32, peerASN: 64512}\n",
    );
    assert_eq!(codes(&found), vec![("PLC1102", 1)]);
}

#[test]
fn pools_and_bgp_v2_are_served_at_both_versions() {
    for version in ["cilium.io/v2", "cilium.io/v2alpha1"] {
        let pool = format!("apiVersion: {version}\nkind: CiliumLoadBalancerIPPool\nmetadata:\n  name: p\nspec:\n  blocks:\n  - cidr: 10.0.0.0/24\n");
        assert!(lint(&pool).is_empty(), "{version}");
        let advertisement =
            format!("apiVersion: {version}\nkind: CiliumBGPAdvertisement\nmetadata:\n  name: a\nspec:\n  advertisements:\n  - advertisementType: PodCIDR\n");
        assert!(lint(&advertisement).is_empty(), "{version}");
    }
}

// ---------------------------------------------------------------------------------------------
// What the schema enforces

const CLUSTER_HEAD: &str = "apiVersion: cilium.io/v2\nkind: CiliumBGPClusterConfig\nmetadata:\n  name: c\nspec:\n  bgpInstances:\n";

#[test]
fn duplicate_instance_and_peer_names_are_list_map_key_errors() {
    let instances = format!("{CLUSTER_HEAD}  - name: i\n    localASN: 65001\n  - name: i\n    localASN: 65002\n");
    let found = lint(&instances);
    assert_eq!(codes(&found), vec![("PLC2008", 9)]);
    assert_eq!(found[0].related, vec![(0, 7)]);
    let peers = format!(
        "{CLUSTER_HEAD}  - name: i\n    localASN: 65001\n    peers:\n    - name: tor\n      peerAddress: 10.0.0.1\n    - name: tor\n      peerAddress: 10.0.0.2\n"
    );
    assert_eq!(codes(&lint(&peers)), vec![("PLC2008", 12)]);
    let overrides =
        "apiVersion: cilium.io/v2\nkind: CiliumBGPNodeConfigOverride\nmetadata:\n  name: node-1\nspec:\n  bgpInstances:\n  - name: i\n  - name: i\n";
    assert_eq!(codes(&lint(overrides)), vec![("PLC2008", 8)]);
}

#[test]
fn instance_count_and_name_length_are_bounded() {
    let seventeen: String = (0..17).map(|index| format!("  - name: i{index}\n")).collect();
    assert_eq!(codes(&lint(&format!("{CLUSTER_HEAD}{seventeen}"))), vec![("PLC2007", 7)]);
    assert_eq!(codes(&lint(&format!("{CLUSTER_HEAD}  - name: \"\"\n"))), vec![("PLC2007", 7)]);
    assert_eq!(codes(&lint("apiVersion: cilium.io/v2\nkind: CiliumBGPClusterConfig\nmetadata:\n  name: c\nspec:\n  bgpInstances: []\n")), vec![("PLC2007", 6)]);
}

#[test]
fn asn_and_port_ranges() {
    // BGP v2 instances need a non-zero ASN; peers may use 0 (learn it from the OPEN message).
    let found = lint(&format!(
        "{CLUSTER_HEAD}  - name: i\n    localASN: 0\n    localPort: 70000\n    peers:\n    - name: p\n      peerAddress: 10.0.0.1\n      peerASN: 0\n"
    ));
    assert_eq!(codes(&found), vec![("PLC2006", 8), ("PLC2006", 9)]);
    assert!(found[0].message.contains("must be from 1 to 4294967295"), "{}", found[0].message);
    let v1 = "apiVersion: cilium.io/v2alpha1\nkind: CiliumBGPPeeringPolicy\nmetadata:\n  name: v1\nspec:\n  virtualRouters:\n  - localASN: 4294967296\n    neighbors:\n    - peerAddress: 10.0.0.1/32\n      peerASN: 0\n      peerPort: 0\n      eBGPMultihopTTL: 256\n      holdTimeSeconds: 2\n      gracefulRestart: {enabled: true, restartTimeSeconds: 4096}\n";
    assert_eq!(codes(&lint(v1)), vec![("PLC2006", 7), ("PLC2006", 11), ("PLC2006", 12), ("PLC2006", 13), ("PLC2006", 14)]);
}

#[test]
fn required_fields() {
    let v1 = "apiVersion: cilium.io/v2alpha1\nkind: CiliumBGPPeeringPolicy\nmetadata:\n  name: v1\nspec:\n  virtualRouters:\n  - localASN: 64512\n    neighbors:\n    - peerASN: 64512\n";
    let found = lint(v1);
    assert_eq!(codes(&found), vec![("PLC2003", 9)]);
    assert_eq!(found[0].message, "missing required field `peerAddress` in `spec.virtualRouters[0].neighbors[0]`");
    let no_spec = "apiVersion: cilium.io/v2\nkind: CiliumBGPAdvertisement\nmetadata:\n  name: a\n";
    assert_eq!(codes(&lint(no_spec)).first().map(|finding| finding.0), Some("PLC2003"));
    let no_addresses = "apiVersion: cilium.io/v2\nkind: CiliumBGPAdvertisement\nmetadata:\n  name: a\nspec:\n  advertisements:\n  - advertisementType: Service\n    service:\n      addresses: []\n    selector: {}\n";
    assert_eq!(codes(&lint(no_addresses)), vec![("PLC2007", 9)]);
    let graceful = "apiVersion: cilium.io/v2\nkind: CiliumBGPPeerConfig\nmetadata:\n  name: p\nspec:\n  gracefulRestart:\n    restartTimeSeconds: 30\n";
    assert_eq!(codes(&lint(graceful)), vec![("PLC2003", 6)]);
}

const ADVERTISEMENT_HEAD: &str = "apiVersion: cilium.io/v2\nkind: CiliumBGPAdvertisement\nmetadata:\n  name: a\nspec:\n  advertisements:\n  - advertisementType: PodCIDR\n    attributes:\n      communities:\n";

#[test]
fn community_formats_follow_the_crd_patterns() {
    let good = format!(
        "{ADVERTISEMENT_HEAD}        standard: [\"65000:100\", \"4294967295\", \"0:0\"]\n        large: [\"4294967295:0:1\"]\n        wellKnown: [no-export, blackhole, llgr-stale]\n"
    );
    assert!(lint(&good).is_empty());
    let found = lint(&format!("{ADVERTISEMENT_HEAD}        standard: [\"65536:1\", \"1111:1111:1111\", \"no-export\"]\n"));
    assert_eq!(codes(&found), vec![("PLC2005", 10), ("PLC2005", 10), ("PLC2005", 10)]);
    let help = found[0].help.as_deref().unwrap_or_default();
    assert!(help.contains("large communities `A:B:C` go in `large`") && help.contains("`wellKnown`"), "{help}");
    let found = lint(&format!("{ADVERTISEMENT_HEAD}        large: [\"65000:100\"]\n"));
    assert_eq!(codes(&found), vec![("PLC2005", 10)]);
    assert!(found[0].help.as_deref().unwrap_or_default().contains("two-part communities go in `standard`"));
    let found = lint(&format!("{ADVERTISEMENT_HEAD}        wellKnown: [No-Export, no_export]\n"));
    assert_eq!(codes(&found), vec![("PLC2004", 10), ("PLC2004", 10)]);
    assert_eq!(found[0].help.as_deref(), Some("values are case-sensitive: write `no-export`"));
    // A community written as a plain number is a YAML integer: the API server wants a string.
    let found = lint(&format!("{ADVERTISEMENT_HEAD}        standard: [100]\n"));
    assert_eq!(codes(&found), vec![("PLC2002", 10)]);
}

#[test]
fn v1_communities_use_the_same_patterns() {
    let v1 = "apiVersion: cilium.io/v2alpha1\nkind: CiliumBGPPeeringPolicy\nmetadata:\n  name: v1\nspec:\n  virtualRouters:\n  - localASN: 64512\n    neighbors:\n    - peerAddress: 10.0.0.1/32\n      peerASN: 64512\n      advertisedPathAttributes:\n      - selectorType: PodCIDR\n        communities:\n          standard: [\"64512:70000\"]\n          large: [\"1:2:3\"]\n";
    assert_eq!(codes(&lint(v1)), vec![("PLC2005", 14)]);
}

#[test]
fn enums_and_their_spelling() {
    let pool = |value: &str| {
        format!(
            "apiVersion: cilium.io/v2\nkind: CiliumLoadBalancerIPPool\nmetadata:\n  name: p\nspec:\n  allowFirstLastIPs: {value}\n  blocks:\n  - cidr: 10.0.0.0/24\n"
        )
    };
    assert!(lint(&pool("\"No\"")).is_empty());
    let unquoted = lint(&pool("No"));
    assert_eq!(codes(&unquoted), vec![("PLC2002", 6)]);
    assert_eq!(unquoted[0].help.as_deref(), Some("quote it: `\"No\"`"));
    // A boolean is not one of the values: quoting `false` would not help.
    let boolean = lint(&pool("false"));
    assert_eq!(codes(&boolean), vec![("PLC2002", 6)]);
    assert_eq!(boolean[0].help.as_deref(), Some("allowed values: `Yes`, `No`"));
    let lower = lint(&pool("\"no\""));
    assert_eq!(codes(&lower), vec![("PLC2004", 6)]);
    assert_eq!(lower[0].help.as_deref(), Some("values are case-sensitive: write `No`"));
    let advertisement =
        "apiVersion: cilium.io/v2\nkind: CiliumBGPAdvertisement\nmetadata:\n  name: a\nspec:\n  advertisements:\n  - advertisementType: podCIDR\n";
    assert_eq!(codes(&lint(advertisement)), vec![("PLC2004", 7)]);
    let families = "apiVersion: cilium.io/v2\nkind: CiliumBGPPeerConfig\nmetadata:\n  name: p\nspec:\n  families:\n  - afi: ipv5\n    safi: unicast\n  - afi: ipv6\n    safi: mpls-vpn\n";
    assert_eq!(codes(&lint(families)), vec![("PLC2004", 7), ("PLC2004", 10)]);
    let v1 = "apiVersion: cilium.io/v2alpha1\nkind: CiliumBGPPeeringPolicy\nmetadata:\n  name: v1\nspec:\n  virtualRouters:\n  - localASN: 64512\n    serviceAdvertisements: [LoadBalancerIp]\n    serviceSelector: {}\n    neighbors:\n    - peerAddress: 10.0.0.1/32\n      peerASN: 64512\n      advertisedPathAttributes:\n      - selectorType: CiliumLoadBalancerIpPool\n";
    assert_eq!(codes(&lint(v1)), vec![("PLC2004", 8), ("PLC2004", 14)]);
}

#[test]
fn addresses_follow_the_crd_formats() {
    let peer = |address: &str| format!("{CLUSTER_HEAD}  - name: i\n    localASN: 65001\n    peers:\n    - name: p\n      peerAddress: \"{address}\"\n");
    assert!(lint(&peer("fe80::1%eth0")).is_empty());
    let found = lint(&peer("10.0.0.1/32"));
    assert_eq!(codes(&found), vec![("PLC2005", 11)]);
    assert_eq!(found[0].help.as_deref(), Some("write a single IPv4 or IPv6 address without a prefix length, such as `10.0.0.1` or `fd00:10::1`"));
    let router_id = "apiVersion: cilium.io/v2\nkind: CiliumBGPNodeConfigOverride\nmetadata:\n  name: node-1\nspec:\n  bgpInstances:\n  - name: i\n    routerID: fd00::1\n    peers:\n    - name: p\n      localAddress: 10.0.0.300\n";
    assert_eq!(codes(&lint(router_id)), vec![("PLC2010", 8), ("PLC2005", 11)]);
    let pool = "apiVersion: cilium.io/v2\nkind: CiliumLoadBalancerIPPool\nmetadata:\n  name: p\nspec:\n  blocks:\n  - cidr: 10.0.0.0/33\n";
    assert_eq!(codes(&lint(pool)), vec![("PLC2010", 7)]);
}

#[test]
fn selector_label_values_follow_the_crd_pattern() {
    let l2 = |value: &str| {
        format!(
            "apiVersion: cilium.io/v2alpha1\nkind: CiliumL2AnnouncementPolicy\nmetadata:\n  name: l2\nspec:\n  loadBalancerIPs: true\n  serviceSelector:\n    matchLabels:\n      color: {value}\n"
        )
    };
    assert!(lint(&l2("blue")).is_empty());
    assert_eq!(codes(&lint(&l2("\"-blue\""))), vec![("PLC2005", 9)]);
    assert_eq!(codes(&lint(&l2(&"b".repeat(64)))), vec![("PLC2007", 9)]);
    assert_eq!(codes(&lint(&l2("true"))), vec![("PLC2002", 9)]);
    let operator = "apiVersion: cilium.io/v2alpha1\nkind: CiliumL2AnnouncementPolicy\nmetadata:\n  name: l2\nspec:\n  loadBalancerIPs: true\n  nodeSelector:\n    matchExpressions:\n    - {key: zone, operator: in, values: [a]}\n    - {key: rack, operator: In}\n";
    // The schema catches the operator spelling; the selector check catches `In` without values.
    assert_eq!(codes(&lint(operator)), vec![("PLC2004", 9)]);
    let without_values = operator.replace("operator: in", "operator: In");
    assert_eq!(codes(&lint(&without_values)), vec![("PLC5901", 10)]);
}

#[test]
fn status_is_accepted_where_the_crd_has_one() {
    let pool = "apiVersion: cilium.io/v2\nkind: CiliumLoadBalancerIPPool\nmetadata:\n  name: p\n  creationTimestamp: \"2024-05-01T10:00:00Z\"\nspec:\n  blocks:\n  - cidr: 10.0.0.0/24\nstatus:\n  conditions:\n  - type: cilium.io/PoolConflict\n    status: \"False\"\n    reason: resolved\n    message: \"\"\n    lastTransitionTime: \"2024-05-01T10:00:00Z\"\n";
    assert!(lint(pool).is_empty());
    let advertisement =
        "apiVersion: cilium.io/v2\nkind: CiliumBGPAdvertisement\nmetadata:\n  name: a\nspec:\n  advertisements:\n  - advertisementType: PodCIDR\nstatus: {}\n";
    assert_eq!(codes(&lint(advertisement)), vec![("PLC2001", 8)]);
}

#[test]
fn misplaced_fields_say_where_they_belong() {
    let peer_config = "apiVersion: cilium.io/v2\nkind: CiliumBGPPeerConfig\nmetadata:\n  name: p\nspec:\n  holdTimeSeconds: 9\n  keepAliveTimeSeconds: 3\n";
    let found = lint(peer_config);
    assert_eq!(codes(&found), vec![("PLC2001", 6), ("PLC2001", 7)]);
    assert!(found[0].help.as_deref().unwrap_or_default().starts_with("`holdTimeSeconds` belongs in `spec.timers`"), "{:?}", found[0].help);
    let pool = "apiVersion: cilium.io/v2\nkind: CiliumLoadBalancerIPPool\nmetadata:\n  name: p\nspec:\n  cidr: 10.0.0.0/24\n";
    let found = lint(pool);
    assert_eq!(codes(&found), vec![("PLC2001", 6)]);
    assert!(found[0].help.as_deref().unwrap_or_default().starts_with("`cidr` belongs in `spec.blocks[]`"), "{:?}", found[0].help);
}

// ---------------------------------------------------------------------------------------------
// Cross-object checks, over several files

const POOL_BLUE: &str = "apiVersion: cilium.io/v2\nkind: CiliumLoadBalancerIPPool\nmetadata:\n  name: blue\n  creationTimestamp: \"2024-05-01T10:00:00Z\"\nspec:\n  blocks:\n  - cidr: 20.0.10.0/24\n";
const POOL_RED: &str = "apiVersion: cilium.io/v2\nkind: CiliumLoadBalancerIPPool\nmetadata:\n  name: red\n  creationTimestamp: \"2024-06-01T10:00:00Z\"\nspec:\n  blocks:\n  - cidr: 10.0.0.0/24\n  - start: 20.0.10.250\n    stop: 20.0.11.5\n";

#[test]
fn the_newer_pool_gets_the_conflict_whatever_the_file_order() {
    for order in [[POOL_BLUE, POOL_RED], [POOL_RED, POOL_BLUE]] {
        let found = lint_sources(&order);
        assert_eq!(found.len(), 1, "{found:#?}");
        let red_source = if order[0] == POOL_RED { 0 } else { 1 };
        assert_eq!((found[0].code, found[0].severity, found[0].source, found[0].line), ("PLC5006", Severity::Warning, red_source, 9));
        assert_eq!(found[0].related, vec![(1 - red_source, 8)]);
        assert!(found[0].message.contains("range `20.0.10.250-20.0.11.5` overlaps `20.0.10.0-20.0.10.255`"), "{}", found[0].message);
    }
}

#[test]
fn cross_object_bgp_references() {
    let cluster = "apiVersion: cilium.io/v2\nkind: CiliumBGPClusterConfig\nmetadata:\n  name: c\nspec:\n  bgpInstances:\n  - name: rack1\n    localASN: 65101\n    peers:\n    - name: tor-a\n      peerAddress: 192.0.2.1\n      peerConfigRef: {name: tor}\n";
    let peer_config = "apiVersion: cilium.io/v2\nkind: CiliumBGPPeerConfig\nmetadata:\n  name: tor\nspec:\n  families:\n  - afi: ipv4\n    safi: unicast\n    advertisements:\n      matchLabels: {advertise: rack1}\n";
    let advertisement = "apiVersion: cilium.io/v2\nkind: CiliumBGPAdvertisement\nmetadata:\n  name: routes\n  labels: {advertise: rack1}\nspec:\n  advertisements:\n  - advertisementType: PodCIDR\n";
    let node_override = "apiVersion: cilium.io/v2\nkind: CiliumBGPNodeConfigOverride\nmetadata:\n  name: node-1\nspec:\n  bgpInstances:\n  - name: rack1\n    peers:\n    - name: tor-a\n      localAddress: 192.0.2.2\n";
    assert!(lint_sources(&[cluster, peer_config, advertisement, node_override]).is_empty());

    let wrong_ref = cluster.replace("{name: tor}", "{name: tor-config}");
    let found = lint_sources(&[&wrong_ref, peer_config, advertisement]);
    assert_eq!(codes(&found), vec![("PLC5301", 12)]);
    assert_eq!(found[0].help.as_deref(), Some("peer configs in the inputs: `tor`"));

    let wrong_label = advertisement.replace("{advertise: rack1}", "{advertise: rack-1}");
    let found = lint_sources(&[cluster, peer_config, &wrong_label]);
    assert_eq!(codes(&found), vec![("PLC5312", 10)]);
    assert_eq!(found[0].help.as_deref(), Some("match the labels of an advertisement: `routes` (advertise=rack-1)"));

    let wrong_instance = node_override.replace("name: rack1", "name: rack2");
    let found = lint_sources(&[cluster, &wrong_instance]);
    assert_eq!(codes(&found), vec![("PLC5309", 7)]);
    assert_eq!(found[0].help.as_deref(), Some("did you mean `rack1`?"));
    let wrong_peer = node_override.replace("name: tor-a", "name: tor-b");
    assert_eq!(codes(&lint_sources(&[cluster, &wrong_peer])), vec![("PLC5309", 9)]);
}

#[test]
fn one_object_can_break_several_rules_and_all_are_reported() {
    let advertisement = "apiVersion: cilium.io/v2alpha1\nkind: CiliumBGPAdvertisement\nmetadata:\n  name: a\nspec:\n  advertisements:\n  - advertisementType: Service\n  - advertisementType: PodCIDR\n    selector: {matchLabels: {a: b}}\n    service: {addresses: [ClusterIP]}\n  - advertisementType: CiliumPodIPPool\n  - advertisementType: Interface\n    interface: {name: lo}\n";
    let found = lint(advertisement);
    assert_eq!(
        codes(&found),
        vec![("PLC5307", 7), ("PLC5308", 7), ("PLC5307", 9), ("PLC5314", 10), ("PLC5308", 11), ("PLC5306", 12), ("PLC5306", 13)],
        "{found:#?}"
    );
}
