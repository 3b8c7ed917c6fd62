//! Human output: rustc-style diagnostics with the source line and a caret underline.
//!
//! ```text
//! error[PLC2001]: unknown field `bogus`
//!  --> policies/web.yaml:7:3
//!   |
//! 7 |   bogus: true
//!   |   ^^^^^ not a field here
//!   |
//!   = help: ...
//! ```
//!
//! A span that covers several lines is underlined to the end of its first line. Related
//! locations follow as secondary snippets (`:::`, underlined with `-`). Colour is ANSI and only
//! when asked for; the text is otherwise identical.

use std::fmt::Write;

use polc_compiler::diag::{Location, Severity};
use polc_compiler::{Diagnostic, SourceMap};

use super::{Report, count};

/// Longest stretch of a source line shown, in characters; longer lines are cut around the span.
const MAX_LINE_CHARS: usize = 160;
/// Characters kept before the span when a long line is cut.
const CONTEXT_BEFORE: usize = 40;

/// ANSI styles, or none.
#[derive(Clone, Copy)]
struct Painter {
    color: bool,
}

impl Painter {
    fn paint(self, text: &str, style: &str) -> String {
        if self.color && !text.is_empty() { format!("\x1b[{style}m{text}\x1b[0m") } else { text.to_owned() }
    }

    fn severity(self, severity: Severity, text: &str) -> String {
        let style = match severity {
            Severity::Error => "1;31",
            Severity::Warning => "1;33",
            Severity::Note => "1;32",
        };
        self.paint(text, style)
    }

    fn gutter(self, text: &str) -> String {
        self.paint(text, "1;34")
    }

    fn bold(self, text: &str) -> String {
        self.paint(text, "1")
    }
}

/// Renders the whole report: every diagnostic, the skipped-kinds line, and the summary line.
pub fn render(report: &Report<'_>, color: bool, verbose: bool) -> String {
    let painter = Painter { color };
    let mut out = String::new();
    for diagnostic in report.diagnostics {
        render_diagnostic(&mut out, report.sources, diagnostic, painter);
        out.push('\n');
    }
    if !report.skipped.is_empty() {
        out.push_str(&skipped_line(report.skipped, verbose));
        out.push('\n');
    }
    let summary = report.summary();
    let files = count(report.files(), "file", "files");
    let notes = if summary.notes > 0 { format!(", {}", count(summary.notes, "note", "notes")) } else { String::new() };
    let line = if summary.errors == 0 && summary.warnings == 0 {
        format!("no problems{notes} in {files}")
    } else {
        format!("{}, {}{notes} in {files}", count(summary.errors, "error", "errors"), count(summary.warnings, "warning", "warnings"))
    };
    let line = match (summary.errors, summary.warnings) {
        (0, 0) => painter.bold(&line),
        (0, _) => painter.severity(Severity::Warning, &line),
        _ => painter.severity(Severity::Error, &line),
    };
    out.push_str(&line);
    out.push('\n');
    out
}

/// `skipped 3 documents of kinds polc does not model: Deployment (2), ConfigMap (1)`.
pub fn skipped_line(skipped: &[(String, usize)], verbose: bool) -> String {
    let mut kinds: Vec<&(String, usize)> = skipped.iter().collect();
    kinds.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let total: usize = kinds.iter().map(|(_, n)| n).sum();
    let list = kinds.iter().map(|(kind, n)| format!("{kind} ({n})")).collect::<Vec<_>>().join(", ");
    let what = if kinds.len() == 1 { "a kind" } else { "kinds" };
    let hint = if verbose { "" } else { " (`--verbose` shows each)" };
    format!("skipped {} of {what} polc does not model: {list}{hint}", count(total, "document", "documents"))
}

/// `text` with control characters (other than line breaks) written as escapes, so input that
/// reaches a message (a key, a value, a file name) cannot drive the terminal.
fn clean(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && c != '\n') {
        return std::borrow::Cow::Borrowed(text);
    }
    text.chars().map(|c| if c.is_control() && c != '\n' { c.escape_default().to_string() } else { c.to_string() }).collect::<String>().into()
}

