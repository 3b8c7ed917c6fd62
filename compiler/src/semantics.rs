//! Flows against the IR: reading a flow's ends (`NAMESPACE/POD`, an address, `node:NAME`),
//! evaluating one flow (`polc trace`) and every FlowTest among the inputs (`polc test`) in the
//! reference evaluator.
//!
//! Resolution problems are findings (`PLC7001`, `PLC7011`) located at the FlowTest field.

use std::net::IpAddr;

use polc_ir::{DnsQuery, Flow, FlowEnd, HttpRequest, L7Request, Protocol, Verdict, evaluate};

use crate::checks::analysis;
use crate::diag::{Diagnostic, Location};
use crate::frontend::Object;
use crate::kinds::Resource;
use crate::lower::Lowered;
use crate::model::flowtest::{self, Expectation, FlowEndpoint, FlowProtocol};
use crate::path::Path;

/// A flow's end resolved against the IR, with what the user should know about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedEnd {
    pub end: FlowEnd,
    /// How the end is shown (`default/frontend`, `node:node-a`, `203.0.113.7`).
    pub shown: String,
    pub notes: Vec<String>,
    /// The service whose frontend address this is, when it is one.
    pub service_frontend: Option<String>,
}

/// Resolves a parsed flow end against the lowered inputs. The error is a message in the words of
/// a diagnostic.
pub fn resolve_end(lowered: &Lowered, end: &FlowEndpoint) -> Result<ResolvedEnd, String> {
    match end {
        FlowEndpoint::Pod { namespace, name } => {
            if let Some(endpoint) = lowered.ir.pod(namespace, name) {
                return Ok(ResolvedEnd {
                    end: FlowEnd::Endpoint(endpoint.id),
                    shown: format!("{namespace}/{name}"),
                    notes: Vec::new(),
                    service_frontend: None,
                });
            }
            match lowered.inventory.pod(namespace, name) {
                Some(pod) if pod.host_network => match pod.node.as_deref().and_then(|node| lowered.ir.host(node)) {
                    Some(host) => Ok(ResolvedEnd {
                        end: FlowEnd::Endpoint(host.id),
                        shown: format!("{namespace}/{name}"),
                        notes: vec![format!("`{namespace}/{name}` uses the host network: its traffic is its node's (`{}`)", host.kind)],
                        service_frontend: None,
                    }),
                    None => Err(format!("pod `{namespace}/{name}` uses the host network, but its node is not in the inventory")),
                },
                Some(_) => Err(format!("pod `{namespace}/{name}` has no identity")),
                None => {
                    let candidates: Vec<String> = lowered.inventory.pods.keys().map(|(namespace, name)| format!("{namespace}/{name}")).collect();
                    let wanted = format!("{namespace}/{name}");
                    let mut message = format!("pod `{wanted}` is not in the inventory");
                    if let Some(guess) = crate::schema_check::did_you_mean(&wanted, candidates.iter().map(String::as_str)) {
                        message.push_str(&format!(" (did you mean `{guess}`?)"));
                    } else if lowered.inventory.pods.is_empty() {
                        message.push_str(": the inputs hold no pods");
                    }
                    Err(message)
                }
            }
        }
        FlowEndpoint::Node(name) => match lowered.ir.host(name) {
            Some(host) => Ok(ResolvedEnd { end: FlowEnd::Endpoint(host.id), shown: format!("node:{name}"), notes: Vec::new(), service_frontend: None }),
            None => {
                let candidates: Vec<&str> = lowered.inventory.nodes.keys().map(String::as_str).collect();
                let mut message = format!("node `{name}` is not in the inventory");
                if let Some(guess) = crate::schema_check::did_you_mean(name, candidates) {
                    message.push_str(&format!(" (did you mean `node:{guess}`?)"));
                } else if lowered.inventory.nodes.is_empty() {
                    message.push_str(": the inputs hold no nodes");
                }
                Err(message)
            }
        },
        FlowEndpoint::Address(address) => Ok(resolve_address(lowered, *address)),
    }
}

