//! What the policy models enforce through the schema walk: CRD limits, enums and patterns, and
//! the help given for fields written where they do not belong (deny rules, obsolete names).

use polc_compiler::frontend::{Options, parse};
use polc_compiler::source::SourceMap;

/// `(code, line, help)` of every finding.
fn lint(text: &str) -> Vec<(&'static str, u32, String)> {
    let mut sources = SourceMap::default();
    sources.add("test.yaml", text);
    parse(&sources, &Options::default())
        .diagnostics
        .into_iter()
        .map(|d| (d.code.id, d.location.as_ref().map_or(0, |l| l.span.start.line), d.help.unwrap_or_default()))
        .collect()
}

fn codes(text: &str) -> Vec<(&'static str, u32)> {
    lint(text).into_iter().map(|(code, line, _)| (code, line)).collect()
}

/// A CiliumNetworkPolicy whose `spec` is `body` (indented two spaces); `spec:` is line 6.
fn cnp(body: &str) -> String {
    format!("apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata:\n  name: test\n  namespace: prod\nspec:\n{body}")
}

/// A NetworkPolicy whose `spec` is `body`; `spec:` is line 6.
fn netpol(body: &str) -> String {
    format!("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata:\n  name: test\n  namespace: prod\nspec:\n{body}")
}

#[test]
fn log_value_is_at_most_32_printable_characters() {
    let ok = cnp("  endpointSelector: {}\n  ingress: [{}]\n  log:\n    value: \"audit: frontend ingress\"\n");
    assert_eq!(codes(&ok), vec![]);
    let long = cnp(&format!("  endpointSelector: {{}}\n  ingress: [{{}}]\n  log:\n    value: {}\n", "x".repeat(33)));
    assert_eq!(codes(&long), vec![("PLC2007", 10)]);
    let control = cnp("  endpointSelector: {}\n  ingress: [{}]\n  log:\n    value: \"a\\tb\"\n");
    assert_eq!(codes(&control), vec![("PLC2005", 10)]);
}

#[test]
fn at_most_40_ports_per_port_rule() {
    let ports = |count: usize| (0..count).map(|index| format!("      - port: \"{}\"\n", 1000 + index)).collect::<String>();
    let forty = cnp(&format!("  endpointSelector: {{}}\n  ingress:\n  - toPorts:\n    - ports:\n{}", ports(40)));
    assert_eq!(codes(&forty), vec![]);
    let forty_one = cnp(&format!("  endpointSelector: {{}}\n  ingress:\n  - toPorts:\n    - ports:\n{}", ports(41)));
    assert_eq!(codes(&forty_one), vec![("PLC2007", 11)]);
}

#[test]
fn port_is_a_quoted_string_and_protocol_an_upper_case_enum() {
    let found = lint(&cnp("  endpointSelector: {}\n  ingress:\n  - toPorts:\n    - ports:\n      - port: 80\n        protocol: tcp\n"));
    assert_eq!(found.iter().map(|(code, line, _)| (*code, *line)).collect::<Vec<_>>(), vec![("PLC2002", 11), ("PLC2004", 12)]);
    assert!(found[0].2.contains("quote it"), "{}", found[0].2);
    assert!(found[1].2.contains("write `TCP`"), "{}", found[1].2);
}

#[test]
fn server_names_cannot_be_empty() {
    let text =
        cnp("  endpointSelector: {}\n  egress:\n  - toPorts:\n    - ports: [{port: \"443\", protocol: TCP}]\n      serverNames: [\"\", api.example.com]\n");
    assert_eq!(codes(&text), vec![("PLC2005", 11)]);
}

#[test]
fn entities_and_authentication_modes_are_enums() {
    let text = cnp("  endpointSelector: {}\n  ingress:\n  - fromEntities: [World]\n    authentication: {mode: strict}\n");
    assert_eq!(codes(&text), vec![("PLC2004", 9), ("PLC2004", 10)]);
}

#[test]
fn deny_rules_have_no_l7_rules_nor_authentication_nor_fqdns() {
    let text = cnp(
        "  endpointSelector: {}\n  ingressDeny:\n  - authentication: {mode: required}\n    toPorts:\n    - ports: [{port: \"80\", protocol: TCP}]\n      rules: {http: [{}]}\n  egressDeny:\n  - toFQDNs: [{matchName: example.com}]\n",
    );
    let found = lint(&text);
    assert_eq!(found.iter().map(|(code, line, _)| (*code, *line)).collect::<Vec<_>>(), vec![("PLC2001", 9), ("PLC2001", 12), ("PLC2001", 14)]);
    assert!(found[0].2.contains("deny rules carry no authentication"), "{}", found[0].2);
    assert!(found[1].2.contains("deny rules cannot have L7 rules"), "{}", found[1].2);
    assert!(found[2].2.contains("only allowed in `egress` (allow) rules"), "{}", found[2].2);
}

