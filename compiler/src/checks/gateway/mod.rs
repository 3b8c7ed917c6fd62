//! Checks of Gateway API objects (codes `PLC4001`–`PLC4999`).
//!
//! Single-object checks enforce the `x-kubernetes-validations` (CEL) rules of the upstream
//! CRDs that a JSON Schema cannot express: listener protocol and TLS rules, filter
//! consistency, path values, parent references... These are errors, as the API server rejects
//! such objects. A few checks find objects the API server accepts but that cannot work as
//! written (an `HTTPS` listener without certificate, a route without parents): warnings.
//!
//! Cross-object checks follow the Gateway API attachment rules (parent Gateways, listeners,
//! namespaces, kinds, host names), GatewayClass names, ReferenceGrants and backend Services.
//! They are warnings, and conservative: each is reported only when the inputs hold the kind of
//! object it looks for in the namespace concerned, so that checking a single file does not
//! complain about objects that live elsewhere. An object without `metadata.namespace` is
//! looked up as if in `default` (where `kubectl` puts it by default); but a route without one
//! lands wherever it is applied, so the checks that depend on the route's own namespace
//! (listener `allowedRoutes.namespaces`, ReferenceGrants) leave it alone.
//!
//! Codes: `PLC40xx` Gateway, `PLC41xx` all routes, `PLC42xx` route filters, `PLC43xx` route
//! matches and timeouts, `PLC44xx` TLSRoute versions, `PLC45xx` cross-object, `PLC4900`
//! experimental-channel fields.

mod backend_port_required;
mod cors_wildcard;
mod duplicate_rule_name;
mod experimental_fields;
mod external_auth;
mod filter_config;
mod filters;
mod gateway_addresses;
mod gateway_class_not_found;
mod grpc_method_match;
mod header_values;
mod https_listener_mode;
mod https_listener_without_tls;
mod infrastructure_keys;
mod inputs;
mod listener_hostname_not_allowed;
mod listener_port_conflict;
mod listener_route_kinds;
mod listener_tls_not_allowed;
mod listeners_not_distinct;
mod parent_refs;
mod path_match;
mod path_modifier;
mod redirect_and_rewrite;
mod redirect_with_backends;
mod references;
mod regular_expressions;
mod repeated_filter;
mod replace_prefix_match;
mod request_mirror;
mod request_timeouts;
mod route_attachment;
mod route_hostname_ip;
mod route_without_parents;
mod routes;
mod session_persistence;
mod terminate_without_certificates;
mod tls_listener_without_tls;
mod tls_route_version;
mod too_many_matches;

use super::CheckCx;
use crate::diag::{Code, Diagnostic, Severity};
use crate::frontend::Object;
use crate::model::gateway::{self, HTTPRouteFilter, HTTPRouteFilterType, HeaderMatch, HeaderModifier, RequestMirror, StringMatchType};
use crate::path::Path;

