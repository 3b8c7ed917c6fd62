//! PRIVILEGED (root: CAP_NET_ADMIN and CAP_SYS_ADMIN): the iptables engine. It builds a
//! simulated cluster out of network namespaces and veth pairs ([`Cluster`]), loads the
//! rendering of each node with the real `iptables-legacy-restore` or `iptables-nft-restore`
//! (and `ip6tables-*`) and `ipset restore`, sends every flow as real packets and reports whether
//! each got through.
//!
//! [`run_flows`] does all of it for one IR; [`Cluster`] keeps the namespaces so that many IRs
//! with the same endpoints and addresses can be applied and tested in turn.
//!
//! A flow whose ends have no address family in common (an IPv4-only pod and an IPv6 address)
//! still runs: [`run_flows`] first gives the endpoint an extra address of the needed family,
//! which carries the endpoint's identity ([`with_addresses_for_flows`]), so the flow is judged
//! by identity as the reference evaluator judges it. Flows between two literal addresses of
//! different families cannot be sent and are reported not run.
//!
//! Needs `ip` (iproute2), `ipset` and the iptables tools (`apt-get install -y iptables ipset
//! iproute2`). The namespaces are named `polcipt-<pid>-...` and deleted on drop; namespaces of
//! processes that no longer exist are deleted the next time a cluster is built.

mod families;
mod netns;
mod packet;
mod probe;
mod topology;

use std::fmt;
use std::net::IpAddr;
use std::time::Duration;

use polc_ir::{Flow, FlowEnd, PolicyIr, Protocol};

pub use families::with_addresses_for_flows;
pub use netns::{find_tool, is_root};
pub use topology::{ApplyStats, Backend, Cluster, Layout, unusable_reason};

use crate::sets::Family;
use probe::{Arrival, Probe, check_sendable, run_probes};

/// A failure of the engine itself (a tool missing, a namespace that cannot be made).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineError {
    message: String,
}

impl EngineError {
    pub fn new(message: impl Into<String>) -> Self {
        EngineError { message: message.into() }
    }

    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for EngineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for EngineError {}

/// What the iptables engine saw for one flow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlowVerdict {
    /// The packets got through.
    Allowed,
    /// The packets were dropped.
    Denied,
    /// The flow could not be sent (an address the network cannot hold, a port a protocol
    /// cannot have, a socket error); the reason says which.
    NotRun(String),
}

impl FlowVerdict {
    /// `Some(true)` for allowed, `Some(false)` for denied, `None` when the flow did not run.
    pub fn allowed(&self) -> Option<bool> {
        match self {
            FlowVerdict::Allowed => Some(true),
            FlowVerdict::Denied => Some(false),
            FlowVerdict::NotRun(_) => None,
        }
    }
}

impl fmt::Display for FlowVerdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FlowVerdict::Allowed => f.write_str("allow"),
            FlowVerdict::Denied => f.write_str("deny"),
            FlowVerdict::NotRun(reason) => write!(f, "not run: {reason}"),
        }
    }
}

/// Engine settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineOptions {
    /// How long to wait for a flow's packets before calling it dropped. Packets that get through
    /// arrive within microseconds on an idle machine; the wait only bounds the dropped ones.
    pub timeout: Duration,
    /// When set, the flows that seemed dropped are sent once more and given this long, so that
    /// a busy machine (delayed soft interrupts) cannot pass a late packet off as a drop.
    pub confirm_timeout: Option<Duration>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions { timeout: Duration::from_millis(300), confirm_timeout: Some(Duration::from_millis(1500)) }
    }
}

/// Runs `flows` against the iptables rendering of `ir` on `backend`: builds the namespaces,
/// loads the rules, sends the packets, and deletes the namespaces. One verdict per flow, in
/// order.
///
/// A flow from or to an endpoint that has no address of the family the other end needs (an
/// IPv4-only pod and an IPv6 address) is sent from an extra address the endpoint gets for the
/// test (see [`with_addresses_for_flows`]), so it is judged by identity as the reference
/// evaluator judges it.
pub fn run_flows(ir: &PolicyIr, flows: &[Flow], backend: Backend) -> Result<Vec<FlowVerdict>, EngineError> {
    run_flows_with(ir, flows, backend, &EngineOptions::default())
}

/// [`run_flows`] with explicit settings.
pub fn run_flows_with(ir: &PolicyIr, flows: &[Flow], backend: Backend, options: &EngineOptions) -> Result<Vec<FlowVerdict>, EngineError> {
    if !is_root() {
        return Err(EngineError::new("the iptables engine needs root (it creates network namespaces and loads firewall rules)"));
    }
    let extended = with_addresses_for_flows(ir, flows);
    let ir = extended.as_ref().unwrap_or(ir);
    let layout = Layout::for_flows(ir, flows);
    let cluster = Cluster::new(&layout, backend)?;
    cluster.apply(ir)?;
    cluster.run(ir, flows, options)
}

