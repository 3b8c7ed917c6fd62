//! `PLC4205`: a rule has both a `RequestRedirect` filter and `backendRefs`.
//!
//! A redirect answers the request itself, so the backends would never get traffic; the
//! HTTPRoute CRD rejects the combination. Fix: remove `backendRefs`, or move the redirect into
//! a rule of its own.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Related, Severity};
use crate::model::gateway::HTTPRoute;
use crate::path::Path;

code!(
    REDIRECT_WITH_BACKENDS,
    "PLC4205",
    "redirect-with-backends",
    Error,
    "a rule has both a `RequestRedirect` filter and `backendRefs`",
    "A `RequestRedirect` filter makes the Gateway answer the request with a redirect, so nothing is forwarded and `backendRefs` would be dead configuration. The HTTPRoute CRD rejects a rule with both.

Example:
  rules:
  - filters:
    - {type: RequestRedirect, requestRedirect: {scheme: https}}
    backendRefs:
    - {name: web, port: 80}

Fix: remove `backendRefs` from the redirecting rule; if only some requests should be redirected, give them a rule of their own with narrower `matches`."
);

pub(super) fn check(route: &HTTPRoute, cx: &mut CheckCx<'_>) {
    for (rule_index, rule) in route.spec.rules().iter().enumerate() {
        if rule.backend_refs.is_empty() {
            continue;
        }
        let rule_path = Path::root().key("spec").key("rules").index(rule_index);
        for (filter_index, filter) in rule.filters.iter().enumerate() {
            if filter.request_redirect.is_none() {
                continue;
            }
            let related = Related { location: cx.key_location(&rule_path.key("backendRefs")), message: "the rule's backends".to_owned() };
            let message = "a `RequestRedirect` filter cannot be combined with `backendRefs` in the same rule: the redirect answers every request".to_owned();
            let diagnostic = cx.report_key(&REDIRECT_WITH_BACKENDS, &rule_path.key("filters").index(filter_index).key("requestRedirect"), message);
            diagnostic.help = Some("remove `backendRefs` from this rule, or move the redirect into a rule of its own with narrower `matches`".to_owned());
            diagnostic.related.push(related);
        }
    }
}
