//! `PLC4304`: a gRPC method match names neither `service` nor `method`; `PLC4305`: an `Exact`
//! gRPC `service` or `method` with characters a gRPC name cannot have.
//!
//! The GRPCRoute CRD rejects both. Fix: give `service`, `method` or both, as plain gRPC names.

use std::sync::LazyLock;

use regex::Regex;

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::gateway::{GRPCRoute, StringMatchType};
use crate::path::Path;

code!(
    GRPC_METHOD_MATCH_EMPTY,
    "PLC4304",
    "grpc-method-match-empty",
    Error,
    "a gRPC method match names neither `service` nor `method`",
    "A `method` match selects calls by service, by method, or both; the GRPCRoute CRD rejects one that gives neither.

Example:
  matches:
  - method: {type: Exact}

Fix: give `service` (such as `helloworld.Greeter`), `method` (such as `SayHello`), or both; to match every call, remove `method`."
);

code!(
    INVALID_GRPC_NAME,
    "PLC4305",
    "invalid-grpc-name",
    Error,
    "an `Exact` gRPC method match has a service or method name gRPC does not allow",
    "gRPC service names are dot-separated identifiers (`helloworld.Greeter`, optionally with a leading `.`), method names are one identifier (`SayHello`): letters, digits and `_`, not starting with a digit. The GRPCRoute CRD rejects other `Exact` values.

Example:
  method: {service: helloworld/Greeter, method: SayHello}

Fix: write the names as they appear in the `.proto` file (package and service joined by `.`), or use `type: RegularExpression`."
);

static SERVICE_NAME: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^(?i)\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$").ok());
static METHOD_NAME: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(r"^[A-Za-z_][A-Za-z_0-9]*$").ok());

pub(super) fn check(route: &GRPCRoute, cx: &mut CheckCx<'_>) {
    for (rule_index, rule) in route.spec.rules.iter().enumerate() {
        for (match_index, route_match) in rule.matches.iter().enumerate() {
            let Some(method) = &route_match.method else { continue };
            let path = Path::root().key("spec").key("rules").index(rule_index).key("matches").index(match_index).key("method");
            if method.service.is_none() && method.method.is_none() {
                cx.report(&GRPC_METHOD_MATCH_EMPTY, &path, "the method match names neither `service` nor `method`").help =
                    Some("give `service`, `method`, or both; to match every call, remove `method`".to_owned());
                continue;
            }
            if method.match_type() != StringMatchType::Exact {
                continue;
            }
            if let Some(service) = &method.service
                && SERVICE_NAME.as_ref().is_some_and(|pattern| !pattern.is_match(service))
            {
                let message = format!("`{service}` is not a gRPC service name");
                cx.report(&INVALID_GRPC_NAME, &path.key("service"), message).help =
                    Some("write the package and service joined by `.`, such as `helloworld.Greeter`, or use `type: RegularExpression`".to_owned());
            }
            if let Some(name) = &method.method
                && METHOD_NAME.as_ref().is_some_and(|pattern| !pattern.is_match(name))
            {
                let message = format!("`{name}` is not a gRPC method name");
                cx.report(&INVALID_GRPC_NAME, &path.key("method"), message).help =
                    Some("write the method name alone, such as `SayHello` (letters, digits and `_`), or use `type: RegularExpression`".to_owned());
            }
        }
    }
}
