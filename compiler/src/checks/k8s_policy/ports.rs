//! NetworkPolicy ports: a number from 1 to 65535 or a valid port name; `endPort` only with a
//! numeric `port`, not below it, and itself a valid port number.
//!
//! Fix: as each message says.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::k8s_policy::{IntOrString, NetworkPolicyPort};
use crate::path::Path;

use super::syntax::port_name_problem;

code!(
    INVALID_PORT,
    "PLC3507",
    "network-policy-invalid-port",
    Error,
    "a NetworkPolicy port is not a number from 1 to 65535 nor a valid port name",
    "`port` is a port number from 1 to 65535 or the name of a container port: at most 15 lower-case letters, digits and `-`, with at least one letter, no `--` and no `-` at either end. `endPort` is a port number as well. The API server rejects anything else.

Example:
  ports:
  - port: 0
  - port: HTTP

Fix: use a port number from 1 to 65535 (leave `port` out to match every port), or the container port's name."
);

code!(
    END_PORT_WITH_NAMED_PORT,
    "PLC3508",
    "network-policy-end-port-with-named-port",
    Error,
    "`endPort` is given with a named `port`",
    "A port range starts at a port number; the API server rejects `endPort` when `port` is a name (\"may not be specified when `port` is non-numeric\").

Fix: give the first port of the range as a number, or remove `endPort`."
);

code!(
    END_PORT_WITHOUT_PORT,
    "PLC3509",
    "network-policy-end-port-without-port",
    Error,
    "`endPort` is given without `port`",
    "A port range runs from `port` to `endPort`; the API server rejects `endPort` alone (\"may not be specified when `port` is not specified\").

Fix: add `port` with the first port of the range."
);

code!(
    END_PORT_REVERSED,
    "PLC3510",
    "network-policy-end-port-reversed",
    Error,
    "`endPort` is lower than `port`",
    "A port range runs from `port` to `endPort`, both included; the API server rejects a range that ends before it starts (\"must be greater than or equal to `port`\").

Fix: swap the two numbers, or remove `endPort` for a single port."
);

fn port_number_problem(number: i64) -> Option<String> {
    (!(1..=65535).contains(&number)).then(|| format!("`{number}` is not a port number: ports go from 1 to 65535"))
}

pub(super) fn check(port: &NetworkPolicyPort, at: &Path, cx: &mut CheckCx<'_>) {
    match &port.port {
        Some(IntOrString::Int(number)) => {
            if let Some(problem) = port_number_problem(i64::from(*number)) {
                cx.report(&INVALID_PORT, &at.key("port"), problem).help =
                    Some("use a number from 1 to 65535, or leave `port` out to match every port".to_owned());
            }
            if let Some(end) = port.end_port
                && end < *number
            {
                cx.report(&END_PORT_REVERSED, &at.key("endPort"), format!("`endPort` {end} is lower than `port` {number}: the range is empty")).help =
                    Some(format!("the range runs from `port` to `endPort`: write `port: {end}` and `endPort: {number}`"));
            }
        }
        Some(IntOrString::String(name)) => {
            if let Some(problem) = port_name_problem(name, false) {
                let message = if name.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty() {
                    format!("`\"{name}\"` is a quoted number, which Kubernetes reads as a port name: {problem}")
                } else {
                    format!("`{name}` is not a valid port name: {problem}")
                };
                let help = if name.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty() {
                    format!("remove the quotes: `port: {name}`")
                } else {
                    "use the name of a container port (up to 15 lower-case letters, digits and `-`), or its number".to_owned()
                };
                cx.report(&INVALID_PORT, &at.key("port"), message).help = Some(help);
            }
            if let Some(end) = port.end_port {
                cx.report(&END_PORT_WITH_NAMED_PORT, &at.key("endPort"), format!("`endPort` {end} cannot be used with the named port `{name}`")).help =
                    Some("give the first port of the range as a number in `port`, or remove `endPort`".to_owned());
            }
        }
        None => {
            if let Some(end) = port.end_port {
                cx.report_key(&END_PORT_WITHOUT_PORT, &at.key("endPort"), format!("`endPort` {end} needs `port`, the first port of the range")).help =
                    Some("add `port` with the first port of the range".to_owned());
            }
        }
    }
    if let Some(end) = port.end_port
        && let Some(problem) = port_number_problem(i64::from(end))
    {
        cx.report(&INVALID_PORT, &at.key("endPort"), problem).help = Some("use a number from 1 to 65535".to_owned());
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{codes, netpol};

    fn with_ports(ports: &str) -> String {
        netpol(&format!("  podSelector: {{}}\n  ingress:\n  - ports:\n{ports}"))
    }

    #[test]
    fn invalid_ports_are_errors() {
        let text = with_ports("    - port: 0\n    - port: HTTP\n    - port: \"8080\"\n    - {port: 80, endPort: 70000}\n");
        assert_eq!(codes(&text), vec![("PLC3507", 10), ("PLC3507", 11), ("PLC3507", 12), ("PLC3507", 13)]);
    }

    #[test]
    fn end_port_rules() {
        let text = with_ports("    - {port: http, endPort: 90}\n    - endPort: 90\n    - {port: 9000, endPort: 8000}\n");
        assert_eq!(codes(&text), vec![("PLC3508", 10), ("PLC3509", 11), ("PLC3510", 12)]);
    }

    #[test]
    fn valid_ports_are_fine() {
        let text = with_ports("    - port: 53\n      protocol: UDP\n    - port: dns-tcp\n    - {port: 32000, endPort: 32768}\n    - protocol: SCTP\n");
        assert_eq!(codes(&text), vec![]);
    }
}
