//! `PLC4211`: an `ExternalAuth` filter whose `protocol` and configuration block disagree
//! (experimental channel).
//!
//! `protocol: HTTP` takes an `http` block, `protocol: GRPC` a `grpc` block; the experimental
//! HTTPRoute CRD rejects any other pairing. Fix: make them agree.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::gateway::{ExternalAuthProtocol, HTTPExternalAuthFilter};
use crate::path::Path;

code!(
    EXTERNAL_AUTH_PROTOCOL_MISMATCH,
    "PLC4211",
    "external-auth-protocol-mismatch",
    Error,
    "an `ExternalAuth` filter's `protocol` and its `http` or `grpc` block disagree",
    "The experimental `ExternalAuth` filter calls an authorization service over HTTP or gRPC. `protocol: HTTP` requires the `http` block (and excludes `grpc`); `protocol: GRPC` requires the `grpc` block (and excludes `http`).

Example:
  externalAuth:
    protocol: GRPC
    backendRef: {name: authz, port: 9000}
    http: {path: /check}

Fix: give the block that matches `protocol`."
);

pub(super) fn check(path: &Path, auth: &HTTPExternalAuthFilter, cx: &mut CheckCx<'_>) {
    let (protocol, wanted, other, has_wanted, has_other) = match auth.protocol {
        ExternalAuthProtocol::HTTP => ("HTTP", "http", "grpc", auth.http.is_some(), auth.grpc.is_some()),
        ExternalAuthProtocol::GRPC => ("GRPC", "grpc", "http", auth.grpc.is_some(), auth.http.is_some()),
    };
    if has_other {
        let message = format!("`{other}` is set, but the filter's protocol is `{protocol}`");
        cx.report_key(&EXTERNAL_AUTH_PROTOCOL_MISMATCH, &path.key(other), message).help =
            Some(format!("use a `{wanted}` block with protocol `{protocol}`, or change `protocol`"));
    }
    if !has_wanted {
        let message = format!("external auth with protocol `{protocol}` has no `{wanted}` block");
        cx.report(&EXTERNAL_AUTH_PROTOCOL_MISMATCH, &path.key("protocol"), message).help =
            Some(format!("add `{wanted}: {{}}` (with its settings) next to `protocol`"));
    }
}
