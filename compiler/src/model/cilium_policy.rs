//! CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy (`cilium.io/v2`).
//!
//! Field names, enums and limits follow the upstream CRD schemas (current upstream main,
//! 1.20.0-dev: `log`, `description`, the extended IP protocols, `serverNames` limits). Two
//! departures, both so that checks can say precisely what is wrong instead of a bare schema
//! error:
//! - `fromRequires`/`toRequires` accept any list here; upstream pins them to `maxItems: 0`
//!   since Cilium 1.19, and the checks reject any use with a message saying so.
//! - the Kafka and generic L7 rules (`kafka`, `l7proto`, `l7`) of Cilium 1.18/1.19 are still
//!   modelled; they were removed from the CRD in Cilium 1.20, and the checks warn about them.
//!
//! Everything the CRD expresses with CEL, `oneOf` or `anyOf` (spec or specs, exactly one
//! subject selector, at least one rule section, one L7 kind...) and Cilium's rule sanitizer
//! are checks in `crate::checks::cilium_policy`.
//!
//! Optional lists are `Option<Vec<_>>`: Cilium distinguishes a missing peer list (no L3
//! restriction) from an empty one (selects nothing).

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::meta::{LabelSelector, ObjectMeta};

/// The schema of an optional list of CIDR prefixes.
fn cidr_list(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({"type": ["array", "null"], "items": {"type": "string", "format": "cidr"}})
}

/// The schema of `serverNames`: a set of at least one TLS server name (wildcards allowed).
fn server_name_list(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": ["array", "null"],
        "minItems": 1,
        "x-kubernetes-list-type": "set",
        "items": {
            "type": "string",
            "maxLength": 255,
            "pattern": "^([-a-zA-Z0-9_*]+[.]?)+$",
            "x-polc-pattern-help": "a TLS server name: letters, digits, `-`, `_`, `.` and the wildcard `*`; not empty"
        }
    })
}

/// A namespaced Cilium network policy: `spec` (one rule) and/or `specs` (a list of rules).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CiliumNetworkPolicy {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// One policy rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<Rule>,
    /// A list of policy rules, all applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specs: Option<Vec<Rule>>,
    /// Written by Cilium; accepted unchecked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

/// A cluster-scoped Cilium network policy; the same rules as [`CiliumNetworkPolicy`], and
/// `nodeSelector` (host policies) is allowed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CiliumClusterwideNetworkPolicy {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// One policy rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<Rule>,
    /// A list of policy rules, all applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub specs: Option<Vec<Rule>>,
    /// Written by Cilium; accepted unchecked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

impl CiliumNetworkPolicy {
    /// Every rule of the policy (`spec` first, then `specs`).
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.spec.iter().chain(self.specs.iter().flatten())
    }
}

impl CiliumClusterwideNetworkPolicy {
    /// Every rule of the policy (`spec` first, then `specs`).
    pub fn rules(&self) -> impl Iterator<Item = &Rule> {
        self.spec.iter().chain(self.specs.iter().flatten())
    }
}

/// One policy rule: a subject (endpoints or nodes) and what it may send and receive.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-polc-field-help" = {"podSelector": "Cilium policies select their pods with `endpointSelector` (`podSelector` is Kubernetes NetworkPolicy syntax)", "selector": "Cilium policies select their pods with `endpointSelector`"}))]
pub struct Rule {
    /// The endpoints (pods) this rule applies to. Exactly one of `endpointSelector` and
    /// `nodeSelector` is required.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint_selector: Option<LabelSelector>,
    /// The nodes this rule applies to (host firewall). Only in CiliumClusterwideNetworkPolicy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<LabelSelector>,
    /// Allowed incoming traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<Vec<IngressRule>>,
    /// Denied incoming traffic; denies win over allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress_deny: Option<Vec<IngressDenyRule>>,
    /// Allowed outgoing traffic.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<Vec<EgressRule>>,
    /// Denied outgoing traffic; denies win over allows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress_deny: Option<Vec<EgressDenyRule>>,
    /// Labels to re-identify the rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<RuleLabel>>,
    /// Free-form description of the rule's purpose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether the subject gets a default-deny posture per direction. Unset: true for each
    /// direction that has rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable_default_deny: Option<DefaultDenyConfig>,
    /// Policy-specific Hubble logging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<LogConfig>,
}

