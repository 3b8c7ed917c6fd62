//! The control protocol on the agent's unix socket: one JSON object per line each way.
//!
//! Requests: `{"command":"apply","bundle":"/path/to/bundle"}` and `{"command":"status"}`.
//! Every request gets one response line: `{"ok":true,...}` with `applied` or `status`, or
//! `{"ok":false,"error":{"kind":...,"message":...}}`. A connection may send several requests.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::status::Status;

/// Longest request line the agent reads.
pub const MAX_REQUEST_LENGTH: usize = 64 * 1024;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Verify the bundle directory at this path (as the agent sees it) and make it live.
    Apply {
        bundle: PathBuf,
    },
    Status,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorReply>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<ApplyReport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
}

impl Response {
    pub fn failure(kind: &str, message: impl Into<String>) -> Response {
        Response { ok: false, error: Some(ErrorReply { kind: kind.to_owned(), message: message.into() }), applied: None, status: None }
    }

    pub fn applied(report: ApplyReport) -> Response {
        Response { ok: true, error: None, applied: Some(report), status: None }
    }

    pub fn status(status: Status) -> Response {
        Response { ok: true, error: None, applied: None, status: Some(status) }
    }

    /// The response as one line, newline included.
    pub fn to_line(&self) -> String {
        let mut line = serde_json::to_string(self).unwrap_or_else(|_| String::from("{\"ok\":false}"));
        line.push('\n');
        line
    }
}

/// Why a request failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorReply {
    /// `request`, `bundle`, `contract`, `kernel`, `state` or `agent`.
    pub kind: String,
    pub message: String,
}

/// What an apply did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyReport {
    /// The live generation after the apply.
    pub generation: u64,
    pub bundle_digest: String,
    /// The selector value now live.
    pub slot: u32,
    /// The bundle was already live: nothing was changed.
    pub unchanged: bool,
    /// Microseconds from receiving the request to the end of reading and verifying the bundle.
    pub verified_us: u64,
    /// Microseconds from receiving the request to the new generation being ready in the
    /// spare slot (instances loaded, inner maps built and filled).
    pub staged_us: u64,
    /// Microseconds from receiving the request to the flip.
    pub request_to_flip_us: u64,
    /// Microseconds from receiving the request to the end of the apply (release included).
    pub total_us: u64,
    /// Map entries written into the new generation.
    pub entries: u64,
}

/// Parses one request line.
pub fn parse_request(line: &str) -> Result<Request, String> {
    serde_json::from_str(line.trim()).map_err(|error| format!("the request is not valid: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse_and_unknown_commands_are_refused() {
        assert_eq!(parse_request("{\"command\":\"apply\",\"bundle\":\"/tmp/b\"}\n"), Ok(Request::Apply { bundle: PathBuf::from("/tmp/b") }));
        assert_eq!(parse_request("{\"command\":\"status\"}"), Ok(Request::Status));
        assert!(parse_request("{\"command\":\"reboot\"}").unwrap_err().contains("unknown variant `reboot`"));
        assert!(parse_request("status").is_err());
    }

    #[test]
    fn responses_are_single_lines() {
        let line = Response::failure("bundle", "blob `x` is missing\nfrom the bundle").to_line();
        assert_eq!(line.matches('\n').count(), 1);
        let parsed: Response = serde_json::from_str(&line).unwrap();
        assert!(!parsed.ok);
        assert_eq!(parsed.error.unwrap().kind, "bundle");
    }
}
