//! Cross-namespace references and missing backends:
//!
//! - `PLC4506` (warning): a route's backend, or a Gateway's certificate, lives in another
//!   namespace and no ReferenceGrant there permits the reference. Reported only when the
//!   inputs hold some ReferenceGrant in that namespace (otherwise the grants live elsewhere).
//! - `PLC4507` (warning): a route's backend Service is not among the inputs, which hold other
//!   Services of that namespace.
//!
//! Fix: add or widen the ReferenceGrant; correct the backend's name or namespace.

use crate::codes::code;
use crate::diag::{Code, Diagnostic, Severity};
use crate::frontend::Object;
use crate::model::gateway::{GATEWAY_GROUP, Gateway};
use crate::path::Path;
use crate::schema_check::did_you_mean;

use super::inputs::Inputs;
use super::routes::qualified;

code!(
    REFERENCE_NOT_PERMITTED,
    "PLC4506",
    "reference-not-permitted",
    Warning,
    "a reference to another namespace has no ReferenceGrant permitting it",
    "A route may send traffic to a Service of another namespace, and a Gateway may use a certificate Secret of another namespace, only when a ReferenceGrant in that namespace permits it (`from` the route's or Gateway's kind and namespace, `to` the referenced kind and optionally name). Without one, the reference is refused (status reason `RefNotPermitted`). polc says so only when the inputs hold some ReferenceGrant in the target namespace.

Example:
  kind: ReferenceGrant
  metadata: {namespace: backends}
  spec:
    from: [{group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: shop}]
    to: [{group: \"\", kind: Service}]

Fix: add such a ReferenceGrant in the referenced object's namespace, or widen an existing one."
);

code!(
    BACKEND_NOT_FOUND,
    "PLC4507",
    "backend-not-found",
    Warning,
    "a route's backend Service is not among the inputs",
    "When the inputs hold Services of a namespace, a route's backend Service of that namespace that is not among them probably has a misspelt name or namespace: the Gateway answers its share of requests with an error (status reason `BackendNotFound`). polc says nothing when the inputs hold no Service of that namespace.

Fix: correct the backend's `name` (or `namespace`), or add the Service to the inputs."
);

fn grant_note(namespace: &str, from_kind: &str, from_namespace: &str, to_group: &str, to_kind: &str) -> String {
    format!(
        "add a ReferenceGrant in namespace `{namespace}` with `from: [{{group: {GATEWAY_GROUP}, kind: {from_kind}, namespace: {from_namespace}}}]` and `to: [{{group: \"{to_group}\", kind: {to_kind}}}]`"
    )
}

pub(super) fn check_set(inputs: &Inputs<'_>, diagnostics: &mut Vec<Diagnostic>) {
    for (object, route) in &inputs.routes {
        let route_namespace = route.namespace();
        for (path, backend) in route.backend_refs() {
            let namespace = backend.namespace().unwrap_or(route_namespace);
            // Without `metadata.namespace` the route's own namespace is not known, so neither is
            // whether the reference crosses namespaces.
            if namespace != route_namespace
                && route.explicit_namespace().is_some()
                && let Some(grants) = inputs.grants.get(namespace)
                && !grants.iter().any(|grant| grant.permits(GATEWAY_GROUP, route.kind(), route_namespace, backend.group(), backend.kind(), backend.name()))
            {
                let message = format!(
                    "backend {} `{}` is in namespace `{namespace}`, and no ReferenceGrant there lets {}s of namespace `{route_namespace}` refer to it",
                    backend.kind(),
                    qualified(namespace, backend.name()),
                    route.kind()
                );
                let help = grant_note(namespace, route.kind(), route_namespace, backend.group(), backend.kind());
                diagnostics.push(object.diagnostic(&REFERENCE_NOT_PERMITTED, &path.key("namespace"), message).with_help(help));
                continue;
            }
            if backend.is_service() && inputs.service_namespaces.contains(namespace) && !inputs.services.contains(&(namespace, backend.name())) {
                let names: Vec<&str> = inputs.services.iter().filter(|(service_namespace, _)| *service_namespace == namespace).map(|(_, name)| *name).collect();
                let message = format!(
                    "backend Service `{}` is not among the inputs, which hold other Services of namespace `{namespace}`",
                    qualified(namespace, backend.name())
                );
                let help = match did_you_mean(backend.name(), names.iter().copied()) {
                    Some(guess) => format!("did you mean `{guess}`?"),
                    None => "correct the backend's `name` or `namespace`, or add the Service to the inputs".to_owned(),
                };
                diagnostics.push(object.diagnostic(&BACKEND_NOT_FOUND, &path.key("name"), message).with_help(help));
            }
        }
    }
    for by_name in inputs.gateways.values() {
        for (object, gateway) in by_name.values().flatten() {
            check_gateway_references(object, gateway, inputs, diagnostics);
        }
    }
}

fn check_gateway_references(object: &Object, gateway: &Gateway, inputs: &Inputs<'_>, diagnostics: &mut Vec<Diagnostic>) {
    let Some(gateway_namespace) = object.namespace() else { return };
    let mut references: Vec<(Path, &str, &str, &str, Option<&str>)> = Vec::new();
    for (listener_index, listener) in gateway.spec.listeners.iter().enumerate() {
        let Some(tls) = &listener.tls else { continue };
        for (index, certificate) in tls.certificate_refs.iter().enumerate() {
            let path = Path::root().key("spec").key("listeners").index(listener_index).key("tls").key("certificateRefs").index(index);
            references.push((path, certificate.group(), certificate.kind(), certificate.name.as_str(), certificate.namespace.as_deref()));
        }
    }
    if let Some(certificate) = gateway.spec.tls.as_ref().and_then(|tls| tls.backend.as_ref()).and_then(|backend| backend.client_certificate_ref.as_ref()) {
        let path = Path::root().key("spec").key("tls").key("backend").key("clientCertificateRef");
        references.push((path, certificate.group(), certificate.kind(), certificate.name.as_str(), certificate.namespace.as_deref()));
    }
    for (path, group, kind, name, namespace) in references {
        let Some(namespace) = namespace.filter(|namespace| *namespace != gateway_namespace) else { continue };
        let Some(grants) = inputs.grants.get(namespace) else { continue };
        if grants.iter().any(|grant| grant.permits(GATEWAY_GROUP, "Gateway", gateway_namespace, group, kind, name)) {
            continue;
        }
        let message = format!(
            "certificate {kind} `{}` is in namespace `{namespace}`, and no ReferenceGrant there lets Gateways of namespace `{gateway_namespace}` refer to it",
            qualified(namespace, name)
        );
        let help = grant_note(namespace, "Gateway", gateway_namespace, group, kind);
        diagnostics.push(object.diagnostic(&REFERENCE_NOT_PERMITTED, &path.key("namespace"), message).with_help(help));
    }
}
