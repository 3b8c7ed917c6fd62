//! SARIF 2.1.0 output, in the shape GitHub code scanning accepts.
//!
//! One run; `tool.driver.rules` lists every code polc can emit (id, name, short and full
//! description, help, default level), and each result names its rule by id and index. Regions
//! count columns in Unicode code points (`columnKind`), matching polc's positions; `endColumn`
//! points just past the span. Paths are URIs relative to the working directory.

use polc_compiler::diag::{Location, Severity};
use polc_compiler::{Code, Diagnostic, SourceMap};
use serde_json::{Value as Json, json};

use super::Report;
use crate::inputs::STDIN_NAME;

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Note => "note",
    }
}

/// Percent-encodes what a relative URI reference cannot hold; keeps `/`.
fn uri(name: &str) -> String {
    if name == STDIN_NAME {
        return String::from("stdin");
    }
    let mut out = String::new();
    if name.starts_with('/') {
        out.push_str("file://");
    }
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn physical_location(sources: &SourceMap, location: &Location) -> Json {
    let artifact = json!({ "uri": uri(&sources.get(location.source).name) });
    let span = location.span;
    if span.start.line == 0 {
        return json!({ "artifactLocation": artifact });
    }
    json!({
        "artifactLocation": artifact,
        "region": {
            "startLine": span.start.line,
            "startColumn": span.start.col.max(1),
            "endLine": span.end.line.max(span.start.line),
            "endColumn": span.end.col.max(1),
        }
    })
}

/// GitHub code scanning shows at most 1,000 characters of a rule's full description.
const FULL_DESCRIPTION_LIMIT: usize = 1000;

/// The first paragraph of an explanation, cut at a word to fit [`FULL_DESCRIPTION_LIMIT`].
fn full_description(explanation: &str) -> String {
    let paragraph = explanation.split("\n\n").next().unwrap_or("").trim();
    if paragraph.chars().count() <= FULL_DESCRIPTION_LIMIT {
        return paragraph.to_owned();
    }
    let mut cut: String = paragraph.chars().take(FULL_DESCRIPTION_LIMIT - 3).collect();
    if let Some(space) = cut.rfind(' ') {
        cut.truncate(space);
    }
    cut.push_str("...");
    cut
}

fn rule(code: &Code) -> Json {
    json!({
        "id": code.id,
        "name": code.name,
        "shortDescription": { "text": code.summary },
        "fullDescription": { "text": full_description(code.explanation) },
        "help": { "text": format!("{}\n\n{}\n\nRun `polc explain {}` for this text in a terminal.", code.summary, code.explanation, code.id) },
        "defaultConfiguration": { "level": level(code.severity) },
    })
}

fn result(sources: &SourceMap, diagnostic: &Diagnostic, rule_index: Option<usize>) -> Json {
    let text = match &diagnostic.help {
        Some(help) => format!("{}\nhelp: {help}", diagnostic.message),
        None => diagnostic.message.clone(),
    };
    let mut result = json!({
        "ruleId": diagnostic.code.id,
        "level": level(diagnostic.severity),
        "message": { "text": text },
    });
    if let Some(index) = rule_index {
        result["ruleIndex"] = json!(index);
    }
    if let Some(location) = &diagnostic.location {
        let mut entry = json!({ "physicalLocation": physical_location(sources, location) });
        if let Some(path) = &location.path {
            entry["logicalLocations"] = json!([{ "fullyQualifiedName": path.to_string(), "kind": "member" }]);
        }
        result["locations"] = json!([entry]);
    }
    if !diagnostic.related.is_empty() {
        let related: Vec<Json> = diagnostic
            .related
            .iter()
            .enumerate()
            .map(|(index, related)| {
                json!({
                    "id": index,
                    "physicalLocation": physical_location(sources, &related.location),
                    "message": { "text": related.message },
                })
            })
            .collect();
        result["relatedLocations"] = json!(related);
    }
    result
}

/// Renders the report as a SARIF 2.1.0 log, pretty-printed, ending with a newline.
pub fn render(report: &Report<'_>) -> String {
    let codes = polc_compiler::codes::all();
    let rules: Vec<Json> = codes.iter().map(|code| rule(code)).collect();
    let results: Vec<Json> = report
        .diagnostics
        .iter()
        .map(|diagnostic| {
            let index = codes.iter().position(|code| code.id == diagnostic.code.id);
            result(report.sources, diagnostic, index)
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "polc",
                    "version": env!("CARGO_PKG_VERSION"),
                    "semanticVersion": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }
            },
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    });
    let mut text = serde_json::to_string_pretty(&log).unwrap_or_else(|error| format!("{{\"error\": \"{error}\"}}"));
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use polc_compiler::codes;
    use polc_compiler::source::{Pos, SourceId, Span};

    #[test]
    fn full_descriptions_are_the_first_paragraph_within_the_limit() {
        assert_eq!(full_description("First paragraph.\n\nExample:\n  a: 1"), "First paragraph.");
        let long = "word ".repeat(400);
        let cut = full_description(&long);
        assert!(cut.chars().count() <= FULL_DESCRIPTION_LIMIT && cut.ends_with("word..."), "{cut}");
        for code in codes::all() {
            assert!(full_description(code.explanation).chars().count() <= FULL_DESCRIPTION_LIMIT, "{}", code.id);
        }
    }

    #[test]
    fn uris_are_relative_and_encoded() {
        assert_eq!(uri("policies/a b.yaml"), "policies/a%20b.yaml");
        assert_eq!(uri("/abs/x.yaml"), "file:///abs/x.yaml");
        assert_eq!(uri(STDIN_NAME), "stdin");
    }

    #[test]
    fn results_name_their_rule_and_region() {
        let mut sources = SourceMap::new();
        sources.add("a.yaml", "x: 1\n");
        let span = Span::new(Pos { byte: 0, line: 1, col: 1 }, Pos { byte: 1, line: 1, col: 2 });
        let location = Location { source: SourceId(0), span, path: None, document: Some(0) };
        let diagnostics = [Diagnostic::new(&codes::UNKNOWN_FIELD, "unknown field `x`").at(location)];
        let report = Report { sources: &sources, diagnostics: &diagnostics, skipped: &[] };
        let log: Json = serde_json::from_str(&render(&report)).unwrap();
        assert_eq!(log["version"], "2.1.0");
        let run = &log["runs"][0];
        assert_eq!(run["tool"]["driver"]["name"], "polc");
        let result = &run["results"][0];
        assert_eq!(result["ruleId"], "PLC2001");
        assert_eq!(result["level"], "error");
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(run["tool"]["driver"]["rules"][index]["id"], "PLC2001");
        assert_eq!(run["tool"]["driver"]["rules"][index]["name"], "unknown-field");
        let region = &result["locations"][0]["physicalLocation"]["region"];
        assert_eq!(region, &json!({"startLine": 1, "startColumn": 1, "endLine": 1, "endColumn": 2}));
        assert_eq!(result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "a.yaml");
    }
}
