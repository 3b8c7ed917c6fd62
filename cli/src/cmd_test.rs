//! `polc test PATH... [--engine reference|kernel|iptables]`: runs every FlowTest among the
//! inputs against the other inputs and prints one line per failing flow, then `N passed, M failed`.
//!
//! Exit code 0 only when every flow passes; 1 when a flow fails or the inputs have errors; 2 for
//! usage problems and IO failures, and for an engine that is not available.

use std::fmt::Write;

use polc_compiler::SourceMap;
use polc_compiler::lower::{Lowered, lower};
use polc_compiler::semantics::{FlowOutcome, run_flow_tests};
use serde_json::json;

use crate::cmd_trace::{SemanticsArgs, origin_json, report_errors, report_warnings, shown_location};
use crate::exit::{Exit, Failure};
use crate::inputs::{InputArgs, load_and_parse};
use crate::output::print;

/// Where flows are evaluated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// the reference evaluator (the IR's oracle)
    Reference,
    /// the generated eBPF objects in the kernel
    Kernel,
    /// the iptables rendering in a network namespace
    Iptables,
}

impl Engine {
    fn as_str(self) -> &'static str {
        match self {
            Engine::Reference => "reference",
            Engine::Kernel => "kernel",
            Engine::Iptables => "iptables",
        }
    }
}

/// Output formats of `test`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum TestFormat {
    /// one line per failing flow and a closing count
    Human,
    /// one JSON document with `passed`, `failed` and one record per flow
    Json,
}

#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub inputs: InputArgs,
    /// Where to evaluate the flows
    #[arg(long, value_enum, default_value_t = Engine::Reference)]
    pub engine: Engine,
    /// Output format
    #[arg(long, value_enum, default_value_t = TestFormat::Human)]
    pub format: TestFormat,
    /// Also print a line for every passing flow
    #[arg(long, short)]
    pub verbose: bool,
    #[command(flatten)]
    pub semantics: SemanticsArgs,
}

fn expected_word(allow: bool) -> &'static str {
    if allow { "allow" } else { "deny" }
}

/// `FAIL test/name: expected allow, got deny: REASON (file:line:col)`.
fn failure_line(sources: &SourceMap, outcome: &FlowOutcome) -> String {
    let place = shown_location(sources, &outcome.location);
    match (&outcome.verdict, &outcome.error) {
        (Some(verdict), _) => format!(
            "FAIL {}: {}: expected {}, got {}: {} ({place})",
            outcome.test,
            outcome.name,
            expected_word(outcome.expected_allow),
            expected_word(verdict.allowed),
            verdict.reason
        ),
        (None, error) => format!("FAIL {}: {}: cannot evaluate: {} ({place})", outcome.test, outcome.name, error.as_deref().unwrap_or("unknown problem")),
    }
}

fn record(sources: &SourceMap, lowered: &Lowered, outcome: &FlowOutcome) -> serde_json::Value {
    let deciding: Vec<serde_json::Value> = outcome
        .verdict
        .iter()
        .flat_map(|verdict| [&verdict.egress, &verdict.ingress])
        .flatten()
        .flat_map(|direction| direction.deciding.iter())
        .map(|rule| origin_json(sources, lowered, &rule.origin))
        .collect();
    json!({
        "test": outcome.test,
        "index": outcome.index,
        "name": outcome.name,
        "from": outcome.from,
        "to": outcome.to,
        "port": outcome.port,
        "protocol": outcome.protocol.as_str(),
        "expected": expected_word(outcome.expected_allow),
        "actual": outcome.verdict.as_ref().map(|verdict| expected_word(verdict.allowed)),
        "passed": outcome.passed(),
        "reason": outcome.verdict.as_ref().map(|verdict| verdict.reason.clone()),
        "error": outcome.error,
        "rules": deciding,
        "file": sources.get(outcome.location.source).name,
        "line": outcome.location.span.start.line,
    })
}

