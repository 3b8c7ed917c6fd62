//! PRIVILEGED: the reference evaluator against the iptables engine on generated scenarios.
//!
//! Each scenario is a random IR over a fixed two-node address plan (random pod identities,
//! CIDR identities, allow and deny entries with ports, ranges and protocols, authentication,
//! L7, default-deny on or off, enforcement on or off) and a batch of random flows. Every
//! scenario runs on both backends (legacy and nft), on a few simulated clusters per backend in
//! parallel that are reused from scenario to scenario (only the rules change).
//!
//! A disagreement is run again with a long timeout (so that a slow machine cannot fake a drop);
//! if it persists, the scenario is shrunk (entries, directions and CIDR identities removed while
//! the disagreement stays) and the minimal IR, flow and rendering are printed.
//!
//! `POLC_DIFF_SCENARIOS` (default 300) and `POLC_DIFF_SEED` (default fixed) change the run.

#![cfg(feature = "netns")]

mod common;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use common::scenario::{Scenario, external_addresses, scenario};
use polc_iptables::engine::{Backend, Cluster, EngineError, EngineOptions, FlowVerdict, Layout, is_root};
use polc_ir::{DirectionPolicy, Flow, IdentityKind, PolicyIr, evaluate};

const DEFAULT_SCENARIOS: usize = 300;
const DEFAULT_SEED: u64 = 0x706F_6C63_6970_7431;
const FLOWS_PER_SCENARIO: usize = 24;
const CLUSTERS_PER_BACKEND: usize = 4;
const FAST: Duration = Duration::from_millis(250);
const CONFIRM: Duration = Duration::from_millis(2000);

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|value| value.parse().ok()).unwrap_or(default)
}

fn disagreeing(ir: &PolicyIr, flows: &[Flow], verdicts: &[FlowVerdict]) -> Vec<usize> {
    flows
        .iter()
        .zip(verdicts)
        .enumerate()
        .filter(|(_, (flow, verdict))| verdict.allowed() != Some(evaluate(ir, flow).allowed))
        .map(|(index, _)| index)
        .collect()
}

fn run(cluster: &Cluster, ir: &PolicyIr, flows: &[Flow], timeout: Duration) -> Result<Vec<FlowVerdict>, EngineError> {
    cluster.apply(ir)?;
    cluster.run(ir, flows, &EngineOptions { timeout, confirm_timeout: None })
}

/// Whether the engine still disagrees with the evaluator on `flow` under `ir`.
fn still_disagrees(cluster: &Cluster, ir: &PolicyIr, flow: &Flow) -> bool {
    match run(cluster, ir, std::slice::from_ref(flow), CONFIRM) {
        Ok(verdicts) => !disagreeing(ir, std::slice::from_ref(flow), &verdicts).is_empty(),
        Err(_) => false,
    }
}

fn direction(ir: &mut PolicyIr, endpoint: usize, ingress: bool) -> &mut DirectionPolicy {
    if ingress { &mut ir.endpoints[endpoint].ingress } else { &mut ir.endpoints[endpoint].egress }
}

/// Removes whatever can go while the disagreement on `flow` stays.
fn shrink(cluster: &Cluster, mut ir: PolicyIr, flow: &Flow) -> PolicyIr {
    let mut changed = true;
    while changed {
        changed = false;
        for endpoint in 0..ir.endpoints.len() {
            for ingress in [true, false] {
                if direction(&mut ir, endpoint, ingress).enforced {
                    let mut candidate = ir.clone();
                    *direction(&mut candidate, endpoint, ingress) = DirectionPolicy::default();
                    if still_disagrees(cluster, &candidate, flow) {
                        ir = candidate;
                        changed = true;
                        continue;
                    }
                }
                let mut entry = direction(&mut ir, endpoint, ingress).entries.len();
                while entry > 0 {
                    entry -= 1;
                    let mut candidate = ir.clone();
                    direction(&mut candidate, endpoint, ingress).entries.remove(entry);
                    if still_disagrees(cluster, &candidate, flow) {
                        ir = candidate;
                        changed = true;
                    }
                }
            }
        }
        let mut identity = ir.identities.len();
        while identity > 0 {
            identity -= 1;
            if matches!(ir.identities[identity].kind, IdentityKind::Cidr { .. }) {
                let mut candidate = ir.clone();
                candidate.identities.remove(identity);
                if still_disagrees(cluster, &candidate, flow) {
                    ir = candidate;
                    changed = true;
                }
            }
        }
    }
    ir
}

