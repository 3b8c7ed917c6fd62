//! Gateway: listeners (port, protocol, hostname, TLS) that routes attach to, and the addresses
//! they are served on.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{
    AnnotationValue, DNS_SUBDOMAIN_PATTERN, GATEWAY_GROUP, GROUP_HELP, GROUP_PATTERN, Hostname, KIND_HELP, KIND_PATTERN, LabelValue, NAMESPACE_HELP,
    NAMESPACE_PATTERN, SECTION_NAME_HELP,
};
use crate::model::meta::{LabelSelector, ObjectMeta};

/// A listener protocol: a core name or a domain-prefixed implementation-specific one.
pub const PROTOCOL_PATTERN: &str = r"^[a-zA-Z0-9]([-a-zA-Z0-9]*[a-zA-Z0-9])?$|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9]+$";
pub const PROTOCOL_HELP: &str = "`HTTP`, `HTTPS`, `TLS`, `TCP`, `UDP`, or an implementation-specific protocol such as `example.com/proto`";

/// A Gateway address type: a core type or a domain-prefixed implementation-specific one.
pub const ADDRESS_TYPE_PATTERN: &str =
    r"^Hostname|IPAddress|NamedAddress|[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9\/\-._~%!$&'()*+,;=:]+$";
pub const ADDRESS_TYPE_HELP: &str = "`IPAddress`, `Hostname`, `NamedAddress`, or a domain-prefixed implementation-specific type";

/// A Gateway: where traffic enters, and which routes may attach.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Gateway {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: GatewaySpec,
    /// Written by the controller; accepted and not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewaySpec {
    /// The GatewayClass this Gateway belongs to.
    #[schemars(length(min = 1, max = 253))]
    pub gateway_class_name: String,
    /// The listeners; names are unique.
    #[schemars(length(min = 1, max = 64), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub listeners: Vec<Listener>,
    /// Addresses requested for the Gateway.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub addresses: Vec<GatewayAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub infrastructure: Option<GatewayInfrastructure>,
    /// Which ListenerSets may attach listeners to this Gateway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_listeners: Option<AllowedListeners>,
    /// Gateway-wide TLS settings (client certificate towards backends, client validation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<GatewayTlsConfig>,
    /// Whether this is a default Gateway for routes that ask for one (experimental channel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_scope: Option<super::common::DefaultGatewayScope>,
}

/// One listener: a port, a protocol and optionally a hostname.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Listener {
    /// Unique within the Gateway; routes select it with `sectionName`.
    #[schemars(length(min = 1, max = 253), pattern(DNS_SUBDOMAIN_PATTERN), extend("x-polc-pattern-help" = SECTION_NAME_HELP))]
    pub name: String,
    /// The host name (SNI or Host header) this listener serves; not allowed for TCP and UDP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<Hostname>,
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    #[schemars(length(min = 1, max = 255), pattern(PROTOCOL_PATTERN), extend("x-polc-pattern-help" = PROTOCOL_HELP))]
    pub protocol: String,
    /// TLS settings; required for HTTPS and TLS, not allowed for HTTP, TCP and UDP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<ListenerTlsConfig>,
    /// Which routes may attach; defaults to routes of the Gateway's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_routes: Option<AllowedRoutes>,
}

impl Listener {
    /// The hostname, treating an empty one as absent.
    pub fn hostname(&self) -> Option<&str> {
        self.hostname.as_ref().map(Hostname::as_str).filter(|hostname| !hostname.is_empty())
    }
}

/// TLS settings of a listener.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListenerTlsConfig {
    /// `Terminate` (the default) or `Passthrough`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Terminate"))]
    pub mode: Option<TlsMode>,
    /// Certificates (Secrets by default) for `Terminate`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub certificate_refs: Vec<SecretObjectReference>,
    /// Implementation-specific TLS options.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 16))]
    pub options: BTreeMap<String, AnnotationValue>,
}

impl ListenerTlsConfig {
    pub fn mode(&self) -> TlsMode {
        self.mode.unwrap_or(TlsMode::Terminate)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum TlsMode {
    Terminate,
    Passthrough,
}

impl TlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Terminate => "Terminate",
            TlsMode::Passthrough => "Passthrough",
        }
    }
}

/// A reference to a Secret (or another certificate-holding kind).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretObjectReference {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253), pattern(GROUP_PATTERN), extend("x-polc-pattern-help" = GROUP_HELP, "default" = ""))]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), pattern(KIND_PATTERN), extend("x-polc-pattern-help" = KIND_HELP, "default" = "Secret"))]
    pub kind: Option<String>,
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Defaults to the Gateway's namespace; another namespace needs a ReferenceGrant there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), pattern(NAMESPACE_PATTERN), extend("x-polc-pattern-help" = NAMESPACE_HELP))]
    pub namespace: Option<String>,
}

impl SecretObjectReference {
    pub fn group(&self) -> &str {
        self.group.as_deref().unwrap_or("")
    }

