//! Flows through the compiled datapath: every flow becomes one crafted packet, judged by the
//! source endpoint's egress program and the destination endpoint's ingress program, in the
//! kernel (BPF_PROG_TEST_RUN) or in the userspace model of the same images.
//!
//! - A flow is allowed when every program that sees it allows it. An end that is no endpoint
//!   (an outside address) runs no program; a pod's traffic to itself runs none either.
//! - The packet's addresses are the endpoints' own (an address the ipcache gives to that
//!   endpoint), of the family the protocol needs (ICMP: IPv4, ICMPv6: IPv6; otherwise IPv4 when
//!   both ends have one); the source port is fixed, the destination port (or ICMP type, code 0)
//!   is the flow's. An endpoint without an address of the family talking to an outside address
//!   sends from (or receives at) the unspecified address: its own program looks up only the
//!   other end, and the outside end runs no program.
//! - Each endpoint runs its compiled constants, with verdict recording on and connection
//!   tracking off (every flow is a new connection), over its own policy map and its node's
//!   ipcache.
//! - **Authentication:** polc runs no SPIRE agent and its datapath has no auth map, so by
//!   default the engine installs images in which SPIRE entries (auth type 1) carry no auth type,
//!   as if the handshake had succeeded for every pair (the reference evaluator assumes the
//!   same); `test-always-fail` (type 2) still drops.
//! - **L7:** the datapath decides at L4, where a redirect to the proxy is an allow. When a flow
//!   carries an HTTP or DNS request and a program redirected it, the request's fate is the
//!   proxy's, and polc's proxy is the reference evaluator's L7 matching: the direction is denied
//!   when the reference says its L7 rules deny the request.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use polc_ir::{Decision, EndpointId, Flow, FlowEnd, PolicyIr, Protocol};

use crate::compile::{Compiled, CompiledEndpoint};
use crate::config::DatapathConfig;
use crate::image::{ImageError, IpcacheImage, PolicyMapImage};
use crate::kernel::{Datapath, KernelError, TC_ACT_OK, TC_ACT_SHOT};
use crate::layout::Direction;
use crate::model::DatapathModel;
use crate::packet::{PacketSpec, Transport, build_frame};
use crate::verdict::{Reason, Verdict};

/// The source port of every crafted packet.
pub const SOURCE_PORT: u16 = 40_000;

/// Why the engine could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("the kernel engine needs root: it loads BPF programs and runs packets through them with BPF_PROG_TEST_RUN")]
    NotRoot,
    #[error("{0}")]
    Kernel(#[from] KernelError),
    #[error("the test image of `{endpoint}` cannot be built: {source}")]
    Image {
        endpoint: String,
        #[source]
        source: ImageError,
    },
    #[error("the kernel recorded no verdict for a packet of `{endpoint}` (return code {return_code})")]
    NoVerdictRecorded { endpoint: String, return_code: u32 },
    #[error("the kernel returned {return_code} for a packet of `{endpoint}` whose recorded verdict is `{reason}`")]
    ReturnCodeMismatch { endpoint: String, return_code: u32, reason: &'static str },
    #[error("the policy lookup modes disagree on a packet of `{endpoint}`: LPM trie `{trie}`, HASH probes `{hash}`")]
    LookupModesDisagree { endpoint: String, trie: &'static str, hash: &'static str },
}

/// How the engine treats authentication.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineOptions {
    /// Install SPIRE entries (auth type 1) as after a successful handshake.
    pub assume_mutual_auth_succeeds: bool,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions { assume_mutual_auth_succeeds: true }
    }
}

/// Runs packets through one endpoint's programs.
pub trait Judge {
    /// The name shown in reasons (`kernel`, `model`).
    fn name(&self) -> &'static str;

