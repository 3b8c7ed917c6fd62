//! `PLC4005`: a listener terminates TLS but names no certificate.
//!
//! With `tls.mode: Terminate` (the default) the Gateway CRD requires `certificateRefs` (or
//! implementation `options`). Fix: add `certificateRefs` naming the Secret with the
//! certificate and key.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::gateway::{Gateway, TlsMode};
use crate::path::Path;

code!(
    TERMINATE_WITHOUT_CERTIFICATES,
    "PLC4005",
    "terminate-without-certificates",
    Error,
    "a listener terminates TLS but names no certificate",
    "To terminate TLS the Gateway needs a certificate and its key. `tls.mode` defaults to `Terminate`, and then the Gateway CRD requires `certificateRefs` (or implementation-specific `options`).

Example:
  - name: https
    protocol: HTTPS
    port: 443
    tls: {}

Fix: create a TLS Secret (`kubectl create secret tls web-cert --cert=... --key=...`) and name it in `tls.certificateRefs`; for a `TLS` listener that should not decrypt, set `mode: Passthrough`."
);

pub(super) fn check(gateway: &Gateway, cx: &mut CheckCx<'_>) {
    for (index, listener) in gateway.spec.listeners.iter().enumerate() {
        let Some(tls) = &listener.tls else { continue };
        // `tls` on HTTP, TCP or UDP is reported by PLC4001 already.
        if matches!(listener.protocol.as_str(), "HTTP" | "TCP" | "UDP") {
            continue;
        }
        if tls.mode() != TlsMode::Terminate || !tls.certificate_refs.is_empty() || !tls.options.is_empty() {
            continue;
        }
        let path = Path::root().key("spec").key("listeners").index(index).key("tls");
        let mode = if tls.mode.is_some() { "" } else { " (mode `Terminate` is the default)" };
        let message = format!("listener `{}` terminates TLS{mode} but names no certificate", listener.name);
        let help = if listener.protocol == "TLS" {
            "add `certificateRefs: [{name: SECRET}]` naming a TLS Secret, or set `mode: Passthrough` to hand the connection to the backend undecrypted"
        } else {
            "add `certificateRefs: [{name: SECRET}]` naming a TLS Secret with the certificate and key"
        };
        cx.report_key(&TERMINATE_WITHOUT_CERTIFICATES, &path, message).help = Some(help.to_owned());
    }
}
