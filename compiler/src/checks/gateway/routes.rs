//! A common view of the three route kinds, for checks that treat them alike: their parent
//! references, host names and backend references, each with its path in the document.

use crate::model::gateway::{BackendTarget, GRPCRoute, HTTPRoute, Hostname, ParentReference, TLSRoute};
use crate::model::meta::ObjectMeta;
use crate::path::Path;

/// Namespace an object without `metadata.namespace` is applied to by `kubectl` in a default
/// context; polc resolves references between such objects as if they lived there.
pub const DEFAULT_NAMESPACE: &str = "default";

/// One of the route kinds.
#[derive(Clone, Copy)]
pub enum Route<'a> {
    Http(&'a HTTPRoute),
    Grpc(&'a GRPCRoute),
    Tls(&'a TLSRoute),
}

impl<'a> Route<'a> {
    pub fn kind(self) -> &'static str {
        match self {
            Route::Http(_) => "HTTPRoute",
            Route::Grpc(_) => "GRPCRoute",
            Route::Tls(_) => "TLSRoute",
        }
    }

    pub fn metadata(self) -> &'a ObjectMeta {
        match self {
            Route::Http(route) => &route.metadata,
            Route::Grpc(route) => &route.metadata,
            Route::Tls(route) => &route.metadata,
        }
    }

    /// The route's namespace, `default` when not given.
    pub fn namespace(self) -> &'a str {
        self.explicit_namespace().unwrap_or(DEFAULT_NAMESPACE)
    }

    /// The route's `metadata.namespace` as written: without it, the route lands in whatever
    /// namespace it is applied to.
    pub fn explicit_namespace(self) -> Option<&'a str> {
        self.metadata().namespace.as_deref()
    }

    pub fn parent_refs(self) -> &'a [ParentReference] {
        match self {
            Route::Http(route) => &route.spec.parent_refs,
            Route::Grpc(route) => &route.spec.parent_refs,
            Route::Tls(route) => &route.spec.parent_refs,
        }
    }

    pub fn hostnames(self) -> &'a [Hostname] {
        match self {
            Route::Http(route) => &route.spec.hostnames,
            Route::Grpc(route) => &route.spec.hostnames,
            Route::Tls(route) => &route.spec.hostnames,
        }
    }

    /// Whether the route asks to attach to default Gateways (experimental channel).
    pub fn uses_default_gateways(self) -> bool {
        let scope = match self {
            Route::Http(route) => route.spec.use_default_gateways,
            Route::Grpc(route) => route.spec.use_default_gateways,
            Route::Tls(route) => route.spec.use_default_gateways,
        };
        scope == Some(crate::model::gateway::DefaultGatewayScope::All)
    }

    /// Every backend reference of the route with its path: rule backends, and the backends of
    /// mirror and external-auth filters at rule and backend level.
    pub fn backend_refs(self) -> Vec<(Path, &'a dyn BackendTarget)> {
        let mut out: Vec<(Path, &'a dyn BackendTarget)> = Vec::new();
        let rules_path = Path::root().key("spec").key("rules");
        match self {
            Route::Http(route) => {
                for (rule_index, rule) in route.spec.rules().iter().enumerate() {
                    let rule_path = rules_path.index(rule_index);
                    http_filter_backends(&rule.filters, &rule_path.key("filters"), &mut out);
                    for (backend_index, backend) in rule.backend_refs.iter().enumerate() {
                        let backend_path = rule_path.key("backendRefs").index(backend_index);
                        out.push((backend_path.clone(), backend));
                        http_filter_backends(&backend.filters, &backend_path.key("filters"), &mut out);
                    }
                }
            }
            Route::Grpc(route) => {
                for (rule_index, rule) in route.spec.rules.iter().enumerate() {
                    let rule_path = rules_path.index(rule_index);
                    grpc_filter_backends(&rule.filters, &rule_path.key("filters"), &mut out);
                    for (backend_index, backend) in rule.backend_refs.iter().enumerate() {
                        let backend_path = rule_path.key("backendRefs").index(backend_index);
                        out.push((backend_path.clone(), backend));
                        grpc_filter_backends(&backend.filters, &backend_path.key("filters"), &mut out);
                    }
                }
            }
            Route::Tls(route) => {
                for (rule_index, rule) in route.spec.rules.iter().enumerate() {
                    for (backend_index, backend) in rule.backend_refs.iter().enumerate() {
                        out.push((rules_path.index(rule_index).key("backendRefs").index(backend_index), backend));
                    }
                }
            }
        }
        out
    }
}

fn http_filter_backends<'a>(filters: &'a [crate::model::gateway::HTTPRouteFilter], path: &Path, out: &mut Vec<(Path, &'a dyn BackendTarget)>) {
    for (index, filter) in filters.iter().enumerate() {
        if let Some(mirror) = &filter.request_mirror {
            out.push((path.index(index).key("requestMirror").key("backendRef"), &mirror.backend_ref));
        }
        if let Some(auth) = &filter.external_auth {
            out.push((path.index(index).key("externalAuth").key("backendRef"), &auth.backend_ref));
        }
    }
}

fn grpc_filter_backends<'a>(filters: &'a [crate::model::gateway::GRPCRouteFilter], path: &Path, out: &mut Vec<(Path, &'a dyn BackendTarget)>) {
    for (index, filter) in filters.iter().enumerate() {
        if let Some(mirror) = &filter.request_mirror {
            out.push((path.index(index).key("requestMirror").key("backendRef"), &mirror.backend_ref));
        }
    }
}

/// `namespace/name`, for messages.
pub fn qualified(namespace: &str, name: &str) -> String {
    format!("{namespace}/{name}")
}
