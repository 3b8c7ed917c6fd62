//! `PLC4002`: an `HTTPS` listener with `tls.mode: Passthrough`.
//!
//! An `HTTPS` listener terminates TLS to route HTTP requests; the Gateway CRD only allows mode
//! `Terminate` for it. Fix: use `protocol: TLS` to pass TLS through, with a TLSRoute.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::gateway::{Gateway, TlsMode};
use crate::path::Path;

code!(
    HTTPS_LISTENER_NOT_TERMINATE,
    "PLC4002",
    "https-listener-not-terminate",
    Error,
    "an `HTTPS` listener has a TLS mode other than `Terminate`",
    "An `HTTPS` listener decrypts the connection to route HTTP requests, so its TLS mode can only be `Terminate`; the Gateway CRD rejects `Passthrough` there.

Example:
  - name: https
    protocol: HTTPS
    port: 443
    tls: {mode: Passthrough}

Fix: to hand the encrypted connection to the backend untouched, use `protocol: TLS` with `tls: {mode: Passthrough}` and attach a TLSRoute; to route HTTP, keep `HTTPS` with `mode: Terminate` and `certificateRefs`."
);

pub(super) fn check(gateway: &Gateway, cx: &mut CheckCx<'_>) {
    for (index, listener) in gateway.spec.listeners.iter().enumerate() {
        let Some(tls) = &listener.tls else { continue };
        if listener.protocol != "HTTPS" || tls.mode() == TlsMode::Terminate {
            continue;
        }
        let path = Path::root().key("spec").key("listeners").index(index).key("tls").key("mode");
        let message = format!("listener `{}` uses protocol `HTTPS`, whose TLS mode can only be `Terminate`, not `{}`", listener.name, tls.mode().as_str());
        cx.report(&HTTPS_LISTENER_NOT_TERMINATE, &path, message).help = Some(
            "to pass TLS through to the backend, use `protocol: TLS` and attach a TLSRoute; to route HTTP, use `mode: Terminate` with `certificateRefs`"
                .to_owned(),
        );
    }
}
