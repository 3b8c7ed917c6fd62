//! HTTPRoute: HTTP request matching (path, headers, query parameters, method), filters, and
//! weighted backends, attached to Gateway listeners.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{
    BackendObjectReference, DNS_SUBDOMAIN_PATTERN, DURATION_HELP, DURATION_PATTERN, DefaultGatewayScope, GROUP_HELP, GROUP_PATTERN, HeaderMatch,
    HeaderModifier, HeaderName, Hostname, KIND_HELP, KIND_PATTERN, LocalObjectReference, NAMESPACE_HELP, NAMESPACE_PATTERN, PATH_CHARACTERS_HELP,
    PATH_CHARACTERS_PATTERN, PRECISE_HOSTNAME_HELP, ParentReference, RequestMirror, SECTION_NAME_HELP, SessionPersistence, StringMatchType, backend_target,
};
use crate::model::meta::ObjectMeta;

/// A CORS origin: `*`, or a scheme, host (possibly with a leading wildcard) and optional port.
pub const CORS_ORIGIN_PATTERN: &str = r"(^\*$)|(^(http(s)?):\/\/(((\*\.)?([a-zA-Z0-9\-]+\.)*[a-zA-Z0-9-]+|\*)(:([0-9]{1,5}))?)$)";
pub const CORS_ORIGIN_HELP: &str = "`*`, or an origin such as `https://www.example.com`, `https://*.example.com` or `http://example.com:8080` (no path)";

/// An HTTP route.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HTTPRoute {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: HTTPRouteSpec,
    /// Written by the controllers; accepted and not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HTTPRouteSpec {
    /// The Gateways (or listeners of them) this route attaches to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub parent_refs: Vec<ParentReference>,
    /// Host names matched against the Host header; they must intersect the listener's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub hostnames: Vec<Hostname>,
    /// The rules; when absent, one rule matching every path and with no backend.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 16))]
    pub rules: Option<Vec<HTTPRouteRule>>,
    /// Whether the route attaches to default Gateways (experimental channel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_default_gateways: Option<DefaultGatewayScope>,
}

impl HTTPRouteSpec {
    /// The rules as written (empty when `rules` is absent; see [`HTTPRouteRule::default_rule`]).
    pub fn rules(&self) -> &[HTTPRouteRule] {
        self.rules.as_deref().unwrap_or_default()
    }
}

/// One rule: matches, filters and backends.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HTTPRouteRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), pattern(DNS_SUBDOMAIN_PATTERN), extend("x-polc-pattern-help" = SECTION_NAME_HELP))]
    pub name: Option<String>,
    /// Requests matching any of these select the rule; when absent, a `PathPrefix` match on `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64), extend("default" = [{"path": {"type": "PathPrefix", "value": "/"}}]))]
    pub matches: Option<Vec<HTTPRouteMatch>>,
    /// Filters applied to every request of the rule.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub filters: Vec<HTTPRouteFilter>,
    /// Where matching requests go; with none, they get a 500 (unless a filter answers them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub backend_refs: Vec<HTTPBackendRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<HTTPRouteTimeouts>,
    /// Retries (experimental channel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<HTTPRouteRetry>,
    /// Session persistence (experimental channel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_persistence: Option<SessionPersistence>,
}

impl HTTPRouteRule {
    /// The matches with the API default applied: absent means one `PathPrefix` match on `/`.
    pub fn effective_matches(&self) -> Vec<HTTPRouteMatch> {
        match &self.matches {
            Some(matches) => matches.clone(),
            None => vec![HTTPRouteMatch::default()],
        }
    }
}

/// Conditions a request must all meet.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HTTPRouteMatch {
    /// Defaults to a `PathPrefix` match on `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = {"type": "PathPrefix", "value": "/"}))]
    pub path: Option<HTTPPathMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub headers: Vec<HeaderMatch>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub query_params: Vec<HTTPQueryParamMatch>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<HTTPMethod>,
}

impl HTTPRouteMatch {
    /// The path match with its defaults applied.
    pub fn effective_path(&self) -> (PathMatchType, String) {
        match &self.path {
            Some(path) => (path.match_type(), path.value().to_owned()),
            None => (PathMatchType::PathPrefix, "/".to_owned()),
        }
    }
}

/// A path match.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HTTPPathMatch {
    /// `PathPrefix` (the default), `Exact` or `RegularExpression`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "PathPrefix"))]
    pub match_type: Option<PathMatchType>,
    /// Defaults to `/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024), extend("default" = "/"))]
    pub value: Option<String>,
}

impl HTTPPathMatch {
    pub fn match_type(&self) -> PathMatchType {
        self.match_type.unwrap_or(PathMatchType::PathPrefix)
    }

