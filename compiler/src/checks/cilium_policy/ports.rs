//! The ports of `toPorts`: each `port` is a number from 0 to 65535 or a port name, given unless
//! the protocol has no ports; a range (`endPort`) starts at a number and does not run
//! backwards; a port rule lists at least one port.
//!
//! Fix: as each message says; `"0"` means every port.

use super::Element;
use crate::checks::CheckCx;
use crate::checks::k8s_policy::syntax::port_name_problem;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::cilium_policy::PortProtocol;
use crate::path::Path;

code!(
    INVALID_PORT,
    "PLC3020",
    "invalid-port",
    Error,
    "a `port` is neither a port number from 0 to 65535 nor a valid port name",
    "A Cilium port is a string holding a number from 0 to 65535 (`\"0\"` means every port) or the name of a container port: an IANA service name of at most 15 letters, digits and `-`, with at least one letter and no `--` or `-` at either end. The CRD's pattern lets some invalid values through (`\"99999\"`, `\"80abc\"`); Cilium then refuses the whole policy (\"unable to parse port\").

Example:
  ports:
  - port: \"65536\"

Fix: use a number from 0 to 65535, or the name of a port the pods declare."
);

code!(
    PORT_LEADING_ZERO,
    "PLC3021",
    "port-leading-zero",
    Warning,
    "a `port` number has a leading zero, so Cilium reads it as octal",
    "Cilium parses port numbers the way Go's `strconv.ParseUint(s, 0, 16)` does: a leading `0` makes the number octal. `\"010\"` is port 8, not port 10, and `\"080\"` is not a number at all (an error).

Fix: write the port without leading zeros."
);

code!(
    PORT_NAME_UPPER_CASE,
    "PLC3022",
    "port-name-upper-case",
    Warning,
    "a port name has capital letters",
    "Container port names are lower-case (Kubernetes rejects capitals in them). Cilium lower-cases the names in a policy before it compares them, so `HTTP` matches a port named `http`, but the policy reads as if it named another port.

Fix: write the name in lower case."
);

code!(
    PORT_MISSING,
    "PLC3023",
    "port-missing",
    Error,
    "a port entry has no `port`",
    "Each entry of `ports` needs `port`, except for the IP protocols that have no ports (VRRP, IGMP, GRE, IPIP, IPV6, ESP, AH). Cilium refuses the policy otherwise (\"port must be specified\").

Example:
  ports:
  - protocol: TCP

Fix: add `port: \"0\"` for every port, or the port number or name."
);

code!(
    PORT_WITH_PORTLESS_PROTOCOL,
    "PLC3024",
    "port-with-portless-protocol",
    Error,
    "a port is given for an IP protocol that has no ports",
    "VRRP, IGMP, GRE, IPIP, IPV6, ESP and AH carry no transport ports; Cilium requires `port` to be absent or `\"0\"` for them (\"port must be empty or 0\"). These protocols also need the agent option `enable-extended-ip-protocols`.

Fix: remove `port` (and `endPort`), or use TCP, UDP or SCTP."
);

code!(
    PORT_RANGE_REVERSED,
    "PLC3025",
    "port-range-reversed",
    Error,
    "`endPort` is lower than `port`",
    "A range runs from `port` to `endPort`, both included. A range that ends before it starts covers no port.

Example:
  ports:
  - port: \"8080\"
    endPort: 8000

Fix: swap the two numbers, or remove `endPort` for a single port."
);

code!(
    PORT_RANGE_WITH_NAMED_PORT,
    "PLC3026",
    "port-range-with-named-port",
    Error,
    "`endPort` is given with a named port",
    "A range needs a numeric start; Cilium does not support ranges with named ports, and `endPort` is then ignored.

Fix: use the port number in `port`, or remove `endPort`."
);

code!(
    PORT_RULE_WITHOUT_PORTS,
    "PLC3027",
    "port-rule-without-ports",
    Warning,
    "a `toPorts` item lists no ports, so it matches no traffic",
    "A rule element with `toPorts` only matches the ports listed there. An item with no `ports` adds none: the element then allows (or denies) nothing at all, and its L7 rules never apply. To match every port, leave `toPorts` out, or list `port: \"0\"`.

Example:
  egress:
  - toEndpoints: [{matchLabels: {app: db}}]
    toPorts:
    - rules: {http: [{method: GET}]}      # no ports

Fix: add the ports, for example `ports: [{port: \"8080\", protocol: TCP}]`."
);

