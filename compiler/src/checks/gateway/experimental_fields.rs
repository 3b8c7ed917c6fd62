//! `PLC4900` (note): a field or filter type that only the experimental-channel CRDs have.
//!
//! polc accepts and checks these, but a cluster with the standard-channel CRDs does not have
//! them (`kubectl apply` fails or the field is dropped). Nothing to fix when the cluster runs
//! the experimental channel.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::path::Path;

code!(
    EXPERIMENTAL_FIELD,
    "PLC4900",
    "experimental-field",
    Note,
    "a field or value that only the experimental-channel Gateway API CRDs have",
    "Gateway API ships its CRDs in two channels. polc models the standard channel and also accepts the experimental-only fields `spec.rules[].retry`, `spec.rules[].sessionPersistence`, the `ExternalAuth` filter, `spec.useDefaultGateways` and the Gateway's `spec.defaultScope`, checking them against the experimental CRDs of the same release. A cluster with the standard-channel CRDs rejects or drops them.

Fix: nothing, if the cluster installs the experimental channel; otherwise remove the field."
);

/// `fields` holds each experimental field found, with its path; reported on the key.
pub(super) fn check(fields: &[Path], cx: &mut CheckCx<'_>) {
    for path in fields {
        let name = path.last_key().unwrap_or("type");
        let message = match path.last_key() {
            Some("type") => "filter type `ExternalAuth` exists only in the experimental-channel CRDs".to_owned(),
            _ => format!("`{name}` exists only in the experimental-channel CRDs"),
        };
        let key = path.last_key() != Some("type");
        let diagnostic = if key { cx.report_key(&EXPERIMENTAL_FIELD, path, message) } else { cx.report(&EXPERIMENTAL_FIELD, path, message) };
        diagnostic.help = Some("a cluster with the standard-channel Gateway API CRDs does not have it".to_owned());
    }
}