    pub fn value(&self) -> &str {
        self.value.as_deref().unwrap_or("/")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum PathMatchType {
    Exact,
    PathPrefix,
    RegularExpression,
}

impl PathMatchType {
    pub fn as_str(self) -> &'static str {
        match self {
            PathMatchType::Exact => "Exact",
            PathMatchType::PathPrefix => "PathPrefix",
            PathMatchType::RegularExpression => "RegularExpression",
        }
    }
}

/// A query parameter match.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HTTPQueryParamMatch {
    /// `Exact` (the default) or `RegularExpression`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Exact"))]
    pub match_type: Option<StringMatchType>,
    pub name: HeaderName,
    #[schemars(length(min = 1, max = 1024))]
    pub value: String,
}

impl HTTPQueryParamMatch {
    pub fn match_type(&self) -> StringMatchType {
        self.match_type.unwrap_or(StringMatchType::Exact)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum HTTPMethod {
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "HEAD")]
    Head,
    #[serde(rename = "POST")]
    Post,
    #[serde(rename = "PUT")]
    Put,
    #[serde(rename = "DELETE")]
    Delete,
    #[serde(rename = "CONNECT")]
    Connect,
    #[serde(rename = "OPTIONS")]
    Options,
    #[serde(rename = "TRACE")]
    Trace,
    #[serde(rename = "PATCH")]
    Patch,
}

/// A filter: its `type` says which one of the configuration fields must be set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HTTPRouteFilter {
    #[serde(rename = "type")]
    pub filter_type: HTTPRouteFilterType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_header_modifier: Option<HeaderModifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_header_modifier: Option<HeaderModifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_mirror: Option<RequestMirror>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_redirect: Option<HTTPRequestRedirectFilter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_rewrite: Option<HTTPURLRewriteFilter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cors: Option<HTTPCORSFilter>,
    /// External authorization (experimental channel).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub external_auth: Option<HTTPExternalAuthFilter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension_ref: Option<LocalObjectReference>,
}

impl HTTPRouteFilter {
    /// The configuration fields that are set, as `(field name, filter type it belongs to)`.
    pub fn configured_fields(&self) -> Vec<(&'static str, HTTPRouteFilterType)> {
        let mut fields = Vec::new();
        if self.request_header_modifier.is_some() {
            fields.push(("requestHeaderModifier", HTTPRouteFilterType::RequestHeaderModifier));
        }
        if self.response_header_modifier.is_some() {
            fields.push(("responseHeaderModifier", HTTPRouteFilterType::ResponseHeaderModifier));
        }
        if self.request_mirror.is_some() {
            fields.push(("requestMirror", HTTPRouteFilterType::RequestMirror));
        }
        if self.request_redirect.is_some() {
            fields.push(("requestRedirect", HTTPRouteFilterType::RequestRedirect));
        }
        if self.url_rewrite.is_some() {
            fields.push(("urlRewrite", HTTPRouteFilterType::URLRewrite));
        }
        if self.cors.is_some() {
            fields.push(("cors", HTTPRouteFilterType::CORS));
        }
        if self.external_auth.is_some() {
            fields.push(("externalAuth", HTTPRouteFilterType::ExternalAuth));
        }
        if self.extension_ref.is_some() {
            fields.push(("extensionRef", HTTPRouteFilterType::ExtensionRef));
        }
        fields
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[allow(clippy::upper_case_acronyms)]
pub enum HTTPRouteFilterType {
    RequestHeaderModifier,
    ResponseHeaderModifier,
    RequestMirror,
    RequestRedirect,
    URLRewrite,
    ExtensionRef,
    CORS,
    /// Experimental channel.
    ExternalAuth,
}

impl HTTPRouteFilterType {
    /// The filter's name as written in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            HTTPRouteFilterType::RequestHeaderModifier => "RequestHeaderModifier",
            HTTPRouteFilterType::ResponseHeaderModifier => "ResponseHeaderModifier",
            HTTPRouteFilterType::RequestMirror => "RequestMirror",
            HTTPRouteFilterType::RequestRedirect => "RequestRedirect",
            HTTPRouteFilterType::URLRewrite => "URLRewrite",
            HTTPRouteFilterType::ExtensionRef => "ExtensionRef",
            HTTPRouteFilterType::CORS => "CORS",
            HTTPRouteFilterType::ExternalAuth => "ExternalAuth",
        }
    }

    /// The configuration field this filter type requires.
    pub fn field(self) -> &'static str {
        match self {
            HTTPRouteFilterType::RequestHeaderModifier => "requestHeaderModifier",
            HTTPRouteFilterType::ResponseHeaderModifier => "responseHeaderModifier",
            HTTPRouteFilterType::RequestMirror => "requestMirror",
            HTTPRouteFilterType::RequestRedirect => "requestRedirect",
            HTTPRouteFilterType::URLRewrite => "urlRewrite",
            HTTPRouteFilterType::ExtensionRef => "extensionRef",
            HTTPRouteFilterType::CORS => "cors",
            HTTPRouteFilterType::ExternalAuth => "externalAuth",
        }
    }

    /// Core filters that may appear at most once per filter list.
    pub fn is_unique(self) -> bool {
        matches!(
            self,
            HTTPRouteFilterType::RequestHeaderModifier
                | HTTPRouteFilterType::ResponseHeaderModifier
                | HTTPRouteFilterType::RequestRedirect
                | HTTPRouteFilterType::URLRewrite
                | HTTPRouteFilterType::CORS
        )
    }
}