pub use backend_port_required::BACKEND_PORT_REQUIRED;
pub use cors_wildcard::CORS_WILDCARD_NOT_ALONE;
pub use duplicate_rule_name::DUPLICATE_RULE_NAME;
pub use experimental_fields::EXPERIMENTAL_FIELD;
pub use external_auth::EXTERNAL_AUTH_PROTOCOL_MISMATCH;
pub use filter_config::{FILTER_CONFIG_MISSING, FILTER_CONFIG_WRONG_TYPE};
pub use gateway_addresses::{DUPLICATE_GATEWAY_ADDRESS, INVALID_GATEWAY_ADDRESS};
pub use gateway_class_not_found::GATEWAY_CLASS_NOT_FOUND;
pub use grpc_method_match::{GRPC_METHOD_MATCH_EMPTY, INVALID_GRPC_NAME};
pub use header_values::HEADER_VALUE_CONTROL_CHARACTER;
pub use https_listener_mode::HTTPS_LISTENER_NOT_TERMINATE;
pub use https_listener_without_tls::HTTPS_LISTENER_WITHOUT_TLS;
pub use infrastructure_keys::INVALID_INFRASTRUCTURE_KEY;
pub use listener_hostname_not_allowed::LISTENER_HOSTNAME_NOT_ALLOWED;
pub use listener_port_conflict::LISTENER_PORT_CONFLICT;
pub use listener_route_kinds::LISTENER_INVALID_ROUTE_KIND;
pub use listener_tls_not_allowed::LISTENER_TLS_NOT_ALLOWED;
pub use listeners_not_distinct::LISTENERS_NOT_DISTINCT;
pub use parent_refs::{DUPLICATE_PARENT_REF, PARENT_SECTION_NAME_REQUIRED};
pub use path_match::INVALID_PATH_MATCH;
pub use path_modifier::PATH_MODIFIER_MISMATCH;
pub use redirect_and_rewrite::REDIRECT_AND_REWRITE;
pub use redirect_with_backends::REDIRECT_WITH_BACKENDS;
pub use references::{BACKEND_NOT_FOUND, REFERENCE_NOT_PERMITTED};
pub use regular_expressions::INVALID_REGULAR_EXPRESSION;
pub use repeated_filter::REPEATED_FILTER;
pub use replace_prefix_match::REPLACE_PREFIX_NEEDS_PATH_PREFIX;
pub use request_mirror::{MIRROR_FRACTION_ABOVE_ONE, MIRROR_PERCENT_AND_FRACTION};
pub use request_timeouts::BACKEND_TIMEOUT_EXCEEDS_REQUEST;
pub use route_attachment::{NO_MATCHING_LISTENER, NO_MATCHING_LISTENER_HOSTNAME, NOT_ALLOWED_BY_LISTENERS, PARENT_GATEWAY_NOT_FOUND};
pub use route_hostname_ip::ROUTE_HOSTNAME_IP;
pub use route_without_parents::ROUTE_WITHOUT_PARENTS;
pub use session_persistence::SESSION_PERSISTENCE_MISMATCH;
pub use terminate_without_certificates::TERMINATE_WITHOUT_CERTIFICATES;
pub use tls_listener_without_tls::TLS_LISTENER_WITHOUT_TLS;
pub use tls_route_version::{TLS_ROUTE_HOSTNAMES_REQUIRED, TLS_ROUTE_SINGLE_RULE};
pub use too_many_matches::TOO_MANY_MATCHES;

use filters::FilterFacts;
use routes::Route;

pub static CODES: &[&Code] = &[
    &LISTENER_TLS_NOT_ALLOWED,
    &HTTPS_LISTENER_NOT_TERMINATE,
    &TLS_LISTENER_WITHOUT_TLS,
    &LISTENER_HOSTNAME_NOT_ALLOWED,
    &TERMINATE_WITHOUT_CERTIFICATES,
    &LISTENERS_NOT_DISTINCT,
    &LISTENER_PORT_CONFLICT,
    &HTTPS_LISTENER_WITHOUT_TLS,
    &INVALID_GATEWAY_ADDRESS,
    &DUPLICATE_GATEWAY_ADDRESS,
    &INVALID_INFRASTRUCTURE_KEY,
    &LISTENER_INVALID_ROUTE_KIND,
    &PARENT_SECTION_NAME_REQUIRED,
    &DUPLICATE_PARENT_REF,
    &BACKEND_PORT_REQUIRED,
    &ROUTE_WITHOUT_PARENTS,
    &TOO_MANY_MATCHES,
    &ROUTE_HOSTNAME_IP,
    &DUPLICATE_RULE_NAME,
    &FILTER_CONFIG_MISSING,
    &FILTER_CONFIG_WRONG_TYPE,
    &REPEATED_FILTER,
    &REDIRECT_AND_REWRITE,
    &REDIRECT_WITH_BACKENDS,
    &REPLACE_PREFIX_NEEDS_PATH_PREFIX,
    &PATH_MODIFIER_MISMATCH,
    &MIRROR_PERCENT_AND_FRACTION,
    &MIRROR_FRACTION_ABOVE_ONE,
    &CORS_WILDCARD_NOT_ALONE,
    &EXTERNAL_AUTH_PROTOCOL_MISMATCH,
    &HEADER_VALUE_CONTROL_CHARACTER,
    &INVALID_PATH_MATCH,
    &BACKEND_TIMEOUT_EXCEEDS_REQUEST,
    &INVALID_REGULAR_EXPRESSION,
    &GRPC_METHOD_MATCH_EMPTY,
    &INVALID_GRPC_NAME,
    &SESSION_PERSISTENCE_MISMATCH,
    &TLS_ROUTE_HOSTNAMES_REQUIRED,
    &TLS_ROUTE_SINGLE_RULE,
    &GATEWAY_CLASS_NOT_FOUND,
    &PARENT_GATEWAY_NOT_FOUND,
    &NO_MATCHING_LISTENER,
    &NOT_ALLOWED_BY_LISTENERS,
    &NO_MATCHING_LISTENER_HOSTNAME,
    &REFERENCE_NOT_PERMITTED,
    &BACKEND_NOT_FOUND,
    &EXPERIMENTAL_FIELD,
];