impl Rule {
    pub fn ingress(&self) -> &[IngressRule] {
        self.ingress.as_deref().unwrap_or_default()
    }

    pub fn ingress_deny(&self) -> &[IngressDenyRule] {
        self.ingress_deny.as_deref().unwrap_or_default()
    }

    pub fn egress(&self) -> &[EgressRule] {
        self.egress.as_deref().unwrap_or_default()
    }

    pub fn egress_deny(&self) -> &[EgressDenyRule] {
        self.egress_deny.as_deref().unwrap_or_default()
    }

    /// Whether this is a host policy (selects nodes).
    pub fn is_host_policy(&self) -> bool {
        self.node_selector.is_some()
    }
}

/// `enableDefaultDeny`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DefaultDenyConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<bool>,
}

/// `log`: a value included in Hubble flows that match the rule.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LogConfig {
    /// At most 32 printable characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 32), regex(pattern = r"^\PC*$"), extend("x-polc-pattern-help" = "use printable characters only (no control characters)"))]
    pub value: Option<String>,
}

/// One rule label.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RuleLabel {
    pub key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

/// An allow rule for incoming traffic. At most one peer kind (`from*`) per rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-polc-field-help" = {"auth": "the field is `authentication`, with a `mode`: write `authentication: {mode: required}`", "toEndpoints": "in an `ingress` rule the peers are `fromEndpoints`; `toEndpoints` is for egress rules", "toCIDR": "in an `ingress` rule the peers are `fromCIDR`; `toCIDR` is for egress rules", "toCIDRSet": "in an `ingress` rule the peers are `fromCIDRSet`; `toCIDRSet` is for egress rules", "toEntities": "in an `ingress` rule the peers are `fromEntities`; `toEntities` is for egress rules", "toNodes": "in an `ingress` rule the peers are `fromNodes`; `toNodes` is for egress rules", "toGroups": "in an `ingress` rule the peers are `fromGroups`; `toGroups` is for egress rules"}))]
pub struct IngressRule {
    /// Peer endpoints, by label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_endpoints: Option<Vec<LabelSelector>>,
    /// Removed in Cilium 1.19; any use is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("deprecated" = true))]
    pub from_requires: Option<Vec<serde_json::Value>>,
    /// Peer addresses outside the cluster, as CIDRs.
    #[serde(default, rename = "fromCIDR", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "cidr_list")]
    pub from_cidr: Option<Vec<String>>,
    /// Peer CIDRs with exceptions, or CiliumCIDRGroups.
    #[serde(default, rename = "fromCIDRSet", skip_serializing_if = "Option::is_none")]
    pub from_cidr_set: Option<Vec<CidrRule>>,
    /// Peer entities (`world`, `cluster`, `host`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_entities: Option<Vec<Entity>>,
    /// Peer groups from a cloud provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_groups: Option<Vec<Groups>>,
    /// Peer nodes, by node label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_nodes: Option<Vec<LabelSelector>>,
    /// Allowed ports, with optional L7 rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_ports: Option<Vec<PortRule>>,
    /// Allowed ICMP types; not together with `toPorts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmps: Option<Vec<IcmpRule>>,
    /// Required mutual authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Authentication>,
}

