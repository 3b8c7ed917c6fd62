//! Types and string forms shared by every Gateway API kind: references, hostnames, header
//! names, durations, and the patterns and limits the upstream CRDs put on them.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The API group of Gateway API objects.
pub const GATEWAY_GROUP: &str = "gateway.networking.k8s.io";

/// A lower-case DNS subdomain (RFC 1123), without wildcard: listener and section names, rule
/// names, redirect and rewrite hostnames.
pub const DNS_SUBDOMAIN_PATTERN: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
pub const SECTION_NAME_HELP: &str =
    "a name made of lower-case letters, digits, `-` and `.`, starting and ending with a letter or digit, such as `https` or `web-1`";
pub const PRECISE_HOSTNAME_HELP: &str = "a lower-case DNS name such as `www.example.com`; wildcards (`*.`) are not allowed here";

/// A hostname, optionally with a leading wildcard label.
pub const HOSTNAME_PATTERN: &str = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
pub const HOSTNAME_HELP: &str =
    "a lower-case DNS name such as `www.example.com`, optionally starting with a wildcard label `*.`; no scheme, port, path or upper-case letters";

/// An API group: empty for the core group, else a DNS subdomain.
pub const GROUP_PATTERN: &str = r"^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
pub const GROUP_HELP: &str = "an API group: empty (`\"\"`) for the core group, or a lower-case DNS name such as `gateway.networking.k8s.io`";

/// A kind name.
pub const KIND_PATTERN: &str = r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$";
pub const KIND_HELP: &str = "a kind such as `Service` or `Gateway`: letters, digits and `-`, starting with a letter";

/// A namespace name (RFC 1123 label).
pub const NAMESPACE_PATTERN: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
pub const NAMESPACE_HELP: &str = "a namespace name: lower-case letters, digits and `-`, starting and ending with a letter or digit";

/// An HTTP header name (an RFC 7230 token).
pub const HEADER_NAME_PATTERN: &str = r"^[A-Za-z0-9!#$%&'*+\-.^_\x60|~]+$";
pub const HEADER_NAME_HELP: &str =
    "an HTTP header name: letters, digits and the token characters ! # $ % & ' * + - . ^ _ | ~ and backquote; no spaces, `:` or `/`";

/// A Gateway API duration.
pub const DURATION_PATTERN: &str = r"^([0-9]{1,5}(h|m|s|ms)){1,4}$";
pub const DURATION_HELP: &str = "a duration such as `10s`, `500ms` or `1m30s`: up to four parts, each 1 to 5 digits and a unit `h`, `m`, `s` or `ms`";

/// A path as the HTTP path match and the external-auth path accept it.
pub const PATH_CHARACTERS_PATTERN: &str = r"^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$";
pub const PATH_CHARACTERS_HELP: &str = "a URL path: letters, digits, `/` and `-._~!$&'()*+,;=:@`, other characters percent-encoded (`%5B` for `[`)";

/// A Kubernetes label value (used by the Gateway's infrastructure labels).
pub const LABEL_VALUE_PATTERN: &str = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$";
pub const LABEL_VALUE_HELP: &str = "a label value: at most 63 letters, digits, `-`, `_` and `.`, starting and ending with a letter or digit (or empty)";

/// A label or annotation key: an optional DNS-subdomain prefix and `/`, then a name.
pub const QUALIFIED_KEY_PATTERN: &str = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$";

