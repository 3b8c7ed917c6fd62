//! `PLC4011`: a label or annotation key of `spec.infrastructure` is not a valid key.
//!
//! The Gateway CRD checks these keys as Kubernetes does for labels and annotations. Fix: use
//! an optional DNS-name prefix and `/`, then a name of at most 63 characters.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::gateway::{Gateway, QUALIFIED_KEY_PATTERN};
use crate::path::Path;

code!(
    INVALID_INFRASTRUCTURE_KEY,
    "PLC4011",
    "invalid-infrastructure-key",
    Error,
    "a label or annotation key in `spec.infrastructure` is not a valid key",
    "The labels and annotations of `spec.infrastructure` are copied onto the resources the implementation creates (Services, Deployments), so their keys follow the Kubernetes rules: an optional prefix that is a DNS name of at most 253 characters, then `/`, then a name of at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit.

Example:
  infrastructure:
    labels:
      team/owner/name: a        # two slashes

Fix: write the key as `prefix/name` or `name`, such as `example.com/team`."
);

pub(super) fn check(gateway: &Gateway, cx: &mut CheckCx<'_>) {
    let Some(infrastructure) = &gateway.spec.infrastructure else { return };
    let Ok(pattern) = regex::Regex::new(QUALIFIED_KEY_PATTERN) else { return };
    let keys = infrastructure.labels.keys().map(|key| ("labels", key)).chain(infrastructure.annotations.keys().map(|key| ("annotations", key)));
    for (field, key) in keys {
        let prefix_length = key.split('/').next().map_or(0, str::len);
        let problem = if !pattern.is_match(key) {
            Some("it must be an optional DNS-name prefix and `/`, then a name of at most 63 letters, digits, `-`, `_` and `.`")
        } else if prefix_length >= 253 {
            Some("its prefix must be shorter than 253 characters")
        } else {
            None
        };
        let Some(problem) = problem else { continue };
        let kind = if field == "labels" { "label" } else { "annotation" };
        let path = Path::root().key("spec").key("infrastructure").key(field).key(key.clone());
        let message = format!("`{key}` is not a valid {kind} key: {problem}");
        cx.report_key(&INVALID_INFRASTRUCTURE_KEY, &path, message).help =
            Some("write the key as `name` or `prefix/name`, such as `example.com/team`".to_owned());
    }
}
