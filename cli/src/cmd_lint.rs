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
use crate::inputs::{InputArgs, Loaded, load_and_parse};
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

/// Reads and checks the inputs: the front end's findings, and the analysis findings when the
/// inputs include an inventory.
fn check(args: &Args) -> Result<Loaded, Failure> {
    let mut loaded = load_and_parse(&args.inputs)?;
    let has_inventory = loaded.parsed.objects.iter().any(|object| matches!(object.resource, Resource::Pod(_) | Resource::Node(_)));
    if has_inventory {
        let lowered = polc_compiler::lower::lower(&loaded.parsed.objects, &args.semantics.options());
        loaded.parsed.diagnostics.extend(lowered.diagnostics);
        sort_diagnostics(&mut loaded.parsed.diagnostics);
    }
    Ok(loaded)
}

pub fn run(args: &Args) -> Result<Exit, Failure> {
    let loaded = check(args)?;
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use clap::Parser;

    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Command {
        #[command(flatten)]
        args: Args,
    }

    fn args(words: &[&str]) -> Args {
        Command::try_parse_from(std::iter::once("polc-lint").chain(words.iter().copied())).expect("valid arguments").args
    }

    fn codes(args: &Args) -> Vec<&'static str> {
        check(args).expect("readable inputs").parsed.diagnostics.iter().map(|diagnostic| diagnostic.code.id).collect()
    }

    /// Every pod may reach every pod on every port of TCP, UDP and SCTP (ports 1-65535 are 16
    /// blocks): identities × 48 keys per pod, more than 256.
    const WIDE: &str = "apiVersion: cilium.io/v2
kind: CiliumClusterwideNetworkPolicy
metadata: {name: wide}
spec:
  endpointSelector: {}
  egress:
  - toEndpoints: [{}]
    toPorts: [{ports: [{port: \"1\", endPort: 65535}]}]
  - toEndpoints: [{}]
    toPorts: [{ports: [{port: \"8080\"}]}]
";

    #[test]
    fn analysis_findings_surface_when_the_inputs_include_an_inventory() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let policy = dir.path().join("wide.yaml");
        std::fs::write(&policy, WIDE).expect("writing a test input");
        let policy = policy.display().to_string();
        let inventory = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies/examples/inventory").display().to_string();

        // Without an inventory only the front end runs.
        assert!(codes(&args(&["--policy-map-max", "256", &policy])).is_empty());
        // With one, the second rule is redundant (a warning) and the maps fit the default limit.
        let found = codes(&args(&[&policy, &inventory]));
        assert!(found.contains(&"PLC7014"), "{found:?}");
        assert!(!found.contains(&"PLC7015"), "{found:?}");
        assert_eq!(run(&args(&[&policy, &inventory])).expect("runs"), Exit::Clean);
        // Over a limit of 256 every pod's map is an error.
        let found = codes(&args(&["--policy-map-max", "256", &policy, &inventory]));
        assert!(found.contains(&"PLC7015"), "{found:?}");
        assert_eq!(run(&args(&["--policy-map-max", "256", "--format", "json", &policy, &inventory])).expect("runs"), Exit::Findings);
        // Cilium's range is 256-65536.
        assert!(Command::try_parse_from(["polc-lint", "--policy-map-max", "255", &policy]).is_err());
        assert!(Command::try_parse_from(["polc-lint", "--policy-map-max", "65537", &policy]).is_err());
    }

    /// The policy map size lint checks (`PLC7015`) is the size `polc compile` gives each map.
    #[test]
    fn the_counted_entries_are_the_entries_compile_writes() {
        let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies/examples");
        let mut sources = polc_compiler::SourceMap::new();
        // The sample inventory and every example policy.
        for folder in ["inventory", "cilium-policy", "network-policy"] {
            let mut files: Vec<PathBuf> =
                std::fs::read_dir(examples.join(folder)).expect("the examples").map(|entry| entry.expect("an entry").path()).collect();
            files.sort();
            for file in files.into_iter().filter(|file| file.extension().is_some_and(|extension| extension == "yaml")) {
                sources.add(file.display().to_string(), std::fs::read_to_string(&file).expect("an example"));
            }
        }
        // Ranges, overlapping allows and denies, any-identity and L3-only entries, L7 rules.
        sources.add(
            "mixed.yaml",
            format!(
                "{WIDE}---
apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata: {{name: mixed, namespace: prod}}
spec:
  endpointSelector: {{matchLabels: {{app: backend}}}}
  ingress:
  - toPorts: [{{ports: [{{port: \"8000\", endPort: 8999, protocol: TCP}}]}}]
  - fromEntities: [world, cluster]
    toPorts: [{{ports: [{{port: \"8080\", protocol: TCP}}], rules: {{http: [{{method: GET}}]}}}}]
  ingressDeny:
  - fromEndpoints: [{{matchLabels: {{app: frontend}}}}]
    toPorts: [{{ports: [{{port: \"8192\", endPort: 8703, protocol: TCP}}]}}]
  - fromEntities: [world]
  egressDeny:
  - toEndpoints: [{{}}]
    toPorts: [{{ports: [{{port: \"2048\", endPort: 4095}}]}}]
"
            ),
        );
        let parsed = polc_compiler::parse(&sources, &polc_compiler::Options::default());
        assert!(!parsed.has_errors(), "{:?}", parsed.diagnostics.iter().filter(|d| d.is_error()).collect::<Vec<_>>());
        let lowered = polc_compiler::lower::lower(&parsed.objects, &polc_compiler::lower::LowerOptions::default());
        let counted = polc_compiler::checks::analysis::policy_map_limit::endpoint_key_counts(&lowered.ir);
        let options = polc_ebpf::compile::CompileOptions { policy_map_max_entries: 65_536, ..polc_ebpf::compile::CompileOptions::default() };
        let compiled = polc_ebpf::compile::compile(&lowered.ir, &options, &|_| None).expect("compiles");
        let mut compared = 0;
        for (index, endpoint) in lowered.ir.endpoints.iter().enumerate() {
            let (_, written) = compiled.endpoint(endpoint.id).expect("every endpoint is compiled");
            assert_eq!(counted[index], written.policy.len(), "{}", endpoint.kind);
            compared += 1;
        }
        assert!(compared >= 9, "{compared}");
        assert!(counted.iter().any(|count| *count > 100), "{counted:?}");
    }
}
