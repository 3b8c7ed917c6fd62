//! `PLC4012` (warning): a listener's `allowedRoutes.kinds` lists a route kind its protocol
//! cannot serve.
//!
//! The CRD accepts any kind name, but a listener only serves the route kinds of its protocol
//! (`HTTPRoute` and `GRPCRoute` on `HTTP`/`HTTPS`, `TLSRoute` on `TLS`, `TCPRoute` on `TCP`,
//! `UDPRoute` on `UDP`); the others are dropped and the listener is reported with
//! `InvalidRouteKinds`. Fix: list only kinds the protocol serves.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::gateway::{GATEWAY_GROUP, Gateway};
use crate::path::Path;

code!(
    LISTENER_INVALID_ROUTE_KIND,
    "PLC4012",
    "listener-invalid-route-kind",
    Warning,
    "a listener allows a route kind its protocol cannot serve",
    "Each core listener protocol serves its own route kinds: `HTTP` and `HTTPS` serve `HTTPRoute` and `GRPCRoute`, `TLS` serves `TLSRoute`, `TCP` serves `TCPRoute`, `UDP` serves `UDPRoute`. A kind listed in `allowedRoutes.kinds` that the protocol cannot serve (or that does not exist) is ignored, and the listener's status says `InvalidRouteKinds`; when no listed kind is valid, no route can attach.

Example:
  - name: http
    protocol: HTTP
    port: 80
    allowedRoutes:
      kinds: [{kind: TLSRoute}]

Fix: list only route kinds the listener's protocol serves, or change the protocol."
);

/// The Gateway API route kinds a core protocol serves; `None` for implementation-specific
/// protocols.
pub(super) fn served_kinds(protocol: &str) -> Option<&'static [&'static str]> {
    match protocol {
        "HTTP" | "HTTPS" => Some(&["HTTPRoute", "GRPCRoute"]),
        "TLS" => Some(&["TLSRoute"]),
        "TCP" => Some(&["TCPRoute"]),
        "UDP" => Some(&["UDPRoute"]),
        _ => None,
    }
}

pub(super) fn check(gateway: &Gateway, cx: &mut CheckCx<'_>) {
    for (listener_index, listener) in gateway.spec.listeners.iter().enumerate() {
        let Some(served) = served_kinds(&listener.protocol) else { continue };
        let Some(allowed) = &listener.allowed_routes else { continue };
        for (index, entry) in allowed.kinds.iter().enumerate() {
            // Kinds of other API groups belong to the implementation, which decides.
            if entry.group() != GATEWAY_GROUP || served.contains(&entry.kind.as_str()) {
                continue;
            }
            let path = Path::root().key("spec").key("listeners").index(listener_index).key("allowedRoutes").key("kinds").index(index).key("kind");
            let message = format!("listener `{}` (protocol `{}`) cannot serve routes of kind `{}`", listener.name, listener.protocol, entry.kind);
            cx.report(&LISTENER_INVALID_ROUTE_KIND, &path, message).help =
                Some(format!("a `{}` listener serves {}; list only those kinds, or change the protocol", listener.protocol, served.join(" and ")));
        }
    }
}
