//! `PLC4008` (warning): an `HTTPS` listener without a `tls` block.
//!
//! The API server accepts it, but the listener has no certificate to serve, so
//! implementations mark it invalid. Fix: add `tls.certificateRefs`.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::gateway::Gateway;
use crate::path::Path;

code!(
    HTTPS_LISTENER_WITHOUT_TLS,
    "PLC4008",
    "https-listener-without-tls",
    Warning,
    "an `HTTPS` listener has no `tls` block",
    "The Gateway API requires `tls` for `HTTPS` listeners: without a certificate the listener cannot complete a TLS handshake. The CRD does not enforce it, so the Gateway is accepted and the listener is then reported invalid by the implementation.

Example:
  - name: https
    protocol: HTTPS
    port: 443

Fix: add `tls: {certificateRefs: [{name: web-cert}]}` naming a TLS Secret, or use `protocol: HTTP`."
);

pub(super) fn check(gateway: &Gateway, cx: &mut CheckCx<'_>) {
    for (index, listener) in gateway.spec.listeners.iter().enumerate() {
        if listener.protocol != "HTTPS" || listener.tls.is_some() {
            continue;
        }
        let path = Path::root().key("spec").key("listeners").index(index).key("protocol");
        let message = format!("listener `{}` uses protocol `HTTPS` but has no `tls` block: it has no certificate to serve", listener.name);
        cx.report(&HTTPS_LISTENER_WITHOUT_TLS, &path, message).help =
            Some("add `tls: {certificateRefs: [{name: SECRET}]}` naming a TLS Secret, or use `protocol: HTTP`".to_owned());
    }
}
