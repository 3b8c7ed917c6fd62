//! `PLC4004`: a `TCP` or `UDP` listener has a `hostname`.
//!
//! TCP and UDP carry no host name to match, so the Gateway CRD rejects one. Fix: remove
//! `hostname`, or use `TLS` to route by SNI.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::gateway::Gateway;
use crate::path::Path;

code!(
    LISTENER_HOSTNAME_NOT_ALLOWED,
    "PLC4004",
    "listener-hostname-not-allowed",
    Error,
    "a `TCP` or `UDP` listener has a `hostname`",
    "TCP and UDP connections carry no host name the Gateway could match, so the Gateway CRD rejects `hostname` on such listeners.

Example:
  - name: db
    protocol: TCP
    port: 5432
    hostname: db.example.com

Fix: remove `hostname` (TCP and UDP listeners are told apart by port only), or use `protocol: TLS` to route TLS connections by SNI."
);

pub(super) fn check(gateway: &Gateway, cx: &mut CheckCx<'_>) {
    for (index, listener) in gateway.spec.listeners.iter().enumerate() {
        if !matches!(listener.protocol.as_str(), "TCP" | "UDP") || listener.hostname().is_none() {
            continue;
        }
        let path = Path::root().key("spec").key("listeners").index(index).key("hostname");
        let message = format!("listener `{}` uses protocol `{}`, which has no host name to match", listener.name, listener.protocol);
        let diagnostic = cx.report_key(&LISTENER_HOSTNAME_NOT_ALLOWED, &path, message);
        diagnostic.help = Some("remove `hostname`: TCP and UDP listeners are told apart by port only; to route TLS by SNI use `protocol: TLS`".to_owned());
        diagnostic.label = Some("not allowed for this protocol".to_owned());
    }
}
