//! `PLC4212`: a header value (to match, set or add) contains a control character such as a
//! line break.
//!
//! No HTTP request can carry such a value: a match can never succeed and a proxy cannot send
//! it. The experimental-channel CRDs reject it; the standard ones let it through. Fix: remove
//! the control characters.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::path::Path;

code!(
    HEADER_VALUE_CONTROL_CHARACTER,
    "PLC4212",
    "header-value-control-character",
    Error,
    "a header value contains a line break or another control character",
    "HTTP header values are visible characters, spaces and tabs. A value with a carriage return, line feed or other control character can never appear in a request (so a match on it never succeeds) and cannot be sent by a proxy (so a modifier setting it breaks the configuration, or worse, splits the header). The experimental-channel CRDs reject such values; the standard ones do not.

Example:
  add:
  - name: x-note
    value: \"line one\\nline two\"

Fix: remove the control characters; for a multi-line value, encode it (for example in base64)."
);

/// `values` holds each header value with its path.
pub(super) fn check(values: &[(Path, &str)], cx: &mut CheckCx<'_>) {
    for (path, value) in values {
        let Some(bad) = value.chars().find(|c| c.is_control() && *c != '\t') else { continue };
        let what = match bad {
            '\n' | '\r' => "a line break".to_owned(),
            other => format!("the control character U+{:04X}", u32::from(other)),
        };
        let message = format!("header value `{}` contains {what}", value.escape_debug());
        cx.report(&HEADER_VALUE_CONTROL_CHARACTER, path, message).help = Some("header values cannot contain control characters: remove them".to_owned());
    }
}