    /// The verdict of each (direction, frame) of `endpoint`, whose test configuration, policy
    /// map and ipcache are given.
    fn judge(
        &mut self,
        endpoint: &CompiledEndpoint,
        config: &DatapathConfig,
        policy: &PolicyMapImage,
        ipcache: &IpcacheImage,
        frames: &[(Direction, Vec<u8>)],
    ) -> Result<Vec<Verdict>, EngineError>;
}

/// The userspace model of the datapath.
#[derive(Clone, Copy, Debug, Default)]
pub struct ModelJudge;

impl Judge for ModelJudge {
    fn name(&self) -> &'static str {
        "model"
    }

    fn judge(
        &mut self,
        _endpoint: &CompiledEndpoint,
        config: &DatapathConfig,
        policy: &PolicyMapImage,
        ipcache: &IpcacheImage,
        frames: &[(Direction, Vec<u8>)],
    ) -> Result<Vec<Verdict>, EngineError> {
        let model = DatapathModel::new(*config, policy, ipcache);
        Ok(frames.iter().map(|(direction, frame)| model.evaluate(*direction, frame)).collect())
    }
}

/// The datapath in the running kernel. One loaded datapath per distinct configuration is kept
/// and reused: an endpoint's images are installed as a new generation before its packets run.
pub struct KernelJudge {
    // Keyed by the constants, in order; each entry holds one datapath per lookup mode.
    loaded: BTreeMap<Vec<(&'static str, Vec<u8>)>, Vec<Datapath>>,
    both_lookup_modes: bool,
}

impl fmt::Debug for KernelJudge {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.debug_struct("KernelJudge").field("loaded", &self.loaded.len()).field("both_lookup_modes", &self.both_lookup_modes).finish()
    }
}

impl KernelJudge {
    /// A kernel judge; with `both_lookup_modes` every packet runs in both lookup modes (LPM
    /// tries, and HASH probes of the policy and of the ipcache's host entries), whichever the
    /// compiled constants ask for, and the two must give the same verdict. Fails without root.
    pub fn new(both_lookup_modes: bool) -> Result<KernelJudge, EngineError> {
        if !crate::kernel::running_as_root() {
            return Err(EngineError::NotRoot);
        }
        Ok(KernelJudge { loaded: BTreeMap::new(), both_lookup_modes })
    }

    /// How many datapaths (programs verified and loaded) the judge holds.
    pub fn loaded_datapaths(&self) -> usize {
        self.loaded.values().map(Vec::len).sum()
    }
}

impl Judge for KernelJudge {
    fn name(&self) -> &'static str {
        "kernel"
    }

    fn judge(
        &mut self,
        endpoint: &CompiledEndpoint,
        config: &DatapathConfig,
        policy: &PolicyMapImage,
        ipcache: &IpcacheImage,
        frames: &[(Direction, Vec<u8>)],
    ) -> Result<Vec<Verdict>, EngineError> {
        let key = config.globals();
        if !self.loaded.contains_key(&key) {
            let configs: Vec<DatapathConfig> = if self.both_lookup_modes {
                [false, true].into_iter().map(|hash| DatapathConfig { policy_map_hash: hash, ipcache_host_hash: hash, ..*config }).collect()
            } else {
                vec![*config]
            };
            let mut datapaths = Vec::new();
            for config in &configs {
                datapaths.push(Datapath::load(config)?);
            }
            self.loaded.insert(key.clone(), datapaths);
        }
        let datapaths = self.loaded.get(&key).map(Vec::as_slice).unwrap_or_default();
        for datapath in datapaths {
            datapath.install(policy, ipcache)?;
        }
        let mut verdicts = Vec::with_capacity(frames.len());
        for (direction, frame) in frames {
            let mut first: Option<Verdict> = None;
            for datapath in datapaths {
                let run = datapath.test_run(*direction, frame)?;
                let verdict = run.verdict.ok_or_else(|| EngineError::NoVerdictRecorded { endpoint: endpoint.shown.clone(), return_code: run.return_code })?;
                let expected_code = if verdict.allowed() { TC_ACT_OK } else { TC_ACT_SHOT };
                if run.return_code != expected_code {
                    return Err(EngineError::ReturnCodeMismatch {
                        endpoint: endpoint.shown.clone(),
                        return_code: run.return_code,
                        reason: verdict.reason.name(),
                    });
                }
                match first {
                    None => first = Some(verdict),
                    Some(trie) if trie != verdict => {
                        return Err(EngineError::LookupModesDisagree {
                            endpoint: endpoint.shown.clone(),
                            trie: trie.reason.name(),
                            hash: verdict.reason.name(),
                        });
                    }
                    Some(_) => {}
                }
            }
            if let Some(verdict) = first {
                verdicts.push(verdict);
            }
        }
        Ok(verdicts)
    }
}

