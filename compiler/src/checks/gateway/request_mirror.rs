//! `PLC4208`: a `RequestMirror` filter gives both `percent` and `fraction`; `PLC4209`: its
//! `fraction` is more than one (numerator above denominator).
//!
//! The route CRDs reject both. Fix: keep one of `percent` and `fraction`, with a share of at
//! most 100%.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::gateway::RequestMirror;
use crate::path::Path;

code!(
    MIRROR_PERCENT_AND_FRACTION,
    "PLC4208",
    "mirror-percent-and-fraction",
    Error,
    "a `RequestMirror` filter gives both `percent` and `fraction`",
    "The share of requests to mirror is given either as `percent` (0-100) or as `fraction` (`numerator`/`denominator`), not both; the route CRDs reject the pair.

Fix: keep one of them."
);

code!(
    MIRROR_FRACTION_ABOVE_ONE,
    "PLC4209",
    "mirror-fraction-above-one",
    Error,
    "a `RequestMirror` fraction has a numerator greater than its denominator",
    "`fraction` is the share of requests to mirror: `numerator` must not exceed `denominator` (which defaults to 100). The route CRDs reject a share above one.

Example:
  fraction: {numerator: 150}

Fix: lower the numerator or raise the denominator."
);

/// `mirrors` holds each mirror filter with the path of its `requestMirror` block.
pub(super) fn check(mirrors: &[(Path, &RequestMirror)], cx: &mut CheckCx<'_>) {
    for (path, mirror) in mirrors {
        if mirror.percent.is_some() && mirror.fraction.is_some() {
            let message = "the mirror gives both `percent` and `fraction`".to_owned();
            cx.report_key(&MIRROR_PERCENT_AND_FRACTION, &path.key("fraction"), message).help = Some("keep only one of `percent` and `fraction`".to_owned());
        }
        if let Some(fraction) = &mirror.fraction
            && fraction.numerator > fraction.denominator()
        {
            let defaulted = if fraction.denominator.is_none() { " (the default)" } else { "" };
            let message = format!(
                "the mirror fraction {}/{} is more than one: the numerator exceeds the denominator{defaulted}",
                fraction.numerator,
                fraction.denominator()
            );
            cx.report(&MIRROR_FRACTION_ABOVE_ONE, &path.key("fraction").key("numerator"), message).help =
                Some("make `numerator` at most `denominator`".to_owned());
        }
    }
}