pub fn run(args: &Args) -> Result<Exit, Failure> {
    if args.engine == Engine::Kernel && !polc_ebpf::kernel::running_as_root() {
        return Err(Failure::new(polc_ebpf::engine::EngineError::NotRoot.to_string()));
    }
    let loaded = load_and_parse(&args.inputs)?;
    if report_errors(&loaded.sources, &loaded.parsed.diagnostics) {
        eprintln!("polc: the inputs have errors; fix them before testing");
        return Ok(Exit::Findings);
    }
    let lowered = lower(&loaded.parsed.objects, &args.semantics.options());
    if report_errors(&loaded.sources, &lowered.diagnostics) {
        return Ok(Exit::Findings);
    }
    report_warnings(&loaded.sources, &lowered.diagnostics);
    let (mut outcomes, findings) = run_flow_tests(&loaded.parsed.objects, &lowered);
    if args.engine == Engine::Iptables {
        crate::cmd_render::run_flow_tests_in_iptables(&loaded.parsed.objects, &lowered, &mut outcomes)?;
    }
    if args.engine == Engine::Kernel {
        run_flow_tests_in_kernel(&loaded.sources, &loaded.parsed.objects, &lowered, args.semantics.policy_map_max, &mut outcomes)?;
    }
    if outcomes.is_empty() {
        return Err(Failure::new("no FlowTest among the inputs: nothing to test"));
    }
    // Resolution errors show on the flow's own line; warnings go to stderr.
    let warnings: Vec<_> = findings.into_iter().filter(|diagnostic| diagnostic.severity != polc_compiler::Severity::Error).collect();
    if !warnings.is_empty() && args.format == TestFormat::Human {
        let report = crate::render::Report { sources: &loaded.sources, diagnostics: &warnings, skipped: &[] };
        eprint!("{}", crate::render::human::render(&report, false, false));
    }
    let passed = outcomes.iter().filter(|outcome| outcome.passed()).count();
    let failed = outcomes.len() - passed;
    let text = match args.format {
        TestFormat::Human => {
            let mut out = String::new();
            for outcome in &outcomes {
                if !outcome.passed() {
                    let _ = writeln!(out, "{}", failure_line(&loaded.sources, outcome));
                } else if args.verbose {
                    let _ = writeln!(out, "ok   {}: {}: {}", outcome.test, outcome.name, expected_word(outcome.expected_allow));
                }
            }
            let _ = writeln!(out, "{passed} passed, {failed} failed");
            out
        }
        TestFormat::Json => {
            let document = json!({
                "engine": args.engine.as_str(),
                "passed": passed,
                "failed": failed,
                "flows": outcomes.iter().map(|outcome| record(&loaded.sources, &lowered, outcome)).collect::<Vec<_>>(),
            });
            let mut text = serde_json::to_string_pretty(&document).unwrap_or_default();
            text.push('\n');
            text
        }
    };
    print(&text);
    Ok(if failed == 0 { Exit::Clean } else { Exit::Findings })
}

/// The flow of every FlowTest flow among `objects`, in the order `run_flow_tests` reports them
/// (`None` where a flow does not resolve).
fn kernel_flows(objects: &[polc_compiler::Object], lowered: &Lowered) -> Vec<Option<polc_ir::Flow>> {
    use polc_compiler::kinds::Resource;
    use polc_compiler::model::flowtest::FlowEndpoint;
    use polc_compiler::semantics::{l7_of, port_of, protocol_of, resolve_end};
    let mut flows = Vec::new();
    for object in objects {
        let Resource::FlowTest(test) = &object.resource else { continue };
        for flow in &test.spec.flows {
            let end = |text: &str| FlowEndpoint::parse(text).and_then(|parsed| resolve_end(lowered, &parsed)).ok().map(|resolved| resolved.end);
            flows.push(match (end(&flow.from), end(&flow.to), port_of(flow.protocol, flow.port)) {
                (Some(source), Some(destination), Some(port)) => {
                    Some(polc_ir::Flow { source, destination, protocol: protocol_of(flow.protocol), port, l7: l7_of(flow.http.as_ref(), flow.dns.as_ref()) })
                }
                _ => None,
            });
        }
    }
    flows
}

/// `polc test --engine kernel`: compiles the datapath of every endpoint, loads the generated
/// objects with their constants, installs each endpoint's generation and runs every flow as a
/// crafted packet through BPF_PROG_TEST_RUN (the source's egress program and the destination's
/// ingress program), replacing the reference verdict of each flow with the kernel's. L7 requests
/// are judged at L4, where a redirect to the proxy is an allow; the request itself is then the
/// proxy's to decide, which is the reference evaluator's L7 matching (the reason says so).
fn run_flow_tests_in_kernel(
    sources: &SourceMap,
    objects: &[polc_compiler::Object],
    lowered: &Lowered,
    policy_map_max: u32,
    outcomes: &mut [FlowOutcome],
) -> Result<(), Failure> {
    use polc_ebpf::compile::{CompileOptions, compile};
    use polc_ebpf::engine::{EngineOptions, KernelJudge, run_flows};
    let options = CompileOptions { policy_map_max_entries: policy_map_max, ..CompileOptions::default() };
    let compiled = compile(&lowered.ir, &options, &crate::cmd_compile::locate(sources, lowered))
        .map_err(|error| Failure::new(format!("cannot compile the datapath: {error}")))?;
    let flows = kernel_flows(objects, lowered);
    if flows.len() != outcomes.len() {
        return Err(Failure::new("the FlowTest flows could not be matched to their outcomes"));
    }
    let runnable: Vec<polc_ir::Flow> = flows.iter().flatten().cloned().collect();
    // Every packet runs in both lookup modes (the default HASH probes and the LPM tries), which
    // must agree.
    let mut judge = KernelJudge::new(true).map_err(|error| Failure::new(error.to_string()))?;
    let runs = run_flows(&lowered.ir, &compiled, &runnable, &mut judge, &EngineOptions::default())
        .map_err(|error| Failure::new(format!("the kernel engine failed: {error}")))?;
    let mut runs = runs.into_iter();
    for (outcome, flow) in outcomes.iter_mut().zip(&flows) {
        if flow.is_none() {
            continue;
        }
        match runs.next() {
            Some(Ok(run)) => {
                outcome.error = None;
                outcome.verdict = Some(polc_ir::Verdict { allowed: run.allowed, reason: run.reason, egress: None, ingress: None, notes: Vec::new() });
            }
            Some(Err(message)) => {
                outcome.verdict = None;
                outcome.error = Some(format!("the kernel engine cannot run this flow: {message}"));
            }
            None => return Err(Failure::new("the kernel engine returned fewer verdicts than flows")),
        }
    }
    Ok(())
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
        Command::try_parse_from(std::iter::once("polc-test").chain(words.iter().copied())).expect("valid arguments").args
    }

    fn examples() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies/examples")
    }

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> String {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("writing a test input");
        path.display().to_string()
    }

    const FLOWS: &str = "apiVersion: polc/v1alpha1