/// The policy part of an IR, one line per entry.
fn summary(ir: &PolicyIr) -> String {
    let mut lines = Vec::new();
    for identity in &ir.identities {
        if let IdentityKind::Cidr { prefix } = &identity.kind {
            lines.push(format!("  identity {} = cidr {prefix}", identity.id.0));
        }
    }
    for endpoint in &ir.endpoints {
        for (name, policy) in [("ingress", &endpoint.ingress), ("egress", &endpoint.egress)] {
            if !policy.enforced {
                continue;
            }
            lines.push(format!("  endpoint {} `{}` identity {} {name}: default deny {}", endpoint.id, endpoint.kind, endpoint.identity.0, policy.default_deny));
            for entry in &policy.entries {
                lines.push(format!(
                    "    {:?} peers {:?} l4 {} auth {:?} l7 {}",
                    entry.verdict,
                    entry.peers,
                    entry.l4,
                    entry.auth,
                    entry.l7.as_ref().map(|rules| rules.kind_name()).unwrap_or("none")
                ));
            }
        }
    }
    lines.join("\n")
}

fn report(backend: Backend, scenario: &Scenario, minimal: &PolicyIr, flow: &Flow, verdict: Option<&FlowVerdict>) -> String {
    let evaluated = evaluate(minimal, flow);
    let mut text = format!(
        "backend {}: scenario {} disagrees on {:?} -> {:?} {}/{}\n  engine: {}\n  evaluator: {}\nminimal policy:\n{}\nminimal IR (JSON): {}\nflow (JSON): {}\n",
        backend.as_str(),
        scenario.index,
        flow.source,
        flow.destination,
        flow.protocol,
        flow.port,
        verdict.map(|verdict| verdict.to_string()).unwrap_or_else(|| "(no verdict)".to_owned()),
        evaluated.reason,
        summary(minimal),
        serde_json::to_string(minimal).unwrap_or_default(),
        serde_json::to_string(flow).unwrap_or_default(),
    );
    for rendering in polc_iptables::render_all(minimal) {
        text.push_str(&format!("rendering of node {:?}:\n{}{}{}", rendering.node, rendering.ipset, rendering.iptables, rendering.ip6tables));
    }
    text
}

#[derive(Default)]
struct Totals {
    scenarios: usize,
    allowed: usize,
    denied: usize,
    confirmed_after_retry: usize,
    apply_time: Duration,
    failures: Vec<String>,
}

