//! Shared by the robustness tests: every diagnostic must point inside its source, at a
//! position whose line and column agree with its byte offset.

#![allow(dead_code)]

use polc_compiler::diag::Location;
use polc_compiler::source::{Pos, SourceMap};
use polc_compiler::{Diagnostic, Parsed};

/// Line starts of one text, for turning byte offsets into lines and columns quickly.
struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
    /// Offset of the first `\r` not followed by `\n`: YAML breaks lines there too, so positions
    /// after it are counted differently and not compared.
    first_lone_cr: usize,
}

impl<'a> LineIndex<'a> {
    fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1)).collect();
        let bytes = text.as_bytes();
        let first_lone_cr = (0..bytes.len()).find(|&i| bytes[i] == b'\r' && bytes.get(i + 1) != Some(&b'\n')).unwrap_or(usize::MAX);
        LineIndex { text, starts, first_lone_cr }
    }

    /// 1-based line and column (in characters) of `byte`, which is a character boundary.
    fn line_col(&self, byte: usize) -> (u32, u32) {
        let line = self.starts.partition_point(|start| *start <= byte);
        let start = self.starts[line - 1];
        (line as u32, self.text[start..byte].chars().count() as u32 + 1)
    }

    fn check(&self, pos: Pos, what: &str) -> Result<(), String> {
        if pos.byte > self.text.len() || !self.text.is_char_boundary(pos.byte) {
            return Err(format!("{what} byte {} is outside the text ({} bytes) or inside a character", pos.byte, self.text.len()));
        }
        if pos.byte > self.first_lone_cr {
            return Ok(());
        }
        let expected = self.line_col(pos.byte);
        if (pos.line, pos.col) != expected {
            return Err(format!("{what} is {}:{} but byte {} is at {}:{}", pos.line, pos.col, pos.byte, expected.0, expected.1));
        }
        Ok(())
    }
}

fn check_location(indexes: &[LineIndex<'_>], location: &Location) -> Result<(), String> {
    let Some(index) = indexes.get(location.source.0 as usize) else {
        return Err(format!("source {:?} does not exist", location.source));
    };
    let span = location.span;
    if span.start.byte > span.end.byte {
        return Err(String::from("span ends before it starts"));
    }
    index.check(span.start, "start")?;
    index.check(span.end, "end")
}

/// Checks every diagnostic has a location, and every location (related ones too) is valid.
pub fn check_diagnostics(sources: &SourceMap, diagnostics: &[Diagnostic]) -> Result<(), String> {
    let indexes: Vec<LineIndex<'_>> = sources.ids().map(|id| LineIndex::new(&sources.get(id).text)).collect();
    for diagnostic in diagnostics {
        let describe = |problem: String| format!("{} `{}`: {problem}", diagnostic.code.id, diagnostic.message);
        let Some(location) = &diagnostic.location else {
            return Err(describe(String::from("no location")));
        };
        check_location(&indexes, location).map_err(describe)?;
        for related in &diagnostic.related {
            check_location(&indexes, &related.location).map_err(|problem| describe(format!("related: {problem}")))?;
        }
    }
    Ok(())
}

/// Panics with the problem when `parsed` has a diagnostic without a valid location.
pub fn assert_valid(sources: &SourceMap, parsed: &Parsed) {
    if let Err(problem) = check_diagnostics(sources, &parsed.diagnostics) {
        panic!("{problem}");
    }
}