/// Renders one diagnostic, followed by nothing (the caller separates diagnostics).
fn render_diagnostic(out: &mut String, sources: &SourceMap, diagnostic: &Diagnostic, painter: Painter) {
    let severity = diagnostic.severity;
    let _ = writeln!(
        out,
        "{}{} {}",
        painter.severity(severity, &format!("{}[{}]", severity.as_str(), diagnostic.code.id)),
        painter.bold(":"),
        painter.bold(&clean(&diagnostic.message).replace('\n', " "))
    );
    let mut lines: Vec<u32> = Vec::new();
    if let Some(location) = &diagnostic.location {
        lines.push(location.span.start.line);
    }
    lines.extend(diagnostic.related.iter().map(|related| related.location.span.start.line));
    let width = lines.iter().max().map(|line| line.to_string().len()).unwrap_or(1);
    let pad = " ".repeat(width);
    let bar = painter.gutter("|");
    // Whether the last line written is an empty gutter line (`  |`), so none is doubled.
    let mut after_bar = false;
    if let Some(location) = &diagnostic.location {
        let _ = writeln!(out, "{pad}{} {}", painter.gutter("-->"), position(sources, location));
        let _ = writeln!(out, "{pad} {bar}");
        let label = diagnostic.label.as_deref().map(clean);
        after_bar = !snippet(out, sources, location, '^', label.as_deref(), width, |text| painter.severity(severity, text), painter);
    }
    for related in &diagnostic.related {
        if !after_bar {
            let _ = writeln!(out, "{pad} {bar}");
        }
        let _ = writeln!(out, "{pad}{} {}", painter.gutter(":::"), position(sources, &related.location));
        let _ = writeln!(out, "{pad} {bar}");
        let message = clean(&related.message);
        after_bar = !snippet(out, sources, &related.location, '-', Some(&message), width, |text| painter.gutter(text), painter);
        if after_bar {
            let _ = writeln!(out, "{pad} {} {}", painter.gutter("="), message);
            after_bar = false;
        }
    }
    if let Some(help) = &diagnostic.help {
        if diagnostic.location.is_some() && !after_bar {
            let _ = writeln!(out, "{pad} {bar}");
        }
        let continuation = format!("\n{pad}   {}", " ".repeat("help: ".len()));
        let _ = writeln!(out, "{pad} {} {}: {}", painter.gutter("="), painter.bold("help"), clean(help).replace('\n', &continuation));
    }
}

/// `file:line:col`, or just `file` for a finding about the whole file.
fn position(sources: &SourceMap, location: &Location) -> String {
    let name = clean(&sources.get(location.source).name);
    let start = location.span.start;
    if start.line == 0 { name.into_owned() } else { format!("{name}:{}:{}", start.line, start.col) }
}

/// The line `line` (1-based) of `text`, without its terminator, if the text has that line.
fn source_line(text: &str, line: u32) -> Option<&str> {
    if text.is_empty() || line == 0 {
        return None;
    }
    text.split('\n').nth(line as usize - 1).map(|l| l.strip_suffix('\r').unwrap_or(l))
}

/// A source line prepared for display: tabs expanded, control characters replaced, cut to a
/// window around the span; with the display column of each character.
struct ShownLine {
    text: String,
    /// Display column where the underline starts, and its length.
    underline_start: usize,
    underline_len: usize,
}

fn shown_line(raw: &str, start_char: usize, end_char: Option<usize>) -> ShownLine {
    let chars: Vec<char> = raw.chars().collect();
    let start_char = start_char.min(chars.len());
    let end_char = end_char.unwrap_or(chars.len()).clamp(start_char, chars.len());
    let (window_start, window_end) = if chars.len() <= MAX_LINE_CHARS {
        (0, chars.len())
    } else {
        let window_start = start_char.saturating_sub(CONTEXT_BEFORE);
        (window_start, (window_start + MAX_LINE_CHARS).min(chars.len()))
    };
    let mut text = String::new();
    let mut column = 0usize;
    if window_start > 0 {
        text.push_str("...");
        column += 3;
    }
    let mut underline_start = None;
    let mut underline_end = None;
    for (index, c) in chars.iter().enumerate().take(window_end).skip(window_start) {
        if index == start_char {
            underline_start = Some(column);
        }
        if index == end_char {
            underline_end = Some(column);
        }
        match c {
            '\t' => {
                text.push_str("    ");
                column += 4;
            }
            c if c.is_control() => {
                text.push('\u{FFFD}');
                column += 1;
            }
            c => {
                text.push(*c);
                column += 1;
            }
        }
    }
    let underline_start = underline_start.unwrap_or(column);
    let underline_end = underline_end.unwrap_or(column);
    if window_end < chars.len() {
        text.push_str("...");
    }
    ShownLine { text, underline_start, underline_len: underline_end.saturating_sub(underline_start).max(1) }
}