pub fn check_set(objects: &[Object], diagnostics: &mut Vec<Diagnostic>) {
    let inputs = inputs::Inputs::new(objects);
    gateway_class_not_found::check_set(&inputs, diagnostics);
    route_attachment::check_set(&inputs, diagnostics);
    references::check_set(&inputs, diagnostics);
}

pub fn check_gateway_class(_object: &gateway::GatewayClass, _cx: &mut CheckCx<'_>) {
    // Everything a GatewayClass can get wrong on its own is in its schema; its one CEL rule
    // (`controllerName` is immutable) compares with the stored object, which polc never sees.
}

pub fn check_gateway(object: &gateway::Gateway, cx: &mut CheckCx<'_>) {
    listener_tls_not_allowed::check(object, cx);
    https_listener_mode::check(object, cx);
    tls_listener_without_tls::check(object, cx);
    listener_hostname_not_allowed::check(object, cx);
    terminate_without_certificates::check(object, cx);
    listeners_not_distinct::check(object, cx);
    listener_port_conflict::check(object, cx);
    https_listener_without_tls::check(object, cx);
    gateway_addresses::check(object, cx);
    infrastructure_keys::check(object, cx);
    listener_route_kinds::check(object, cx);
    if object.spec.default_scope.is_some() {
        experimental_fields::check(&[Path::root().key("spec").key("defaultScope")], cx);
    }
}

pub fn check_http_route(object: &gateway::HTTPRoute, cx: &mut CheckCx<'_>) {
    let route = Route::Http(object);
    common_route_checks(route, Severity::Warning, cx);
    let rules = object.spec.rules();
    let counts: Vec<usize> = rules.iter().map(|rule| rule.matches.as_ref().map_or(1, Vec::len)).collect();
    too_many_matches::check(&counts, cx);
    duplicate_rule_name::check(&rules.iter().map(|rule| rule.name.as_deref()).collect::<Vec<_>>(), cx);
    for (list_path, filters) in filters::http_filter_lists(object) {
        let facts: Vec<FilterFacts> = filters.iter().map(FilterFacts::from).collect();
        filter_config::check(&list_path, &facts, cx);
        repeated_filter::check(&list_path, &facts, cx);
        redirect_and_rewrite::check(&list_path, filters, cx);
        path_modifier::check(&list_path, filters, cx);
        for (index, filter) in filters.iter().enumerate() {
            if let Some(cors) = &filter.cors {
                cors_wildcard::check(&list_path.index(index).key("cors"), cors, cx);
            }
            if let Some(auth) = &filter.external_auth {
                external_auth::check(&list_path.index(index).key("externalAuth"), auth, cx);
            }
        }
    }
    redirect_with_backends::check(object, cx);
    replace_prefix_match::check(object, cx);
    path_match::check(object, cx);
    request_timeouts::check(object, cx);
    http_session_persistence(object, cx);
    let filter_lists = filters::http_filter_lists(object);
    request_mirror::check(&http_mirrors(&filter_lists), cx);
    header_values::check(&http_header_values(object, &filter_lists), cx);
    regular_expressions::check(&http_regular_expressions(object), cx);
    experimental_fields::check(&http_experimental_fields(object, &filter_lists), cx);
}

