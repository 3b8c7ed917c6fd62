//! `PLC4306`: a `sessionPersistence` block whose `type`, `cookie`, `header` and
//! `absoluteTimeout` disagree (experimental channel).
//!
//! The experimental CRDs require the block of the type (`cookie` for `Cookie`, the default;
//! `header` for `Header`), forbid the other, and require `absoluteTimeout` for permanent
//! cookies. Fix: make them agree.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::gateway::{CookieLifetimeType, SessionPersistence, SessionPersistenceType};
use crate::path::Path;

code!(
    SESSION_PERSISTENCE_MISMATCH,
    "PLC4306",
    "session-persistence-mismatch",
    Error,
    "a `sessionPersistence` block's type and settings disagree",
    "Session persistence (experimental channel) is either by cookie (`type: Cookie`, the default, with a `cookie` block) or by header (`type: Header`, with a `header` block). The CRDs reject the block of the other type, a missing block, and a `Permanent` cookie without `absoluteTimeout`.

Example:
  sessionPersistence:
    type: Header
    cookie: {name: session}

Fix: give the block that matches `type`; for `lifetimeType: Permanent`, add `absoluteTimeout`."
);

pub(super) fn check(path: &Path, persistence: &SessionPersistence, cx: &mut CheckCx<'_>) {
    let persistence_type = persistence.persistence_type();
    let (type_name, wanted, other, has_wanted, has_other) = match persistence_type {
        SessionPersistenceType::Cookie => ("Cookie", "cookie", "header", persistence.cookie.is_some(), persistence.header.is_some()),
        SessionPersistenceType::Header => ("Header", "header", "cookie", persistence.header.is_some(), persistence.cookie.is_some()),
    };
    if has_other {
        let message = format!("`{other}` is set, but the session persistence type is `{type_name}`");
        cx.report_key(&SESSION_PERSISTENCE_MISMATCH, &path.key(other), message).help = Some(format!("remove `{other}`, or set `type:` to match it"));
    }
    if !has_wanted {
        let defaulted = if persistence.persistence_type.is_none() { " (the default)" } else { "" };
        let message = format!("session persistence of type `{type_name}`{defaulted} has no `{wanted}` block");
        cx.report_key(&SESSION_PERSISTENCE_MISMATCH, path, message).help = Some(format!("add `{wanted}:` with its settings"));
    }
    let permanent = persistence.cookie.as_ref().and_then(|cookie| cookie.lifetime_type) == Some(CookieLifetimeType::Permanent);
    if permanent && persistence.absolute_timeout.is_none() {
        let message = "a `Permanent` session cookie needs `absoluteTimeout`".to_owned();
        cx.report(&SESSION_PERSISTENCE_MISMATCH, &path.key("cookie").key("lifetimeType"), message).help =
            Some("add `absoluteTimeout:` (such as `24h`) next to `cookie`, or use `lifetimeType: Session`".to_owned());
    }
}
