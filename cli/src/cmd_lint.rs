//! `polc lint PATH...`: checks policy YAML and reports every finding with its location.
//!
//! Exit code 0 when no input has an error (warnings allowed), 1 when any has, 2 when the
//! inputs could not be read. Documents of kinds polc does not model are summarised in one
//! line; `--verbose` shows a note for each.
//!
//! When the inputs include an inventory (a Pod or a Node), the policies are also lowered against
//! it and the analysis findings (`PLC7xxx`: rules that select nothing, allows shadowed by denies,
//! redundant rules, policy maps over `--policy-map-max`) are reported with the others.

use std::io::IsTerminal;

use polc_compiler::diag::sort_diagnostics;
use polc_compiler::kinds::Resource;
use polc_compiler::{Diagnostic, Severity, codes};

use crate::cmd_trace::SemanticsArgs;

use crate::exit::{Exit, Failure};
use crate::inputs::{InputArgs, load_and_parse};
use crate::output::print;
use crate::render::{self, ColorChoice, Format, Report};

#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub inputs: InputArgs,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// When to colour human output
    #[arg(long, value_enum, value_name = "WHEN", default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
    /// Show a note for each skipped document of a kind polc does not model
    #[arg(long, short)]
    pub verbose: bool,
    #[command(flatten)]
    pub semantics: SemanticsArgs,
}

/// Whether `diagnostic` is the note for a skipped document (summarised unless `--verbose`).
/// A kind spelt in the wrong case is reported with the same code as an error, and always shown.
fn is_skip_note(diagnostic: &Diagnostic) -> bool {
    diagnostic.code.id == codes::UNMODELED_KIND.id && diagnostic.severity == Severity::Note
}

pub fn run(args: &Args) -> Result<Exit, Failure> {
    let mut loaded = load_and_parse(&args.inputs)?;
    let has_inventory = loaded.parsed.objects.iter().any(|object| matches!(object.resource, Resource::Pod(_) | Resource::Node(_)));
    if has_inventory {
        let lowered = polc_compiler::lower::lower(&loaded.parsed.objects, &args.semantics.options());
        loaded.parsed.diagnostics.extend(lowered.diagnostics);
        sort_diagnostics(&mut loaded.parsed.diagnostics);
    }
    let exit = Exit::from_errors(loaded.parsed.has_errors());
    let verbose = args.verbose;
    let shown: Vec<Diagnostic> = loaded.parsed.diagnostics.into_iter().filter(|diagnostic| verbose || !is_skip_note(diagnostic)).collect();
    let report = Report { sources: &loaded.sources, diagnostics: &shown, skipped: &loaded.parsed.skipped };
    let text = match args.format {
        Format::Human => {
            let color = args.color.enabled(std::io::stdout().is_terminal(), std::env::var_os("NO_COLOR").as_deref());
            render::human::render(&report, color, verbose)
        }
        Format::Json => render::json::render(&report),
        Format::Sarif => render::sarif::render(&report),
    };
    print(&text);
    Ok(exit)
}
