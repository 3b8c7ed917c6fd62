//! `PLC4204`: one filter list has both a `RequestRedirect` and a `URLRewrite` filter.
//!
//! A redirect answers the client itself, so a rewrite could never apply; the HTTPRoute CRD
//! rejects the pair. Fix: keep one of them.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Related, Severity};
use crate::model::gateway::{HTTPRouteFilter, HTTPRouteFilterType};
use crate::path::Path;

code!(
    REDIRECT_AND_REWRITE,
    "PLC4204",
    "redirect-and-rewrite",
    Error,
    "a filter list has both a `RequestRedirect` and a `URLRewrite` filter",
    "`RequestRedirect` answers the client with a redirect and forwards nothing, so a `URLRewrite` of the forwarded request in the same list could never apply. The HTTPRoute CRD rejects the combination.

Fix: keep the redirect (the client then asks again at the new location) or the rewrite (the Gateway forwards the changed request), not both."
);

pub(super) fn check(list_path: &Path, filters: &[HTTPRouteFilter], cx: &mut CheckCx<'_>) {
    let redirect = filters.iter().position(|filter| filter.filter_type == HTTPRouteFilterType::RequestRedirect);
    let rewrite = filters.iter().position(|filter| filter.filter_type == HTTPRouteFilterType::URLRewrite);
    let (Some(redirect), Some(rewrite)) = (redirect, rewrite) else { return };
    let related = Related { location: cx.location(&list_path.index(redirect).key("type")), message: "the `RequestRedirect` filter".to_owned() };
    let message = "this filter list both redirects (`RequestRedirect`) and rewrites (`URLRewrite`) the request".to_owned();
    let diagnostic = cx.report(&REDIRECT_AND_REWRITE, &list_path.index(rewrite).key("type"), message);
    diagnostic.help = Some("a redirect answers the client itself, so the rewrite would never apply: keep one of the two".to_owned());
    diagnostic.related.push(related);
}
