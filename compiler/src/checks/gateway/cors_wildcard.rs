//! `PLC4210`: a CORS list has `*` together with other values.
//!
//! `*` already allows everything, and the HTTPRoute CRD rejects it next to other values in
//! `allowOrigins`, `allowMethods` and `allowHeaders`. Fix: keep `*` alone, or drop it.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::gateway::{CorsMethod, HTTPCORSFilter};
use crate::path::Path;

code!(
    CORS_WILDCARD_NOT_ALONE,
    "PLC4210",
    "cors-wildcard-not-alone",
    Error,
    "a CORS list has `*` together with other values",
    "In `allowOrigins`, `allowMethods` and `allowHeaders`, `*` allows every value, so listing other values next to it is contradictory; the HTTPRoute CRD rejects it.

Example:
  cors:
    allowOrigins: [\"*\", \"https://example.com\"]

Fix: keep `*` alone, or list only the values to allow."
);

pub(super) fn check(path: &Path, cors: &HTTPCORSFilter, cx: &mut CheckCx<'_>) {
    let origins: Vec<&str> = cors.allow_origins.iter().map(|origin| origin.0.as_str()).collect();
    let methods: Vec<&str> = cors.allow_methods.iter().map(|method| if *method == CorsMethod::Any { "*" } else { "" }).collect();
    let headers: Vec<&str> = cors.allow_headers.iter().map(|header| header.as_str()).collect();
    for (field, values) in [("allowOrigins", origins), ("allowMethods", methods), ("allowHeaders", headers)] {
        if values.len() < 2 {
            continue;
        }
        let Some(star) = values.iter().position(|value| *value == "*") else { continue };
        let message = format!("`*` in `{field}` allows every value, so it must be the only one");
        cx.report(&CORS_WILDCARD_NOT_ALONE, &path.key(field).index(star), message).help =
            Some(format!("keep `*` alone in `{field}`, or remove it and list the values to allow"));
    }
}
