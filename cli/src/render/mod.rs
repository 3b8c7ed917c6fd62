//! Renderings of a lint report: human (rustc-style), JSON and SARIF 2.1.0.
//!
//! Every renderer is a pure function from a [`Report`] to a string, so output is deterministic
//! and testable without a terminal.

pub mod human;
pub mod json;
pub mod sarif;

use polc_compiler::diag::Summary;
use polc_compiler::{Diagnostic, SourceMap};

/// What a lint run found, ready to render.
pub struct Report<'a> {
    pub sources: &'a SourceMap,
    /// The diagnostics to show, in canonical order.
    pub diagnostics: &'a [Diagnostic],
    /// Documents of kinds polc does not model, as `(kind, count)`.
    pub skipped: &'a [(String, usize)],
}

impl Report<'_> {
    pub fn summary(&self) -> Summary {
        Summary::of(self.diagnostics)
    }

    pub fn files(&self) -> usize {
        self.sources.len()
    }
}

/// The output formats of `polc lint`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// rustc-style text with the source line and a caret underline
    Human,
    /// one JSON document (schema in docs/cli.md)
    Json,
    /// SARIF 2.1.0, for GitHub code scanning
    Sarif,
}

/// When to colour human output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ColorChoice {
    /// when stdout is a terminal and NO_COLOR is not set
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour, given whether stdout is a terminal and the value of `NO_COLOR`.
    pub fn enabled(self, stdout_is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => stdout_is_terminal && no_color.is_none_or(|value| value.is_empty()),
        }
    }
}

/// `1 error`, `2 errors`.
pub fn count(n: usize, singular: &str, plural: &str) -> String {
    format!("{n} {}", if n == 1 { singular } else { plural })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_follows_the_terminal_and_no_color() {
        assert!(ColorChoice::Auto.enabled(true, None));
        assert!(!ColorChoice::Auto.enabled(false, None));
        assert!(!ColorChoice::Auto.enabled(true, Some("1".as_ref())));
        assert!(ColorChoice::Auto.enabled(true, Some("".as_ref())));
        assert!(ColorChoice::Always.enabled(false, Some("1".as_ref())));
        assert!(!ColorChoice::Never.enabled(true, None));
    }
}
