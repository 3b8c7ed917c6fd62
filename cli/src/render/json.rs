//! JSON output: one document with a stable schema (version 1, documented in `docs/cli.md`).
//!
//! Positions are 1-based; columns count characters; `end_line`/`end_column` point just past
//! the span. A finding about a whole file has `line` and `column` set to null.

use polc_compiler::diag::{Location, Summary};
use polc_compiler::{Diagnostic, SourceMap};
use serde::Serialize;

use super::Report;

/// The schema version; bumped only by an incompatible change.
pub const VERSION: u32 = 1;

#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
    files: usize,
    summary: Summary,
    diagnostics: Vec<JsonDiagnostic<'a>>,
    skipped: Vec<JsonSkipped<'a>>,
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    code: &'static str,
    name: &'static str,
    severity: &'static str,
    message: &'a str,
    #[serde(flatten)]
    position: JsonPosition<'a>,
    help: Option<&'a str>,
    label: Option<&'a str>,
    related: Vec<JsonRelated<'a>>,
}

#[derive(Serialize)]
struct JsonPosition<'a> {
    file: Option<&'a str>,
    line: Option<u32>,
    column: Option<u32>,
    end_line: Option<u32>,
    end_column: Option<u32>,
    /// The path of the node in its document (`spec.ingress[0].toPorts`).
    path: Option<String>,
    /// The 0-based index of the YAML document in its file.
    document: Option<usize>,
}

#[derive(Serialize)]
struct JsonRelated<'a> {
    message: &'a str,
    #[serde(flatten)]
    position: JsonPosition<'a>,
}

#[derive(Serialize)]
struct JsonSkipped<'a> {
    kind: &'a str,
    count: usize,
}

fn position<'a>(sources: &'a SourceMap, location: Option<&Location>) -> JsonPosition<'a> {
    let Some(location) = location else {
        return JsonPosition { file: None, line: None, column: None, end_line: None, end_column: None, path: None, document: None };
    };
    let span = location.span;
    let known = span.start.line > 0;
    JsonPosition {
        file: Some(&sources.get(location.source).name),
        line: known.then_some(span.start.line),
        column: known.then_some(span.start.col),
        end_line: known.then_some(span.end.line),
        end_column: known.then_some(span.end.col),
        path: location.path.as_ref().map(ToString::to_string),
        document: location.document,
    }
}

fn diagnostic<'a>(sources: &'a SourceMap, diagnostic: &'a Diagnostic) -> JsonDiagnostic<'a> {
    JsonDiagnostic {
        code: diagnostic.code.id,
        name: diagnostic.code.name,
        severity: diagnostic.severity.as_str(),
        message: &diagnostic.message,
        position: position(sources, diagnostic.location.as_ref()),
        help: diagnostic.help.as_deref(),
        label: diagnostic.label.as_deref(),
        related: diagnostic
            .related
            .iter()
            .map(|related| JsonRelated { message: &related.message, position: position(sources, Some(&related.location)) })
            .collect(),
    }
}

/// Renders the report as pretty-printed JSON, ending with a newline.
pub fn render(report: &Report<'_>) -> String {
    let document = JsonReport {
        version: VERSION,
        files: report.files(),
        summary: report.summary(),
        diagnostics: report.diagnostics.iter().map(|d| diagnostic(report.sources, d)).collect(),
        skipped: report.skipped.iter().map(|(kind, count)| JsonSkipped { kind, count: *count }).collect(),
    };
    let mut text = serde_json::to_string_pretty(&document).unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use polc_compiler::codes;
    use polc_compiler::path::Path;
    use polc_compiler::source::{Pos, SourceId, Span};

    #[test]
    fn the_schema_has_every_documented_field() {
        let mut sources = SourceMap::new();
        sources.add("a.yaml", "x: 1\n");
        let span = Span::new(Pos { byte: 0, line: 1, col: 1 }, Pos { byte: 1, line: 1, col: 2 });
        let location = Location { source: SourceId(0), span, path: Some(Path::parse("spec.x")), document: Some(0) };
        let diagnostics = [Diagnostic::new(&codes::UNKNOWN_FIELD, "unknown field `x`")
            .at(location.clone())
            .with_help("remove it")
            .with_related(location, "first given here")];
        let skipped = [("Deployment".to_owned(), 2)];
        let report = Report { sources: &sources, diagnostics: &diagnostics, skipped: &skipped };
        let value: serde_json::Value = serde_json::from_str(&render(&report)).unwrap();
        assert_eq!(value["version"], 1);
        assert_eq!(value["files"], 1);
        assert_eq!(value["summary"], serde_json::json!({"errors": 1, "warnings": 0, "notes": 0}));
        let first = &value["diagnostics"][0];
        let keys: Vec<&str> = first.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            ["code", "name", "severity", "message", "file", "line", "column", "end_line", "end_column", "path", "document", "help", "label", "related"]
        );
        assert_eq!(first["code"], "PLC2001");
        assert_eq!(first["name"], "unknown-field");
        assert_eq!(first["path"], "spec.x");
        assert_eq!((first["line"].as_u64(), first["end_column"].as_u64()), (Some(1), Some(2)));
        assert_eq!(first["related"][0]["message"], "first given here");
        assert_eq!(value["skipped"], serde_json::json!([{"kind": "Deployment", "count": 2}]));
    }
}