/// A hostname that may start with a wildcard label (`*.example.com`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
#[schemars(extend("x-polc-pattern-help" = HOSTNAME_HELP))]
pub struct Hostname(#[schemars(length(min = 1, max = 253), pattern(HOSTNAME_PATTERN))] pub String);

impl Hostname {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An HTTP (or gRPC metadata) header name; matched case-insensitively.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
#[schemars(extend("x-polc-pattern-help" = HEADER_NAME_HELP))]
pub struct HeaderName(#[schemars(length(min = 1, max = 256), pattern(HEADER_NAME_PATTERN))] pub String);

impl HeaderName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A value of a string map whose values are limited to 4096 characters (TLS options,
/// infrastructure annotations).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
pub struct AnnotationValue(#[schemars(length(max = 4096))] pub String);

/// A label value of the Gateway's infrastructure labels.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(transparent)]
#[schemars(extend("x-polc-pattern-help" = LABEL_VALUE_HELP))]
pub struct LabelValue(#[schemars(length(max = 63), pattern(LABEL_VALUE_PATTERN))] pub String);

/// A reference from a route to the object it attaches to (usually a Gateway).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParentReference {
    /// API group of the parent; defaults to `gateway.networking.k8s.io`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253), pattern(GROUP_PATTERN), extend("x-polc-pattern-help" = GROUP_HELP, "default" = GATEWAY_GROUP))]
    pub group: Option<String>,
    /// Kind of the parent; defaults to `Gateway`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), pattern(KIND_PATTERN), extend("x-polc-pattern-help" = KIND_HELP, "default" = "Gateway"))]
    pub kind: Option<String>,
    /// Namespace of the parent; defaults to the route's namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), pattern(NAMESPACE_PATTERN), extend("x-polc-pattern-help" = NAMESPACE_HELP))]
    pub namespace: Option<String>,
    /// Name of the parent.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The listener of the parent Gateway to attach to (its `name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), pattern(DNS_SUBDOMAIN_PATTERN), extend("x-polc-pattern-help" = SECTION_NAME_HELP))]
    pub section_name: Option<String>,
    /// The listener port of the parent Gateway to attach to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
}

impl ParentReference {
    pub fn group(&self) -> &str {
        self.group.as_deref().unwrap_or(GATEWAY_GROUP)
    }

    pub fn kind(&self) -> &str {
        self.kind.as_deref().unwrap_or("Gateway")
    }

    /// Whether this reference names a Gateway (as opposed to a Service for mesh routing, or
    /// another parent kind).
    pub fn is_gateway(&self) -> bool {
        self.group() == GATEWAY_GROUP && self.kind() == "Gateway"
    }

    pub fn section_name(&self) -> Option<&str> {
        self.section_name.as_deref().filter(|name| !name.is_empty())
    }
}

/// A reference to a backend object, usually a Service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackendObjectReference {
    /// API group of the backend; empty (the default) for the core group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253), pattern(GROUP_PATTERN), extend("x-polc-pattern-help" = GROUP_HELP, "default" = ""))]
    pub group: Option<String>,
    /// Kind of the backend; defaults to `Service`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), pattern(KIND_PATTERN), extend("x-polc-pattern-help" = KIND_HELP, "default" = "Service"))]
    pub kind: Option<String>,
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Namespace of the backend; defaults to the route's namespace. A reference to another
    /// namespace needs a ReferenceGrant there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), pattern(NAMESPACE_PATTERN), extend("x-polc-pattern-help" = NAMESPACE_HELP))]
    pub namespace: Option<String>,
    /// Destination port; required when the backend is a Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
}

/// A backend of a route rule, with its weight.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BackendRef {
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
    /// Share of the traffic, relative to the other backends of the rule; defaults to 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 1_000_000), extend("default" = 1))]
    pub weight: Option<i32>,
}

/// The fields every backend reference has, whatever struct carries them.
pub trait BackendTarget {
    fn group_field(&self) -> Option<&str>;
    fn kind_field(&self) -> Option<&str>;
    fn name(&self) -> &str;
    fn namespace(&self) -> Option<&str>;
    fn port(&self) -> Option<i32>;

    /// The API group with its default (`""`, the core group).
    fn group(&self) -> &str {
        self.group_field().unwrap_or("")
    }

    /// The kind with its default (`Service`).
    fn kind(&self) -> &str {
        self.kind_field().unwrap_or("Service")
    }

    /// Whether this reference names a core Service (which then needs a port).
    fn is_service(&self) -> bool {
        self.group().is_empty() && self.kind() == "Service"
    }
}

macro_rules! backend_target {
    ($type:ty) => {
        impl $crate::model::gateway::common::BackendTarget for $type {
            fn group_field(&self) -> Option<&str> {
                self.group.as_deref()
            }
            fn kind_field(&self) -> Option<&str> {
                self.kind.as_deref()
            }
            fn name(&self) -> &str {
                &self.name
            }
            fn namespace(&self) -> Option<&str> {
                self.namespace.as_deref()
            }
            fn port(&self) -> Option<i32> {
                self.port
            }
        }
    };
}
pub(crate) use backend_target;

backend_target!(BackendObjectReference);
backend_target!(BackendRef);

/// A reference to an object in the same namespace, by group, kind and name (filter
/// extensions).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LocalObjectReference {
    #[schemars(length(max = 253), pattern(GROUP_PATTERN), extend("x-polc-pattern-help" = GROUP_HELP))]
    pub group: String,
    #[schemars(length(min = 1, max = 63), pattern(KIND_PATTERN), extend("x-polc-pattern-help" = KIND_HELP))]
    pub kind: String,
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// Whether a route may attach to default Gateways (experimental channel).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum DefaultGatewayScope {
    All,
    None,
}

/// How a header, query parameter or gRPC method value is matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum StringMatchType {
    Exact,
    RegularExpression,
}

/// Sets, adds or removes request or response headers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeaderModifier {
    /// Headers to overwrite (or add when absent).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub set: Vec<HeaderValue>,
    /// Headers to append to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub add: Vec<HeaderValue>,
    /// Header names to remove (case-insensitive).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16), extend("x-kubernetes-list-type" = "set"))]
    pub remove: Vec<String>,
}

/// A header name and value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeaderValue {
    pub name: HeaderName,
    #[schemars(length(min = 1, max = 4096))]
    pub value: String,
}

/// A header match of an HTTP or gRPC route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HeaderMatch {
    /// `Exact` (the default) or `RegularExpression`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Exact"))]
    pub match_type: Option<StringMatchType>,
    pub name: HeaderName,
    #[schemars(length(min = 1, max = 4096))]
    pub value: String,
}

