//! Diagnostics: what the compiler says about its inputs.
//!
//! Every diagnostic has a stable [`Code`], a [`Severity`], a lower-case message with the user's
//! input in backticks, the primary location (source, span, and the document path), and help
//! where a fix is known. Diagnostics are plain data; the CLI renders them.

use crate::path::Path;
use crate::source::{SourceId, Span};

/// How bad a finding is. `Error` makes `polc lint` exit 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        }
    }
}

/// A stable diagnostic code with its documentation (shown by `polc explain`).
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Code {
    /// The stable identifier, `PLC` and four digits.
    pub id: &'static str,
    /// A short kebab-case name.
    pub name: &'static str,
    /// The default severity.
    pub severity: Severity,
    /// One line: what the code means.
    pub summary: &'static str,
    /// Longer text: why it matters, an example of the problem, and how to fix it.
    pub explanation: &'static str,
}

/// Where a diagnostic points.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Location {
    pub source: SourceId,
    pub span: Span,
    /// The path of the node inside its document, when the finding is about one node.
    pub path: Option<Path>,
    /// The 0-based index of the YAML document inside its source.
    pub document: Option<usize>,
}

/// A secondary location with a message of its own ("first defined here").
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Related {
    pub location: Location,
    pub message: String,
}

/// One finding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Diagnostic {
    pub code: &'static Code,
    pub severity: Severity,
    pub message: String,
    /// `None` only for findings that concern no input (a usage problem).
    pub location: Option<Location>,
    /// A short label under the underline (`not a field here`).
    pub label: Option<String>,
    pub help: Option<String>,
    pub related: Vec<Related>,
}

impl Diagnostic {
    pub fn new(code: &'static Code, message: impl Into<String>) -> Self {
        Diagnostic { code, severity: code.severity, message: message.into(), location: None, label: None, help: None, related: Vec::new() }
    }

    pub fn at(mut self, location: Location) -> Self {
        self.location = Some(location);
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    pub fn with_related(mut self, location: Location, message: impl Into<String>) -> Self {
        self.related.push(Related { location, message: message.into() });
        self
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }

    /// The key diagnostics are sorted by: source, position, then code and message.
    fn sort_key(&self) -> (Option<SourceId>, usize, usize, &'static str, &str) {
        match &self.location {
            Some(location) => (Some(location.source), location.span.start.byte, location.span.end.byte, self.code.id, &self.message),
            None => (None, 0, 0, self.code.id, &self.message),
        }
    }
}

/// Sorts diagnostics into their canonical order (deterministic output) and removes exact repeats.
pub fn sort_diagnostics(diagnostics: &mut Vec<Diagnostic>) {
    diagnostics.sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
    diagnostics.dedup_by(|a, b| a.sort_key() == b.sort_key() && a.help == b.help);
}

/// Counts of findings by severity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
    pub notes: usize,
}

impl Summary {
    pub fn of(diagnostics: &[Diagnostic]) -> Self {
        let mut summary = Summary::default();
        for diagnostic in diagnostics {
            match diagnostic.severity {
                Severity::Error => summary.errors += 1,
                Severity::Warning => summary.warnings += 1,
                Severity::Note => summary.notes += 1,
            }
        }
        summary
    }
}