kind: FlowTest
metadata: {name: t}
spec:
  flows:
  - {from: default/client, to: default/frontend, port: 8080, expect: allow}
  - {from: default/client, to: default/frontend, port: 9, expect: EXPECT}
";

    #[test]
    fn the_kernel_engine_needs_root_and_otherwise_runs_the_flows_privileged() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let inventory = examples().join("inventory").display().to_string();
        let passing = write(&dir, "pass.yaml", &FLOWS.replace("EXPECT", "allow"));
        let failing = write(&dir, "fail.yaml", &FLOWS.replace("EXPECT", "deny"));
        if !polc_ebpf::kernel::running_as_root() {
            let failure = run(&args(&["--engine", "kernel", &inventory, &passing])).expect_err("needs root");
            assert!(failure.lines[0].contains("needs root"), "{:?}", failure.lines);
            eprintln!("skipping the kernel part of the_kernel_engine_needs_root_and_otherwise_runs_the_flows_privileged: it loads BPF programs and needs root");
            return;
        }
        assert_eq!(run(&args(&["--engine", "kernel", &inventory, &passing])).expect("runs"), Exit::Clean);
        assert_eq!(run(&args(&["--engine", "kernel", &inventory, &failing])).expect("runs"), Exit::Findings);
    }

    #[test]
    fn exit_zero_only_when_every_flow_passes() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let inventory = examples().join("inventory").display().to_string();
        let passing = write(&dir, "pass.yaml", &FLOWS.replace("EXPECT", "allow"));
        assert_eq!(run(&args(&[&inventory, &passing])).expect("runs"), Exit::Clean);
        let failing = write(&dir, "fail.yaml", &FLOWS.replace("EXPECT", "deny"));
        assert_eq!(run(&args(&[&inventory, &failing])).expect("runs"), Exit::Findings);
        assert_eq!(run(&args(&["--format", "json", &inventory, &failing])).expect("runs"), Exit::Findings);
    }

    #[test]
    fn inputs_with_errors_are_not_tested_and_no_flowtest_is_a_usage_failure() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let inventory = examples().join("inventory").display().to_string();
        let broken = write(&dir, "broken.yaml", &FLOWS.replace("EXPECT", "maybe"));
        assert_eq!(run(&args(&[&inventory, &broken])).expect("runs"), Exit::Findings);
        let failure = run(&args(&[&inventory])).expect_err("nothing to test");
        assert!(failure.lines[0].contains("no FlowTest"));
    }

    #[test]
    fn a_failing_flow_is_one_line_naming_the_expectation_and_the_place() {
        let mut sources = SourceMap::new();
        sources.add("flows.yaml", FLOWS.replace("EXPECT", "deny"));
        sources.add("cluster.yaml", std::fs::read_to_string(examples().join("inventory/cluster.yaml")).expect("the sample inventory"));
        let parsed = polc_compiler::parse(&sources, &polc_compiler::Options::default());
        let lowered = lower(&parsed.objects, &polc_compiler::lower::LowerOptions::default());
        let (outcomes, _) = run_flow_tests(&parsed.objects, &lowered);
        let failing: Vec<&FlowOutcome> = outcomes.iter().filter(|outcome| !outcome.passed()).collect();
        assert_eq!(failing.len(), 1);
        let line = failure_line(&sources, failing[0]);
        assert!(line.starts_with("FAIL t: default/client -> default/frontend 9/TCP: expected deny, got allow"), "{line}");
        assert!(line.ends_with("(flows.yaml:7:5)"), "{line}");
        assert!(!line.contains('\n'));
        let json = record(&sources, &lowered, failing[0]);
        assert_eq!(json["passed"], false);
        assert_eq!(json["expected"], "deny");
        assert_eq!(json["actual"], "allow");
        assert_eq!(json["line"], 7);
    }
}
