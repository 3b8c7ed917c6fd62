//! The reference evaluator, the userspace model of the compiled datapath and the datapath in the
//! kernel agree on thousands of flows through generated policy sets (proptest; a disagreement
//! shrinks to a minimal case). Every flow is a crafted packet run with BPF_PROG_TEST_RUN through
//! the source's egress program and the destination's ingress program, in both policy lookup
//! modes (LPM trie and HASH probes), each endpoint with its own constants and its own generation.

mod ir_cases;

use std::cell::{Cell, RefCell};

use ir_cases::{AuthModes, Case, compare};
use polc_ebpf::compile::{CompileOptions, compile};
use polc_ebpf::engine::{EngineOptions, KernelJudge, ModelJudge, run_flows};
use proptest::test_runner::{Config, TestCaseError, TestRunner};

const CASES: u32 = 120;
const FLOWS_PER_CASE: usize = 40;

fn check(case: &Case, kernel: &mut KernelJudge) -> Result<usize, String> {
    let ir = case.ir();
    let flows = case.flows(&ir);
    let compiled = compile(&ir, &CompileOptions::default(), &|_| None).map_err(|error| error.to_string())?;
    let options = EngineOptions::default();
    let modelled = run_flows(&ir, &compiled, &flows, &mut ModelJudge, &options).map_err(|error| error.to_string())?;
    let in_kernel = run_flows(&ir, &compiled, &flows, kernel, &options).map_err(|error| error.to_string())?;
    compare(&ir, &flows, &in_kernel, "kernel")?;
    compare(&ir, &flows, &modelled, "model")?;
    for (index, (model, kernel)) in modelled.iter().zip(&in_kernel).enumerate() {
        let (model, kernel) = (model.as_ref().map(|run| (&run.egress, &run.ingress)), kernel.as_ref().map(|run| (&run.egress, &run.ingress)));
        if model != kernel {
            return Err(format!(
                "the model and the kernel record different verdicts for flow {index} {:?}:\n  model: {model:?}\n  kernel: {kernel:?}",
                flows[index]
            ));
        }
    }
    Ok(flows.len())
}

fn run_cases(test: &str, auth_modes: AuthModes) {
    if !polc_ebpf::kernel::running_as_root() {
        eprintln!("skipping {test}: it loads BPF programs and needs root (effective uid 0)");
        return;
    }
    let kernel = RefCell::new(KernelJudge::new(true).expect("root may load BPF programs"));
    let checked = Cell::new(0usize);
    let mut runner = TestRunner::new(Config { cases: CASES, failure_persistence: None, ..Config::default() });
    let result = runner.run(&ir_cases::case(FLOWS_PER_CASE, auth_modes), |case| {
        let flows = check(&case, &mut kernel.borrow_mut()).map_err(TestCaseError::fail)?;
        checked.set(checked.get() + flows);
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
    eprintln!("{test}: reference, model and kernel agree on {} flows ({} datapaths loaded)", checked.get(), kernel.borrow().loaded_datapaths());
    assert!(checked.get() >= (CASES as usize) * FLOWS_PER_CASE / 4, "only {} flows", checked.get());
}

#[test]
fn reference_model_and_kernel_agree_on_generated_policies_and_flows_privileged() {
    run_cases("reference_model_and_kernel_agree_on_generated_policies_and_flows_privileged", AuthModes::NeverFailing);
}

#[test]
fn reference_model_and_kernel_agree_with_every_auth_mode_privileged() {
    run_cases("reference_model_and_kernel_agree_with_every_auth_mode_privileged", AuthModes::Every);
}