/// A deny rule for incoming traffic: peers and ports only (no L7, no authentication).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-polc-field-help" = {"authentication": "deny rules carry no authentication: Cilium drops the traffic before any handshake; require authentication in an `ingress` (allow) rule instead", "auth": "deny rules carry no authentication; require it in an `ingress` (allow) rule with `authentication: {mode: required}`", "toEndpoints": "in an `ingressDeny` rule the peers are `fromEndpoints`; `toEndpoints` is for egress rules", "toCIDR": "in an `ingressDeny` rule the peers are `fromCIDR`; `toCIDR` is for egress rules", "toCIDRSet": "in an `ingressDeny` rule the peers are `fromCIDRSet`; `toCIDRSet` is for egress rules", "toEntities": "in an `ingressDeny` rule the peers are `fromEntities`; `toEntities` is for egress rules", "toNodes": "in an `ingressDeny` rule the peers are `fromNodes`; `toNodes` is for egress rules", "toGroups": "in an `ingressDeny` rule the peers are `fromGroups`; `toGroups` is for egress rules", "toFQDNs": "DNS names can only be allowed, on egress: `toFQDNs` belongs in `egress` rules"}))]
pub struct IngressDenyRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_endpoints: Option<Vec<LabelSelector>>,
    /// Removed in Cilium 1.19; any use is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("deprecated" = true))]
    pub from_requires: Option<Vec<serde_json::Value>>,
    #[serde(default, rename = "fromCIDR", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "cidr_list")]
    pub from_cidr: Option<Vec<String>>,
    #[serde(default, rename = "fromCIDRSet", skip_serializing_if = "Option::is_none")]
    pub from_cidr_set: Option<Vec<CidrRule>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_entities: Option<Vec<Entity>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_groups: Option<Vec<Groups>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_nodes: Option<Vec<LabelSelector>>,
    /// Denied ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_ports: Option<Vec<PortDenyRule>>,
    /// Denied ICMP types; not together with `toPorts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmps: Option<Vec<IcmpRule>>,
}

/// An allow rule for outgoing traffic. At most one peer kind (`to*`) per rule.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-polc-field-help" = {"auth": "the field is `authentication`, with a `mode`: write `authentication: {mode: required}`", "fromEndpoints": "in an `egress` rule the peers are `toEndpoints`; `fromEndpoints` is for ingress rules", "fromCIDR": "in an `egress` rule the peers are `toCIDR`; `fromCIDR` is for ingress rules", "fromCIDRSet": "in an `egress` rule the peers are `toCIDRSet`; `fromCIDRSet` is for ingress rules", "fromEntities": "in an `egress` rule the peers are `toEntities`; `fromEntities` is for ingress rules", "fromNodes": "in an `egress` rule the peers are `toNodes`; `fromNodes` is for ingress rules", "fromGroups": "in an `egress` rule the peers are `toGroups`; `fromGroups` is for ingress rules"}))]
pub struct EgressRule {
    /// Peer endpoints, by label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_endpoints: Option<Vec<LabelSelector>>,
    /// Removed in Cilium 1.19; any use is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("deprecated" = true))]
    pub to_requires: Option<Vec<serde_json::Value>>,
    /// Peer addresses outside the cluster, as CIDRs.
    #[serde(default, rename = "toCIDR", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "cidr_list")]
    pub to_cidr: Option<Vec<String>>,
    /// Peer CIDRs with exceptions, or CiliumCIDRGroups.
    #[serde(default, rename = "toCIDRSet", skip_serializing_if = "Option::is_none")]
    pub to_cidr_set: Option<Vec<CidrRule>>,
    /// Peer entities (`world`, `cluster`, `kube-apiserver`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_entities: Option<Vec<Entity>>,
    /// Peer Kubernetes services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_services: Option<Vec<Service>>,
    /// Peer DNS names; needs a DNS rule so the proxy sees the lookups.
    #[serde(default, rename = "toFQDNs", skip_serializing_if = "Option::is_none")]
    pub to_fqdns: Option<Vec<FqdnSelector>>,
    /// Peer groups from a cloud provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_groups: Option<Vec<Groups>>,
    /// Peer nodes, by node label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_nodes: Option<Vec<LabelSelector>>,
    /// Allowed ports, with optional L7 rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_ports: Option<Vec<PortRule>>,
    /// Allowed ICMP types; not together with `toPorts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmps: Option<Vec<IcmpRule>>,
    /// Required mutual authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authentication: Option<Authentication>,
}