impl HeaderMatch {
    pub fn match_type(&self) -> StringMatchType {
        self.match_type.unwrap_or(StringMatchType::Exact)
    }
}

/// Mirrors requests to another backend.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestMirror {
    pub backend_ref: BackendObjectReference,
    /// Percentage of requests to mirror (0-100); exclusive with `fraction`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 100))]
    pub percent: Option<i32>,
    /// Fraction of requests to mirror; exclusive with `percent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fraction: Option<Fraction>,
}

/// A fraction `numerator / denominator`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fraction {
    #[schemars(range(min = 0, max = 2147483647))]
    pub numerator: i32,
    /// Defaults to 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 2147483647), extend("default" = 100))]
    pub denominator: Option<i32>,
}

impl Fraction {
    pub fn denominator(&self) -> i32 {
        self.denominator.unwrap_or(100)
    }
}

/// Session persistence of a route rule (experimental channel).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionPersistence {
    /// `Cookie` (the default) or `Header`.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Cookie"))]
    pub persistence_type: Option<SessionPersistenceType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(pattern(DURATION_PATTERN), extend("x-polc-pattern-help" = DURATION_HELP))]
    pub absolute_timeout: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie: Option<SessionCookie>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<SessionHeader>,
}

impl SessionPersistence {
    pub fn persistence_type(&self) -> SessionPersistenceType {
        self.persistence_type.unwrap_or(SessionPersistenceType::Cookie)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SessionPersistenceType {
    Cookie,
    Header,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionCookie {
    /// `Session` (the default) or `Permanent`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("default" = "Session"))]
    pub lifetime_type: Option<CookieLifetimeType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<HeaderName>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024), extend("default" = "/"))]
    pub path: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum CookieLifetimeType {
    Permanent,
    Session,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SessionHeader {
    pub name: HeaderName,
}

/// Whether a route hostname and a listener hostname intersect (Gateway API rules: an exact
/// name matches itself and any wildcard covering it; two wildcards intersect when one's suffix
/// contains the other's). A `*.example.com` wildcard does not match `example.com`.
pub fn hostnames_intersect(a: &str, b: &str) -> bool {
    match (a.strip_prefix("*."), b.strip_prefix("*.")) {
        (None, None) => a.eq_ignore_ascii_case(b),
        (Some(suffix), None) => wildcard_covers(suffix, b),
        (None, Some(suffix)) => wildcard_covers(suffix, a),
        (Some(left), Some(right)) => {
            let left = left.to_ascii_lowercase();
            let right = right.to_ascii_lowercase();
            left == right || left.ends_with(&format!(".{right}")) || right.ends_with(&format!(".{left}"))
        }
    }
}

/// Whether `*.{suffix}` covers the exact name `name`.
fn wildcard_covers(suffix: &str, name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    let suffix = suffix.to_ascii_lowercase();
    name.len() > suffix.len() + 1 && name.ends_with(&format!(".{suffix}"))
}

/// Parses a Gateway API duration (`1h30m`, `500ms`) into milliseconds. `None` when it does
/// not have the Gateway API form.
pub fn duration_millis(text: &str) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    let mut rest = text;
    let mut parts = 0;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 5 {
            return None;
        }
        let number: u64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (factor, unit_length) = if rest.starts_with("ms") {
            (1, 2)
        } else if rest.starts_with('h') {
            (3_600_000, 1)
        } else if rest.starts_with('m') {
            (60_000, 1)
        } else if rest.starts_with('s') {
            (1_000, 1)
        } else {
            return None;
        };
        rest = &rest[unit_length..];
        total = total.checked_add(number.checked_mul(factor)?)?;
        parts += 1;
    }
    (parts <= 4).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostname_intersection_follows_the_wildcard_rules() {
        assert!(hostnames_intersect("foo.example.com", "foo.example.com"));
        assert!(hostnames_intersect("foo.example.com", "*.example.com"));
        assert!(hostnames_intersect("*.example.com", "a.b.example.com"));
        assert!(!hostnames_intersect("*.example.com", "example.com"));
        assert!(hostnames_intersect("*.example.com", "*.foo.example.com"));
        assert!(hostnames_intersect("*.foo.example.com", "*.example.com"));
        assert!(!hostnames_intersect("*.example.com", "*.example.net"));
        assert!(!hostnames_intersect("bar.example.com", "foo.example.com"));
        assert!(!hostnames_intersect("*.bar.com", "*.foobar.com"));
    }

    #[test]
    fn durations_parse_to_milliseconds() {
        assert_eq!(duration_millis("10s"), Some(10_000));
        assert_eq!(duration_millis("1m30s"), Some(90_000));
        assert_eq!(duration_millis("500ms"), Some(500));
        assert_eq!(duration_millis("1h1m1s1ms"), Some(3_661_001));
        assert_eq!(duration_millis("0s"), Some(0));
        assert_eq!(duration_millis("1h1m1s1ms1h"), None);
        assert_eq!(duration_millis("10"), None);
        assert_eq!(duration_millis("123456s"), None);
        assert_eq!(duration_millis(""), None);
    }
}
