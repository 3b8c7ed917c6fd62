//! `PLC4301`: an `Exact` or `PathPrefix` path match whose value is not a clean absolute path.
//!
//! The HTTPRoute CRD requires such values to start with `/`, to contain only URL path
//! characters (others percent-encoded), and to have no `//`, `/./`, `/../`, `%2f`, `#`, and no
//! trailing `/.` or `/..`: proxies normalize those away, so the match would never see them.
//! Fix: write the normalized path, or use `RegularExpression`.

use std::sync::LazyLock;

use regex::Regex;

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::gateway::{HTTPRoute, PATH_CHARACTERS_PATTERN, PathMatchType};
use crate::path::Path;

code!(
    INVALID_PATH_MATCH,
    "PLC4301",
    "invalid-path-match",
    Error,
    "an `Exact` or `PathPrefix` path match is not a clean absolute path",
    "Paths of `Exact` and `PathPrefix` matches are compared with the request path after the proxy normalizes it, so the HTTPRoute CRD only accepts values that normalization leaves alone: they start with `/`; contain only letters, digits, `/` and `-._~!$&'()*+,;=:@` (anything else percent-encoded, like `%5B` for `[`); and have no `//`, `/./`, `/../`, `%2f`/`%2F` or `#`, and no trailing `/.` or `/..`.

Example:
  path: {type: PathPrefix, value: /api/[v1]}

Fix: percent-encode the characters (`/api/%5Bv1%5D`), write the normalized path, or use `type: RegularExpression`."
);

static PATH_CHARACTERS: LazyLock<Option<Regex>> = LazyLock::new(|| Regex::new(PATH_CHARACTERS_PATTERN).ok());

/// What is wrong with an `Exact` or `PathPrefix` value, in the CRD's order.
pub(super) fn path_problems(value: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if !value.starts_with('/') {
        problems.push("it does not start with `/`".to_owned());
    }
    for needle in ["//", "/./", "/../", "%2f", "%2F", "#"] {
        if value.contains(needle) {
            problems.push(format!("it contains `{needle}`"));
        }
    }
    for suffix in ["/..", "/."] {
        if value.ends_with(suffix) {
            problems.push(format!("it ends with `{suffix}`"));
            break;
        }
    }
    if PATH_CHARACTERS.as_ref().is_some_and(|pattern| !pattern.is_match(value)) {
        let bad: String = value.chars().filter(|c| !c.is_ascii_alphanumeric() && !"/-._~!$&'()*+,;=:@%".contains(*c)).take(8).collect();
        if bad.is_empty() {
            problems.push("it has a `%` that does not start a percent-encoded byte".to_owned());
        } else {
            let shown: Vec<String> = {
                let mut seen: Vec<char> = Vec::new();
                for c in bad.chars() {
                    if !seen.contains(&c) {
                        seen.push(c);
                    }
                }
                seen.into_iter().map(|c| format!("`{c}`")).collect()
            };
            problems.push(format!("it contains characters that must be percent-encoded: {}", shown.join(" ")));
        }
    }
    problems
}

pub(super) fn check(route: &HTTPRoute, cx: &mut CheckCx<'_>) {
    for (rule_index, rule) in route.spec.rules().iter().enumerate() {
        let Some(matches) = &rule.matches else { continue };
        for (match_index, route_match) in matches.iter().enumerate() {
            let Some(path) = &route_match.path else { continue };
            let match_type = path.match_type();
            if match_type == PathMatchType::RegularExpression {
                continue;
            }
            let value = path.value();
            let problems = path_problems(value);
            if problems.is_empty() {
                continue;
            }
            let at = Path::root().key("spec").key("rules").index(rule_index).key("matches").index(match_index).key("path");
            let at = if path.value.is_some() { at.key("value") } else { at };
            let message = format!("path `{value}` is not valid for a `{}` match: {}", match_type.as_str(), problems.join(", "));
            let help = if problems.iter().any(|problem| problem.contains("start with")) {
                format!("start the path with `/`, such as `/{}`", value.trim_start_matches('/'))
            } else if problems.iter().any(|problem| problem.contains("percent-encoded")) {
                "percent-encode those characters (`%5B` for `[`, `%20` for a space), or use `type: RegularExpression`".to_owned()
            } else {
                "write the path as the proxy normalizes it (no empty, `.` or `..` segments, no encoded `/`, no fragment), or use `type: RegularExpression`"
                    .to_owned()
            };
            cx.report(&INVALID_PATH_MATCH, &at, message).help = Some(help);
        }
    }
}