/// A deny rule for outgoing traffic: peers and ports only (no FQDNs, no L7, no authentication).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-polc-field-help" = {"authentication": "deny rules carry no authentication: Cilium drops the traffic before any handshake; require authentication in an `egress` (allow) rule instead", "auth": "deny rules carry no authentication; require it in an `egress` (allow) rule with `authentication: {mode: required}`", "fromEndpoints": "in an `egressDeny` rule the peers are `toEndpoints`; `fromEndpoints` is for ingress rules", "fromCIDR": "in an `egressDeny` rule the peers are `toCIDR`; `fromCIDR` is for ingress rules", "fromCIDRSet": "in an `egressDeny` rule the peers are `toCIDRSet`; `fromCIDRSet` is for ingress rules", "fromEntities": "in an `egressDeny` rule the peers are `toEntities`; `fromEntities` is for ingress rules", "fromNodes": "in an `egressDeny` rule the peers are `toNodes`; `fromNodes` is for ingress rules", "fromGroups": "in an `egressDeny` rule the peers are `toGroups`; `fromGroups` is for ingress rules", "toFQDNs": "`toFQDNs` is only allowed in `egress` (allow) rules: Cilium cannot deny by DNS name; allow only the names wanted instead"}))]
pub struct EgressDenyRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_endpoints: Option<Vec<LabelSelector>>,
    /// Removed in Cilium 1.19; any use is an error.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("deprecated" = true))]
    pub to_requires: Option<Vec<serde_json::Value>>,
    #[serde(default, rename = "toCIDR", skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "cidr_list")]
    pub to_cidr: Option<Vec<String>>,
    #[serde(default, rename = "toCIDRSet", skip_serializing_if = "Option::is_none")]
    pub to_cidr_set: Option<Vec<CidrRule>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_entities: Option<Vec<Entity>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_services: Option<Vec<Service>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_groups: Option<Vec<Groups>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_nodes: Option<Vec<LabelSelector>>,
    /// Denied ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_ports: Option<Vec<PortDenyRule>>,
    /// Denied ICMP types; not together with `toPorts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub icmps: Option<Vec<IcmpRule>>,
}

/// The entities of `fromEntities`/`toEntities`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Entity {
    All,
    World,
    Cluster,
    Host,
    Init,
    Ingress,
    Unmanaged,
    RemoteNode,
    Health,
    None,
    KubeApiserver,
}

impl Entity {
    pub fn as_str(self) -> &'static str {
        match self {
            Entity::All => "all",
            Entity::World => "world",
            Entity::Cluster => "cluster",
            Entity::Host => "host",
            Entity::Init => "init",
            Entity::Ingress => "ingress",
            Entity::Unmanaged => "unmanaged",
            Entity::RemoteNode => "remote-node",
            Entity::Health => "health",
            Entity::None => "none",
            Entity::KubeApiserver => "kube-apiserver",
        }
    }
}

/// One `fromCIDRSet`/`toCIDRSet` item: exactly one of `cidr`, `cidrGroupRef` and
/// `cidrGroupSelector`, and for `cidr`, prefixes to leave out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CidrRule {
    /// A prefix in `a.b.c.d/n` or `x::/n` form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "cidr"))]
    pub cidr: Option<String>,
    /// The name of a CiliumCIDRGroup.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 253),
        regex(pattern = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"),
        extend("x-polc-pattern-help" = "a CiliumCIDRGroup name: lower-case letters, digits, `-` and `.`, starting and ending with a letter or digit")
    )]
    pub cidr_group_ref: Option<String>,
    /// CiliumCIDRGroups selected by label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cidr_group_selector: Option<LabelSelector>,
    /// Prefixes inside `cidr` that are not allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "cidr_list")]
    pub except: Option<Vec<String>>,
}

/// A group of peers from a cloud provider.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Groups {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsGroup>,
}

/// AWS security groups and instance labels.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AwsGroup {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_groups_names: Option<Vec<String>>,
}

/// One `toServices` item: a service by name, or services by label.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Service {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k8s_service: Option<K8sServiceNamespace>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k8s_service_selector: Option<K8sServiceSelectorNamespace>,
}

/// A service by name. An empty namespace matches the name in any namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct K8sServiceNamespace {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// Services by label. An empty namespace matches services in any namespace.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct K8sServiceSelectorNamespace {
    pub selector: LabelSelector,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A DNS name (`matchName`) or wildcard pattern (`matchPattern`); exactly one of them.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FqdnSelector {
    /// An exact DNS name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 255),
        regex(pattern = r"^([-a-zA-Z0-9_]+[.]?)+$"),
        extend(
            "x-polc-pattern-help" = "a DNS name: letters, digits, `-`, `_` and `.`; for a wildcard such as `*.example.com` use `matchPattern` instead of `matchName`"
        )
    )]
    pub match_name: Option<String>,
    /// A DNS name with `*` wildcards (`*.example.com`, `**.example.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        length(max = 255),
        regex(pattern = r"^([-a-zA-Z0-9_*]+[.]?)+$"),
        extend("x-polc-pattern-help" = "a DNS name pattern: letters, digits, `-`, `_`, `.` and the wildcard `*`")
    )]
    pub match_pattern: Option<String>,
}