/// What one program decided about a flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DirectionRun {
    pub endpoint: EndpointId,
    /// `NAMESPACE/POD` or `node:NAME`.
    pub endpoint_name: String,
    pub direction: Direction,
    /// The datapath's verdict record.
    pub verdict: Verdict,
    /// The flow carries an L7 request, the program redirected it to the proxy, and the L7 rules
    /// deny the request.
    pub denied_by_l7: bool,
    /// The deciding entry requires SPIRE mutual authentication, which the engine assumes
    /// succeeds (with the compiled image the packet drops with `drop-auth-required` until then).
    pub after_authentication: bool,
}

impl DirectionRun {
    /// Whether this direction lets the flow through (L4 verdict, then L7).
    pub fn allowed(&self) -> bool {
        self.verdict.allowed() && !self.denied_by_l7
    }
}

/// The engine's verdict on one flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FlowRun {
    pub allowed: bool,
    /// The packet's addresses (`None` when no program ran).
    pub addresses: Option<(IpAddr, IpAddr)>,
    /// The source endpoint's egress program, when the source is an endpoint.
    pub egress: Option<DirectionRun>,
    /// The destination endpoint's ingress program, when the destination is an endpoint.
    pub ingress: Option<DirectionRun>,
    /// One line saying why, naming the engine.
    pub reason: String,
}

/// A flow's end.
#[derive(Clone, Copy)]
enum End<'a> {
    Endpoint { compiled: &'a CompiledEndpoint, address: Option<IpAddr> },
    External(IpAddr),
}

/// The planned packet of one flow.
struct Plan<'a> {
    source: End<'a>,
    destination: End<'a>,
    frame: Option<Vec<u8>>,
    addresses: Option<(IpAddr, IpAddr)>,
}

fn resolve<'a>(ir: &PolicyIr, index: &BTreeMap<EndpointId, (&'a CompiledEndpoint, &'a IpcacheImage)>, end: FlowEnd) -> Result<End<'a>, String> {
    let (id, address) = match end {
        FlowEnd::Endpoint(id) => (id, None),
        FlowEnd::Address(address) => match ir.endpoint_by_address(address) {
            Some(endpoint) => (endpoint.id, Some(address)),
            None => return Ok(End::External(address)),
        },
    };
    let Some((compiled, _)) = index.get(&id) else {
        let shown = ir.endpoint(id).map(|endpoint| endpoint.kind.to_string()).unwrap_or_else(|| format!("endpoint {id}"));
        return Err(format!("`{shown}` was not compiled, so no datapath program guards it"));
    };
    Ok(End::Endpoint { compiled, address })
}

/// The addresses an end may use: its given address, or the endpoint's own addresses that the
/// ipcache (like the IR) gives to it.
fn candidates(ir: &PolicyIr, end: &End<'_>) -> Vec<IpAddr> {
    match end {
        End::External(address) | End::Endpoint { address: Some(address), .. } => vec![*address],
        End::Endpoint { compiled, address: None, .. } => {
            compiled.addresses.iter().copied().filter(|address| ir.endpoint_by_address(*address).is_some_and(|owner| owner.id == compiled.id)).collect()
        }
    }
}

