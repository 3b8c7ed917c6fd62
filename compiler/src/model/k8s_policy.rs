//! Kubernetes NetworkPolicy (`networking.k8s.io/v1`).
//!
//! Field names and enums follow the Kubernetes API. What the API server's validation enforces
//! beyond the OpenAPI schema (peer shape, `ipBlock.except` inside `cidr`, port names, `endPort`)
//! is checked in `crate::checks::k8s_policy`.
//!
//! Optional lists are `Option<Vec<_>>` so that a missing list and an empty one stay apart,
//! although for NetworkPolicy both mean the same (an absent or empty `from`/`to` is every peer,
//! an absent or empty `ports` is every port).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::meta::{LabelSelector, ObjectMeta};

/// The schema of `podSelector`: a label selector, which must be given but may be null (the API
/// server decodes null as the empty selector).
fn pod_selector_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let selector = generator.subschema_for::<LabelSelector>();
    schemars::json_schema!({"anyOf": [selector, {"type": "null"}]})
}

/// The schema of an optional list of CIDR prefixes.
fn cidr_list(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": ["array", "null"], "items": {"type": "string", "format": "cidr"}})
}

/// A Kubernetes NetworkPolicy.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkPolicy {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: NetworkPolicySpec,
    /// Written by older API servers (removed in Kubernetes 1.27); accepted unchecked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

/// The pods a policy selects and the traffic it allows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-polc-field-help" = {"endpointSelector": "a NetworkPolicy selects its pods with `podSelector` (`endpointSelector` is CiliumNetworkPolicy syntax)", "policyType": "the field is `policyTypes` (a list): `policyTypes: [Ingress, Egress]`"}))]
pub struct NetworkPolicySpec {
    /// The pods of the policy's namespace this policy applies to; `{}` (or a null value)
    /// selects all of them.
    #[schemars(required, schema_with = "pod_selector_schema")]
    pub pod_selector: Option<LabelSelector>,
    /// The directions this policy isolates. Unset: `Ingress`, plus `Egress` when there are
    /// egress rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 2))]
    pub policy_types: Option<Vec<PolicyType>>,
    /// Allowed incoming traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<Vec<NetworkPolicyIngressRule>>,
    /// Allowed outgoing traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<Vec<NetworkPolicyEgressRule>>,
}

impl NetworkPolicySpec {
    /// The subject selector; a null `podSelector` selects every pod, like `{}`.
    pub fn pod_selector(&self) -> &LabelSelector {
        static EVERY_POD: LabelSelector = LabelSelector { match_labels: std::collections::BTreeMap::new(), match_expressions: Vec::new() };
        self.pod_selector.as_ref().unwrap_or(&EVERY_POD)
    }

    pub fn ingress(&self) -> &[NetworkPolicyIngressRule] {
        self.ingress.as_deref().unwrap_or_default()
    }

    pub fn egress(&self) -> &[NetworkPolicyEgressRule] {
        self.egress.as_deref().unwrap_or_default()
    }

    /// The directions this policy applies to, with the Kubernetes defaulting of an unset
    /// `policyTypes`.
    pub fn effective_policy_types(&self) -> Vec<PolicyType> {
        match &self.policy_types {
            Some(types) if !types.is_empty() => {
                let mut types = types.clone();
                types.sort();
                types.dedup();
                types
            }
            _ => {
                let mut types = vec![PolicyType::Ingress];
                if self.egress.is_some() {
                    types.push(PolicyType::Egress);
                }
                types
            }
        }
    }
}

/// A policy direction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum PolicyType {
    Ingress,
    Egress,
}

impl PolicyType {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyType::Ingress => "Ingress",
            PolicyType::Egress => "Egress",
        }
    }
}

/// Traffic allowed in: from any of the peers (every peer when `from` is absent or empty), to
/// any of the ports (every port when `ports` is absent or empty).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkPolicyIngressRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<Vec<NetworkPolicyPeer>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<NetworkPolicyPort>>,
}

/// Traffic allowed out: to any of the peers (every peer when `to` is absent or empty), to any
/// of the ports (every port when `ports` is absent or empty).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkPolicyEgressRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<Vec<NetworkPolicyPeer>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<NetworkPolicyPort>>,
}

/// A peer: pods (by pod and/or namespace labels) or an address block.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkPolicyPeer {
    /// Pods by label; in the policy's namespace unless `namespaceSelector` is also given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<LabelSelector>,
    /// Namespaces by label; `{}` is every namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// An address block; not together with the selectors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_block: Option<IpBlock>,
}

/// An address block with exceptions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IpBlock {
    /// A prefix such as `10.0.0.0/8`.
    #[schemars(extend("format" = "cidr"))]
    pub cidr: String,
    /// Prefixes strictly inside `cidr` that are not part of the block.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "cidr_list")]
    pub except: Option<Vec<String>>,
}

/// A port (number or named container port), an optional range end, and a protocol.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NetworkPolicyPort {
    /// `TCP` (default), `UDP` or `SCTP`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<Protocol>,
    /// A port number or a named container port; unset means every port.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<IntOrString>,
    /// The last port of a range starting at a numeric `port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_port: Option<i32>,
}

impl NetworkPolicyPort {
    pub fn protocol(&self) -> Protocol {
        self.protocol.unwrap_or_default()
    }
}

/// The protocols of NetworkPolicy ports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum Protocol {
    #[default]
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
    #[serde(rename = "SCTP")]
    Sctp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

/// A port number or a port name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum IntOrString {
    Int(i32),
    String(String),
}
