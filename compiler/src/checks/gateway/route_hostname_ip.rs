//! `PLC4106`: a route host name is an IP address.
//!
//! Route host names are DNS names matched against the Host header or SNI; IP addresses are not
//! allowed. The TLSRoute CRD (`v1alpha3` and later) rejects them (an error); for HTTPRoute
//! and GRPCRoute the CRD lets them through although the API forbids them (a warning).
//! Fix: remove the address; to serve a bare IP, leave `hostnames` empty.

use std::net::IpAddr;

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::gateway::Hostname;
use crate::path::Path;

code!(
    ROUTE_HOSTNAME_IP,
    "PLC4106",
    "route-hostname-ip",
    Error,
    "a route host name is an IP address",
    "Route `hostnames` are DNS names, matched against the HTTP Host header or the TLS SNI. The API does not allow IP addresses there: clients do not send an IP as SNI, and implementations ignore or reject such entries. The TLSRoute CRD rejects them from `v1alpha3` on; for HTTPRoute and GRPCRoute, whose CRDs let them through, polc warns.

Example:
  hostnames: [\"192.0.2.10\"]

Fix: use the DNS name clients connect to; to accept requests for any host, including bare IPs, leave `hostnames` out."
);

pub(super) fn check(hostnames: &[Hostname], severity: Severity, cx: &mut CheckCx<'_>) {
    for (index, hostname) in hostnames.iter().enumerate() {
        if hostname.as_str().parse::<IpAddr>().is_err() {
            continue;
        }
        let path = Path::root().key("spec").key("hostnames").index(index);
        let message = format!("host name `{}` is an IP address; route host names must be DNS names", hostname.as_str());
        let diagnostic = cx.report(&ROUTE_HOSTNAME_IP, &path, message);
        diagnostic.severity = severity;
        diagnostic.help = Some("use the DNS name clients connect to, or leave `hostnames` out to accept every host".to_owned());
    }
}