fn shown(end: &End<'_>) -> String {
    match end {
        End::Endpoint { compiled, .. } => compiled.shown.clone(),
        End::External(address) => address.to_string(),
    }
}

fn transport(flow: &Flow) -> Result<Transport, String> {
    match flow.protocol {
        Protocol::TCP => Ok(Transport::Tcp { source_port: SOURCE_PORT, destination_port: flow.port }),
        Protocol::UDP => Ok(Transport::Udp { source_port: SOURCE_PORT, destination_port: flow.port }),
        Protocol::SCTP => Ok(Transport::Sctp { source_port: SOURCE_PORT, destination_port: flow.port }),
        Protocol::ICMP | Protocol::ICMPV6 => match u8::try_from(flow.port) {
            Ok(icmp_type) => Ok(Transport::Icmp { icmp_type, code: 0, identifier: 77 }),
            Err(_) => Err(format!("ICMP type `{}` is out of range (0 to 255)", flow.port)),
        },
        Protocol(number) if flow.port == 0 => Ok(Transport::Other { protocol: number }),
        protocol => Err(format!("protocol {protocol} has no ports, so a packet cannot carry port `{}`", flow.port)),
    }
}

fn plan<'a>(ir: &PolicyIr, index: &BTreeMap<EndpointId, (&'a CompiledEndpoint, &'a IpcacheImage)>, flow: &Flow) -> Result<Plan<'a>, String> {
    let source = resolve(ir, index, flow.source)?;
    let destination = resolve(ir, index, flow.destination)?;
    let no_program = match (&source, &destination) {
        (End::External(_), End::External(_)) => true,
        (End::Endpoint { compiled: from, .. }, End::Endpoint { compiled: to, .. }) => from.id == to.id && from.name != crate::compile::HOST_ENDPOINT_NAME,
        _ => false,
    };
    if no_program {
        return Ok(Plan { source, destination, frame: None, addresses: None });
    }
    let transport = transport(flow)?;
    let family_allowed = |address: &IpAddr| match flow.protocol {
        Protocol::ICMP => address.is_ipv4(),
        Protocol::ICMPV6 => address.is_ipv6(),
        _ => true,
    };
    let sources: Vec<IpAddr> = candidates(ir, &source).into_iter().filter(family_allowed).collect();
    let destinations: Vec<IpAddr> = candidates(ir, &destination).into_iter().filter(family_allowed).collect();
    // An endpoint's own program never looks up the endpoint's own address, so when the other end
    // runs no program, an endpoint without an address of the family may use the unspecified one.
    let placeholder = |end: &End<'_>, other: &End<'_>, want_v4: bool| match (end, other) {
        (End::Endpoint { address: None, .. }, End::External(_)) => {
            Some(if want_v4 { IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED) } else { IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED) })
        }
        _ => None,
    };
    let pick = |want_v4: bool| {
        if !family_allowed(&if want_v4 { IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED) } else { IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED) }) {
            return None;
        }
        let from = sources.iter().copied().find(|address| address.is_ipv4() == want_v4).or_else(|| placeholder(&source, &destination, want_v4))?;
        let to = destinations.iter().copied().find(|address| address.is_ipv4() == want_v4).or_else(|| placeholder(&destination, &source, want_v4))?;
        Some((from, to))
    };
    let Some((from, to)) = pick(true).or_else(|| pick(false)) else {
        let family = match flow.protocol {
            Protocol::ICMP => "IPv4 ",
            Protocol::ICMPV6 => "IPv6 ",
            _ => "",
        };
        let problem = if sources.is_empty() {
            format!("`{}` has no {family}address", shown(&source))
        } else if destinations.is_empty() {
            format!("`{}` has no {family}address", shown(&destination))
        } else {
            format!("`{}` has {} and `{}` has {}, of different families", shown(&source), list(&sources), shown(&destination), list(&destinations))
        };
        return Err(format!("no packet can be crafted: {problem}"));
    };
    let frame = build_frame(&PacketSpec::new(from, to, transport)).map_err(|error| error.message().to_owned())?;
    Ok(Plan { source, destination, frame: Some(frame), addresses: Some((from, to)) })
}

