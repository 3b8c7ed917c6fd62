//! `PLC4003`: a `TLS` listener without a `tls` block.
//!
//! The Gateway CRD requires a TLS mode for protocol `TLS`. Fix: add `tls: {mode: Passthrough}`
//! to route connections by SNI, or `mode: Terminate` with `certificateRefs`.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::gateway::Gateway;
use crate::path::Path;

code!(
    TLS_LISTENER_WITHOUT_TLS,
    "PLC4003",
    "tls-listener-without-tls",
    Error,
    "a `TLS` listener has no `tls` block",
    "A listener of protocol `TLS` must say whether it passes TLS through to the backend or terminates it; the Gateway CRD rejects it without `tls.mode`.

Example:
  - name: tls
    protocol: TLS
    port: 443

Fix: add `tls: {mode: Passthrough}` to route connections by SNI to the backends of a TLSRoute, or `tls: {mode: Terminate, certificateRefs: [...]}`."
);

pub(super) fn check(gateway: &Gateway, cx: &mut CheckCx<'_>) {
    for (index, listener) in gateway.spec.listeners.iter().enumerate() {
        if listener.protocol != "TLS" || listener.tls.is_some() {
            continue;
        }
        let path = Path::root().key("spec").key("listeners").index(index).key("protocol");
        let message = format!("listener `{}` uses protocol `TLS` but has no `tls` block saying whether it passes TLS through or terminates it", listener.name);
        cx.report(&TLS_LISTENER_WITHOUT_TLS, &path, message).help =
            Some("add `tls: {mode: Passthrough}` to route connections by SNI, or `tls` with `mode: Terminate` and `certificateRefs`".to_owned());
    }
}