pub fn check_grpc_route(object: &gateway::GRPCRoute, cx: &mut CheckCx<'_>) {
    let route = Route::Grpc(object);
    common_route_checks(route, Severity::Warning, cx);
    let rules = &object.spec.rules;
    too_many_matches::check(&rules.iter().map(|rule| rule.matches.len()).collect::<Vec<_>>(), cx);
    duplicate_rule_name::check(&rules.iter().map(|rule| rule.name.as_deref()).collect::<Vec<_>>(), cx);
    for (list_path, facts) in filters::grpc_filter_lists(object) {
        filter_config::check(&list_path, &facts, cx);
        repeated_filter::check(&list_path, &facts, cx);
    }
    grpc_method_match::check(object, cx);
    let mut mirrors = Vec::new();
    let mut header_values = Vec::new();
    let mut expressions = Vec::new();
    let mut experimental = Vec::new();
    if object.spec.use_default_gateways.is_some() {
        experimental.push(Path::root().key("spec").key("useDefaultGateways"));
    }
    for (rule_index, rule) in rules.iter().enumerate() {
        let rule_path = Path::root().key("spec").key("rules").index(rule_index);
        let mut lists: Vec<(Path, &[gateway::GRPCRouteFilter])> = vec![(rule_path.key("filters"), &rule.filters)];
        for (backend_index, backend) in rule.backend_refs.iter().enumerate() {
            lists.push((rule_path.key("backendRefs").index(backend_index).key("filters"), &backend.filters));
        }
        for (list_path, filters) in lists {
            for (index, filter) in filters.iter().enumerate() {
                let filter_path = list_path.index(index);
                if let Some(mirror) = &filter.request_mirror {
                    mirrors.push((filter_path.key("requestMirror"), mirror));
                }
                modifier_values(&filter_path.key("requestHeaderModifier"), filter.request_header_modifier.as_ref(), &mut header_values);
                modifier_values(&filter_path.key("responseHeaderModifier"), filter.response_header_modifier.as_ref(), &mut header_values);
            }
        }
        for (match_index, route_match) in rule.matches.iter().enumerate() {
            let match_path = rule_path.key("matches").index(match_index);
            header_match_values(&match_path, &route_match.headers, &mut header_values, &mut expressions);
            if let Some(method) = &route_match.method
                && method.match_type() == StringMatchType::RegularExpression
            {
                for (field, value) in [("service", &method.service), ("method", &method.method)] {
                    if let Some(value) = value {
                        expressions.push((match_path.key("method").key(field), value.as_str()));
                    }
                }
            }
        }
        if let Some(persistence) = &rule.session_persistence {
            session_persistence::check(&rule_path.key("sessionPersistence"), persistence, cx);
            experimental.push(rule_path.key("sessionPersistence"));
        }
    }
    request_mirror::check(&mirrors, cx);
    header_values::check(&header_values, cx);
    regular_expressions::check(&expressions, cx);
    experimental_fields::check(&experimental, cx);
}

pub fn check_tls_route(object: &gateway::TLSRoute, cx: &mut CheckCx<'_>) {
    let route = Route::Tls(object);
    let version = cx.api_version.rsplit('/').next().unwrap_or_default();
    let ip_severity = if version == "v1alpha2" { Severity::Warning } else { Severity::Error };
    common_route_checks(route, ip_severity, cx);
    tls_route_version::check(object, cx.api_version, cx);
    if object.spec.use_default_gateways.is_some() {
        experimental_fields::check(&[Path::root().key("spec").key("useDefaultGateways")], cx);
    }
}

pub fn check_reference_grant(_object: &gateway::ReferenceGrant, _cx: &mut CheckCx<'_>) {
    // A ReferenceGrant has no CEL rules; its schema says everything. Whether it permits the
    // references that need it is checked across objects.
}

/// The checks every route kind shares. `ip_severity` is the severity of an IP address among
/// the host names.
fn common_route_checks(route: Route<'_>, ip_severity: Severity, cx: &mut CheckCx<'_>) {
    parent_refs::check(route.parent_refs(), cx);
    route_without_parents::check(route, cx);
    route_hostname_ip::check(route.hostnames(), ip_severity, cx);
    backend_port_required::check(&route.backend_refs(), cx);
}

fn http_mirrors<'a>(lists: &[(Path, &'a [HTTPRouteFilter])]) -> Vec<(Path, &'a RequestMirror)> {
    let mut mirrors = Vec::new();
    for (list_path, filters) in lists {
        for (index, filter) in filters.iter().enumerate() {
            if let Some(mirror) = &filter.request_mirror {
                mirrors.push((list_path.index(index).key("requestMirror"), mirror));
            }
        }
    }
    mirrors
}

