//! `PLC4104` (warning): a route has no `parentRefs`.
//!
//! Routes attach to Gateways only through `parentRefs` (Gateways do not select routes by
//! label), so such a route serves nothing. Fix: add `parentRefs` naming the Gateway.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::path::Path;

use super::routes::Route;

code!(
    ROUTE_WITHOUT_PARENTS,
    "PLC4104",
    "route-without-parents",
    Warning,
    "a route has no `parentRefs`, so it attaches to no Gateway",
    "A route takes effect only on the Gateways (or listeners) its `spec.parentRefs` name. Early versions of the API let Gateways select routes by label; that is gone, and a route without `parentRefs` (and without `useDefaultGateways: All`) serves no traffic.

Example:
  metadata:
    labels: {gateway: prod-web-gw}
  spec:
    rules: [...]

Fix: add `parentRefs: [{name: prod-web-gw}]` (with `namespace:` when the Gateway lives in another namespace, and `sectionName:` to pick one listener)."
);

pub(super) fn check(route: Route<'_>, cx: &mut CheckCx<'_>) {
    if !route.parent_refs().is_empty() || route.uses_default_gateways() {
        return;
    }
    let message = format!("this {} has no `parentRefs`: it attaches to no Gateway and serves no traffic", route.kind());
    let mut help = "add `spec.parentRefs: [{name: GATEWAY}]` naming the Gateway the route belongs to".to_owned();
    if !route.metadata().labels.is_empty() {
        help.push_str("; Gateways do not select routes by label");
    }
    cx.report_key(&ROUTE_WITHOUT_PARENTS, &Path::root().key("spec"), message).help = Some(help);
}
