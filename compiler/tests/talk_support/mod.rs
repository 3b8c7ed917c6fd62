//! Shared by the talk-example tests: where the talk examples are, and linting them.

use std::path::{Path, PathBuf};

use polc_compiler::diag::Severity;
use polc_compiler::{Options, SourceMap, parse};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `shared/talk-examples`, or `None` (the test then says it is skipped).
pub fn talk_examples_dir() -> Option<PathBuf> {
    let from_corpus = std::env::var_os("POLC_CORPUS").map(|corpus| PathBuf::from(corpus).join("../talk-examples"));
    for candidate in from_corpus.into_iter().chain([workspace_root().join("../shared/talk-examples")]) {
        if candidate.join("README.md").is_file() {
            return Some(candidate);
        }
    }
    eprintln!("skipped: the talk examples are absent (looked in ../shared/talk-examples and $POLC_CORPUS/../talk-examples)");
    None
}

/// One finding: code, severity, 1-based line, message, help.
#[derive(Debug)]
#[allow(dead_code)]
pub struct Finding {
    pub code: &'static str,
    pub severity: Severity,
    pub line: u32,
    pub message: String,
    pub help: Option<String>,
}

pub fn lint_files(paths: &[PathBuf]) -> Vec<Finding> {
    let mut sources = SourceMap::new();
    for path in paths {
        let text = std::fs::read_to_string(path).unwrap_or_else(|error| panic!("reading {}: {error}", path.display()));
        sources.add(path.display().to_string(), text);
    }
    parse(&sources, &Options::default())
        .diagnostics
        .into_iter()
        .map(|diagnostic| Finding {
            code: diagnostic.code.id,
            severity: diagnostic.severity,
            line: diagnostic.location.as_ref().map_or(0, |location| location.span.start.line),
            message: diagnostic.message,
            help: diagnostic.help,
        })
        .collect()
}

/// The findings of one talk example, or `None` when the examples are absent.
pub fn talk_example(name: &str) -> Option<Vec<Finding>> {
    let dir = talk_examples_dir()?;
    Some(lint_files(&[dir.join(name)]))
}