fn list(addresses: &[IpAddr]) -> String {
    addresses.iter().map(|address| format!("`{address}`")).collect::<Vec<_>>().join(", ")
}

/// The image an endpoint runs in the engine: its compiled image, or, when mutual authentication
/// is assumed to succeed and the image has SPIRE entries, the same entries without them.
fn test_image(endpoint: &CompiledEndpoint, options: &EngineOptions) -> Result<Option<PolicyMapImage>, EngineError> {
    if !options.assume_mutual_auth_succeeds || !endpoint.entries.iter().any(|sourced| sourced.entry.auth_type == 1) {
        return Ok(None);
    }
    let entries: Vec<_> = endpoint
        .entries
        .iter()
        .map(|sourced| {
            let mut entry = sourced.entry;
            if entry.auth_type == 1 {
                entry.auth_type = 0;
            }
            entry
        })
        .collect();
    PolicyMapImage::build(&entries).map(Some).map_err(|source| EngineError::Image { endpoint: endpoint.shown.clone(), source })
}

/// The configuration an endpoint runs with in the engine.
pub fn test_config(config: &DatapathConfig) -> DatapathConfig {
    DatapathConfig { record_verdict: true, enable_conntrack: false, emit_drop_events: false, ..*config }
}

fn describe_run(run: &DirectionRun) -> String {
    let side = match run.direction {
        Direction::Egress => "to",
        Direction::Ingress => "from",
    };
    let mut text =
        format!("{} of `{}`: {} ({side} identity {})", run.direction.name(), run.endpoint_name, run.verdict.reason.name(), run.verdict.remote_identity);
    if run.after_authentication {
        text.push_str(", once mutual authentication (SPIRE) succeeds, which polc assumes");
    }
    if run.denied_by_l7 {
        text.push_str(", then the L7 rules deny the request (decided by the reference evaluator)");
    } else if run.verdict.reason == Reason::AllowRedirect {
        text.push_str(", redirected to the L7 proxy");
    }
    text
}

