//! `PLC4302`: a rule's `timeouts.backendRequest` is longer than its `timeouts.request`.
//!
//! One backend attempt cannot outlast the whole request; the HTTPRoute CRD rejects it
//! (a `request` of `0s`, meaning no timeout, is exempt). Fix: shorten `backendRequest`.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::gateway::{HTTPRoute, duration_millis};
use crate::path::Path;

code!(
    BACKEND_TIMEOUT_EXCEEDS_REQUEST,
    "PLC4302",
    "backend-timeout-exceeds-request",
    Error,
    "a rule's `backendRequest` timeout is longer than its `request` timeout",
    "`timeouts.request` bounds the whole request, retries included; `timeouts.backendRequest` bounds one attempt towards a backend, so it cannot be longer. The HTTPRoute CRD rejects it, unless `request` is `0s` (no timeout).

Example:
  timeouts: {request: 10s, backendRequest: 30s}

Fix: make `backendRequest` at most `request`."
);

pub(super) fn check(route: &HTTPRoute, cx: &mut CheckCx<'_>) {
    for (rule_index, rule) in route.spec.rules().iter().enumerate() {
        let Some(timeouts) = &rule.timeouts else { continue };
        let (Some(request), Some(backend)) = (timeouts.request.as_deref(), timeouts.backend_request.as_deref()) else { continue };
        let (Some(request_ms), Some(backend_ms)) = (duration_millis(request), duration_millis(backend)) else { continue };
        if request_ms == 0 || backend_ms <= request_ms {
            continue;
        }
        let path = Path::root().key("spec").key("rules").index(rule_index).key("timeouts").key("backendRequest");
        let message = format!("backend request timeout `{backend}` is longer than the request timeout `{request}`");
        cx.report(&BACKEND_TIMEOUT_EXCEEDS_REQUEST, &path, message).help =
            Some(format!("make `backendRequest` at most `{request}`: one attempt cannot outlast the whole request"));
    }
}