/// A port entry read the way Cilium reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PortValue {
    /// No `port`.
    Absent,
    /// A number (`"0"` is every port).
    Number(u16),
    /// A port name.
    Name,
    /// Not a port.
    Invalid,
}

/// How Cilium reads `port`.
pub(crate) fn port_value(port: &PortProtocol) -> PortValue {
    match port.port.as_deref() {
        None | Some("") => PortValue::Absent,
        Some(text) if text.bytes().all(|b| b.is_ascii_digit()) => {
            let parsed = if text.len() > 1 && text.starts_with('0') { u32::from_str_radix(&text[1..], 8).ok() } else { text.parse::<u32>().ok() };
            match parsed.and_then(|number| u16::try_from(number).ok()) {
                Some(number) => PortValue::Number(number),
                None => PortValue::Invalid,
            }
        }
        Some(text) if port_name_problem(text, true).is_none() => PortValue::Name,
        Some(_) => PortValue::Invalid,
    }
}

pub(super) fn check(element: &Element<'_>, cx: &mut CheckCx<'_>) {
    for (rule_path, ports) in element.port_lists() {
        let ports = ports.unwrap_or_default();
        if ports.is_empty() {
            empty_port_rule(element, &rule_path, cx);
        }
        for (index, port) in ports.iter().enumerate() {
            check_port(port, &rule_path.key("ports").index(index), cx);
        }
    }
}

fn empty_port_rule(element: &Element<'_>, rule_path: &Path, cx: &mut CheckCx<'_>) {
    let port_rule = element.port_rules().into_iter().find(|(path, _)| path == rule_path).map(|(_, rule)| rule);
    // DNS rules without ports are an error of their own (see the L7 checks).
    if port_rule.and_then(|rule| rule.rules.as_ref()).is_some_and(|rules| rules.dns.is_some()) {
        return;
    }
    let verb = if element.is_deny() { "denies" } else { "allows" };
    let target = if cx.node.locate(&rule_path.key("ports"), false).found { rule_path.key("ports") } else { rule_path.clone() };
    cx.report(&PORT_RULE_WITHOUT_PORTS, &target, format!("this `toPorts` item lists no ports, so this `{}` item {verb} no traffic", element.section())).help =
        Some("list the ports (`ports: [{port: \"443\", protocol: TCP}]`); to match every port, remove `toPorts` or use `port: \"0\"`".to_owned());
}