/// The addresses (with their namespaces) one end of a flow may use.
fn candidates(ir: &PolicyIr, cluster: &Cluster, end: FlowEnd) -> Result<Vec<(IpAddr, usize)>, String> {
    match end {
        FlowEnd::Endpoint(id) => {
            let endpoint = ir.endpoint(id).ok_or_else(|| format!("endpoint {id} is not in the IR"))?;
            let namespace = cluster.endpoint_namespace(ir, id).ok_or_else(|| format!("endpoint `{}` is not in the test network", endpoint.kind))?;
            let usable: Vec<(IpAddr, usize)> =
                endpoint.addresses.iter().filter(|address| cluster.namespace_of(**address) == Some(namespace)).map(|address| (*address, namespace)).collect();
            if usable.is_empty() { Err(format!("endpoint `{}` has no address the test network can use", endpoint.kind)) } else { Ok(usable) }
        }
        FlowEnd::Address(address) => match cluster.namespace_of(address) {
            Some(namespace) => Ok(vec![(address, namespace)]),
            None => Err(match cluster.layout().unusable(address) {
                Some(reason) => format!("`{address}` is {reason}, which the test network cannot hold"),
                None => format!("`{address}` is not in the test network"),
            }),
        },
    }
}

/// Places `flow`: the addresses and namespaces of its ends, in one address family.
fn place(ir: &PolicyIr, cluster: &Cluster, flow: &Flow) -> Result<Probe, String> {
    let sources = candidates(ir, cluster, flow.source)?;
    let destinations = candidates(ir, cluster, flow.destination)?;
    let families: &[Family] = match flow.protocol {
        Protocol::ICMP => &[Family::V4],
        Protocol::ICMPV6 => &[Family::V6],
        _ => &Family::BOTH,
    };
    for family in families {
        let source = sources.iter().find(|(address, _)| Family::of(*address) == *family);
        let destination = destinations.iter().find(|(address, _)| Family::of(*address) == *family);
        if let (Some((source, source_namespace)), Some((destination, destination_namespace))) = (source, destination) {
            check_sendable(flow.protocol, flow.port, *family)?;
            return Ok(Probe {
                source_namespace: *source_namespace,
                source: *source,
                destination_namespace: *destination_namespace,
                destination: *destination,
                protocol: flow.protocol,
                port: flow.port,
            });
        }
    }
    Err(match flow.protocol {
        Protocol::ICMP => "the two ends of the flow do not both have an IPv4 address (ICMP runs over IPv4)".to_owned(),
        Protocol::ICMPV6 => "the two ends of the flow do not both have an IPv6 address (ICMPv6 runs over IPv6)".to_owned(),
        _ => "the two ends of the flow have no addresses of the same family (an IPv4-only end cannot reach an IPv6 one)".to_owned(),
    })
}

impl Cluster {
    /// Sends `flows` through the rules loaded last ([`Cluster::apply`] with the same `ir`) and
    /// reports one verdict per flow, in order.
    pub fn run(&self, ir: &PolicyIr, flows: &[Flow], options: &EngineOptions) -> Result<Vec<FlowVerdict>, EngineError> {
        let placed: Vec<Result<Probe, String>> = flows.iter().map(|flow| place(ir, self, flow)).collect();
        let probes: Vec<Probe> = placed.iter().filter_map(|probe| probe.as_ref().ok().cloned()).collect();
        let mut arrivals = run_probes(self.namespaces(), &probes, options.timeout)?;
        if let Some(confirm_timeout) = options.confirm_timeout {
            let dropped: Vec<usize> = arrivals.iter().enumerate().filter(|(_, arrival)| **arrival == Arrival::Dropped).map(|(index, _)| index).collect();
            if !dropped.is_empty() {
                let again: Vec<Probe> = dropped.iter().map(|index| probes[*index].clone()).collect();
                for (index, arrival) in dropped.iter().zip(run_probes(self.namespaces(), &again, confirm_timeout)?) {
                    arrivals[*index] = arrival;
                }
            }
        }
        let mut arrivals = arrivals.into_iter();
        Ok(placed
            .into_iter()
            .map(|probe| match probe {
                Err(reason) => FlowVerdict::NotRun(reason),
                Ok(_) => match arrivals.next() {
                    Some(Arrival::Arrived) => FlowVerdict::Allowed,
                    Some(Arrival::Dropped) => FlowVerdict::Denied,
                    Some(Arrival::Failed(reason)) => FlowVerdict::NotRun(reason),
                    None => FlowVerdict::NotRun("the probe was lost".to_owned()),
                },
            })
            .collect())
    }
}
