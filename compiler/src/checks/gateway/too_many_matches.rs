//! `PLC4105`: a route has more than 128 matches across its rules.
//!
//! The route CRDs cap the total (16 rules of up to 64 matches are allowed, but not 128
//! matches in all). Fix: split the route.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::path::Path;

code!(
    TOO_MANY_MATCHES,
    "PLC4105",
    "too-many-matches",
    Error,
    "a route has more than 128 matches across all its rules",
    "An HTTPRoute or GRPCRoute may have 16 rules of up to 64 matches each, but the CRDs limit the total number of matches of one route to 128, to bound the cost of validating it. For HTTPRoute, a rule without `matches` counts as one match (the default `PathPrefix /`).

Fix: split the route into several routes attached to the same parents."
);

/// `counts` holds the number of matches of each rule.
pub(super) fn check(counts: &[usize], cx: &mut CheckCx<'_>) {
    let total: usize = counts.iter().sum();
    if total <= 128 {
        return;
    }
    let message = format!("the route has {total} matches across its rules; at most 128 are allowed");
    cx.report(&TOO_MANY_MATCHES, &Path::root().key("spec").key("rules"), message).help =
        Some("split the route into several routes attached to the same parents".to_owned());
}