    pub fn kind(&self) -> &str {
        self.kind.as_deref().unwrap_or("Secret")
    }
}

/// Which routes may attach to a listener.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AllowedRoutes {
    /// Namespaces routes may come from; defaults to the Gateway's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = {"from": "Same"}))]
    pub namespaces: Option<RouteNamespaces>,
    /// Route kinds allowed; when empty, the kinds the listener's protocol supports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8))]
    pub kinds: Vec<RouteGroupKind>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteNamespaces {
    /// `Same` (the default), `All` or `Selector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Same"))]
    pub from: Option<FromNamespaces>,
    /// Labels of the namespaces allowed, with `from: Selector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

impl RouteNamespaces {
    pub fn from(&self) -> FromNamespaces {
        self.from.unwrap_or(FromNamespaces::Same)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum FromNamespaces {
    All,
    Selector,
    Same,
}

/// A route kind, by group and kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RouteGroupKind {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253), pattern(GROUP_PATTERN), extend("x-polc-pattern-help" = GROUP_HELP, "default" = GATEWAY_GROUP))]
    pub group: Option<String>,
    #[schemars(length(min = 1, max = 63), pattern(KIND_PATTERN), extend("x-polc-pattern-help" = KIND_HELP))]
    pub kind: String,
}

impl RouteGroupKind {
    pub fn group(&self) -> &str {
        self.group.as_deref().unwrap_or(GATEWAY_GROUP)
    }
}

/// An address requested for the Gateway.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayAddress {
    /// `IPAddress` (the default), `Hostname`, `NamedAddress` or implementation-specific.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), pattern(ADDRESS_TYPE_PATTERN), extend("x-polc-pattern-help" = ADDRESS_TYPE_HELP, "default" = "IPAddress"))]
    pub address_type: Option<String>,
    /// The address; may be empty to let the implementation choose one of this type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub value: Option<String>,
}

impl GatewayAddress {
    pub fn address_type(&self) -> &str {
        self.address_type.as_deref().unwrap_or("IPAddress")
    }
}

/// Labels, annotations and parameters for the resources the implementation creates.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayInfrastructure {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 8))]
    pub labels: BTreeMap<String, LabelValue>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(extend("maxProperties" = 16))]
    pub annotations: BTreeMap<String, AnnotationValue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters_ref: Option<LocalParametersReference>,
}

/// A reference to a parameters object in the Gateway's namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalParametersReference {
    #[schemars(length(max = 253), pattern(GROUP_PATTERN), extend("x-polc-pattern-help" = GROUP_HELP))]
    pub group: String,
    #[schemars(length(min = 1, max = 63), pattern(KIND_PATTERN), extend("x-polc-pattern-help" = KIND_HELP))]
    pub kind: String,
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// Which ListenerSets may attach to the Gateway.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AllowedListeners {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = {"from": "None"}))]
    pub namespaces: Option<ListenerNamespaces>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListenerNamespaces {
    /// `None` (the default), `Same`, `All` or `Selector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "None"))]
    pub from: Option<FromListenerNamespaces>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum FromListenerNamespaces {
    All,
    Selector,
    Same,
    None,
}

/// Gateway-wide TLS settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayTlsConfig {
    /// TLS towards backends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<GatewayBackendTls>,
    /// Validation of client certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontend: Option<FrontendTlsConfig>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayBackendTls {
    /// The client certificate the Gateway presents to backends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate_ref: Option<SecretObjectReference>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FrontendTlsConfig {
    /// Client validation for every HTTPS listener without a per-port setting.
    pub default: FrontendTlsSettings,
    /// Per-port overrides; ports are unique.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["port"]))]
    pub per_port: Vec<FrontendTlsPortConfig>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FrontendTlsSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation: Option<FrontendTlsValidation>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FrontendTlsPortConfig {
    #[schemars(range(min = 1, max = 65535))]
    pub port: i32,
    pub tls: FrontendTlsSettings,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FrontendTlsValidation {
    /// CA certificates (ConfigMaps or Secrets) client certificates are checked against.
    #[schemars(length(min = 1, max = 16))]
    pub ca_certificate_refs: Vec<ObjectReference>,
    /// `AllowValidOnly` (the default) or `AllowInsecureFallback`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "AllowValidOnly"))]
    pub mode: Option<FrontendValidationMode>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum FrontendValidationMode {
    AllowValidOnly,
    AllowInsecureFallback,
}

/// A reference to an object by group, kind, name and optional namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectReference {
    #[schemars(length(max = 253), pattern(GROUP_PATTERN), extend("x-polc-pattern-help" = GROUP_HELP))]
    pub group: String,
    #[schemars(length(min = 1, max = 63), pattern(KIND_PATTERN), extend("x-polc-pattern-help" = KIND_HELP))]
    pub kind: String,
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), pattern(NAMESPACE_PATTERN), extend("x-polc-pattern-help" = NAMESPACE_HELP))]
    pub namespace: Option<String>,
}