/// Allowed ports and optional L7 rules.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortRule {
    /// Port/protocol pairs (at most 40).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 40))]
    pub ports: Option<Vec<PortProtocol>>,
    /// TLS context for connections the L7 proxy terminates.
    #[serde(default, rename = "terminatingTLS", skip_serializing_if = "Option::is_none")]
    pub terminating_tls: Option<TlsContext>,
    /// TLS context for connections the L7 proxy originates.
    #[serde(default, rename = "originatingTLS", skip_serializing_if = "Option::is_none")]
    pub originating_tls: Option<TlsContext>,
    /// Allowed TLS SNI values.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "server_name_list")]
    pub server_names: Option<Vec<String>>,
    /// A custom Envoy listener to redirect the traffic to (egress only, no L7 rules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener: Option<Listener>,
    /// L7 rules; exactly one kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rules: Option<L7Rules>,
}

impl PortRule {
    pub fn ports(&self) -> &[PortProtocol] {
        self.ports.as_deref().unwrap_or_default()
    }
}

/// Denied ports.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(extend("x-polc-field-help" = {"rules": "deny rules cannot have L7 rules: Cilium denies whole ports; to filter requests, allow only the wanted requests with L7 rules in an `ingress`/`egress` rule", "serverNames": "`serverNames` only works in allow rules (`ingress`/`egress`)", "listener": "`listener` only works in `egress` (allow) rules", "terminatingTLS": "TLS settings only work in allow rules (`ingress`/`egress`)", "originatingTLS": "TLS settings only work in allow rules (`ingress`/`egress`)"}))]
pub struct PortDenyRule {
    /// Port/protocol pairs (at most 40).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 40))]
    pub ports: Option<Vec<PortProtocol>>,
}

impl PortDenyRule {
    pub fn ports(&self) -> &[PortProtocol] {
        self.ports.as_deref().unwrap_or_default()
    }
}

/// A port (number or name, as a string), an optional range end, and a protocol.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortProtocol {
    /// A port number (`"80"`; `"0"` means every port) or a named container port (`"http"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(
        regex(pattern = r"^(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4})|([a-zA-Z0-9]-?)*[a-zA-Z](-?[a-zA-Z0-9])*$"),
        extend(
            "x-polc-pattern-help" = "a port number from 0 to 65535, or a port name (up to 15 letters, digits and `-`, with at least one letter)"
        )
    )]
    pub port: Option<String>,
    /// The last port of a range starting at `port`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 65535))]
    pub end_port: Option<i32>,
    /// The protocol; unset or `ANY` means TCP, UDP and SCTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<L4Proto>,
}

/// The protocols of `toPorts`. The extended IP protocols (VRRP...AH) carry no ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum L4Proto {
    #[serde(rename = "TCP")]
    Tcp,
    #[serde(rename = "UDP")]
    Udp,
    #[serde(rename = "SCTP")]
    Sctp,
    #[serde(rename = "VRRP")]
    Vrrp,
    #[serde(rename = "IGMP")]
    Igmp,
    #[serde(rename = "GRE")]
    Gre,
    #[serde(rename = "IPIP")]
    Ipip,
    #[serde(rename = "IPV6")]
    Ipv6,
    #[serde(rename = "ESP")]
    Esp,
    #[serde(rename = "AH")]
    Ah,
    #[serde(rename = "ANY")]
    Any,
}

impl L4Proto {
    pub fn as_str(self) -> &'static str {
        match self {
            L4Proto::Tcp => "TCP",
            L4Proto::Udp => "UDP",
            L4Proto::Sctp => "SCTP",
            L4Proto::Vrrp => "VRRP",
            L4Proto::Igmp => "IGMP",
            L4Proto::Gre => "GRE",
            L4Proto::Ipip => "IPIP",
            L4Proto::Ipv6 => "IPV6",
            L4Proto::Esp => "ESP",
            L4Proto::Ah => "AH",
            L4Proto::Any => "ANY",
        }
    }

    /// An IP protocol without transport ports (needs `enable-extended-ip-protocols`).
    pub fn is_extended(self) -> bool {
        !matches!(self, L4Proto::Tcp | L4Proto::Udp | L4Proto::Sctp | L4Proto::Any)
    }
}