#[test]
fn generated_scenarios_agree_with_the_reference_evaluator_on_both_backends_privileged() {
    if !is_root() {
        eprintln!(
            "skipping generated_scenarios_agree_with_the_reference_evaluator_on_both_backends_privileged: it needs root to create network namespaces and load iptables rules"
        );
        return;
    }
    let n_scenarios = setting("POLC_DIFF_SCENARIOS", DEFAULT_SCENARIOS as u64) as usize;
    let seed = setting("POLC_DIFF_SEED", DEFAULT_SEED);
    let started = Instant::now();
    // Every scenario has the same endpoints and addresses, so one layout serves all.
    let layout = Layout::new(&scenario(seed, 0, 0).ir, external_addresses());
    let totals: Mutex<Vec<(Backend, Totals)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for backend in Backend::ALL {
            for worker in 0..CLUSTERS_PER_BACKEND {
                let layout = &layout;
                let totals = &totals;
                scope.spawn(move || {
                    let mut mine = Totals::default();
                    let cluster = match Cluster::new(layout, backend) {
                        Ok(cluster) => cluster,
                        Err(error) => {
                            mine.failures.push(format!("{}: cannot build the test network: {error}", backend.as_str()));
                            totals.lock().unwrap().push((backend, mine));
                            return;
                        }
                    };
                    for index in (worker..n_scenarios).step_by(CLUSTERS_PER_BACKEND) {
                        let case = scenario(seed, index, FLOWS_PER_SCENARIO);
                        let applied = Instant::now();
                        let verdicts = match run(&cluster, &case.ir, &case.flows, FAST) {
                            Ok(verdicts) => verdicts,
                            Err(error) => {
                                mine.failures.push(format!("{}: scenario {index}: {error}", backend.as_str()));
                                break;
                            }
                        };
                        mine.apply_time += applied.elapsed();
                        mine.scenarios += 1;
                        let mut bad = disagreeing(&case.ir, &case.flows, &verdicts);
                        if !bad.is_empty() {
                            // Confirm with a long timeout before believing a drop.
                            let again = run(&cluster, &case.ir, &case.flows, CONFIRM).unwrap_or_default();
                            let confirmed = disagreeing(&case.ir, &case.flows, &again);
                            bad.retain(|flow| confirmed.contains(flow));
                            if bad.is_empty() {
                                mine.confirmed_after_retry += 1;
                            }
                            if let Some(first) = bad.first() {
                                let flow = &case.flows[*first];
                                let minimal = shrink(&cluster, case.ir.clone(), flow);
                                let verdict = run(&cluster, &minimal, std::slice::from_ref(flow), CONFIRM).ok().and_then(|mut verdicts| verdicts.pop());
                                mine.failures.push(report(backend, &case, &minimal, flow, verdict.as_ref()));
                                break;
                            }
                        }
                        for flow in &case.flows {
                            if evaluate(&case.ir, flow).allowed {
                                mine.allowed += 1;
                            } else {
                                mine.denied += 1;
                            }
                        }
                    }
                    totals.lock().unwrap().push((backend, mine));
                });
            }
        }
    });
    let totals = totals.into_inner().unwrap();
    let mut failures = Vec::new();
    for backend in Backend::ALL {
        let mine: Vec<&Totals> = totals.iter().filter(|(which, _)| *which == backend).map(|(_, totals)| totals).collect();
        let scenarios: usize = mine.iter().map(|totals| totals.scenarios).sum();
        let allowed: usize = mine.iter().map(|totals| totals.allowed).sum();
        let denied: usize = mine.iter().map(|totals| totals.denied).sum();
        let retried: usize = mine.iter().map(|totals| totals.confirmed_after_retry).sum();
        let apply: Duration = mine.iter().map(|totals| totals.apply_time).sum();
        eprintln!(
            "{}: {scenarios} scenarios, {} flows ({allowed} allowed, {denied} denied), {retried} needed a retry, {:.1} s of scenario time over {CLUSTERS_PER_BACKEND} clusters",
            backend.as_str(),
            allowed + denied,
            apply.as_secs_f64()
        );
        failures.extend(mine.iter().flat_map(|totals| totals.failures.iter().cloned()));
        if failures.is_empty() {
            assert_eq!(scenarios, n_scenarios, "{}: not every scenario ran", backend.as_str());
            assert!(
                allowed * 5 >= allowed + denied && denied * 5 >= allowed + denied,
                "the scenarios must exercise both verdicts: {allowed} allowed, {denied} denied"
            );
        }
    }
    eprintln!("seed {seed:#x}, {:.1} s in all", started.elapsed().as_secs_f64());
    assert!(failures.is_empty(), "the iptables engine disagrees with the reference evaluator:\n{}", failures.join("\n"));
}