fn resolve_address(lowered: &Lowered, address: IpAddr) -> ResolvedEnd {
    let mut notes = Vec::new();
    let mut service_frontend = None;
    match lowered.ir.endpoint_by_address(address) {
        Some(endpoint) => notes.push(format!("`{address}` is the address of `{}`", endpoint.kind)),
        None => {
            if let Some(service) = lowered.inventory.service_by_frontend(address) {
                let shown = format!("{}/{}", service.namespace, service.name);
                notes.push(format!(
                    "`{address}` is an address of service `{shown}`; Cilium applies policy after choosing a backend, so trace a backend pod instead"
                ));
                service_frontend = Some(shown);
            }
            let identity = lowered.ir.identity_of_external_address(address);
            let described = lowered.ir.identity(identity).map(|info| info.describe()).unwrap_or_else(|| identity.to_string());
            notes.push(format!("`{address}` belongs to no pod or node: identity {} ({described})", identity.0));
        }
    }
    ResolvedEnd { end: FlowEnd::Address(address), shown: address.to_string(), notes, service_frontend }
}

/// The IR protocol of a FlowTest protocol.
pub fn protocol_of(protocol: FlowProtocol) -> Protocol {
    match protocol {
        FlowProtocol::Tcp => Protocol::TCP,
        FlowProtocol::Udp => Protocol::UDP,
        FlowProtocol::Sctp => Protocol::SCTP,
        FlowProtocol::Icmp => Protocol::ICMP,
        FlowProtocol::Icmpv6 => Protocol::ICMPV6,
    }
}

/// The port a flow uses: the given one, or an echo request for ICMP.
pub fn port_of(protocol: FlowProtocol, port: Option<u16>) -> Option<u16> {
    match (protocol, port) {
        (_, Some(port)) => Some(port),
        (FlowProtocol::Icmp, None) => Some(8),
        (FlowProtocol::Icmpv6, None) => Some(128),
        (_, None) => None,
    }
}

/// Parses `8080`, `8080/TCP`, `53/udp`, `8/ICMP` (the ICMP type). Without a protocol, TCP.
pub fn parse_port_protocol(text: &str) -> Result<(u16, FlowProtocol), String> {
    let (port_text, protocol_text) = match text.split_once('/') {
        Some((port, protocol)) => (port.trim(), Some(protocol.trim())),
        None => (text.trim(), None),
    };
    let protocol = match protocol_text.map(str::to_ascii_uppercase).as_deref() {
        None | Some("TCP") => FlowProtocol::Tcp,
        Some("UDP") => FlowProtocol::Udp,
        Some("SCTP") => FlowProtocol::Sctp,
        Some("ICMP") => FlowProtocol::Icmp,
        Some("ICMPV6") => FlowProtocol::Icmpv6,
        Some(_) => return Err(format!("`{}` is not a protocol: use TCP, UDP, SCTP, ICMP or ICMPv6", protocol_text.unwrap_or_default())),
    };
    let port: u16 = port_text.parse().map_err(|_| format!("`{port_text}` is not a port number from 0 to 65535"))?;
    if protocol.has_ports() && port == 0 {
        return Err("port `0` is not a destination port a connection can use".to_owned());
    }
    if !protocol.has_ports() && port > 255 {
        return Err(format!("ICMP type `{port}` is out of range: ICMP types go from 0 to 255"));
    }
    Ok((port, protocol))
}

/// The L7 request of a FlowTest flow.
pub fn l7_of(http: Option<&flowtest::HttpRequest>, dns: Option<&flowtest::DnsRequest>) -> Option<L7Request> {
    if let Some(http) = http {
        let defaults = HttpRequest::default();
        return Some(L7Request::Http(HttpRequest {
            method: http.method.clone().unwrap_or(defaults.method),
            path: http.path.clone().unwrap_or(defaults.path),
            host: http.host.clone(),
            headers: http.headers.clone(),
        }));
    }
    dns.map(|dns| L7Request::Dns(DnsQuery { name: dns.query.clone() }))
}

