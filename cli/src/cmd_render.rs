//! `polc render iptables PATH...`: the iptables reference rendering of the policies among the
//! inputs, per node: `ipset restore` input and `iptables-restore` input for IPv4 and IPv6.
//!
//! Every section starts with a `# =====` comment line naming the node and the tool, so the whole
//! output is valid input for either tool section by section; `--node` with one of `--ipset`,
//! `--iptables` or `--ip6tables` prints exactly one loadable text. Exit 0 when rendered, 1 when
//! the inputs have errors, 2 for usage and IO problems (such as an unknown node).

use polc_compiler::Object;
use polc_compiler::kinds::Resource;
use polc_compiler::lower::{Lowered, lower};
use polc_compiler::model::flowtest::FlowEndpoint;
use polc_compiler::semantics::{FlowOutcome, l7_of, port_of, protocol_of, resolve_end};
use polc_iptables::engine::{Backend, FlowVerdict};
use polc_ir::{Decision, Flow, Verdict, evaluate};

use crate::cmd_trace::{SemanticsArgs, report_errors};
use crate::exit::{Exit, Failure};
use crate::inputs::{InputArgs, load_and_parse};
use crate::output::print;

#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub target: Target,
}

/// What to render.
#[derive(Clone, Debug, clap::Subcommand)]
pub enum Target {
    /// The L3/L4 policy as `ipset restore` and `iptables-restore` input, per node
    Iptables(IptablesArgs),
}

#[derive(Clone, Debug, clap::Args)]
pub struct IptablesArgs {
    #[command(flatten)]
    pub inputs: InputArgs,
    /// Render only this node's endpoints
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// Print the `ipset restore` input
    #[arg(long)]
    pub ipset: bool,
    /// Print the IPv4 `iptables-restore` input
    #[arg(long)]
    pub iptables: bool,
    /// Print the IPv6 `ip6tables-restore` input
    #[arg(long)]
    pub ip6tables: bool,
    #[command(flatten)]
    pub semantics: SemanticsArgs,
}

pub fn run(args: &Args) -> Result<Exit, Failure> {
    match &args.target {
        Target::Iptables(args) => run_iptables(args),
    }
}

fn node_label(node: &Option<String>) -> String {
    match node {
        Some(name) => format!("node `{name}`"),
        None => "endpoints without a node".to_owned(),
    }
}

fn run_iptables(args: &IptablesArgs) -> Result<Exit, Failure> {
    let loaded = load_and_parse(&args.inputs)?;
    if report_errors(&loaded.sources, &loaded.parsed.diagnostics) {
        eprintln!("polc: the inputs have errors; fix them before rendering");
        return Ok(Exit::Findings);
    }
    let lowered = lower(&loaded.parsed.objects, &args.semantics.options());
    if report_errors(&loaded.sources, &lowered.diagnostics) {
        return Ok(Exit::Findings);
    }
    let nodes = polc_iptables::node_names(&lowered.ir);
    let chosen: Vec<Option<String>> = match &args.node {
        Some(name) => {
            if !nodes.iter().any(|node| node.as_deref() == Some(name.as_str())) {
                let known: Vec<String> = nodes.iter().flatten().map(|node| format!("`{node}`")).collect();
                let known = if known.is_empty() { "none".to_owned() } else { known.join(", ") };
                return Err(Failure::new(format!("no endpoint runs on node `{name}` (nodes with endpoints: {known})")));
            }
            vec![Some(name.clone())]
        }
        None => nodes,
    };
    if chosen.is_empty() {
        return Err(Failure::new("the inputs have no pod or node to render policy for"));
    }
    let all = !args.ipset && !args.iptables && !args.ip6tables;
    let mut out = String::new();
    for node in &chosen {
        let rendering = polc_iptables::render_node(&lowered.ir, node.as_deref());
        let label = node_label(node);
        let sections = [
            (args.ipset, "ipset restore input (load with `ipset -exist restore` first)", &rendering.ipset),
            (args.iptables, "iptables-restore input (IPv4)", &rendering.iptables),
            (args.ip6tables, "ip6tables-restore input (IPv6)", &rendering.ip6tables),
        ];
        for (wanted, title, text) in sections {
            if all || wanted {
                out.push_str(&format!("# ===== {label}: {title} =====\n"));
                out.push_str(text);
            }
        }
    }
    print(&out);
    Ok(Exit::Clean)
}

