//! Every FlowTest of `policies/examples/flowtests/` (with the sample inventory and the policies
//! its `# policies:` line names, and its `# options:`) gets the same verdict on every flow from
//! the reference evaluator, the userspace model of the compiled datapath and the datapath in the
//! kernel. The connectivity-suite FlowTests are compared the same way in
//! `connectivity_suite.rs` (they need the corpus and its rendering step).

mod support;

use std::path::PathBuf;

use polc_compiler::SourceMap;
use polc_compiler::lower::LowerOptions;
use polc_ebpf::engine::KernelJudge;
use support::engines::{Covered, compare_engines, privileged};
use support::examples::{examples, flowtest_files, header};

/// Every example FlowTest file with its inputs and options.
fn example_cases() -> Vec<(PathBuf, SourceMap, LowerOptions)> {
    let files = flowtest_files();
    let inventory = std::fs::read_to_string(examples().join("inventory/cluster.yaml")).expect("the sample inventory");
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).expect("readable FlowTest");
            let (policies, options) = header(&text);
            let mut sources = SourceMap::new();
            sources.add("inventory/cluster.yaml", inventory.clone());
            for policy in &policies {
                let policy_text =
                    std::fs::read_to_string(examples().join(policy)).unwrap_or_else(|error| panic!("{}: cannot read {policy}: {error}", file.display()));
                sources.add(policy.clone(), policy_text);
            }
            sources.add(file.display().to_string(), text);
            let mut lower_options = LowerOptions::default();
            for option in &options {
                match option.as_str() {
                    "dual-stack" => lower_options.settings.dual_stack = true,
                    other => panic!("{}: unknown option `{other}`", file.display()),
                }
            }
            (file, sources, lower_options)
        })
        .collect()
}

fn run_examples(mut kernel: Option<&mut KernelJudge>) -> Covered {
    let mut total = Covered::default();
    let mut failures = Vec::new();
    for (file, sources, options) in example_cases() {
        match compare_engines(&sources, &options, kernel.as_deref_mut()) {
            Ok(covered) => {
                total.flows += covered.flows;
                total.unresolved += covered.unresolved;
            }
            Err(message) => failures.push(format!("{}: {message}", file.display())),
        }
    }
    assert!(failures.is_empty(), "the engines disagree:\n{}", failures.join("\n"));
    assert!(total.flows >= 150, "only {} flows compared", total.flows);
    total
}

#[test]
fn every_example_flowtest_gets_the_same_verdict_from_the_reference_and_the_model() {
    let covered = run_examples(None);
    eprintln!("reference and model agree on {} example flows ({} do not resolve)", covered.flows, covered.unresolved);
}

#[test]
fn every_example_flowtest_gets_the_same_verdict_from_the_reference_the_model_and_the_kernel_privileged() {
    if !privileged("every_example_flowtest_gets_the_same_verdict_from_the_reference_the_model_and_the_kernel_privileged") {
        return;
    }
    let mut kernel = KernelJudge::new(true).expect("root may load BPF programs");
    let covered = run_examples(Some(&mut kernel));
    eprintln!("reference, model and kernel agree on {} example flows ({} do not resolve)", covered.flows, covered.unresolved);
}