/// TLS parameters for the L7 proxy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsContext {
    pub secret: Secret,
    #[serde(default, rename = "trustedCA", skip_serializing_if = "Option::is_none")]
    pub trusted_ca: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<String>,
}

/// A reference to a Kubernetes Secret.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Secret {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A custom Envoy listener.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Listener {
    pub envoy_config: EnvoyConfig,
    #[schemars(length(min = 1))]
    pub name: String,
    /// 1 (highest) to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 100))]
    pub priority: Option<u8>,
}

/// The CiliumEnvoyConfig that defines a listener.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvoyConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<EnvoyConfigKind>,
    #[schemars(length(min = 1))]
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum EnvoyConfigKind {
    CiliumEnvoyConfig,
    CiliumClusterwideEnvoyConfig,
}

/// L7 rules of a port rule. Exactly one kind may be given.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct L7Rules {
    /// HTTP rules (ingress and egress, TCP only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<Vec<PortRuleHttp>>,
    /// DNS rules (egress only, port 53).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<Vec<FqdnSelector>>,
    /// Kafka rules: deprecated in Cilium 1.18, removed from the CRD in Cilium 1.20.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("deprecated" = true))]
    pub kafka: Option<Vec<PortRuleKafka>>,
    /// Generic L7 parser name: removed in Cilium 1.20.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("deprecated" = true))]
    pub l7proto: Option<String>,
    /// Generic L7 key-value rules (with `l7proto`): removed in Cilium 1.20.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("deprecated" = true))]
    pub l7: Option<Vec<BTreeMap<String, String>>>,
}

impl L7Rules {
    /// The L7 kinds given (`http`, `dns`, `kafka`, `l7proto`), in that order.
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut kinds = Vec::new();
        if self.http.is_some() {
            kinds.push("http");
        }
        if self.dns.is_some() {
            kinds.push("dns");
        }
        if self.kafka.is_some() {
            kinds.push("kafka");
        }
        if self.l7proto.is_some() {
            kinds.push("l7proto");
        }
        kinds
    }

    /// Whether no rule is given (Cilium then applies no L7 restriction).
    pub fn is_empty(&self) -> bool {
        self.http.as_ref().is_none_or(Vec::is_empty)
            && self.dns.as_ref().is_none_or(Vec::is_empty)
            && self.kafka.as_ref().is_none_or(Vec::is_empty)
            && self.l7.as_ref().is_none_or(Vec::is_empty)
    }
}

/// One HTTP rule; every field given must match. `path` and `method` are regular expressions.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortRuleHttp {
    /// A regular expression matched against the path (`/api/v1/.*`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// A regular expression matched against the method (`GET`, `GET|POST`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// A regular expression matched against the host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "idn-hostname"))]
    pub host: Option<String>,
    /// Headers that must be present (`X-Team: a` or just a name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headers: Option<Vec<String>>,
    /// Header matches with an action on mismatch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_matches: Option<Vec<HeaderMatch>>,
}

/// An HTTP header match.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeaderMatch {
    /// What to do when the header does not match; unset: deny the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mismatch: Option<MismatchAction>,
    #[schemars(length(min = 1))]
    pub name: String,
    /// A Secret holding the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Secret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum MismatchAction {
    #[serde(rename = "LOG")]
    Log,
    #[serde(rename = "ADD")]
    Add,
    #[serde(rename = "DELETE")]
    Delete,
    #[serde(rename = "REPLACE")]
    Replace,
}

/// One Kafka rule (deprecated).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PortRuleKafka {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<KafkaRole>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_version: Option<String>,
    #[serde(default, rename = "clientID", skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 255))]
    pub topic: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum KafkaRole {
    Produce,
    Consume,
}

/// An ICMP rule: a list of types.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IcmpRule {
    /// At most 40 types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 40))]
    pub fields: Option<Vec<IcmpField>>,
}