/// Runs every flow through `judge`. The outer error means the engine could not run; an inner
/// error means that one flow could not be turned into a packet (the message says why).
pub fn run_flows(
    ir: &PolicyIr,
    compiled: &Compiled,
    flows: &[Flow],
    judge: &mut dyn Judge,
    options: &EngineOptions,
) -> Result<Vec<Result<FlowRun, String>>, EngineError> {
    let mut index: BTreeMap<EndpointId, (&CompiledEndpoint, &IpcacheImage)> = BTreeMap::new();
    for node in &compiled.nodes {
        for endpoint in &node.endpoints {
            index.insert(endpoint.id, (endpoint, &node.ipcache));
        }
    }
    let plans: Vec<Result<Plan<'_>, String>> = flows.iter().map(|flow| plan(ir, &index, flow)).collect();

    // Frames per endpoint, with where each verdict goes: (flow index, direction).
    let mut jobs: BTreeMap<EndpointId, Vec<(usize, Direction, Vec<u8>)>> = BTreeMap::new();
    for (flow_index, planned) in plans.iter().enumerate() {
        let Ok(Plan { source, destination, frame: Some(frame), .. }) = planned else { continue };
        if let End::Endpoint { compiled, .. } = source {
            jobs.entry(compiled.id).or_default().push((flow_index, Direction::Egress, frame.clone()));
        }
        if let End::Endpoint { compiled, .. } = destination {
            jobs.entry(compiled.id).or_default().push((flow_index, Direction::Ingress, frame.clone()));
        }
    }
    // (flow index, direction) → the verdict, and whether the compiled image would hold the
    // packet for mutual authentication.
    let mut verdicts: BTreeMap<(usize, Direction), (Verdict, bool)> = BTreeMap::new();
    for (id, endpoint_jobs) in &jobs {
        let Some((endpoint, ipcache)) = index.get(id) else { continue };
        let image = test_image(endpoint, options)?;
        let policy = image.as_ref().unwrap_or(&endpoint.policy);
        let config = test_config(&endpoint.config);
        let frames: Vec<(Direction, Vec<u8>)> = endpoint_jobs.iter().map(|(_, direction, frame)| (*direction, frame.clone())).collect();
        let results = judge.judge(endpoint, &config, policy, ipcache, &frames)?;
        // Which packets the compiled image holds for authentication, from the model.
        let compiled_model = image.as_ref().map(|_| DatapathModel::new(config, &endpoint.policy, ipcache));
        for ((flow_index, direction, frame), verdict) in endpoint_jobs.iter().zip(results) {
            let held = compiled_model.as_ref().is_some_and(|model| model.evaluate(*direction, frame).reason == Reason::DropAuthRequired);
            verdicts.insert((*flow_index, *direction), (verdict, held && verdict.allowed()));
        }
    }

    let mut runs = Vec::with_capacity(flows.len());
    for (flow_index, (flow, planned)) in flows.iter().zip(plans).enumerate() {
        let planned = match planned {
            Ok(planned) => planned,
            Err(message) => {
                runs.push(Err(message));
                continue;
            }
        };
        if planned.frame.is_none() {
            let reason = match (&planned.source, &planned.destination) {
                (End::External(_), End::External(_)) => "neither end is an endpoint, so no datapath program sees the flow",
                _ => "a pod's traffic to itself stays inside the pod; no datapath program sees it",
            };
            runs.push(Ok(FlowRun { allowed: true, addresses: None, egress: None, ingress: None, reason: format!("{}: allowed: {reason}", judge.name()) }));
            continue;
        }
        let reference = flow.l7.as_ref().map(|_| polc_ir::evaluate(ir, flow));
        let direction_run = |end: &End<'_>, direction: Direction| -> Option<DirectionRun> {
            let End::Endpoint { compiled, .. } = end else { return None };
            let (verdict, after_authentication) = *verdicts.get(&(flow_index, direction))?;
            let reference_direction = reference.as_ref().and_then(|verdict| match direction {
                Direction::Egress => verdict.egress.as_ref(),
                Direction::Ingress => verdict.ingress.as_ref(),
            });
            let denied_by_l7 =
                verdict.reason == Reason::AllowRedirect && reference_direction.is_some_and(|reference| reference.decision == Decision::DeniedByL7);
            Some(DirectionRun { endpoint: compiled.id, endpoint_name: compiled.shown.clone(), direction, verdict, denied_by_l7, after_authentication })
        };
        let egress = direction_run(&planned.source, Direction::Egress);
        let ingress = direction_run(&planned.destination, Direction::Ingress);
        let ran: Vec<&DirectionRun> = [&egress, &ingress].into_iter().flatten().collect();
        let allowed = ran.iter().all(|run| run.allowed());
        let shown_runs: Vec<String> = if allowed {
            ran.iter().map(|run| describe_run(run)).collect()
        } else {
            ran.iter().filter(|run| !run.allowed()).map(|run| describe_run(run)).collect()
        };
        let reason = format!("{} ({})", if allowed { "allowed" } else { "denied" }, shown_runs.join("; "));
        runs.push(Ok(FlowRun { allowed, addresses: planned.addresses, egress, ingress, reason: format!("{}: {reason}", judge.name()) }));
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{CompileOptions, compile};
    use polc_ir::{
        DirectionPolicy, Endpoint, EndpointKind, HttpRequest, HttpRule, IdentityInfo, IdentityKind, L4Match, L7Request, L7Rules, NumericIdentity, Peers,
        PolicyEntry, PortRange, RuleOrigin, RuleVerdict, Settings,
    };
    use std::net::Ipv4Addr;

    fn origin() -> RuleOrigin {
        RuleOrigin::Policy {
            kind: "CiliumNetworkPolicy".to_owned(),
            namespace: Some("default".to_owned()),
            name: "web".to_owned(),
            rule_path: "spec.ingress[0]".to_owned(),
            location: None,
        }
    }

    fn pod(id: u16, identity: u32, last: u8, ingress: DirectionPolicy) -> Endpoint {
        Endpoint {
            id: EndpointId(id),
            kind: EndpointKind::Pod { namespace: "default".to_owned(), name: format!("pod-{id}") },
            identity: NumericIdentity(identity),
            node: Some("node-a".to_owned()),
            addresses: vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, last))],
            ingress,
            egress: DirectionPolicy::default(),
        }
    }

    fn ir() -> PolicyIr {
        let http = PolicyEntry {
            verdict: RuleVerdict::Allow,
            peers: Peers::Identities([NumericIdentity(300)].into_iter().collect()),
            l4: L4Match::protocol(Protocol::TCP, PortRange::single(80)),
            l7: Some(L7Rules::Http(vec![HttpRule { method: Some("GET".to_owned()), path: None, host: None, headers: Vec::new() }])),
            auth: None,
            pending_fqdns: Vec::new(),
            origin: origin(),
        };
        let ingress = DirectionPolicy { enforced: true, default_deny: true, entries: vec![http], selected_by: vec![origin()] };
        let identities =
            [300, 301].into_iter().map(|id| IdentityInfo { id: NumericIdentity(id), kind: IdentityKind::Endpoint, labels: Default::default() }).collect();
        PolicyIr::new(Settings::default(), identities, Vec::new(), vec![pod(1, 300, 1, DirectionPolicy::default()), pod(2, 301, 2, ingress)], Vec::new())
    }

    fn flow(port: u16, l7: Option<L7Request>) -> Flow {
        Flow { source: FlowEnd::Endpoint(EndpointId(1)), destination: FlowEnd::Endpoint(EndpointId(2)), protocol: Protocol::TCP, port, l7 }
    }

    #[test]
    fn the_model_engine_judges_both_ends_and_leaves_l7_to_the_reference() {
        let ir = ir();
        let compiled = compile(&ir, &CompileOptions::default(), &|_| None).unwrap();
        let get = |method: &str| Some(L7Request::Http(HttpRequest { method: method.to_owned(), ..HttpRequest::default() }));
        let flows = vec![flow(80, None), flow(81, None), flow(80, get("GET")), flow(80, get("POST"))];
        let runs = run_flows(&ir, &compiled, &flows, &mut ModelJudge, &EngineOptions::default()).unwrap();
        let allowed: Vec<bool> = runs.iter().map(|run| run.as_ref().unwrap().allowed).collect();
        assert_eq!(allowed, vec![true, false, true, false]);
        let first = runs[0].as_ref().unwrap();
        assert_eq!(first.egress.as_ref().map(|run| run.verdict.reason), Some(Reason::AllowL4Only), "egress is not enforced: the allow-all key");
        assert_eq!(first.ingress.as_ref().map(|run| run.verdict.reason), Some(Reason::AllowRedirect));
        assert!(runs[3].as_ref().unwrap().reason.contains("the L7 rules deny the request"), "{}", runs[3].as_ref().unwrap().reason);
        for (reference, run) in flows.iter().map(|flow| polc_ir::evaluate(&ir, flow)).zip(&runs) {
            assert_eq!(reference.allowed, run.as_ref().unwrap().allowed);
        }
    }

    #[test]
    fn spire_authentication_is_assumed_to_succeed_unless_told_otherwise() {
        let mut ir = ir();
        for endpoint in &mut ir.endpoints {
            for entry in &mut endpoint.ingress.entries {
                entry.auth = Some(polc_ir::AuthMode::Required);
                entry.l7 = None;
            }
        }
        let compiled = compile(&ir, &CompileOptions::default(), &|_| None).unwrap();
        let runs = run_flows(&ir, &compiled, &[flow(80, None)], &mut ModelJudge, &EngineOptions::default()).unwrap();
        let run = runs[0].as_ref().unwrap();
        assert!(run.allowed && run.ingress.as_ref().is_some_and(|ingress| ingress.after_authentication), "{run:?}");
        assert!(run.reason.contains("once mutual authentication (SPIRE) succeeds"), "{}", run.reason);
        assert!(polc_ir::evaluate(&ir, &flow(80, None)).allowed, "the reference assumes the same");
        let strict = EngineOptions { assume_mutual_auth_succeeds: false };
        let runs = run_flows(&ir, &compiled, &[flow(80, None)], &mut ModelJudge, &strict).unwrap();
        let run = runs[0].as_ref().unwrap();
        assert_eq!(run.ingress.as_ref().map(|ingress| ingress.verdict.reason), Some(Reason::DropAuthRequired));
        assert!(!run.allowed);
    }

    #[test]
    fn flows_without_a_program_and_flows_without_a_packet() {
        let ir = ir();
        let compiled = compile(&ir, &CompileOptions::default(), &|_| None).unwrap();
        let outside = |last: u8| FlowEnd::Address(IpAddr::V4(Ipv4Addr::new(192, 0, 2, last)));
        let flows = vec![
            Flow { source: outside(1), destination: outside(2), protocol: Protocol::TCP, port: 80, l7: None },
            Flow { source: FlowEnd::Endpoint(EndpointId(2)), destination: FlowEnd::Endpoint(EndpointId(2)), protocol: Protocol::TCP, port: 9, l7: None },
            Flow { source: outside(1), destination: FlowEnd::Endpoint(EndpointId(2)), protocol: Protocol::ICMPV6, port: 128, l7: None },
            Flow { source: outside(1), destination: FlowEnd::Endpoint(EndpointId(9)), protocol: Protocol::TCP, port: 80, l7: None },
        ];
        let runs = run_flows(&ir, &compiled, &flows, &mut ModelJudge, &EngineOptions::default()).unwrap();
        assert!(runs[0].as_ref().unwrap().allowed && runs[0].as_ref().unwrap().egress.is_none());
        assert!(runs[1].as_ref().unwrap().allowed && runs[1].as_ref().unwrap().ingress.is_none());
        assert_eq!(runs[2].as_ref().unwrap_err(), "no packet can be crafted: `192.0.2.1` has no IPv6 address");
        assert!(runs[3].as_ref().unwrap_err().contains("was not compiled"), "{:?}", runs[3]);
        let v6_outside = FlowEnd::Address("2001:db8::7".parse().unwrap());
        let flows = vec![
            Flow { source: v6_outside, destination: FlowEnd::Endpoint(EndpointId(2)), protocol: Protocol::TCP, port: 80, l7: None },
            Flow { source: FlowEnd::Endpoint(EndpointId(1)), destination: v6_outside, protocol: Protocol::ICMPV6, port: 128, l7: None },
            Flow { source: FlowEnd::Endpoint(EndpointId(1)), destination: FlowEnd::Endpoint(EndpointId(2)), protocol: Protocol::ICMPV6, port: 128, l7: None },
        ];
        let runs = run_flows(&ir, &compiled, &flows, &mut ModelJudge, &EngineOptions::default()).unwrap();
        assert_eq!(runs[0].as_ref().unwrap().addresses, Some(("2001:db8::7".parse().unwrap(), "::".parse().unwrap())));
        assert!(!runs[0].as_ref().unwrap().allowed, "pod 2's ingress admits only identity 300");
        assert_eq!(runs[1].as_ref().unwrap().addresses, Some(("::".parse().unwrap(), "2001:db8::7".parse().unwrap())));
        assert_eq!(runs[2].as_ref().unwrap_err(), "no packet can be crafted: `default/pod-1` has no IPv6 address", "both ends run programs");
    }
}