#[test]
fn peers_of_the_other_direction_get_their_right_name() {
    let found = lint(&cnp("  endpointSelector: {}\n  ingress:\n  - toEndpoints: [{}]\n  egress:\n  - fromCIDR: [10.0.0.0/8]\n"));
    assert_eq!(found.iter().map(|(code, line, _)| (*code, *line)).collect::<Vec<_>>(), vec![("PLC2001", 9), ("PLC2001", 11)]);
    assert!(found[0].2.contains("the peers are `fromEndpoints`"), "{}", found[0].2);
    assert!(found[1].2.contains("the peers are `toCIDR`"), "{}", found[1].2);
}

#[test]
fn cidrs_are_prefixes() {
    let text = cnp("  endpointSelector: {}\n  egress:\n  - toCIDR: [10.0.0.1]\n  - toCIDRSet:\n    - cidr: 10.0.0.0/33\n");
    assert_eq!(codes(&text), vec![("PLC2010", 9), ("PLC2010", 11)]);
}

#[test]
fn fqdn_names_and_patterns_follow_the_crd_patterns() {
    let found = lint(&cnp("  endpointSelector: {}\n  egress:\n  - toFQDNs:\n    - matchName: \"*.example.com\"\n    - matchPattern: \"exa mple.com\"\n"));
    assert_eq!(found.iter().map(|(code, line, _)| (*code, *line)).collect::<Vec<_>>(), vec![("PLC2005", 10), ("PLC2005", 11)]);
    assert!(found[0].2.contains("use `matchPattern`"), "{}", found[0].2);
}

#[test]
fn pod_selector_in_a_cilium_policy_is_named() {
    let found = lint(&cnp("  podSelector: {}\n  ingress: [{}]\n"));
    assert_eq!(found[0].0, "PLC2001");
    assert!(found[0].2.contains("`endpointSelector`"), "{}", found[0].2);
}

#[test]
fn labels_outside_match_labels_are_pointed_at() {
    let found = lint(&cnp("  endpointSelector:\n    app: web\n  ingress: [{}]\n"));
    assert_eq!((found[0].0, found[0].1), ("PLC2001", 8));
    assert!(found[0].2.contains("indent it under `matchLabels:`"), "{}", found[0].2);
    // A typo of a selector field is still a typo.
    let found = lint(&cnp("  endpointSelector:\n    matchLabel: {app: web}\n  ingress: [{}]\n"));
    assert!(found[0].2.contains("did you mean `matchLabels`?"), "{}", found[0].2);
}

#[test]
fn empty_values_mean_absent_fields() {
    // `matchLabels:` with no value is accepted by Kubernetes and means no labels.
    let text = netpol("  podSelector:\n    matchLabels:\n  ingress:\n  - from:\n    - podSelector: {}\n");
    assert_eq!(codes(&text), vec![]);
    // A null `podSelector` selects every pod, like `{}`.
    let text = netpol("  podSelector:\n  policyTypes: [Ingress]\n");
    assert_eq!(codes(&text), vec![]);
}

#[test]
fn network_policy_requires_a_pod_selector_and_uses_k8s_enums() {
    let found = lint(&netpol("  endpointSelector: {}\n  policyTypes: [ingress]\n  ingress:\n  - ports:\n    - protocol: ICMP\n"));
    let got: Vec<(&str, u32)> = found.iter().map(|(code, line, _)| (*code, *line)).collect();
    assert_eq!(got, vec![("PLC2003", 6), ("PLC2001", 7), ("PLC2004", 8), ("PLC2004", 11)]);
    assert!(found[1].2.contains("`podSelector`"), "{}", found[1].2);
    assert!(found[2].2.contains("write `Ingress`"), "{}", found[2].2);
}

#[test]
fn policy_types_has_at_most_two_items() {
    let text = netpol("  podSelector: {}\n  policyTypes: [Ingress, Egress, Ingress]\n");
    assert_eq!(codes(&text), vec![("PLC2007", 8)]);
}

#[test]
fn published_schemas_carry_the_crd_limits() {
    for kind in ["CiliumNetworkPolicy", "CiliumClusterwideNetworkPolicy"] {
        let schema = polc_compiler::kinds::KindInfo::find(kind).expect("kind").schema().json().to_string();
        for needle in
            ["\"maxItems\":40", "\"maxLength\":32", "\"maxLength\":255", "\"kube-apiserver\"", "\"test-always-fail\"", "\"VRRP\"", "\"format\":\"cidr\""]
        {
            assert!(schema.contains(needle), "{kind}: {needle} missing");
        }
    }
    let schema = polc_compiler::kinds::KindInfo::find("NetworkPolicy").expect("kind").schema().json().to_string();
    for needle in ["\"podSelector\"", "\"SCTP\"", "\"format\":\"cidr\""] {
        assert!(schema.contains(needle), "NetworkPolicy: {needle} missing");
    }
}