/// The flow of every FlowTest flow among `objects`, in the order `run_flow_tests` reports them
/// (`None` where a flow does not resolve).
fn flow_test_flows(objects: &[Object], lowered: &Lowered) -> Vec<Option<Flow>> {
    let mut flows = Vec::new();
    for object in objects {
        let Resource::FlowTest(test) = &object.resource else { continue };
        for flow in &test.spec.flows {
            let end = |text: &str| FlowEndpoint::parse(text).and_then(|parsed| resolve_end(lowered, &parsed)).ok().map(|resolved| resolved.end);
            let resolved = match (end(&flow.from), end(&flow.to), port_of(flow.protocol, flow.port)) {
                (Some(source), Some(destination), Some(port)) => {
                    Some(Flow { source, destination, protocol: protocol_of(flow.protocol), port, l7: l7_of(flow.http.as_ref(), flow.dns.as_ref()) })
                }
                _ => None,
            };
            flows.push(resolved);
        }
    }
    flows
}

/// `polc test --engine iptables`: replaces the reference verdict of every flow in `outcomes` with
/// what the iptables engine sees, on both backends (legacy and nft), which must agree. The
/// iptables rendering decides L3 and L4 only: for a flow that carries an HTTP or DNS request and
/// gets through at L4, the L7 decision is the reference evaluator's, and the reason says so.
pub(crate) fn run_flow_tests_in_iptables(objects: &[Object], lowered: &Lowered, outcomes: &mut [FlowOutcome]) -> Result<(), Failure> {
    if !polc_iptables::engine::is_root() {
        return Err(Failure::new("the iptables engine needs root: it builds network namespaces and loads iptables rules"));
    }
    let flows = flow_test_flows(objects, lowered);
    if flows.len() != outcomes.len() {
        return Err(Failure::new("the FlowTest flows could not be matched to their outcomes"));
    }
    let runnable: Vec<Flow> = flows.iter().flatten().cloned().collect();
    let results: Vec<(Backend, Result<Vec<FlowVerdict>, polc_iptables::engine::EngineError>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = Backend::ALL
            .into_iter()
            .map(|backend| {
                let runnable = &runnable;
                scope.spawn(move || (backend, polc_iptables::engine::run_flows(&lowered.ir, runnable, backend)))
            })
            .collect();
        handles.into_iter().filter_map(|handle| handle.join().ok()).collect()
    });
    let mut per_backend: Vec<(Backend, std::vec::IntoIter<FlowVerdict>)> = Vec::new();
    for (backend, result) in results {
        let verdicts = result.map_err(|error| Failure::new(format!("the iptables engine ({}) failed: {error}", backend.as_str())))?;
        per_backend.push((backend, verdicts.into_iter()));
    }
    for (outcome, flow) in outcomes.iter_mut().zip(&flows) {
        let Some(flow) = flow else { continue };
        let seen: Vec<(Backend, FlowVerdict)> =
            per_backend.iter_mut().filter_map(|(backend, verdicts)| verdicts.next().map(|verdict| (*backend, verdict))).collect();
        let shown: Vec<String> = seen.iter().map(|(backend, verdict)| format!("{}: {verdict}", backend.as_str())).collect();
        let l4: Vec<Option<bool>> = seen.iter().map(|(_, verdict)| verdict.allowed()).collect();
        let allowed_at_l4 = match l4.as_slice() {
            [Some(first), rest @ ..] if rest.iter().all(|other| *other == Some(*first)) => *first,
            _ => {
                outcome.verdict = None;
                let reasons: std::collections::BTreeSet<&str> =
                    seen.iter().filter_map(|(_, verdict)| if let FlowVerdict::NotRun(reason) = verdict { Some(reason.as_str()) } else { None }).collect();
                outcome.error = Some(match (reasons.len(), l4.iter().all(Option::is_none)) {
                    (1, true) => format!("the iptables engine cannot send this flow: {}", reasons.into_iter().next().unwrap_or_default()),
                    _ => format!("the iptables backends disagree ({})", shown.join("; ")),
                });
                continue;
            }
        };
        let mut reason = format!(
            "iptables ({}): {}",
            Backend::ALL.map(Backend::as_str).join(" and "),
            if allowed_at_l4 { "the packets got through" } else { "the packets were dropped" }
        );
        let mut allowed = allowed_at_l4;
        if allowed_at_l4 && flow.l7.is_some() {
            let reference = evaluate(&lowered.ir, flow);
            let denied_by_l7 = [&reference.egress, &reference.ingress].into_iter().flatten().any(|direction| direction.decision == Decision::DeniedByL7);
            allowed = !denied_by_l7;
            reason.push_str(if denied_by_l7 {
                "; the L7 rules deny the request (decided by the reference evaluator)"
            } else {
                "; the L7 request is allowed (decided by the reference evaluator)"
            });
        }
        outcome.error = None;
        outcome.verdict = Some(Verdict { allowed, reason, egress: None, ingress: None, notes: Vec::new() });
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
        Command::try_parse_from(std::iter::once("polc-render").chain(words.iter().copied())).expect("valid arguments").args
    }

    fn inventory() -> String {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies/examples/inventory").display().to_string()
    }

    #[test]
    fn the_node_and_the_sections_are_chosen_on_the_command_line() {
        let parsed = args(&["iptables", "--node", "node-a", "--iptables", "a.yaml", "b.yaml"]);
        let Target::Iptables(iptables) = parsed.target;
        assert_eq!(iptables.node.as_deref(), Some("node-a"));
        assert!(iptables.iptables && !iptables.ipset && !iptables.ip6tables);
        assert_eq!(iptables.inputs.paths.len(), 2);
    }

    #[test]
    fn an_unknown_node_is_a_usage_failure_that_names_the_known_ones() {
        let failure = run(&args(&["iptables", "--node", "node-z", &inventory()])).expect_err("no such node");
        assert!(failure.lines[0].contains("`node-z`"), "{:?}", failure.lines);
        assert!(failure.lines[0].contains("`node-a`"), "{:?}", failure.lines);
    }

    #[test]
    fn the_example_inventory_renders() {
        assert_eq!(run(&args(&["iptables", &inventory()])).expect("renders"), Exit::Clean);
    }

    /// Whether both ends of `flow` have an address of one family (as the engine needs).
    fn same_family_possible(ir: &polc_ir::PolicyIr, flow: &Flow) -> bool {
        let families = |end: polc_ir::FlowEnd| -> Vec<bool> {
            match end {
                polc_ir::FlowEnd::Address(address) => vec![address.is_ipv4()],
                polc_ir::FlowEnd::Endpoint(id) => {
                    ir.endpoint(id).map(|endpoint| endpoint.addresses.iter().map(|address| address.is_ipv4()).collect()).unwrap_or_default()
                }
            }
        };
        let (source, destination) = (families(flow.source), families(flow.destination));
        source.iter().any(|family| destination.contains(family))
    }

    /// The `# policies:` and `# options:` header lines of an example FlowTest.
    fn header(text: &str) -> (Vec<String>, Vec<String>) {
        let mut policies = Vec::new();
        let mut options = Vec::new();
        for line in text.lines().take_while(|line| line.starts_with('#')) {
            if let Some(list) = line.strip_prefix("# policies:") {
                policies.extend(list.split(',').map(str::trim).filter(|item| !item.is_empty() && *item != "this file").map(str::to_owned));
            }
            if let Some(list) = line.strip_prefix("# options:") {
                options.extend(list.split(',').map(str::trim).filter(|item| !item.is_empty()).map(str::to_owned));
            }
        }
        (policies, options)
    }

    #[test]
    fn every_example_flowtest_gets_the_reference_verdict_from_iptables_on_both_backends_privileged() {
        if !polc_iptables::engine::is_root() {
            eprintln!(
                "skipping every_example_flowtest_gets_the_reference_verdict_from_iptables_on_both_backends_privileged: it needs root to create network namespaces and load iptables rules"
            );
            return;
        }
        let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies/examples");
        let inventory = std::fs::read_to_string(examples.join("inventory/cluster.yaml")).expect("the sample inventory");
        let mut files: Vec<PathBuf> = std::fs::read_dir(examples.join("flowtests"))
            .expect("policies/examples/flowtests")
            .filter_map(|entry| entry.ok().map(|entry| entry.path()))
            .filter(|path| path.to_string_lossy().ends_with(".flowtest.yaml"))
            .collect();
        files.sort();
        assert!(files.len() >= 15, "expected the example FlowTests, found {}", files.len());
        // One file: (flows sent, flows allowed, flows between families, disagreements).
        type FileResult = (usize, usize, usize, Vec<String>);
        let check_file = |file: &PathBuf| -> FileResult {
            let text = std::fs::read_to_string(file).expect("readable FlowTest");
            let (policies, options) = header(&text);
            let mut sources = polc_compiler::SourceMap::new();
            sources.add("inventory/cluster.yaml", inventory.clone());
            for policy in &policies {
                sources.add(policy.clone(), std::fs::read_to_string(examples.join(policy)).expect("a policy the FlowTest names"));
            }
            sources.add(file.display().to_string(), text);
            let parsed = polc_compiler::parse(&sources, &polc_compiler::Options::default());
            let mut lower_options = polc_compiler::lower::LowerOptions::default();
            lower_options.settings.dual_stack = options.iter().any(|option| option == "dual-stack");
            let lowered = lower(&parsed.objects, &lower_options);
            let all_flows: Vec<Flow> = flow_test_flows(&parsed.objects, &lowered)
                .into_iter()
                .flatten()
                // The engine decides L3/L4; compare with the evaluator's L3/L4 verdict.
                .map(|flow| Flow { l7: None, ..flow })
                .collect();
            // An IPv4-only pod cannot send to an IPv6 address (nor the reverse): the evaluator
            // still answers, but no packet can test it.
            let (flows, cross_family): (Vec<Flow>, Vec<Flow>) = all_flows.into_iter().partition(|flow| same_family_possible(&lowered.ir, flow));
            assert!(!flows.is_empty(), "{} has no flow", file.display());
            let mut problems = Vec::new();
            for backend in Backend::ALL {
                let verdicts = polc_iptables::engine::run_flows(&lowered.ir, &flows, backend).unwrap_or_else(|error| panic!("{}: {error}", file.display()));
                for (flow, verdict) in flows.iter().zip(&verdicts) {
                    let expected = evaluate(&lowered.ir, flow);
                    if verdict.allowed() != Some(expected.allowed) {
                        problems.push(format!("{} ({}): {flow:?}: iptables {verdict}, reference {}", file.display(), backend.as_str(), expected.reason));
                    }
                }
            }
            let allowed = flows.iter().filter(|flow| evaluate(&lowered.ir, flow).allowed).count();
            (flows.len(), allowed, cross_family.len(), problems)
        };
        // Four files at a time: most of the time goes to waiting for dropped packets.
        let next = std::sync::atomic::AtomicUsize::new(0);
        let results: std::sync::Mutex<Vec<FileResult>> = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    while let Some(file) = files.get(next.fetch_add(1, std::sync::atomic::Ordering::Relaxed)) {
                        let result = check_file(file);
                        results.lock().expect("results").push(result);
                    }
                });
            }
        });
        let results = results.into_inner().expect("results");
        assert_eq!(results.len(), files.len(), "every file must be checked");
        let n_flows: usize = results.iter().map(|result| result.0).sum();
        let n_allowed: usize = results.iter().map(|result| result.1).sum();
        let n_cross_family: usize = results.iter().map(|result| result.2).sum();
        let mut problems: Vec<String> = results.into_iter().flat_map(|result| result.3).collect();
        problems.sort();
        eprintln!("{} files, {n_flows} flows ({n_allowed} allowed) on both backends; {n_cross_family} flows between address families not sent", files.len());
        assert!(problems.is_empty(), "the iptables engine disagrees with the reference evaluator:\n{}", problems.join("\n"));
        assert!(n_allowed > 0 && n_allowed < n_flows, "the flows must exercise both verdicts");
    }

    #[derive(Debug, clap::Parser)]
    struct TestCommand {
        #[command(flatten)]
        args: crate::cmd_test::Args,
    }

    #[test]
    fn polc_test_with_the_iptables_engine_passes_and_fails_flows_privileged() {
        if !polc_iptables::engine::is_root() {
            eprintln!(
                "skipping polc_test_with_the_iptables_engine_passes_and_fails_flows_privileged: it needs root to create network namespaces and load iptables rules"
            );
            return;
        }
        let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies/examples");
        let inventory = examples.join("inventory").display().to_string();
        let policy = examples.join("cilium-policy/l3-frontend-to-backend.yaml").display().to_string();
        let flowtest = std::fs::read_to_string(examples.join("flowtests/l3-frontend-to-backend.flowtest.yaml")).expect("an example FlowTest");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let passing = dir.path().join("pass.flowtest.yaml");
        std::fs::write(&passing, &flowtest).expect("a FlowTest copy");
        // The first flow, which is allowed, expected to be denied.
        let failing = dir.path().join("fail.flowtest.yaml");
        std::fs::write(&failing, flowtest.replacen("expect: allow", "expect: deny", 1)).expect("a FlowTest copy");
        let run_test = |flowtest: &std::path::Path| {
            let words = ["polc-test", "--engine", "iptables", "--format", "json", &inventory, &policy, &flowtest.display().to_string()].map(str::to_owned);
            let parsed = TestCommand::try_parse_from(words).expect("valid arguments");
            crate::cmd_test::run(&parsed.args).expect("the iptables engine runs")
        };
        assert_eq!(run_test(&passing), Exit::Clean);
        assert_eq!(run_test(&failing), Exit::Findings);
    }
}