/// The outcome of one FlowTest flow.
#[derive(Clone, Debug)]
pub struct FlowOutcome {
    /// The FlowTest's `metadata.name`.
    pub test: String,
    /// The flow's index in `spec.flows`.
    pub index: usize,
    /// The flow's `name`, or `FROM -> TO PORT/PROTOCOL`.
    pub name: String,
    pub from: String,
    pub to: String,
    pub protocol: FlowProtocol,
    pub port: Option<u16>,
    pub expected_allow: bool,
    /// `None` when the flow could not be evaluated (see `error`).
    pub verdict: Option<Verdict>,
    pub error: Option<String>,
    /// Where the flow is written.
    pub location: Location,
}

impl FlowOutcome {
    pub fn passed(&self) -> bool {
        self.verdict.as_ref().is_some_and(|verdict| verdict.allowed == self.expected_allow)
    }
}

/// Every FlowTest among `objects`, evaluated against `lowered`, in input order; plus the
/// findings about their flows.
pub fn run_flow_tests(objects: &[Object], lowered: &Lowered) -> (Vec<FlowOutcome>, Vec<Diagnostic>) {
    let mut outcomes = Vec::new();
    let mut diagnostics = Vec::new();
    for object in objects {
        let Resource::FlowTest(test) = &object.resource else { continue };
        for (index, flow) in test.spec.flows.iter().enumerate() {
            let path = Path::root().key("spec").key("flows").index(index);
            let shown_port = port_of(flow.protocol, flow.port);
            let name = flow.name.clone().unwrap_or_else(|| match shown_port {
                Some(port) => format!("{} -> {} {port}/{}", flow.from, flow.to, flow.protocol.as_str()),
                None => format!("{} -> {} {}", flow.from, flow.to, flow.protocol.as_str()),
            });
            let mut outcome = FlowOutcome {
                test: test.metadata.name().to_owned(),
                index,
                name,
                from: flow.from.clone(),
                to: flow.to.clone(),
                protocol: flow.protocol,
                port: shown_port,
                expected_allow: flow.expect == Expectation::Allow,
                verdict: None,
                error: None,
                location: object.location(&path),
            };
            let mut errors = Vec::new();
            let mut ends = Vec::new();
            for (field, text) in [("from", &flow.from), ("to", &flow.to)] {
                let resolved = FlowEndpoint::parse(text).and_then(|parsed| resolve_end(lowered, &parsed));
                match resolved {
                    Ok(resolved) => {
                        if let (Some(service), "to") = (&resolved.service_frontend, field) {
                            let message = format!("`{text}` is an address of service `{service}`; polc evaluates it as an outside address");
                            diagnostics.push(
                                object
                                    .diagnostic(&analysis::flow_to_service_address::FLOW_TO_SERVICE_ADDRESS, &path.key(field), message)
                                    .with_help("write the flow to a backend pod and its target port"),
                            );
                        }
                        ends.push(resolved);
                    }
                    Err(message) => {
                        diagnostics.push(
                            object
                                .diagnostic(&analysis::flow_endpoint_not_found::FLOW_ENDPOINT_NOT_FOUND, &path.key(field), message.clone())
                                .with_help("correct the name, or add the Pod or Node to the inputs"),
                        );
                        errors.push(message);
                    }
                }
            }
            let Some(port) = shown_port else {
                errors.push(format!("this {} flow has no `port`", flow.protocol.as_str()));
                outcome.error = Some(errors.join("; "));
                outcomes.push(outcome);
                continue;
            };
            if !errors.is_empty() || ends.len() != 2 {
                outcome.error = Some(errors.join("; "));
                outcomes.push(outcome);
                continue;
            }
            let evaluated = Flow {
                source: ends[0].end,
                destination: ends[1].end,
                protocol: protocol_of(flow.protocol),
                port,
                l7: l7_of(flow.http.as_ref(), flow.dns.as_ref()),
            };
            outcome.verdict = Some(evaluate(&lowered.ir, &evaluated));
            outcomes.push(outcome);
        }
    }
    crate::diag::sort_diagnostics(&mut diagnostics);
    (outcomes, diagnostics)
}