/// An ICMP type of a family.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IcmpField {
    /// `IPv4` (default) or `IPv6`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family: Option<IcmpFamily>,
    /// A type number (0-255) or name (`EchoRequest`).
    #[serde(rename = "type")]
    pub icmp_type: IcmpType,
}

impl IcmpField {
    pub fn family(&self) -> IcmpFamily {
        self.family.unwrap_or(IcmpFamily::IPv4)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum IcmpFamily {
    IPv4,
    IPv6,
}

/// An ICMP type: a number or a CamelCase name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(untagged)]
pub enum IcmpType {
    Number(i64),
    Name(String),
}

/// ICMPv4 type names and numbers, as Cilium knows them.
pub const ICMP_V4_TYPES: &[(&str, u8)] = &[
    ("EchoReply", 0),
    ("DestinationUnreachable", 3),
    ("Redirect", 5),
    ("Echo", 8),
    ("EchoRequest", 8),
    ("RouterAdvertisement", 9),
    ("RouterSelection", 10),
    ("TimeExceeded", 11),
    ("ParameterProblem", 12),
    ("Timestamp", 13),
    ("TimestampReply", 14),
    ("Photuris", 40),
    ("ExtendedEchoRequest", 42),
    ("ExtendedEchoReply", 43),
];

/// ICMPv6 type names and numbers, as Cilium knows them.
pub const ICMP_V6_TYPES: &[(&str, u8)] = &[
    ("DestinationUnreachable", 1),
    ("PacketTooBig", 2),
    ("TimeExceeded", 3),
    ("ParameterProblem", 4),
    ("EchoRequest", 128),
    ("EchoReply", 129),
    ("MulticastListenerQuery", 130),
    ("MulticastListenerReport", 131),
    ("MulticastListenerDone", 132),
    ("RouterSolicitation", 133),
    ("RouterAdvertisement", 134),
    ("NeighborSolicitation", 135),
    ("NeighborAdvertisement", 136),
    ("RedirectMessage", 137),
    ("RouterRenumbering", 138),
    ("ICMPNodeInformationQuery", 139),
    ("ICMPNodeInformationResponse", 140),
    ("InverseNeighborDiscoverySolicitation", 141),
    ("InverseNeighborDiscoveryAdvertisement", 142),
    ("HomeAgentAddressDiscoveryRequest", 144),
    ("HomeAgentAddressDiscoveryReply", 145),
    ("MobilePrefixSolicitation", 146),
    ("MobilePrefixAdvertisement", 147),
    ("DuplicateAddressRequestCodeSuffix", 157),
    ("DuplicateAddressConfirmationCodeSuffix", 158),
    ("ExtendedEchoRequest", 160),
    ("ExtendedEchoReply", 161),
];

impl IcmpFamily {
    pub fn as_str(self) -> &'static str {
        match self {
            IcmpFamily::IPv4 => "IPv4",
            IcmpFamily::IPv6 => "IPv6",
        }
    }

    /// The type names of this family.
    pub fn type_names(self) -> &'static [(&'static str, u8)] {
        match self {
            IcmpFamily::IPv4 => ICMP_V4_TYPES,
            IcmpFamily::IPv6 => ICMP_V6_TYPES,
        }
    }

    /// The type number of `name` in this family.
    pub fn type_number(self, name: &str) -> Option<u8> {
        self.type_names().iter().find(|(known, _)| *known == name).map(|(_, number)| *number)
    }
}

impl IcmpType {
    /// The type number in `family`, when the number is in range or the name is known.
    pub fn number(&self, family: IcmpFamily) -> Option<u8> {
        match self {
            IcmpType::Number(number) => u8::try_from(*number).ok(),
            // The CRD's pattern allows the numbers 0-255 written without sign or leading zero.
            IcmpType::Name(name) if name.bytes().all(|b| b.is_ascii_digit()) && !name.is_empty() => {
                if name.len() > 1 && name.starts_with('0') {
                    None
                } else {
                    name.parse::<u8>().ok()
                }
            }
            IcmpType::Name(name) => family.type_number(name),
        }
    }
}

/// `authentication`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Authentication {
    pub mode: AuthenticationMode,
}

/// `disabled`, `required` (SPIFFE mutual authentication) or `test-always-fail`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum AuthenticationMode {
    Disabled,
    Required,
    TestAlwaysFail,
}
