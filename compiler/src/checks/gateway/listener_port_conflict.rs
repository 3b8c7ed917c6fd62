//! `PLC4007` (warning): a `TCP` listener shares its port with an `HTTP`, `HTTPS` or `TLS`
//! listener of the same Gateway.
//!
//! The Gateway API says such listeners are not distinct: they are all marked `Conflicted`
//! and none is served. The CRD does not catch it. Fix: move one of them to another port.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Related, Severity};
use crate::model::gateway::Gateway;
use crate::path::Path;

code!(
    LISTENER_PORT_CONFLICT,
    "PLC4007",
    "listener-port-conflict",
    Warning,
    "a `TCP` listener shares its port with an `HTTP`, `HTTPS` or `TLS` listener",
    "A `TCP` listener takes every connection on its port, so an `HTTP`, `HTTPS` or `TLS` listener on the same port can never be selected. The Gateway API calls these listeners conflicted: implementations that support `TCP` listeners accept none of them (condition `Conflicted`, reason `ProtocolConflict`).

Example:
  - {name: raw, protocol: TCP, port: 443}
  - {name: https, protocol: HTTPS, port: 443, tls: {certificateRefs: [{name: cert}]}}

Fix: put the `TCP` listener on a port of its own."
);

pub(super) fn check(gateway: &Gateway, cx: &mut CheckCx<'_>) {
    let listeners = &gateway.spec.listeners;
    for (tcp_index, tcp) in listeners.iter().enumerate() {
        if tcp.protocol != "TCP" {
            continue;
        }
        for (other_index, other) in listeners.iter().enumerate() {
            if other.port != tcp.port || !matches!(other.protocol.as_str(), "HTTP" | "HTTPS" | "TLS") {
                continue;
            }
            let path = Path::root().key("spec").key("listeners");
            let message = format!(
                "listener `{}` (`TCP`) and listener `{}` (`{}`) share port {}: both are conflicted and neither is served",
                tcp.name, other.name, other.protocol, tcp.port
            );
            let related = Related { location: cx.location(&path.index(tcp_index).key("port")), message: format!("`TCP` listener `{}` here", tcp.name) };
            let diagnostic = cx.report(&LISTENER_PORT_CONFLICT, &path.index(other_index).key("port"), message);
            diagnostic.help = Some("put the `TCP` listener on a port of its own".to_owned());
            diagnostic.related.push(related);
        }
    }
}