fn check_port(port: &PortProtocol, at: &Path, cx: &mut CheckCx<'_>) {
    let protocol = port.protocol;
    let portless = protocol.is_some_and(|protocol| protocol.is_extended());
    let text = port.port.as_deref().unwrap_or("");
    let end_port = port.end_port.filter(|end| *end != 0);
    match port_value(port) {
        PortValue::Absent => {
            if !portless {
                cx.report_key(&PORT_MISSING, at, "this port entry has no `port`").help =
                    Some("add `port: \"0\"` to match every port, or the port number or name".to_owned());
            }
        }
        PortValue::Invalid => {
            let problem = if text.bytes().all(|b| b.is_ascii_digit()) {
                if text.len() > 1 && text.starts_with('0') {
                    format!("`{text}` starts with `0`, so Cilium reads it as an octal number, and it is not one")
                } else {
                    format!("`{text}` is out of range: ports go from 0 to 65535")
                }
            } else {
                let reason = port_name_problem(text, true).unwrap_or_default();
                format!("`{text}` is not a port number, nor a valid port name: {reason}")
            };
            cx.report(&INVALID_PORT, &at.key("port"), problem).help =
                Some("use a number from 0 to 65535, or the name of a container port (up to 15 lower-case letters, digits and `-`)".to_owned());
        }
        PortValue::Number(number) => {
            if text.len() > 1 && text.starts_with('0') {
                cx.report(&PORT_LEADING_ZERO, &at.key("port"), format!("`{text}` has a leading zero: Cilium reads it as octal, port {number}")).help =
                    Some(format!("write `\"{}\"` if port {} was meant", text.trim_start_matches('0'), text.trim_start_matches('0')));
            }
            if portless && number != 0 {
                let name = protocol.map(|protocol| protocol.as_str()).unwrap_or_default();
                cx.report(&PORT_WITH_PORTLESS_PROTOCOL, &at.key("port"), format!("`{name}` has no ports, so `port` must be absent or `\"0\"`")).help =
                    Some("remove `port`".to_owned());
            }
            if let Some(end) = end_port
                && i64::from(end) < i64::from(number)
                && number != 0
            {
                cx.report(&PORT_RANGE_REVERSED, &at.key("endPort"), format!("`endPort` {end} is lower than `port` {number}: the range is empty")).help =
                    Some(format!("the range runs from `port` to `endPort`: write `port: \"{end}\"` and `endPort: {number}`"));
            }
        }
        PortValue::Name => {
            if text.bytes().any(|b| b.is_ascii_uppercase()) {
                cx.report(
                    &PORT_NAME_UPPER_CASE,
                    &at.key("port"),
                    format!("port name `{text}` has capital letters; Cilium compares it as `{}`", text.to_ascii_lowercase()),
                )
                .help = Some(format!("write `{}`", text.to_ascii_lowercase()));
            }
            if portless {
                let name = protocol.map(|protocol| protocol.as_str()).unwrap_or_default();
                cx.report(&PORT_WITH_PORTLESS_PROTOCOL, &at.key("port"), format!("`{name}` has no ports, so it cannot take the port name `{text}`")).help =
                    Some("remove `port`".to_owned());
            }
            if let Some(end) = end_port {
                cx.report(&PORT_RANGE_WITH_NAMED_PORT, &at.key("endPort"), format!("`endPort` {end} cannot be used with the named port `{text}`")).help =
                    Some("give the first port of the range as a number in `port`, or remove `endPort`".to_owned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{cnp, codes};

    fn with_ports(ports: &str) -> String {
        cnp(&format!("  endpointSelector: {{}}\n  ingress:\n  - toPorts:\n    - ports:\n{ports}"))
    }

    #[test]
    fn invalid_ports_are_errors() {
        let text = with_ports("      - port: \"99999\"\n      - port: \"http_alt\"\n      - port: \"080\"\n      - port: \"http--alt\"\n");
        assert_eq!(codes(&text), vec![("PLC3020", 11), ("PLC3020", 12), ("PLC3020", 13), ("PLC3020", 14)]);
    }

    #[test]
    fn octal_and_capitals_are_warnings() {
        let text = with_ports("      - port: \"010\"\n      - port: \"HTTP\"\n");
        assert_eq!(codes(&text), vec![("PLC3021", 11), ("PLC3022", 12)]);
    }

    #[test]
    fn missing_port_is_an_error_except_for_portless_protocols() {
        let text = with_ports("      - protocol: TCP\n      - protocol: GRE\n");
        assert_eq!(codes(&text), vec![("PLC3023", 11)]);
    }

    #[test]
    fn port_with_portless_protocol_is_an_error() {
        let text = with_ports("      - {port: \"47\", protocol: GRE}\n      - {port: \"0\", protocol: ESP}\n");
        assert_eq!(codes(&text), vec![("PLC3024", 11)]);
    }

    #[test]
    fn ranges() {
        let text = with_ports("      - {port: \"8080\", endPort: 8000}\n      - {port: http, endPort: 90}\n      - {port: \"8000\", endPort: 8080}\n");
        assert_eq!(codes(&text), vec![("PLC3025", 11), ("PLC3026", 12)]);
    }

    #[test]
    fn port_rule_without_ports_is_a_warning() {
        let text = cnp("  endpointSelector: {}\n  ingress:\n  - toPorts:\n    - {}\n  egressDeny:\n  - toPorts:\n    - ports: []\n");
        assert_eq!(codes(&text), vec![("PLC3027", 10), ("PLC3027", 13)]);
    }

    #[test]
    fn valid_ports_are_fine() {
        let text = with_ports(
            "      - port: \"0\"\n      - port: \"65535\"\n      - {port: dns-tcp, protocol: TCP}\n      - {port: \"1024\", endPort: 2048, protocol: UDP}\n",
        );
        assert_eq!(codes(&text), vec![]);
    }
}
