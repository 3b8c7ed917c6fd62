//! Writing command output to stdout without panicking when the reader goes away.

use std::io::Write;

/// Writes `text` to stdout. A closed pipe (`polc lint . | head`) is not an error: the rest of
/// the output is dropped quietly.
pub fn print(text: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush());
}
