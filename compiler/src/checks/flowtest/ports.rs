//! `PLC6002`: a TCP, UDP or SCTP flow without a port (or with port 0); `PLC6003`: an ICMP
//! flow whose type is above 255.
//!
//! Fix: give the destination port (1–65535), or for ICMP the message type (0–255).

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::flowtest::{Flow, FlowProtocol};
use crate::path::Path;

code!(
    FLOW_PORT_MISSING,
    "PLC6002",
    "flow-port-missing",
    Error,
    "a TCP, UDP or SCTP flow has no destination port",
    "A flow of a protocol with ports goes to one destination port, from 1 to 65535. Port 0 is not a port a connection can use.

Example:
  - from: default/frontend
    to: prod/backend
    protocol: TCP
    expect: allow            # port missing

Fix: add `port: 8080` (the destination port)."
);

code!(
    FLOW_ICMP_TYPE_OUT_OF_RANGE,
    "PLC6003",
    "flow-icmp-type-out-of-range",
    Error,
    "an ICMP flow's type is above 255",
    "For ICMP and ICMPv6 flows, `port` is the ICMP message type, from 0 to 255 (8 is an IPv4 echo request, 128 an IPv6 one). When it is omitted the flow is an echo request.

Fix: give the ICMP type, such as `port: 8`."
);

pub(super) fn check(flow: &Flow, path: &Path, cx: &mut CheckCx<'_>) {
    match (flow.protocol.has_ports(), flow.port) {
        (true, None) => {
            let message = format!("this {} flow has no `port`", flow.protocol.as_str());
            cx.report(&FLOW_PORT_MISSING, path, message).help = Some("add the destination port, such as `port: 8080`".to_owned());
        }
        (true, Some(0)) => {
            let message = format!("port `0` is not a destination port a {} connection can use", flow.protocol.as_str());
            cx.report(&FLOW_PORT_MISSING, &path.key("port"), message).help = Some("use a port from 1 to 65535".to_owned());
        }
        (false, Some(icmp_type)) if icmp_type > 255 => {
            let echo = if flow.protocol == FlowProtocol::Icmpv6 { 128 } else { 8 };
            let message = format!("ICMP type `{icmp_type}` is out of range: ICMP types go from 0 to 255");
            cx.report(&FLOW_ICMP_TYPE_OUT_OF_RANGE, &path.key("port"), message).help =
                Some(format!("for {} flows `port` is the ICMP type, such as `{echo}` for an echo request", flow.protocol.as_str()));
        }
        _ => {}
    }
}
