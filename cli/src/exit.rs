//! Exit codes of every `polc` command, in one place.
//!
//! `0`: the command did its job and found no error (warnings allowed).
//! `1`: the command ran, and an input has at least one error (or a test failed).
//! `2`: the command could not run: a usage mistake or an IO failure (a path that does not
//! exist or cannot be read, a directory without YAML files, an unknown kind or code).

use std::process::ExitCode;

/// How a command ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// No error in the inputs.
    Clean = 0,
    /// At least one input has an error.
    Findings = 1,
    /// Usage or IO failure: the inputs could not be checked at all.
    Failure = 2,
}

impl Exit {
    /// `Findings` when `has_errors`, else `Clean`.
    pub fn from_errors(has_errors: bool) -> Self {
        if has_errors { Exit::Findings } else { Exit::Clean }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit as u8)
    }
}

/// Why a command could not run (exit code 2). Each line is printed to stderr as `polc: LINE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub lines: Vec<String>,
}

impl Failure {
    pub fn new(line: impl Into<String>) -> Self {
        Failure { lines: vec![line.into()] }
    }
}

/// Describes an IO error the way polc messages are written: lower case, no OS error number.
pub fn describe_io(error: &std::io::Error) -> String {
    let text = error.to_string();
    let text = match text.find(" (os error") {
        Some(end) => text[..end].to_owned(),
        None => text,
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::from("unknown error"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_codes_are_the_contract() {
        assert_eq!(Exit::Clean as u8, 0);
        assert_eq!(Exit::Findings as u8, 1);
        assert_eq!(Exit::Failure as u8, 2);
        assert_eq!(Exit::from_errors(true), Exit::Findings);
        assert_eq!(Exit::from_errors(false), Exit::Clean);
    }

    #[test]
    fn io_errors_are_described_in_lower_case_without_the_os_number() {
        let error = std::io::Error::from_raw_os_error(2);
        assert_eq!(describe_io(&error), "no such file or directory");
    }
}
