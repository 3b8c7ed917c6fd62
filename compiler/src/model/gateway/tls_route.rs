//! TLSRoute: TLS connections routed by SNI host name to backends, without terminating TLS at
//! the Gateway (or after termination, where the implementation supports it).

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{BackendRef, DNS_SUBDOMAIN_PATTERN, DefaultGatewayScope, Hostname, ParentReference, SECTION_NAME_HELP};
use crate::model::meta::ObjectMeta;

/// A TLS route. The schema is the most permissive of the accepted versions
/// (`v1alpha2`); the stricter rules of `v1alpha3` and `v1` (hostnames required, a single rule)
/// are checked per version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TLSRoute {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: TLSRouteSpec,
    /// Written by the controllers; accepted and not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TLSRouteSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub parent_refs: Vec<ParentReference>,
    /// SNI host names; required (at least one) from `v1alpha3` on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 1024))]
    pub hostnames: Vec<Hostname>,
    /// The rules; exactly one from `v1alpha3` on.
    #[schemars(length(min = 1, max = 16))]
    pub rules: Vec<TLSRouteRule>,
    /// Whether the route attaches to default Gateways (experimental channel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_default_gateways: Option<DefaultGatewayScope>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TLSRouteRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), pattern(DNS_SUBDOMAIN_PATTERN), extend("x-polc-pattern-help" = SECTION_NAME_HELP))]
    pub name: Option<String>,
    /// Where the connections go, by weight.
    #[schemars(length(min = 1, max = 16))]
    pub backend_refs: Vec<BackendRef>,
}
