//! A blocking client of the control socket, for `polc apply`, `polc status` and tests.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::protocol::{ApplyReport, Request, Response};
use crate::status::Status;

/// A failure talking to the agent, or the agent's refusal.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the agent at `{socket}`: {source}")]
    Connect {
        socket: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the connection to the agent failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the agent closed the connection without answering")]
    NoAnswer,
    #[error("the agent's answer is not valid: {0}")]
    BadAnswer(String),
    /// The agent refused or failed the request.
    #[error("{message}")]
    Refused { kind: String, message: String },
}

/// Sends one request and reads its response. `timeout` bounds each read and write
/// (`None`: wait as long as the agent needs, e.g. for a large bundle).
pub fn request(socket: &Path, request: &Request, timeout: Option<Duration>) -> Result<Response, ClientError> {
    let mut stream = UnixStream::connect(socket).map_err(|source| ClientError::Connect { socket: socket.display().to_string(), source })?;
    stream.set_read_timeout(timeout)?;
    stream.set_write_timeout(timeout)?;
    let mut line = serde_json::to_string(request).map_err(|error| ClientError::BadAnswer(error.to_string()))?;
    line.push('\n');
    stream.write_all(line.as_bytes())?;
    let mut reader = BufReader::new(stream);
    let mut answer = String::new();
    if reader.read_line(&mut answer)? == 0 {
        return Err(ClientError::NoAnswer);
    }
    let response: Response = serde_json::from_str(&answer).map_err(|error| ClientError::BadAnswer(error.to_string()))?;
    if !response.ok {
        let error = response
            .error
            .unwrap_or(crate::protocol::ErrorReply { kind: "agent".to_owned(), message: "the agent refused the request without a reason".to_owned() });
        return Err(ClientError::Refused { kind: error.kind, message: error.message });
    }
    Ok(response)
}

/// Asks the agent to make the bundle at `bundle` live; returns once it is live.
pub fn apply(socket: &Path, bundle: &Path, timeout: Option<Duration>) -> Result<ApplyReport, ClientError> {
    let bundle = std::path::absolute(bundle).unwrap_or_else(|_| bundle.to_path_buf());
    let response = request(socket, &Request::Apply { bundle }, timeout)?;
    response.applied.ok_or_else(|| ClientError::BadAnswer("the answer has no `applied` record".to_owned()))
}

/// The agent's status.
pub fn status(socket: &Path, timeout: Option<Duration>) -> Result<Status, ClientError> {
    let response = request(socket, &Request::Status, timeout)?;
    response.status.ok_or_else(|| ClientError::BadAnswer("the answer has no `status` record".to_owned()))
}
