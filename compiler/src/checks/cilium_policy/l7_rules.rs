//! L7 rules (`toPorts[].rules`): exactly one kind per port rule; only on TCP ports (DNS also on
//! UDP); never on port 0; HTTP on ingress and egress, DNS on egress only, with a port and without
//! ranges; none on host ingress and only DNS on host egress; HTTP `path`/`method` are valid
//! regular expressions. Kafka and the generic `l7proto` rules were removed in Cilium 1.20.
//!
//! Fix: as each message says.

use super::Element;
use super::ports::{PortValue, port_value};
use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::cilium_policy::{L4Proto, L7Rules, PortRule, Rule};
use crate::path::Path;

code!(
    L7_NOT_TCP,
    "PLC3040",
    "l7-rules-not-on-tcp",
    Error,
    "L7 rules are given for a port that is not TCP-only",
    "HTTP (and Kafka) rules only apply to TCP; DNS rules may also use UDP. Cilium refuses the policy when an L7 rule shares a port rule with a port whose protocol is anything else, including a port without `protocol` (that means `ANY`: TCP, UDP and SCTP): \"L7 rules can only apply to TCP (not ANY) except for DNS rules\".

Example:
  toPorts:
  - ports: [{port: \"80\"}]                 # protocol missing: ANY
    rules: {http: [{method: GET}]}

Fix: add `protocol: TCP` to every port of the port rule."
);

code!(
    L7_ON_WILDCARD_PORT,
    "PLC3041",
    "l7-rules-on-port-zero",
    Error,
    "L7 rules are given for port 0 (every port)",
    "The L7 proxy needs to know which port to intercept; Cilium refuses L7 rules when a port of the same port rule is `\"0\"` (\"L7 rules can not be used when a port is 0\").

Fix: list the actual ports the L7 rules apply to."
);

code!(
    L7_WRONG_DIRECTION,
    "PLC3042",
    "l7-rules-wrong-direction",
    Error,
    "an L7 rule kind is used in a direction Cilium does not support",
    "DNS rules only work on egress (the proxy sees the subject's own lookups). Host policies (`nodeSelector`) support no L7 rules on ingress and only DNS rules on egress. Cilium refuses the policy otherwise (\"DNS rules are not allowed on ingress\", \"L7 policy is not supported on host ingress yet\").

Fix: move DNS rules to an `egress` rule of the pods that do the lookups; drop L7 rules from host policies, or select pods instead of nodes."
);

code!(
    L7_KIND_NOT_EXACTLY_ONE,
    "PLC3043",
    "l7-rule-kind-not-exactly-one",
    Error,
    "`rules` needs exactly one of `http`, `dns` (or the removed `kafka`, `l7proto`)",
    "A port rule's `rules` holds one kind of L7 rule: the CRD says so with a `oneOf`, and Cilium refuses a policy that mixes them (\"multiple L7 protocol rule types specified in single rule\"). An empty `rules: {}` is rejected by the CRD as well.

Example:
  rules:
    http: [{method: GET}]
    dns: [{matchPattern: \"*\"}]

Fix: give each kind its own `toPorts` item with its own ports (DNS on port 53, HTTP on the service port)."
);

code!(
    DNS_RULE_WITHOUT_PORT,
    "PLC3044",
    "dns-rules-without-port",
    Error,
    "DNS rules are given without a port",
    "Cilium's DNS proxy needs the DNS port to be listed with the rules (\"port 53 must be specified for DNS rules\").

Fix: add `ports: [{port: \"53\", protocol: ANY}]` to the port rule."
);

code!(
    DNS_RULE_PORT_RANGE,
    "PLC3045",
    "dns-rules-with-port-range",
    Error,
    "DNS rules are given for a port range",
    "Cilium refuses DNS rules on a port range (\"DNS rules do not support port ranges\").

Fix: list port 53 alone."
);

code!(
    HTTP_RULE_INVALID_REGEX,
    "PLC3047",
    "http-rule-invalid-regex",
    Error,
    "an HTTP rule's `path` or `method` is not a valid regular expression",
    "`path` and `method` of an HTTP rule are regular expressions (RE2 syntax, matched against the whole value). Cilium refuses the policy when one does not compile.

Example:
  http:
  - path: \"/api/v1/(users\"

Fix: correct the expression; escape `(`, `[`, `*`, `+`, `?` and `.` that are meant literally with a backslash."
);

code!(
    L7_REMOVED_KIND,
    "PLC3048",
    "l7-rule-kind-removed",
    Warning,
    "Kafka and generic `l7proto` rules were removed in Cilium 1.20",
    "Kafka rules were deprecated in Cilium 1.18 and, with the generic `l7proto`/`l7` rules, removed from the CRD in Cilium 1.20: on newer clusters the API server rejects the policy, and on older ones these rules still work.

Fix: plan a replacement (for example an L3/L4 rule to the brokers); the rule stops working when the cluster is upgraded."
);

code!(
    L7_WITHOUT_L7PROTO,
    "PLC3049",
    "l7-rules-without-l7proto",
    Error,
    "generic `l7` rules are given without `l7proto`",
    "Generic key-value `l7` rules are interpreted by the L7 parser named in `l7proto`; without it, Cilium refuses the policy.

Fix: add `l7proto:` with the parser name, or remove `l7`."
);

pub(super) fn check(rule: &Rule, element: &Element<'_>, cx: &mut CheckCx<'_>) {
    for (path, port_rule) in element.port_rules() {
        let Some(rules) = &port_rule.rules else { continue };
        check_rules(rule, element, &path, port_rule, rules, cx);
    }
}

fn check_rules(rule: &Rule, element: &Element<'_>, path: &Path, port_rule: &PortRule, rules: &L7Rules, cx: &mut CheckCx<'_>) {
    let rules_path = path.key("rules");
    let kinds = rules.kinds();
    match kinds.len() {
        0 if rules.l7.is_some() => {
            cx.report_key(&L7_WITHOUT_L7PROTO, &rules_path.key("l7"), "`l7` rules need `l7proto` to name their parser").help =
                Some("add `l7proto:` with the parser name, or remove `l7`".to_owned());
        }
        0 => {
            cx.report(&L7_KIND_NOT_EXACTLY_ONE, &rules_path, "`rules` names no L7 rule kind").help =
                Some("add `http:` or `dns:` rules, or remove `rules` to allow the ports without L7 filtering".to_owned());
        }
        1 => {}
        _ => {
            let shown = super::backticked_list(&kinds);
            cx.report_key(&L7_KIND_NOT_EXACTLY_ONE, &rules_path.key(kinds[1]), format!("one `rules` mixes {shown}; only one kind is allowed")).help =
                Some("give each kind its own `toPorts` item with its own ports".to_owned());
        }
    }
    for removed in ["kafka", "l7proto"] {
        if kinds.contains(&removed) {
            cx.report_key(&L7_REMOVED_KIND, &rules_path.key(removed), format!("`{removed}` rules were removed from Cilium in version 1.20")).help =
                Some("on Cilium 1.20 and later the API server rejects this policy; replace these rules before upgrading".to_owned());
        }
    }
    if rules.is_empty() {
        return;
    }
    let is_dns = rules.dns.as_ref().is_some_and(|dns| !dns.is_empty());
    let l7_kind = kinds.first().copied().unwrap_or("l7");
    // Direction.
    let host = rule.is_host_policy();
    let direction_problem = if element.is_ingress() && host {
        Some(format!("L7 rules (`{l7_kind}`) are not supported on host ingress"))
    } else if element.is_ingress() && is_dns {
        Some("DNS rules are not allowed on ingress".to_owned())
    } else if !element.is_ingress() && host && !is_dns {
        Some(format!("host policies support only DNS rules on egress, not `{l7_kind}`"))
    } else {
        None
    };
    if let Some(message) = direction_problem {
        let help = if host {
            "host policies (`nodeSelector`) cannot use these L7 rules; remove them, or select pods with `endpointSelector`"
        } else {
            "DNS rules belong in an `egress` rule of the pods that send the lookups, with `toPorts: [{ports: [{port: \"53\", protocol: ANY}], rules: {dns: [...]}}]`"
        };
        cx.report_key(&L7_WRONG_DIRECTION, &rules_path.key(l7_kind), message).help = Some(help.to_owned());
    }
    let ports = port_rule.ports();
    if is_dns && ports.is_empty() {
        cx.report_key(&DNS_RULE_WITHOUT_PORT, &rules_path.key("dns"), "DNS rules need the DNS port listed in `ports`").help =
            Some("add `ports: [{port: \"53\", protocol: ANY}]` to this `toPorts` item".to_owned());
    }
    for (index, port) in ports.iter().enumerate() {
        let port_path = path.key("ports").index(index);
        let value = port_value(port);
        if value == PortValue::Number(0) {
            cx.report(&L7_ON_WILDCARD_PORT, &port_path.key("port"), "L7 rules cannot apply to port `0` (every port)").help =
                Some("list the ports the L7 rules are for".to_owned());
        }
        if is_dns {
            if let (PortValue::Number(start), Some(end)) = (value, port.end_port)
                && i64::from(end) > i64::from(start)
            {
                cx.report(&DNS_RULE_PORT_RANGE, &port_path.key("endPort"), "DNS rules cannot apply to a port range").help =
                    Some("remove `endPort` and list port 53".to_owned());
            }
        } else if port.protocol != Some(L4Proto::Tcp) {
            let (target, message) = match port.protocol {
                Some(protocol) => (port_path.key("protocol"), format!("`{l7_kind}` rules only apply to TCP, not `{}`", protocol.as_str())),
                None => (port_path.clone(), format!("`{l7_kind}` rules only apply to TCP, and a port without `protocol` means `ANY` (TCP, UDP and SCTP)")),
            };
            let diagnostic = if port.protocol.is_some() { cx.report(&L7_NOT_TCP, &target, message) } else { cx.report_key(&L7_NOT_TCP, &target, message) };
            diagnostic.help = Some("set `protocol: TCP` on this port".to_owned());
        }
    }
    for (index, http) in rules.http.iter().flatten().enumerate() {
        let http_path = rules_path.key("http").index(index);
        for (field, value) in [("path", &http.path), ("method", &http.method)] {
            let Some(value) = value else { continue };
            if let Err(error) = regex::Regex::new(value) {
                let reason = error.to_string().lines().last().unwrap_or("").trim().trim_start_matches("error: ").to_owned();
                cx.report(&HTTP_RULE_INVALID_REGEX, &http_path.key(field), format!("`{field}` is not a valid regular expression: {reason}")).help =
                    Some("escape characters meant literally with `\\`, and close every group and class".to_owned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{cnp, codes};

    fn port_rule(direction: &str, ports: &str, rules: &str) -> String {
        cnp(&format!("  endpointSelector: {{}}\n  {direction}:\n  - toPorts:\n    - ports: {ports}\n      rules: {rules}\n"))
    }

    #[test]
    fn http_on_udp_or_any_is_an_error() {
        assert_eq!(codes(&port_rule("ingress", "[{port: \"80\", protocol: UDP}]", "{http: [{}]}")), vec![("PLC3040", 10)]);
        assert_eq!(codes(&port_rule("ingress", "[{port: \"80\"}]", "{http: [{}]}")), vec![("PLC3040", 10)]);
        assert_eq!(codes(&port_rule("ingress", "[{port: \"80\", protocol: TCP}]", "{http: [{method: GET}]}")), vec![]);
    }

    #[test]
    fn l7_on_port_zero_is_an_error() {
        assert_eq!(codes(&port_rule("egress", "[{port: \"0\", protocol: TCP}]", "{http: [{}]}")), vec![("PLC3041", 10)]);
    }

    #[test]
    fn dns_on_ingress_is_an_error() {
        assert_eq!(codes(&port_rule("ingress", "[{port: \"53\", protocol: UDP}]", "{dns: [{matchPattern: \"*\"}]}")), vec![("PLC3042", 11)]);
        assert_eq!(codes(&port_rule("egress", "[{port: \"53\", protocol: ANY}]", "{dns: [{matchPattern: \"*\"}]}")), vec![]);
    }

    #[test]
    fn l7_on_host_policies() {
        let host = |direction: &str, rules: &str| {
            format!(
                "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata:\n  name: a\nspec:\n  nodeSelector: {{}}\n  {direction}:\n  - toPorts:\n    - ports: [{{port: \"53\", protocol: UDP}}]\n      rules: {rules}\n"
            )
        };
        assert_eq!(codes(&host("ingress", "{http: [{}]}")), vec![("PLC3040", 9), ("PLC3042", 10)]);
        assert_eq!(codes(&host("egress", "{dns: [{matchName: example.com}]}")), vec![]);
    }

    #[test]
    fn mixed_or_missing_kinds_are_errors() {
        assert_eq!(codes(&port_rule("egress", "[{port: \"53\", protocol: TCP}]", "{http: [{}], dns: [{matchName: a.com}]}")), vec![("PLC3043", 11)]);
        assert_eq!(codes(&port_rule("egress", "[{port: \"80\", protocol: TCP}]", "{}")), vec![("PLC3043", 11)]);
    }

    #[test]
    fn dns_ports() {
        let without = cnp("  endpointSelector: {}\n  egress:\n  - toPorts:\n    - rules: {dns: [{matchPattern: \"*\"}]}\n");
        assert_eq!(codes(&without), vec![("PLC3044", 10)]);
        assert_eq!(codes(&port_rule("egress", "[{port: \"53\", endPort: 60}]", "{dns: [{matchPattern: \"*\"}]}")), vec![("PLC3045", 10)]);
        // OpenShift's cluster DNS listens on 5353: DNS rules on other ports than 53 are fine.
        assert_eq!(codes(&port_rule("egress", "[{port: \"5353\", protocol: UDP}]", "{dns: [{matchPattern: \"*\"}]}")), vec![]);
    }

    #[test]
    fn invalid_http_regex_is_an_error() {
        assert_eq!(codes(&port_rule("ingress", "[{port: \"80\", protocol: TCP}]", "{http: [{path: \"/a(\"}]}")), vec![("PLC3047", 11)]);
        assert_eq!(codes(&port_rule("ingress", "[{port: \"80\", protocol: TCP}]", "{http: [{path: \"/a/.*\", method: \"GET|POST\"}]}")), vec![]);
    }

    #[test]
    fn removed_kinds_are_warnings() {
        assert_eq!(codes(&port_rule("ingress", "[{port: \"9092\", protocol: TCP}]", "{kafka: [{role: produce, topic: t}]}")), vec![("PLC3048", 11)]);
        assert_eq!(codes(&port_rule("ingress", "[{port: \"9092\", protocol: TCP}]", "{l7: [{a: b}]}")), vec![("PLC3049", 11)]);
    }
}
