//! GRPCRoute: gRPC request matching (service, method, metadata headers), filters, and weighted
//! backends, attached to Gateway listeners.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{
    DNS_SUBDOMAIN_PATTERN, DefaultGatewayScope, GROUP_HELP, GROUP_PATTERN, HeaderMatch, HeaderModifier, Hostname, KIND_HELP, KIND_PATTERN,
    LocalObjectReference, NAMESPACE_HELP, NAMESPACE_PATTERN, ParentReference, RequestMirror, SECTION_NAME_HELP, SessionPersistence, StringMatchType,
    backend_target,
};
use crate::model::meta::ObjectMeta;

/// A gRPC route.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GRPCRoute {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: GRPCRouteSpec,
    /// Written by the controllers; accepted and not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GRPCRouteSpec {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub parent_refs: Vec<ParentReference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub hostnames: Vec<Hostname>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub rules: Vec<GRPCRouteRule>,
    /// Whether the route attaches to default Gateways (experimental channel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_default_gateways: Option<DefaultGatewayScope>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GRPCRouteRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), pattern(DNS_SUBDOMAIN_PATTERN), extend("x-polc-pattern-help" = SECTION_NAME_HELP))]
    pub name: Option<String>,
    /// Requests matching any of these select the rule; when empty, every request.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub matches: Vec<GRPCRouteMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub filters: Vec<GRPCRouteFilter>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub backend_refs: Vec<GRPCBackendRef>,
    /// Session persistence (experimental channel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_persistence: Option<SessionPersistence>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GRPCRouteMatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<GRPCMethodMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub headers: Vec<HeaderMatch>,
}

/// Matches the gRPC service and/or method (`/service/method`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GRPCMethodMatch {
    /// `Exact` (the default) or `RegularExpression`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Exact"))]
    pub match_type: Option<StringMatchType>,
    /// The fully qualified service name, such as `foo.bar.Greeter`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub method: Option<String>,
}

impl GRPCMethodMatch {
    pub fn match_type(&self) -> StringMatchType {
        self.match_type.unwrap_or(StringMatchType::Exact)
    }
}

/// A gRPC filter: its `type` says which one of the configuration fields must be set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GRPCRouteFilter {
    #[serde(rename = "type")]
    pub filter_type: GRPCRouteFilterType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_header_modifier: Option<HeaderModifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_header_modifier: Option<HeaderModifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_mirror: Option<RequestMirror>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_ref: Option<LocalObjectReference>,
}

impl GRPCRouteFilter {
    /// The configuration fields that are set, as `(field name, filter type it belongs to)`.
    pub fn configured_fields(&self) -> Vec<(&'static str, GRPCRouteFilterType)> {
        let mut fields = Vec::new();
        if self.request_header_modifier.is_some() {
            fields.push(("requestHeaderModifier", GRPCRouteFilterType::RequestHeaderModifier));
        }
        if self.response_header_modifier.is_some() {
            fields.push(("responseHeaderModifier", GRPCRouteFilterType::ResponseHeaderModifier));
        }
        if self.request_mirror.is_some() {
            fields.push(("requestMirror", GRPCRouteFilterType::RequestMirror));
        }
        if self.extension_ref.is_some() {
            fields.push(("extensionRef", GRPCRouteFilterType::ExtensionRef));
        }
        fields
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum GRPCRouteFilterType {
    ResponseHeaderModifier,
    RequestHeaderModifier,
    RequestMirror,
    ExtensionRef,
}

impl GRPCRouteFilterType {
    pub fn as_str(self) -> &'static str {
        match self {
            GRPCRouteFilterType::ResponseHeaderModifier => "ResponseHeaderModifier",
            GRPCRouteFilterType::RequestHeaderModifier => "RequestHeaderModifier",
            GRPCRouteFilterType::RequestMirror => "RequestMirror",
            GRPCRouteFilterType::ExtensionRef => "ExtensionRef",
        }
    }

    pub fn field(self) -> &'static str {
        match self {
            GRPCRouteFilterType::ResponseHeaderModifier => "responseHeaderModifier",
            GRPCRouteFilterType::RequestHeaderModifier => "requestHeaderModifier",
            GRPCRouteFilterType::RequestMirror => "requestMirror",
            GRPCRouteFilterType::ExtensionRef => "extensionRef",
        }
    }

    /// Filters that may appear at most once per filter list.
    pub fn is_unique(self) -> bool {
        matches!(self, GRPCRouteFilterType::RequestHeaderModifier | GRPCRouteFilterType::ResponseHeaderModifier)
    }
}

/// A weighted backend of a gRPC rule, with its own filters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GRPCBackendRef {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253), pattern(GROUP_PATTERN), extend("x-polc-pattern-help" = GROUP_HELP, "default" = ""))]
    pub group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), pattern(KIND_PATTERN), extend("x-polc-pattern-help" = KIND_HELP, "default" = "Service"))]
    pub kind: Option<String>,
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), pattern(NAMESPACE_PATTERN), extend("x-polc-pattern-help" = NAMESPACE_HELP))]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1_000_000), extend("default" = 1))]
    pub weight: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub filters: Vec<GRPCRouteFilter>,
}

backend_target!(GRPCBackendRef);