/// Answers the request with a redirect.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HTTPRequestRedirectFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheme: Option<RedirectScheme>,
    /// The host of the `Location`; no wildcard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), pattern(DNS_SUBDOMAIN_PATTERN), extend("x-polc-pattern-help" = PRECISE_HOSTNAME_HELP))]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<HTTPPathModifier>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
    /// 301, 302 (the default), 303, 307 or 308.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("enum" = [301, 302, 303, 307, 308], "default" = 302))]
    pub status_code: Option<i32>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum RedirectScheme {
    #[serde(rename = "http")]
    Http,
    #[serde(rename = "https")]
    Https,
}

/// Rewrites the host and/or path before forwarding.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HTTPURLRewriteFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), pattern(DNS_SUBDOMAIN_PATTERN), extend("x-polc-pattern-help" = PRECISE_HOSTNAME_HELP))]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<HTTPPathModifier>,
}

/// How a redirect or rewrite changes the path.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HTTPPathModifier {
    #[serde(rename = "type")]
    pub modifier_type: HTTPPathModifierType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub replace_full_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub replace_prefix_match: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum HTTPPathModifierType {
    ReplaceFullPath,
    ReplacePrefixMatch,
}

/// Cross-origin resource sharing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HTTPCORSFilter {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), extend("x-kubernetes-list-type" = "set"))]
    pub allow_origins: Vec<CorsOrigin>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_credentials: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 9), extend("x-kubernetes-list-type" = "set"))]
    pub allow_methods: Vec<CorsMethod>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), extend("x-kubernetes-list-type" = "set"))]
    pub allow_headers: Vec<HeaderName>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), extend("x-kubernetes-list-type" = "set"))]
    pub expose_headers: Vec<HeaderName>,
    /// Seconds a preflight answer may be cached; defaults to 5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 2147483647), extend("default" = 5))]
    pub max_age: Option<i32>,
}

/// An allowed CORS origin.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
#[schemars(extend("x-polc-pattern-help" = CORS_ORIGIN_HELP))]
pub struct CorsOrigin(#[schemars(length(min = 1, max = 253), pattern(CORS_ORIGIN_PATTERN))] pub String);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum CorsMethod {
    #[serde(rename = "GET")]
    Get,
    #[serde(rename = "HEAD")]
    Head,
    #[serde(rename = "POST")]
    Post,
    #[serde(rename = "PUT")]
    Put,
    #[serde(rename = "DELETE")]
    Delete,
    #[serde(rename = "CONNECT")]
    Connect,
    #[serde(rename = "OPTIONS")]
    Options,
    #[serde(rename = "TRACE")]
    Trace,
    #[serde(rename = "PATCH")]
    Patch,
    #[serde(rename = "*")]
    Any,
}

/// External authorization of requests (experimental channel).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HTTPExternalAuthFilter {
    pub protocol: ExternalAuthProtocol,
    pub backend_ref: BackendObjectReference,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grpc: Option<GRPCAuthConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HTTPAuthConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_body: Option<ForwardBodyConfig>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[allow(clippy::upper_case_acronyms)]
pub enum ExternalAuthProtocol {
    HTTP,
    GRPC,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GRPCAuthConfig {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), extend("x-kubernetes-list-type" = "set"))]
    pub allowed_headers: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HTTPAuthConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024), pattern(PATH_CHARACTERS_PATTERN), extend("x-polc-pattern-help" = PATH_CHARACTERS_HELP))]
    pub path: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), extend("x-kubernetes-list-type" = "set"))]
    pub allowed_headers: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), extend("x-kubernetes-list-type" = "set"))]
    pub allowed_response_headers: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ForwardBodyConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 2147483647))]
    pub max_size: Option<i32>,
}

/// A weighted backend of an HTTP rule, with its own filters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HTTPBackendRef {
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
    /// Filters applied only to requests sent to this backend.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub filters: Vec<HTTPRouteFilter>,
}

backend_target!(HTTPBackendRef);

/// Request timeouts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HTTPRouteTimeouts {
    /// The whole request, from the client's first byte to the last byte of the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN), extend("x-polc-pattern-help" = DURATION_HELP))]
    pub request: Option<String>,
    /// One attempt towards a backend; at most `request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN), extend("x-polc-pattern-help" = DURATION_HELP))]
    pub backend_request: Option<String>,
}

/// Retries of failed requests (experimental channel).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HTTPRouteRetry {
    /// HTTP status codes (400-599) that trigger a retry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"), inner(range(min = 400, max = 599)))]
    pub codes: Vec<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 2147483647))]
    pub attempts: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN), extend("x-polc-pattern-help" = DURATION_HELP))]
    pub backoff: Option<String>,
}
