//! polc's own FlowTest kind: flows with the verdict they are expected to get.
//!
//! ```yaml
//! apiVersion: polc/v1alpha1
//! kind: FlowTest
//! metadata: {name: frontend-reaches-backend}
//! spec:
//!   flows:
//!   - from: default/frontend      # NAMESPACE/POD, an IP address, or node:NAME
//!     to: default/backend
//!     port: 8080                  # the ICMP type for ICMP and ICMPv6
//!     protocol: TCP               # TCP (default) | UDP | SCTP | ICMP | ICMPv6
//!     expect: allow               # allow | deny
//!     http: {method: GET, path: /admin, host: api.example.com, headers: {x-team: a}}
//!     dns: {query: api.example.com}
//! ```
//!
//! Unknown fields are errors: a misspelt `expect` must not silently test something else.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::meta::ObjectMeta;

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlowTest {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: FlowTestSpec,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FlowTestSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[schemars(length(min = 1))]
    pub flows: Vec<Flow>,
}

/// One flow and its expected verdict.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Flow {
    /// A name shown when the flow fails; defaults to `FROM -> TO PORT/PROTOCOL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub name: Option<String>,
    /// Why this verdict is expected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The source: `NAMESPACE/POD` from the inventory, an IP address, or `node:NAME`.
    #[schemars(length(min = 1))]
    pub from: String,
    /// The destination: `NAMESPACE/POD` from the inventory, an IP address, or `node:NAME`.
    #[schemars(length(min = 1))]
    pub to: String,
    /// The destination port; the ICMP type for ICMP and ICMPv6 (echo request when omitted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default)]
    pub protocol: FlowProtocol,
    pub expect: Expectation,
    /// An HTTP request carried by the flow: the L7 rules decide it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpRequest>,
    /// A DNS query carried by the flow: the DNS rules decide it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<DnsRequest>,
}

/// The protocols a flow can use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum FlowProtocol {
    #[default]
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
    #[serde(rename = "SCTP")]
    Sctp,
    #[serde(rename = "ICMP")]
    Icmp,
    #[serde(rename = "ICMPv6")]
    Icmpv6,
}

impl FlowProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            FlowProtocol::Tcp => "TCP",
            FlowProtocol::Udp => "UDP",
            FlowProtocol::Sctp => "SCTP",
            FlowProtocol::Icmp => "ICMP",
            FlowProtocol::Icmpv6 => "ICMPv6",
        }
    }

    /// Whether the protocol has ports (rather than ICMP types).
    pub fn has_ports(self) -> bool {
        matches!(self, FlowProtocol::Tcp | FlowProtocol::Udp | FlowProtocol::Sctp)
    }
}

/// The expected verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Expectation {
    Allow,
    Deny,
}

/// The HTTP request of a flow. Omitted parts take the values a plain request has.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpRequest {
    /// Defaults to `GET`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub method: Option<String>,
    /// Defaults to `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub path: Option<String>,
    /// The `Host` (`:authority`) of the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Request headers, by name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
}

/// The DNS query of a flow.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DnsRequest {
    /// The name looked up, such as `api.example.com`.
    #[schemars(length(min = 1, max = 255))]
    pub query: String,
}

/// A parsed `from` or `to` of a flow.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FlowEndpoint {
    /// `NAMESPACE/POD`.
    Pod { namespace: String, name: String },
    /// An IPv4 or IPv6 address.
    Address(std::net::IpAddr),
    /// `node:NAME`.
    Node(String),
}

impl std::fmt::Display for FlowEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FlowEndpoint::Pod { namespace, name } => write!(f, "{namespace}/{name}"),
            FlowEndpoint::Address(address) => write!(f, "{address}"),
            FlowEndpoint::Node(name) => write!(f, "node:{name}"),
        }
    }
}

fn is_dns_label(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

fn is_dns_subdomain(text: &str) -> bool {
    !text.is_empty() && text.len() <= 253 && text.split('.').all(is_dns_label)
}

impl FlowEndpoint {
    /// Parses `NAMESPACE/POD`, an IP address or `node:NAME`. The error says what is wrong, in
    /// the words of a diagnostic message.
    pub fn parse(text: &str) -> Result<FlowEndpoint, String> {
        let text = text.trim();
        if let Some(node) = text.strip_prefix("node:") {
            return if is_dns_subdomain(node) {
                Ok(FlowEndpoint::Node(node.to_owned()))
            } else {
                Err(format!("`{node}` is not a valid node name (lower-case letters, digits, `-` and `.`)"))
            };
        }
        if let Ok(address) = text.parse::<std::net::IpAddr>() {
            return Ok(FlowEndpoint::Address(address));
        }
        if let Some((namespace, name)) = text.split_once('/') {
            if namespace.parse::<std::net::IpAddr>().is_ok() {
                return Err(format!("`{text}` is a CIDR; a flow goes from or to one address, such as `{namespace}`"));
            }
            if !is_dns_label(namespace) {
                return Err(format!("`{namespace}` is not a valid namespace name (a DNS label: lower-case letters, digits and `-`)"));
            }
            if !is_dns_subdomain(name) {
                return Err(format!("`{name}` is not a valid pod name (lower-case letters, digits, `-` and `.`)"));
            }
            return Ok(FlowEndpoint::Pod { namespace: namespace.to_owned(), name: name.to_owned() });
        }
        if text.chars().all(|c| c.is_ascii_hexdigit() || c == '.' || c == ':') && text.contains(['.', ':']) {
            return Err(format!("`{text}` is not an IP address"));
        }
        Err(format!("`{text}` is neither `NAMESPACE/POD`, an IP address nor `node:NAME`"))
    }
}
