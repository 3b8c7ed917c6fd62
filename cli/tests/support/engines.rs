//! The three engines on the FlowTests among some inputs: the reference evaluator, the userspace
//! model of the compiled datapath, and (when given) the datapath in the kernel. Every flow that
//! resolves must get the same verdict from each, and the model and the kernel must record the
//! same verdict for every program that sees the flow.

#![allow(dead_code)]

use polc_compiler::kinds::Resource;
use polc_compiler::lower::{LowerOptions, lower};
use polc_compiler::model::flowtest::FlowEndpoint;
use polc_compiler::semantics::{l7_of, port_of, protocol_of, resolve_end, run_flow_tests};
use polc_compiler::{Severity, SourceMap};
use polc_ebpf::compile::{CompileOptions, compile};
use polc_ebpf::engine::{EngineOptions, FlowRun, KernelJudge, ModelJudge, run_flows};
use polc_ir::Flow;

/// What one comparison covered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Covered {
    /// Flows every engine judged.
    pub flows: usize,
    /// Flows that do not resolve against the inputs (every engine reports them as errors).
    pub unresolved: usize,
}

/// Whether the kernel engine can run here; prints why not when it cannot.
pub fn privileged(test: &str) -> bool {
    if polc_ebpf::kernel::running_as_root() {
        true
    } else {
        eprintln!("skipping {test}: it loads BPF programs and needs root (effective uid 0)");
        false
    }
}

/// Parses and lowers `sources`, runs every FlowTest among them in the reference evaluator, the
/// model and (with `kernel`) the kernel, and compares. The error names the first disagreement.
pub fn compare_engines(sources: &SourceMap, options: &LowerOptions, kernel: Option<&mut KernelJudge>) -> Result<Covered, String> {
    let parsed = polc_compiler::parse(sources, &polc_compiler::Options::default());
    let errors: Vec<String> = parsed.diagnostics.iter().filter(|d| d.severity == Severity::Error).map(|d| format!("{}: {}", d.code.id, d.message)).collect();
    if !errors.is_empty() {
        return Err(format!("the inputs have errors: {errors:?}"));
    }
    let lowered = lower(&parsed.objects, options);
    if lowered.diagnostics.iter().any(|diagnostic| diagnostic.severity == Severity::Error) {
        return Err(format!("lowering reports errors: {:?}", lowered.diagnostics));
    }
    let (outcomes, _) = run_flow_tests(&parsed.objects, &lowered);
    let mut flows: Vec<Option<Flow>> = Vec::new();
    for object in &parsed.objects {
        let Resource::FlowTest(test) = &object.resource else { continue };
        for flow in &test.spec.flows {
            let end = |text: &str| FlowEndpoint::parse(text).and_then(|parsed| resolve_end(&lowered, &parsed)).ok().map(|resolved| resolved.end);
            flows.push(match (end(&flow.from), end(&flow.to), port_of(flow.protocol, flow.port)) {
                (Some(source), Some(destination), Some(port)) => {
                    Some(Flow { source, destination, protocol: protocol_of(flow.protocol), port, l7: l7_of(flow.http.as_ref(), flow.dns.as_ref()) })
                }
                _ => None,
            });
        }
    }
    if flows.len() != outcomes.len() {
        return Err(format!("{} flows but {} outcomes", flows.len(), outcomes.len()));
    }
    let runnable: Vec<Flow> = flows.iter().flatten().cloned().collect();
    let compiled = compile(&lowered.ir, &CompileOptions::default(), &|_| None).map_err(|error| error.to_string())?;
    let options = EngineOptions::default();
    let modelled = run_flows(&lowered.ir, &compiled, &runnable, &mut ModelJudge, &options).map_err(|error| error.to_string())?;
    let in_kernel: Option<Vec<Result<FlowRun, String>>> = match kernel {
        Some(judge) => Some(run_flows(&lowered.ir, &compiled, &runnable, judge, &options).map_err(|error| error.to_string())?),
        None => None,
    };
    let mut covered = Covered::default();
    let mut run_index = 0;
    for (outcome, flow) in outcomes.iter().zip(&flows) {
        let Some(flow) = flow else {
            covered.unresolved += 1;
            continue;
        };
        let place = format!("FlowTest `{}` flow {} ({})", outcome.test, outcome.index, outcome.name);
        let reference = outcome.verdict.as_ref().ok_or_else(|| format!("{place}: the reference evaluator gave no verdict: {:?}", outcome.error))?;
        let model = modelled[run_index].as_ref().map_err(|message| format!("{place}: the model could not run it: {message}"))?;
        if model.allowed != reference.allowed {
            return Err(format!(
                "{place} {flow:?}: the reference says {} ({}), the model {} ({})",
                reference.allowed, reference.reason, model.allowed, model.reason
            ));
        }
        if let Some(in_kernel) = &in_kernel {
            let kernel = in_kernel[run_index].as_ref().map_err(|message| format!("{place}: the kernel could not run it: {message}"))?;
            if kernel.allowed != reference.allowed {
                return Err(format!(
                    "{place} {flow:?}: the reference says {} ({}), the kernel {} ({})",
                    reference.allowed, reference.reason, kernel.allowed, kernel.reason
                ));
            }
            if (&kernel.egress, &kernel.ingress) != (&model.egress, &model.ingress) {
                return Err(format!("{place} {flow:?}: the model and the kernel record different verdicts:\n  model: {model:?}\n  kernel: {kernel:?}"));
            }
        }
        run_index += 1;
        covered.flows += 1;
    }
    Ok(covered)
}