/// Writes the source line of `location` with its underline; false when there is no line to show.
#[allow(clippy::too_many_arguments)]
fn snippet(
    out: &mut String,
    sources: &SourceMap,
    location: &Location,
    marker: char,
    label: Option<&str>,
    width: usize,
    paint_marker: impl Fn(&str) -> String,
    painter: Painter,
) -> bool {
    let span = location.span;
    let Some(raw) = source_line(&sources.get(location.source).text, span.start.line) else {
        return false;
    };
    let start_char = span.start.col.saturating_sub(1) as usize;
    let end_char = if span.end.line == span.start.line { Some(span.end.col.saturating_sub(1) as usize) } else { None };
    let shown = shown_line(raw, start_char, end_char);
    let bar = painter.gutter("|");
    let number = painter.gutter(&format!("{:>width$}", span.start.line));
    let _ = writeln!(out, "{number} {bar} {}", shown.text.trim_end());
    let underline = marker.to_string().repeat(shown.underline_len);
    let label = label.map(|label| format!(" {label}")).unwrap_or_default();
    let _ = writeln!(out, "{} {bar} {}{}", " ".repeat(width), " ".repeat(shown.underline_start), paint_marker(&format!("{underline}{label}")));
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use polc_compiler::codes;
    use polc_compiler::source::{Pos, SourceId, Span};

    fn span(line: u32, col: u32, end_line: u32, end_col: u32) -> Span {
        Span::new(Pos { byte: 0, line, col }, Pos { byte: 1, line: end_line, col: end_col })
    }

    fn at(span: Span) -> Location {
        Location { source: SourceId(0), span, path: None, document: None }
    }

    fn one(text: &str, diagnostic: Diagnostic) -> String {
        let mut sources = SourceMap::new();
        sources.add("dir/input.yaml", text);
        let mut out = String::new();
        render_diagnostic(&mut out, &sources, &diagnostic, Painter { color: false });
        out
    }

    #[test]
    fn a_span_is_underlined_with_its_label_and_help() {
        let diagnostic =
            Diagnostic::new(&codes::UNKNOWN_FIELD, "unknown field `bogus`").at(at(span(2, 3, 2, 8))).with_label("not a field here").with_help("remove it");
        let expected = "error[PLC2001]: unknown field `bogus`
 --> dir/input.yaml:2:3
  |
2 |   bogus: true
  |   ^^^^^ not a field here
  |
  = help: remove it
";
        assert_eq!(one("metadata:\n  bogus: true\n", diagnostic), expected);
    }

    #[test]
    fn a_multi_line_span_is_underlined_to_the_end_of_its_first_line() {
        let diagnostic = Diagnostic::new(&codes::WRONG_TYPE, "expected a list").at(at(span(1, 7, 3, 1)));
        let out = one("spec: {a: 1,\n  b: 2}\n", diagnostic);
        assert!(out.contains("1 | spec: {a: 1,\n  |       ^^^^^^\n"), "{out}");
    }

    #[test]
    fn an_empty_span_gets_one_caret_and_tabs_are_expanded() {
        let diagnostic = Diagnostic::new(&codes::YAML_SYNTAX, "invalid YAML").at(at(span(1, 3, 1, 3)));
        let out = one("a:\tb\n", diagnostic);
        assert!(out.contains("1 | a:    b\n  |   ^\n"), "{out}");
    }

    #[test]
    fn related_locations_are_secondary_snippets() {
        let diagnostic = Diagnostic::new(&codes::YAML_DUPLICATE_KEY, "duplicate key `a`")
            .at(at(span(10, 1, 10, 2)))
            .with_label("repeated here")
            .with_related(at(span(1, 1, 1, 2)), "first given here");
        let text = format!("a: 1\n{}a: 2\n", "x: 0\n".repeat(8));
        let expected = "error[PLC1002]: duplicate key `a`
  --> dir/input.yaml:10:1
   |
10 | a: 2
   | ^ repeated here
   |
  ::: dir/input.yaml:1:1
   |
 1 | a: 1
   | - first given here
";
        assert_eq!(one(&text, diagnostic), expected);
    }

    #[test]
    fn a_finding_about_a_whole_file_has_no_snippet() {
        let diagnostic = Diagnostic::new(&codes::FILE_TOO_LARGE, "file is too large").at(at(Span::default())).with_help("split it");
        assert_eq!(one("", diagnostic), "error[PLC1005]: file is too large\n --> dir/input.yaml\n  |\n  = help: split it\n");
    }

    #[test]
    fn long_lines_are_cut_around_the_span() {
        let line = format!("{}bogus{}", "a".repeat(300), "b".repeat(300));
        let shown = shown_line(&line, 300, Some(305));
        assert!(shown.text.starts_with("...") && shown.text.ends_with("..."), "{}", shown.text);
        assert_eq!(&shown.text[shown.underline_start..shown.underline_start + shown.underline_len], "bogus");
    }

    #[test]
    fn control_characters_from_the_input_are_escaped() {
        let diagnostic = Diagnostic::new(&codes::UNKNOWN_FIELD, "unknown field `a\u{1b}[2Jb`").at(at(span(1, 1, 1, 2))).with_help("remove `\u{7}`");
        let out = one("a\u{1b}[2Jb: 1\n", diagnostic);
        assert!(!out.contains('\u{1b}') && !out.contains('\u{7}'), "{out:?}");
        assert!(out.starts_with("error[PLC2001]: unknown field `a\\u{1b}[2Jb`\n"), "{out}");
        assert!(out.contains("1 | a\u{FFFD}[2Jb: 1\n"), "{out}");
        assert!(out.contains("= help: remove `\\u{7}`"), "{out}");
    }

    #[test]
    fn colour_wraps_text_in_ansi_codes_only_when_asked() {
        assert_eq!(Painter { color: true }.bold("x"), "\x1b[1mx\x1b[0m");
        assert_eq!(Painter { color: false }.bold("x"), "x");
    }

    #[test]
    fn summary_and_skipped_lines() {
        let sources = SourceMap::new();
        let skipped = [("ConfigMap".to_owned(), 1), ("Deployment".to_owned(), 2)];
        let report = Report { sources: &sources, diagnostics: &[], skipped: &skipped };
        assert_eq!(
            render(&report, false, false),
            "skipped 3 documents of kinds polc does not model: Deployment (2), ConfigMap (1) (`--verbose` shows each)\nno problems in 0 files\n"
        );
    }
}
