//! `PLC4207`: a redirect or rewrite `path` whose `type` and replacement field disagree.
//!
//! `type: ReplaceFullPath` takes `replaceFullPath`, `type: ReplacePrefixMatch` takes
//! `replacePrefixMatch`; the HTTPRoute CRD rejects any other pairing. Fix: make them agree.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::gateway::{HTTPPathModifier, HTTPPathModifierType, HTTPRouteFilter};
use crate::path::Path;

code!(
    PATH_MODIFIER_MISMATCH,
    "PLC4207",
    "path-modifier-mismatch",
    Error,
    "a redirect or rewrite `path` has a `type` that does not match its replacement field",
    "A path modifier is `{type: ReplaceFullPath, replaceFullPath: /new}` or `{type: ReplacePrefixMatch, replacePrefixMatch: /new}`. The HTTPRoute CRD rejects a type without its field, and a field with the other type.

Example:
  urlRewrite:
    path: {type: ReplaceFullPath, replacePrefixMatch: /new}

Fix: set the field that matches the type, or change the type."
);

fn check_modifier(path: &Path, modifier: &HTTPPathModifier, cx: &mut CheckCx<'_>) {
    let (type_name, wanted, other, other_type) = match modifier.modifier_type {
        HTTPPathModifierType::ReplaceFullPath => ("ReplaceFullPath", "replaceFullPath", "replacePrefixMatch", "ReplacePrefixMatch"),
        HTTPPathModifierType::ReplacePrefixMatch => ("ReplacePrefixMatch", "replacePrefixMatch", "replaceFullPath", "ReplaceFullPath"),
    };
    let (has_wanted, has_other) = match modifier.modifier_type {
        HTTPPathModifierType::ReplaceFullPath => (modifier.replace_full_path.is_some(), modifier.replace_prefix_match.is_some()),
        HTTPPathModifierType::ReplacePrefixMatch => (modifier.replace_prefix_match.is_some(), modifier.replace_full_path.is_some()),
    };
    if has_other {
        let message = format!("`{other}` is set, but the path modifier's type is `{type_name}`");
        cx.report_key(&PATH_MODIFIER_MISMATCH, &path.key(other), message).help =
            Some(format!("set `type: {other_type}` to use `{other}`, or replace it with `{wanted}`"));
    }
    if !has_wanted {
        let message = format!("path modifier of type `{type_name}` has no `{wanted}`");
        cx.report(&PATH_MODIFIER_MISMATCH, &path.key("type"), message).help = Some(format!("add `{wanted}:` with the new path next to `type: {type_name}`"));
    }
}

pub(super) fn check(list_path: &Path, filters: &[HTTPRouteFilter], cx: &mut CheckCx<'_>) {
    for (index, filter) in filters.iter().enumerate() {
        if let Some(path) = filter.request_redirect.as_ref().and_then(|redirect| redirect.path.as_ref()) {
            check_modifier(&list_path.index(index).key("requestRedirect").key("path"), path, cx);
        }
        if let Some(path) = filter.url_rewrite.as_ref().and_then(|rewrite| rewrite.path.as_ref()) {
            check_modifier(&list_path.index(index).key("urlRewrite").key("path"), path, cx);
        }
    }
}
