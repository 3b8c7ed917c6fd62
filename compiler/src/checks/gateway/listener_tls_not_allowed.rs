//! `PLC4001`: a listener of protocol `HTTP`, `TCP` or `UDP` has a `tls` block.
//!
//! The Gateway CRD rejects it: only `HTTPS` and `TLS` listeners handle TLS. Fix: remove `tls`,
//! or change the protocol to `HTTPS` (terminate TLS, route HTTP) or `TLS` (route by SNI).

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::gateway::Gateway;
use crate::path::Path;

code!(
    LISTENER_TLS_NOT_ALLOWED,
    "PLC4001",
    "listener-tls-not-allowed",
    Error,
    "a listener of protocol `HTTP`, `TCP` or `UDP` has a `tls` block",
    "Only `HTTPS` and `TLS` listeners handle TLS; the Gateway CRD rejects `tls` on any other core protocol.

Example:
  listeners:
  - name: web
    protocol: HTTP
    port: 443
    tls: {certificateRefs: [{name: web-cert}]}

Fix: use `protocol: HTTPS` to terminate TLS and route HTTP requests, `protocol: TLS` to route TLS connections by SNI, or remove `tls`."
);

pub(super) fn check(gateway: &Gateway, cx: &mut CheckCx<'_>) {
    for (index, listener) in gateway.spec.listeners.iter().enumerate() {
        if listener.tls.is_none() || !matches!(listener.protocol.as_str(), "HTTP" | "TCP" | "UDP") {
            continue;
        }
        let path = Path::root().key("spec").key("listeners").index(index).key("tls");
        let message = format!("listener `{}` uses protocol `{}`, which does not take a `tls` block", listener.name, listener.protocol);
        let help = match listener.protocol.as_str() {
            "HTTP" => "use `protocol: HTTPS` to terminate TLS here, or remove `tls`",
            _ => "remove `tls`; to route TLS connections by SNI, use `protocol: TLS` with a TLSRoute",
        };
        let diagnostic = cx.report_key(&LISTENER_TLS_NOT_ALLOWED, &path, message);
        diagnostic.help = Some(help.to_owned());
        diagnostic.label = Some("not allowed for this protocol".to_owned());
    }
}
