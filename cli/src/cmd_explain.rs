//! `polc explain CODE` and `polc explain --list`: the documentation of diagnostic codes.
//!
//! CODE is an id (`PLC2001`, any case) or a name (`unknown-field`). The same texts generate
//! `docs/diagnostics.md` ([`markdown_reference`]); a test fails when that file is stale.

use std::fmt::Write;

use polc_compiler::Code;
use polc_compiler::codes;

use crate::exit::{Exit, Failure};
use crate::output::print;

#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// A code id (`PLC2001`) or name (`unknown-field`)
    #[arg(value_name = "CODE", required_unless_present = "list", conflicts_with = "list")]
    pub code: Option<String>,
    /// List every code with its severity, name and summary
    #[arg(long)]
    pub list: bool,
    /// With `--list`: print every code with its full explanation, as Markdown (docs/diagnostics.md)
    #[arg(long, requires = "list")]
    pub markdown: bool,
}

/// The text `polc explain CODE` prints.
pub fn explanation(code: &Code) -> String {
    format!("{} {} ({}): {}\n\n{}\n", code.id, code.name, code.severity.as_str(), code.summary, code.explanation.trim_end())
}

/// One line per code: id, severity, name, summary, in columns.
pub fn list() -> String {
    let all = codes::all();
    let name_width = all.iter().map(|code| code.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    for code in all {
        let _ = writeln!(out, "{}  {:<7}  {:<name_width$}  {}", code.id, code.severity.as_str(), code.name, code.summary);
    }
    out
}

fn unknown(query: &str) -> Failure {
    let names: Vec<&str> = codes::all().iter().map(|code| code.name).collect();
    let suggestion =
        polc_compiler::schema_check::did_you_mean(query, names.iter().copied()).map(|name| format!(" (did you mean `{name}`?)")).unwrap_or_default();
    Failure::new(format!("unknown code `{query}`{suggestion}; `polc explain --list` lists every code"))
}

pub fn run(args: &Args) -> Result<Exit, Failure> {
    if args.list {
        print(&if args.markdown { markdown_reference() } else { list() });
        return Ok(Exit::Clean);
    }
    let query = args.code.as_deref().unwrap_or("");
    let code = codes::find(query).ok_or_else(|| unknown(query))?;
    print(&explanation(code));
    Ok(Exit::Clean)
}

/// The headings of the code ranges (see `polc_compiler::codes`).
const RANGES: &[(char, &str)] = &[
    ('1', "YAML and documents"),
    ('2', "Schema"),
    ('3', "Cilium and Kubernetes network policy"),
    ('4', "Gateway API"),
    ('5', "LB-IPAM, L2 announcements and BGP"),
    ('6', "Inventory and FlowTest"),
    ('7', "Policy analysis against the inventory"),
];

/// Explanation text to Markdown: runs of lines indented by two spaces or more become code blocks.
fn explanation_markdown(text: &str) -> String {
    let mut out = String::new();
    let mut block: Vec<&str> = Vec::new();
    let flush = |block: &mut Vec<&str>, out: &mut String| {
        if block.is_empty() {
            return;
        }
        let indent = block.iter().filter(|line| !line.trim().is_empty()).map(|line| line.len() - line.trim_start().len()).min().unwrap_or(0);
        out.push_str("```yaml\n");
        for line in block.drain(..) {
            out.push_str(line.get(indent..).unwrap_or("").trim_end());
            out.push('\n');
        }
        out.push_str("```\n");
    };
    for line in text.trim_end().lines() {
        if line.starts_with("  ") && !line.trim().is_empty() {
            block.push(line);
            continue;
        }
        flush(&mut block, &mut out);
        out.push_str(line.trim_end());
        out.push('\n');
    }
    flush(&mut block, &mut out);
    out
}

/// The contents of `docs/diagnostics.md`.
pub fn markdown_reference() -> String {
    let all = codes::all();
    let mut out = String::new();
    out.push_str("# Diagnostic codes\n\n");
    out.push_str("<!-- Generated from `polc_compiler::codes::all()`; do not edit. Regenerate with `POLC_BLESS=1 cargo test -p polc docs_diagnostics` or `polc explain --list --markdown`. -->\n\n");
    out.push_str("Every finding polc reports has a stable code. `polc explain CODE` prints the same text in a terminal,\n");
    out.push_str("and `polc explain --list` lists every code. Severity is the default; a few checks report a code at another\n");
    out.push_str("severity where the message says so.\n\n");
    out.push_str("| code | name | severity | summary |\n| --- | --- | --- | --- |\n");
    for code in &all {
        let _ = writeln!(out, "| [{}](#{}) | `{}` | {} | {} |", code.id, anchor(code), code.name, code.severity.as_str(), code.summary.replace('|', "\\|"));
    }
    for (digit, title) in RANGES {
        let in_range: Vec<&&Code> = all.iter().filter(|code| code.id[3..].starts_with(*digit)).collect();
        if in_range.is_empty() {
            continue;
        }
        let _ = write!(out, "\n## PLC{digit}xxx: {title}\n");
        for code in in_range {
            let _ = write!(out, "\n### {} {}\n\n", code.id, code.name);
            let _ = write!(out, "**{}**: {}\n\n", code.severity.as_str(), code.summary);
            out.push_str(&explanation_markdown(code.explanation));
        }
    }
    out
}

/// The GitHub anchor of a code's heading (`### PLC2001 unknown-field`).
fn anchor(code: &Code) -> String {
    format!("{}-{}", code.id.to_ascii_lowercase(), code.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explanations_are_found_by_id_or_name() {
        let by_id = codes::find("plc2001").unwrap();
        let by_name = codes::find("unknown-field").unwrap();
        assert_eq!(by_id.id, by_name.id);
        let text = explanation(by_id);
        assert!(text.starts_with("PLC2001 unknown-field (error): a field is not part of the schema at this place\n\n"), "{text}");
    }

    #[test]
    fn unknown_codes_suggest_a_name() {
        let failure = unknown("unknown-feld");
        assert!(failure.lines[0].contains("did you mean `unknown-field`?"), "{failure:?}");
    }

    #[test]
    fn the_list_has_one_line_per_code() {
        assert_eq!(list().lines().count(), codes::all().len());
    }

    #[test]
    fn indented_examples_become_code_blocks() {
        let markdown = explanation_markdown("Example:\n  spec:\n    a: 1\n\nFix: it.");
        assert_eq!(markdown, "Example:\n```yaml\nspec:\n  a: 1\n```\n\nFix: it.\n");
    }

    /// `docs/diagnostics.md` is generated; regenerate it with `POLC_BLESS=1`.
    #[test]
    fn docs_diagnostics_md_is_up_to_date() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/diagnostics.md");
        let expected = markdown_reference();
        if std::env::var_os("POLC_BLESS").is_some() {
            std::fs::write(path, &expected).unwrap();
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == expected,
            "docs/diagnostics.md is stale: regenerate it with `POLC_BLESS=1 cargo test -p polc docs_diagnostics` and commit the result"
        );
    }
}
