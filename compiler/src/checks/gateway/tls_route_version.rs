//! `PLC4401`: a TLSRoute at `v1alpha3` or `v1` without `hostnames`; `PLC4402`: one at those
//! versions with more than one rule.
//!
//! From `v1alpha3` on, a TLSRoute names at least one SNI host name and has exactly one rule;
//! the CRD rejects other routes. Fix: add `hostnames`, and split rules into routes.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::gateway::TLSRoute;
use crate::path::Path;

code!(
    TLS_ROUTE_HOSTNAMES_REQUIRED,
    "PLC4401",
    "tls-route-hostnames-required",
    Error,
    "a TLSRoute at `v1alpha3` or `v1` has no `hostnames`",
    "From `gateway.networking.k8s.io/v1alpha3` on, a TLSRoute must name at least one SNI host name in `spec.hostnames` (the older `v1alpha2` made it optional). The CRD rejects a route without.

Example:
  apiVersion: gateway.networking.k8s.io/v1
  kind: TLSRoute
  spec:
    rules: [{backendRefs: [{name: db, port: 5432}]}]

Fix: add `hostnames: [db.example.com]` with the names clients send as SNI."
);

code!(
    TLS_ROUTE_SINGLE_RULE,
    "PLC4402",
    "tls-route-single-rule",
    Error,
    "a TLSRoute at `v1alpha3` or `v1` has more than one rule",
    "From `gateway.networking.k8s.io/v1alpha3` on, a TLSRoute has exactly one rule: with no way to tell connections apart beyond the SNI, several rules could not be chosen between. The CRD rejects more.

Fix: put the backends in one rule (weights split the traffic), or make one route per set of host names."
);

pub(super) fn check(route: &TLSRoute, api_version: &str, cx: &mut CheckCx<'_>) {
    let version = api_version.rsplit('/').next().unwrap_or(api_version);
    if version == "v1alpha2" {
        return;
    }
    if route.spec.hostnames.is_empty() {
        let message = format!("missing required field `hostnames` in `spec`: a TLSRoute at `{api_version}` must name at least one SNI host name");
        let diagnostic = cx.report_key(&TLS_ROUTE_HOSTNAMES_REQUIRED, &Path::root().key("spec"), message);
        diagnostic.help = Some("add `hostnames: [NAME]` with the names clients send as SNI".to_owned());
        diagnostic.label = Some("`hostnames` missing".to_owned());
    }
    if route.spec.rules.len() > 1 {
        let message = format!("a TLSRoute at `{api_version}` has exactly one rule; this one has {}", route.spec.rules.len());
        cx.report(&TLS_ROUTE_SINGLE_RULE, &Path::root().key("spec").key("rules").index(1), message).help =
            Some("put all backends in one rule (weights split the traffic), or make one route per set of host names".to_owned());
    }
}
