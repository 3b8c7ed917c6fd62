//! `PLC4303` (warning): a `RegularExpression` match whose value does not compile.
//!
//! The CRDs do not check regular expressions; the implementation (Envoy's RE2 for Cilium)
//! rejects the rule or the whole route later. polc compiles them with an RE2-like engine.
//! Fix: correct the expression.

use regex::Regex;

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::path::Path;

code!(
    INVALID_REGULAR_EXPRESSION,
    "PLC4303",
    "invalid-regular-expression",
    Warning,
    "a `RegularExpression` match value is not a valid regular expression",
    "Path, header, query parameter and gRPC method matches of `type: RegularExpression` are compiled by the implementation (RE2 for Envoy-based ones such as Cilium). The API server does not check them, so a broken expression is accepted and then the route, or the rule, is rejected by the controller. RE2 has no look-around and no back-references.

Example:
  path: {type: RegularExpression, value: \"/api/(v1|v2\"}

Fix: correct the expression; an anchored RE2 expression such as `^/api/v[0-9]+/.*` works everywhere."
);

/// `values` holds each regular expression with its path.
pub(super) fn check(values: &[(Path, &str)], cx: &mut CheckCx<'_>) {
    for (path, value) in values {
        let Err(error) = Regex::new(value) else { continue };
        let reason = error
            .to_string()
            .lines()
            .rev()
            .find(|line| line.trim_start().starts_with("error:"))
            .map(|line| line.trim().trim_start_matches("error:").trim().to_owned());
        let message = match reason {
            Some(reason) => format!("`{value}` is not a valid regular expression: {reason}"),
            None => format!("`{value}` is not a valid regular expression"),
        };
        cx.report(&INVALID_REGULAR_EXPRESSION, path, message).help =
            Some("write an RE2 expression (no look-around, no back-references), or use an `Exact` or `PathPrefix` match".to_owned());
    }
}