fn modifier_values<'a>(path: &Path, modifier: Option<&'a HeaderModifier>, out: &mut Vec<(Path, &'a str)>) {
    let Some(modifier) = modifier else { return };
    for (field, headers) in [("set", &modifier.set), ("add", &modifier.add)] {
        for (index, header) in headers.iter().enumerate() {
            out.push((path.key(field).index(index).key("value"), header.value.as_str()));
        }
    }
}

fn header_match_values<'a>(match_path: &Path, headers: &'a [HeaderMatch], values: &mut Vec<(Path, &'a str)>, expressions: &mut Vec<(Path, &'a str)>) {
    for (index, header) in headers.iter().enumerate() {
        let path = match_path.key("headers").index(index).key("value");
        if header.match_type() == StringMatchType::RegularExpression {
            expressions.push((path, header.value.as_str()));
        } else {
            values.push((path, header.value.as_str()));
        }
    }
}

fn http_header_values<'a>(route: &'a gateway::HTTPRoute, lists: &[(Path, &'a [HTTPRouteFilter])]) -> Vec<(Path, &'a str)> {
    let mut values = Vec::new();
    let mut ignored = Vec::new();
    for (rule_index, rule) in route.spec.rules().iter().enumerate() {
        for (match_index, route_match) in rule.matches.iter().flatten().enumerate() {
            let match_path = Path::root().key("spec").key("rules").index(rule_index).key("matches").index(match_index);
            header_match_values(&match_path, &route_match.headers, &mut values, &mut ignored);
        }
    }
    for (list_path, filters) in lists {
        for (index, filter) in filters.iter().enumerate() {
            modifier_values(&list_path.index(index).key("requestHeaderModifier"), filter.request_header_modifier.as_ref(), &mut values);
            modifier_values(&list_path.index(index).key("responseHeaderModifier"), filter.response_header_modifier.as_ref(), &mut values);
        }
    }
    values
}

fn http_regular_expressions(route: &gateway::HTTPRoute) -> Vec<(Path, &str)> {
    let mut expressions = Vec::new();
    let mut ignored = Vec::new();
    for (rule_index, rule) in route.spec.rules().iter().enumerate() {
        for (match_index, route_match) in rule.matches.iter().flatten().enumerate() {
            let match_path = Path::root().key("spec").key("rules").index(rule_index).key("matches").index(match_index);
            if let Some(path) = &route_match.path
                && path.match_type() == gateway::PathMatchType::RegularExpression
            {
                expressions.push((match_path.key("path").key("value"), path.value()));
            }
            header_match_values(&match_path, &route_match.headers, &mut ignored, &mut expressions);
            for (index, parameter) in route_match.query_params.iter().enumerate() {
                if parameter.match_type() == StringMatchType::RegularExpression {
                    expressions.push((match_path.key("queryParams").index(index).key("value"), parameter.value.as_str()));
                }
            }
        }
    }
    expressions
}

fn http_experimental_fields(route: &gateway::HTTPRoute, lists: &[(Path, &[HTTPRouteFilter])]) -> Vec<Path> {
    let mut fields = Vec::new();
    if route.spec.use_default_gateways.is_some() {
        fields.push(Path::root().key("spec").key("useDefaultGateways"));
    }
    for (rule_index, rule) in route.spec.rules().iter().enumerate() {
        let rule_path = Path::root().key("spec").key("rules").index(rule_index);
        if rule.retry.is_some() {
            fields.push(rule_path.key("retry"));
        }
        if rule.session_persistence.is_some() {
            fields.push(rule_path.key("sessionPersistence"));
        }
    }
    for (list_path, filters) in lists {
        for (index, filter) in filters.iter().enumerate() {
            if filter.filter_type == HTTPRouteFilterType::ExternalAuth {
                fields.push(list_path.index(index).key("type"));
            } else if filter.external_auth.is_some() {
                fields.push(list_path.index(index).key("externalAuth"));
            }
        }
    }
    fields
}

fn http_session_persistence(route: &gateway::HTTPRoute, cx: &mut CheckCx<'_>) {
    for (rule_index, rule) in route.spec.rules().iter().enumerate() {
        if let Some(persistence) = &rule.session_persistence {
            session_persistence::check(&Path::root().key("spec").key("rules").index(rule_index).key("sessionPersistence"), persistence, cx);
        }
    }
}
