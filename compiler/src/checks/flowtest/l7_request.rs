//! `PLC6004`: an HTTP request on a flow that is not TCP, or a DNS query on a flow that is not
//! UDP or TCP; `PLC6005`: a flow with both `http` and `dns`; `PLC6006`: an HTTP path that
//! does not start with `/`.
//!
//! Fix: use the protocol the L7 request travels over, one L7 request per flow, and an absolute
//! path.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::flowtest::{Flow, FlowProtocol};
use crate::path::Path;

code!(
    FLOW_L7_PROTOCOL_MISMATCH,
    "PLC6004",
    "flow-l7-protocol-mismatch",
    Error,
    "a flow's HTTP request or DNS query cannot travel over its protocol",
    "Cilium's L7 proxy parses HTTP on TCP only, and DNS on UDP or TCP. A FlowTest flow with `http` must be TCP; one with `dns` must be UDP or TCP.

Example:
  - from: default/client
    to: kube-system/kube-dns
    port: 53
    protocol: ICMP
    dns: {query: example.com}

Fix: set `protocol: UDP` (or `TCP`)."
);

code!(
    FLOW_HTTP_AND_DNS,
    "PLC6005",
    "flow-http-and-dns",
    Error,
    "a flow carries both an HTTP request and a DNS query",
    "A flow is one connection; it carries either an HTTP request (`http`) or a DNS query (`dns`), not both.

Fix: split it into two flows."
);

code!(
    FLOW_HTTP_PATH_NOT_ABSOLUTE,
    "PLC6006",
    "flow-http-path-not-absolute",
    Error,
    "a flow's HTTP path does not start with `/`",
    "An HTTP request path is absolute: it starts with `/`. Cilium's HTTP rules match it as a regular expression against the whole path, so `api/v1` would match no request.

Fix: write `/api/v1`."
);

pub(super) fn check(flow: &Flow, path: &Path, cx: &mut CheckCx<'_>) {
    if flow.http.is_some() && flow.dns.is_some() {
        cx.report(&FLOW_HTTP_AND_DNS, &path.key("dns"), "this flow has both `http` and `dns`").help = Some("split it into two flows".to_owned());
    }
    if let Some(http) = &flow.http {
        if flow.protocol != FlowProtocol::Tcp {
            let message = format!("an HTTP request cannot travel over {}", flow.protocol.as_str());
            cx.report(&FLOW_L7_PROTOCOL_MISMATCH, &path.key("http"), message).help = Some("HTTP flows are TCP: set `protocol: TCP`".to_owned());
        }
        if let Some(request_path) = &http.path
            && !request_path.starts_with('/')
        {
            let message = format!("the HTTP path `{request_path}` does not start with `/`");
            cx.report(&FLOW_HTTP_PATH_NOT_ABSOLUTE, &path.key("http").key("path"), message).help = Some(format!("write `/{request_path}`"));
        }
    }
    if flow.dns.is_some() && !matches!(flow.protocol, FlowProtocol::Udp | FlowProtocol::Tcp) {
        let message = format!("a DNS query cannot travel over {}", flow.protocol.as_str());
        cx.report(&FLOW_L7_PROTOCOL_MISMATCH, &path.key("dns"), message).help = Some("DNS flows are UDP or TCP: set `protocol: UDP`".to_owned());
    }
}
