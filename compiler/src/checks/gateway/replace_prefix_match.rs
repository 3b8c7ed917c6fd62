//! `PLC4206`: a redirect or rewrite uses `ReplacePrefixMatch` in a rule that does not have
//! exactly one `PathPrefix` match.
//!
//! `ReplacePrefixMatch` replaces the prefix the rule matched, so the rule needs exactly one
//! path match, of type `PathPrefix`; the HTTPRoute CRD rejects anything else. Fix: give the rule
//! a single `PathPrefix` match, or use `ReplaceFullPath`.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::gateway::{HTTPPathModifier, HTTPPathModifierType, HTTPRoute, HTTPRouteFilter, PathMatchType};
use crate::path::Path;

code!(
    REPLACE_PREFIX_NEEDS_PATH_PREFIX,
    "PLC4206",
    "replace-prefix-needs-path-prefix",
    Error,
    "`ReplacePrefixMatch` is used in a rule without exactly one `PathPrefix` match",
    "A `RequestRedirect` or `URLRewrite` with `path.type: ReplacePrefixMatch` replaces the part of the path that the rule's `PathPrefix` match matched. With several matches, or a match of another type, there is no single prefix to replace, and the HTTPRoute CRD rejects the rule. A rule without `matches` has the default single `PathPrefix /` match.

Example:
  - matches:
    - path: {type: Exact, value: /old}
    filters:
    - type: URLRewrite
      urlRewrite: {path: {type: ReplacePrefixMatch, replacePrefixMatch: /new}}

Fix: give the rule one match `path: {type: PathPrefix, value: /old}`, split the rule per prefix, or use `type: ReplaceFullPath`."
);

fn replaces_prefix(path: Option<&HTTPPathModifier>) -> bool {
    path.is_some_and(|path| path.modifier_type == HTTPPathModifierType::ReplacePrefixMatch && path.replace_prefix_match.is_some())
}

/// The `(filter index, field)` of filters of the list that replace a prefix.
fn prefix_replacing(filters: &[HTTPRouteFilter]) -> Vec<(usize, &'static str)> {
    let mut found = Vec::new();
    for (index, filter) in filters.iter().enumerate() {
        if replaces_prefix(filter.request_redirect.as_ref().and_then(|redirect| redirect.path.as_ref())) {
            found.push((index, "requestRedirect"));
        }
        if replaces_prefix(filter.url_rewrite.as_ref().and_then(|rewrite| rewrite.path.as_ref())) {
            found.push((index, "urlRewrite"));
        }
    }
    found
}

pub(super) fn check(route: &HTTPRoute, cx: &mut CheckCx<'_>) {
    for (rule_index, rule) in route.spec.rules().iter().enumerate() {
        let rule_path = Path::root().key("spec").key("rules").index(rule_index);
        let mut users: Vec<Path> = prefix_replacing(&rule.filters).into_iter().map(|(index, field)| rule_path.key("filters").index(index).key(field)).collect();
        for (backend_index, backend) in rule.backend_refs.iter().enumerate() {
            let list = rule_path.key("backendRefs").index(backend_index).key("filters");
            users.extend(prefix_replacing(&backend.filters).into_iter().map(|(index, field)| list.index(index).key(field)));
        }
        if users.is_empty() {
            continue;
        }
        let matches = rule.effective_matches();
        let problem = match matches.as_slice() {
            [only] => match only.effective_path().0 {
                PathMatchType::PathPrefix => None,
                other => Some(format!("its path match is of type `{}`", other.as_str())),
            },
            many => Some(format!("it has {} matches", many.len())),
        };
        let Some(problem) = problem else { continue };
        for user in users {
            let message = format!("`ReplacePrefixMatch` needs the rule to have exactly one match, of type `PathPrefix`, but {problem}");
            cx.report(&REPLACE_PREFIX_NEEDS_PATH_PREFIX, &user.key("path").key("replacePrefixMatch"), message).help =
                Some("give the rule a single `path: {type: PathPrefix, value: ...}` match (one rule per prefix), or use `type: ReplaceFullPath`".to_owned());
        }
    }
}
