//! The reference evaluator and the userspace model of the compiled datapath agree on thousands
//! of flows through generated policy sets (proptest; a disagreement shrinks to a minimal case).
//! The kernel joins in `engines_agree_privileged.rs`.

mod ir_cases;

use std::cell::Cell;
use std::net::{IpAddr, Ipv4Addr};

use ir_cases::{AuthModes, Case, compare};
use polc_ebpf::compile::{CompileOptions, compile};
use polc_ebpf::engine::{EngineOptions, ModelJudge, run_flows};
use polc_ir::{
    AuthMode, DirectionPolicy, Endpoint, EndpointId, EndpointKind, Flow, FlowEnd, HttpRule, L4Match, L7Rules, NumericIdentity, Peers, PolicyEntry, PolicyIr,
    PortRange, Protocol, RuleOrigin, RuleVerdict, Settings,
};
use proptest::test_runner::{Config, TestCaseError, TestRunner};

const CASES: u32 = 400;
const FLOWS_PER_CASE: usize = 30;

fn check(case: &Case) -> Result<usize, String> {
    let ir = case.ir();
    let flows = case.flows(&ir);
    let compiled = compile(&ir, &CompileOptions::default(), &|_| None).map_err(|error| error.to_string())?;
    let runs = run_flows(&ir, &compiled, &flows, &mut ModelJudge, &EngineOptions::default()).map_err(|error| error.to_string())?;
    compare(&ir, &flows, &runs, "model")?;
    Ok(flows.len())
}

fn run_cases(auth_modes: AuthModes) -> usize {
    let checked = Cell::new(0usize);
    let mut runner = TestRunner::new(Config { cases: CASES, failure_persistence: None, ..Config::default() });
    let result = runner.run(&ir_cases::case(FLOWS_PER_CASE, auth_modes), |case| {
        let flows = check(&case).map_err(TestCaseError::fail)?;
        checked.set(checked.get() + flows);
        Ok(())
    });
    if let Err(error) = result {
        panic!("{error}");
    }
    checked.get()
}

#[test]
fn reference_and_model_agree_on_generated_policies_and_flows() {
    let checked = run_cases(AuthModes::NeverFailing);
    eprintln!("reference and model agree on {checked} flows");
    assert!(checked >= (CASES as usize) * FLOWS_PER_CASE / 4, "only {checked} flows");
}

#[test]
fn reference_and_model_agree_with_every_auth_mode_on_any_entry() {
    let checked = run_cases(AuthModes::Every);
    eprintln!("reference and model agree on {checked} flows");
    assert!(checked >= (CASES as usize) * FLOWS_PER_CASE / 4, "only {checked} flows");
}

fn origin(name: &str) -> RuleOrigin {
    RuleOrigin::Policy {
        kind: "CiliumNetworkPolicy".to_owned(),
        namespace: Some("default".to_owned()),
        name: name.to_owned(),
        rule_path: "spec.ingress[0]".to_owned(),
        location: None,
    }
}

fn allow(name: &str, peers: Peers, l4: L4Match, auth: Option<AuthMode>, http: bool) -> PolicyEntry {
    PolicyEntry {
        verdict: RuleVerdict::Allow,
        peers,
        l4,
        l7: http.then(|| L7Rules::Http(vec![HttpRule { method: Some("GET".to_owned()), path: None, host: None, headers: Vec::new() }])),
        auth,
        pending_fqdns: Vec::new(),
        origin: origin(name),
    }
}

/// The model's verdict on TCP 80 from pod 1 to pod 2, whose ingress holds `entries`.
fn model_allows(entries: Vec<PolicyEntry>) -> bool {
    let pod = |id: u16, identity: u32, ingress: DirectionPolicy| Endpoint {
        id: EndpointId(id),
        kind: EndpointKind::Pod { namespace: "default".to_owned(), name: format!("pod-{id}") },
        identity: NumericIdentity(identity),
        node: Some("node-a".to_owned()),
        addresses: vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, id as u8))],
        ingress,
        egress: DirectionPolicy::default(),
    };
    let ingress = DirectionPolicy { enforced: true, default_deny: true, entries, selected_by: vec![origin("any")] };
    let ir = PolicyIr::new(Settings::default(), Vec::new(), Vec::new(), vec![pod(1, 300, DirectionPolicy::default()), pod(2, 301, ingress)], Vec::new());
    let compiled = compile(&ir, &CompileOptions::default(), &|_| None).expect("compiles");
    let flow = Flow { source: FlowEnd::Endpoint(EndpointId(1)), destination: FlowEnd::Endpoint(EndpointId(2)), protocol: Protocol::TCP, port: 80, l7: None };
    let runs = run_flows(&ir, &compiled, std::slice::from_ref(&flow), &mut ModelJudge, &EngineOptions::default()).expect("runs");
    let model = runs[0].as_ref().expect("a packet").allowed;
    assert_eq!(polc_ir::evaluate(&ir, &flow).allowed, model, "the reference evaluator and the model part");
    model
}

/// Where several auth modes apply to one flow, the maps and the reference evaluator follow
/// Cilium, not a "strongest mode wins" rule: a key keeps its own explicit mode (the more specific
/// rule's), an inherited mode only comes from a covering key of the same identity, and the
/// datapath only borrows the other match's auth type at equal precedence (so not from a plain
/// allow into an L7 redirect). `model_allows` also asserts the evaluator's answer.
#[test]
fn auth_follows_ciliums_per_key_semantics() {
    let any = Peers::Any;
    let client = || Peers::Identities([NumericIdentity(300)].into_iter().collect());
    let tcp_all = L4Match::protocol(Protocol::TCP, PortRange::ALL);
    let tcp_80 = L4Match::protocol(Protocol::TCP, PortRange::single(80));
    // The more specific key's explicit `required` (after a successful handshake) decides.
    assert!(model_allows(vec![
        allow("broad", any.clone(), L4Match::Any, Some(AuthMode::TestAlwaysFail), false),
        allow("tcp", any.clone(), tcp_all, Some(AuthMode::Required), false)
    ]));
    // A narrower key without a mode inherits the covering key's `test-always-fail`.
    assert!(!model_allows(vec![allow("broad", client(), tcp_all, Some(AuthMode::TestAlwaysFail), false), allow("narrow", client(), tcp_80, None, false)]));
    // An identity-0 key at equal precedence lends its larger type to the identity's key.
    assert!(!model_allows(vec![allow("any", any.clone(), tcp_all, Some(AuthMode::TestAlwaysFail), false), allow("client", client(), tcp_80, None, false)]));
    // A narrower key without a mode inherits its identity's failing L3 mode and, as specific as
    // the identity-0 key, is the one taken.
    assert!(model_allows(vec![
        allow("any-80", any.clone(), tcp_80, Some(AuthMode::Disabled), false),
        allow("l3", client(), L4Match::Any, Some(AuthMode::TestAlwaysFail), false)
    ]));
    assert!(!model_allows(vec![
        allow("any-80", any.clone(), tcp_80, Some(AuthMode::Disabled), false),
        allow("l3", client(), L4Match::Any, Some(AuthMode::TestAlwaysFail), false),
        allow("narrower", client(), tcp_80, None, false)
    ]));
    // An L7 redirect has a higher precedence than a plain allow, so it borrows nothing.
    assert!(model_allows(vec![allow("any", any, L4Match::Any, Some(AuthMode::TestAlwaysFail), false), allow("client", client(), tcp_80, None, true)]));
}
