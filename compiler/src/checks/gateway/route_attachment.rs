//! Whether each route's `parentRefs` attach to a Gateway of the inputs, following the
//! Gateway API's attachment rules:
//!
//! - `PLC4502`: the parent Gateway is not among the inputs (reported only when the inputs hold
//!   some Gateway in that namespace; otherwise the Gateway lives elsewhere);
//! - `PLC4503`: `sectionName` and/or `port` select no listener of it (`NoMatchingParent`);
//! - `PLC4504`: no selected listener allows the route, by namespace or kind
//!   (`NotAllowedByListeners`);
//! - `PLC4505`: no allowed listener has a host name that intersects the route's
//!   (`NoMatchingListenerHostname`).
//!
//! All are warnings: the API server accepts such routes, and they just serve nothing there.
//! Fix: as the help of each says.

use crate::codes::code;
use crate::diag::{Code, Diagnostic, Severity};
use crate::frontend::Object;
use crate::model::gateway::{FromNamespaces, GATEWAY_GROUP, Gateway, Listener, ParentReference, hostnames_intersect};
use crate::path::Path;
use crate::schema_check::did_you_mean;

use super::inputs::Inputs;
use super::listener_route_kinds::served_kinds;
use super::routes::{Route, qualified};

code!(
    PARENT_GATEWAY_NOT_FOUND,
    "PLC4502",
    "parent-gateway-not-found",
    Warning,
    "a route names a parent Gateway that is not among the inputs",
    "A route attaches to the Gateways its `parentRefs` name (in the route's namespace unless `namespace` is given). When the inputs hold Gateways in that namespace but none with that name, the route attaches to no Gateway. polc does not report it when the inputs hold no Gateway in that namespace: the Gateway is then probably managed elsewhere.

Example:
  parentRefs:
  - name: prod-gateway      # the Gateway is called prod-gw

Fix: correct the name (and `namespace`), or add the Gateway to the inputs."
);

code!(
    NO_MATCHING_LISTENER,
    "PLC4503",
    "no-matching-listener",
    Warning,
    "a route's `sectionName` or `port` selects no listener of its parent Gateway",
    "`sectionName` names one listener of the parent Gateway and `port` selects its listeners on that port. When no listener has that name (or port), the route does not attach (status reason `NoMatchingParent`).

Example:
  parentRefs:
  - {name: gateway, sectionName: https}     # the listener is called web-https

Fix: use the name or port of an existing listener, or leave them out to attach to every listener that allows the route."
);

code!(
    NOT_ALLOWED_BY_LISTENERS,
    "PLC4504",
    "not-allowed-by-listeners",
    Warning,
    "no listener the route selects allows it, by namespace or by kind",
    "A listener accepts routes from its own namespace only unless `allowedRoutes.namespaces` says otherwise (`from: All`, or `from: Selector` with a namespace label selector), and only of the kinds its protocol supports (HTTPRoute and GRPCRoute on `HTTP`/`HTTPS`, TLSRoute on `TLS`) or that `allowedRoutes.kinds` lists. A route that no selected listener allows does not attach (status reason `NotAllowedByListeners`).

Example:
  # Gateway in namespace infra, listener with the default allowedRoutes
  # HTTPRoute in namespace shop with parentRefs: [{name: gateway, namespace: infra}]

Fix: allow the route's namespace on the listener (`allowedRoutes.namespaces.from: All` or a `Selector`), attach to a listener of a suitable protocol, or add the route's kind to `allowedRoutes.kinds`."
);

code!(
    NO_MATCHING_LISTENER_HOSTNAME,
    "PLC4505",
    "no-matching-listener-hostname",
    Warning,
    "none of a route's host names intersects the host names of the listeners it attaches to",
    "When both a listener and a route give host names, the route only serves the names they have in common; a wildcard covers any name below it (`*.example.com` covers `a.example.com`, not `example.com`). With no name in common the route does not attach (status reason `NoMatchingListenerHostname`).

Example:
  listener hostname: \"*.example.com\"
  route hostnames: [example.com]

Fix: add a host name the listener covers, or change or remove the listener's `hostname`."
);

/// Why a listener does not allow a route, if it does not.
fn refusal(listener: &Listener, gateway_namespace: &str, route: Route<'_>, inputs: &Inputs<'_>) -> Option<(String, String)> {
    let kind = route.kind();
    let allowed = listener.allowed_routes.as_ref();
    let kinds = allowed.map(|allowed| allowed.kinds.as_slice()).unwrap_or_default();
    let listed = kinds.iter().any(|entry| entry.group() == GATEWAY_GROUP && entry.kind == kind);
    if !kinds.is_empty() && !listed {
        let names: Vec<String> = kinds.iter().map(|entry| format!("`{}`", entry.kind)).collect();
        return Some((
            format!("listener `{}` allows only {}", listener.name, names.join(", ")),
            format!("add `{{kind: {kind}}}` to the listener's `allowedRoutes.kinds`, or attach to another listener"),
        ));
    }
    // Listed or not, a kind the protocol does not serve cannot attach (PLC4012 reports the list).
    if let Some(served) = served_kinds(&listener.protocol).filter(|served| !served.contains(&kind)) {
        let wanted = match kind {
            "TLSRoute" => "`TLS`",
            _ => "`HTTP` or `HTTPS`",
        };
        return Some((
            format!("listener `{}` (protocol `{}`) takes {} only", listener.name, listener.protocol, served.join(" and ")),
            format!("attach the {kind} to a listener of protocol {wanted} (with `sectionName`)"),
        ));
    }
    // A route without `metadata.namespace` lands in the namespace it is applied to, which
    // may well be the Gateway's: whether a listener allows it cannot be told.
    let route_namespace = route.explicit_namespace()?;
    let namespaces = allowed.and_then(|allowed| allowed.namespaces.clone()).unwrap_or_default();
    match namespaces.from() {
        FromNamespaces::All => None,
        FromNamespaces::Same if route_namespace == gateway_namespace => None,
        FromNamespaces::Same => Some((
            format!("listener `{}` allows routes from its own namespace `{gateway_namespace}` only", listener.name),
            format!(
                "set the listener's `allowedRoutes.namespaces.from` to `All`, or to `Selector` with a selector matching namespace `{route_namespace}`; or move the route to namespace `{gateway_namespace}`"
            ),
        )),
        FromNamespaces::Selector => {
            let selector = namespaces.selector.as_ref()?;
            match inputs.namespace_selected(selector, route_namespace) {
                Some(false) => Some((
                    format!("the namespace selector of listener `{}` does not select the route's namespace `{route_namespace}`", listener.name),
                    format!("give namespace `{route_namespace}` a label the listener's `allowedRoutes.namespaces.selector` matches"),
                )),
                _ => None,
            }
        }
    }
}

/// How far a parent reference got towards attaching, when it did not attach.
enum Failure {
    NoListener(String, String),
    NotAllowed(String, String),
    NoHostname(String, String),
}

impl Failure {
    fn stage(&self) -> usize {
        match self {
            Failure::NoListener(..) => 0,
            Failure::NotAllowed(..) => 1,
            Failure::NoHostname(..) => 2,
        }
    }
}

fn attach(reference: &ParentReference, gateway: &Gateway, gateway_namespace: &str, route: Route<'_>, inputs: &Inputs<'_>) -> Result<(), Failure> {
    let shown = qualified(gateway_namespace, &reference.name);
    let selected: Vec<&Listener> = gateway
        .spec
        .listeners
        .iter()
        .filter(|listener| reference.section_name().is_none_or(|section| listener.name == section))
        .filter(|listener| reference.port.is_none_or(|port| listener.port == port))
        .collect();
    if selected.is_empty() {
        let wanted = match (reference.section_name(), reference.port) {
            (Some(section), Some(port)) => format!("named `{section}` on port {port}"),
            (Some(section), None) => format!("named `{section}`"),
            (None, Some(port)) => format!("on port {port}"),
            (None, None) => "at all".to_owned(),
        };
        let names: Vec<&str> = gateway.spec.listeners.iter().map(|listener| listener.name.as_str()).collect();
        let help = match reference.section_name().and_then(|section| did_you_mean(section, names.iter().copied())) {
            Some(guess) => format!("did you mean `sectionName: {guess}`?"),
            None => format!(
                "listeners of this Gateway: {}",
                gateway.spec.listeners.iter().map(|listener| format!("`{}` (port {})", listener.name, listener.port)).collect::<Vec<_>>().join(", ")
            ),
        };
        return Err(Failure::NoListener(format!("the parent Gateway `{shown}` has no listener {wanted}: the route attaches to none of its listeners"), help));
    }
    let mut refusals = Vec::new();
    let mut allowed = Vec::new();
    for listener in selected {
        match refusal(listener, gateway_namespace, route, inputs) {
            Some(reason) => refusals.push(reason),
            None => allowed.push(listener),
        }
    }
    if allowed.is_empty() {
        let (reason, help) = refusals.into_iter().next().unwrap_or_default();
        return Err(Failure::NotAllowed(format!("no listener of Gateway `{shown}` accepts this {}: {reason}", route.kind()), help));
    }
    let route_hostnames = route.hostnames();
    if route_hostnames.is_empty() {
        return Ok(());
    }
    let matched = allowed.iter().any(|listener| match listener.hostname() {
        None => true,
        Some(listener_hostname) => route_hostnames.iter().any(|hostname| hostnames_intersect(hostname.as_str(), listener_hostname)),
    });
    if matched {
        return Ok(());
    }
    let route_names: Vec<String> = route_hostnames.iter().map(|hostname| format!("`{}`", hostname.as_str())).collect();
    let listener_names: Vec<String> =
        allowed.iter().filter_map(|listener| listener.hostname().map(|hostname| format!("`{hostname}` (listener `{}`)", listener.name))).collect();
    Err(Failure::NoHostname(
        format!(
            "none of the route's host names ({}) matches the host names of the listeners of Gateway `{shown}` it attaches to: {}",
            route_names.join(", "),
            listener_names.join(", ")
        ),
        "add a host name the listener covers (a listener `*.example.com` covers `a.example.com` but not `example.com`), or change the listener's `hostname`"
            .to_owned(),
    ))
}

pub(super) fn check_set(inputs: &Inputs<'_>, diagnostics: &mut Vec<Diagnostic>) {
    for (object, route) in &inputs.routes {
        for (index, reference) in route.parent_refs().iter().enumerate() {
            if !reference.is_gateway() {
                continue;
            }
            let namespace = reference.namespace.as_deref().unwrap_or(route.namespace());
            let Some(in_namespace) = inputs.gateways.get(namespace) else { continue };
            let path = Path::root().key("spec").key("parentRefs").index(index);
            let Some(candidates) = in_namespace.get(reference.name.as_str()) else {
                diagnostics.push(not_found(object, &path, namespace, reference, in_namespace.keys().copied().collect()));
                continue;
            };
            let mut failures = Vec::new();
            let mut attached = false;
            for (gateway_object, gateway) in candidates {
                match attach(reference, gateway, namespace, *route, inputs) {
                    Ok(()) => attached = true,
                    Err(failure) => failures.push((failure, *gateway_object)),
                }
            }
            if attached {
                continue;
            }
            let Some((failure, gateway_object)) = failures.into_iter().rev().max_by_key(|(failure, _)| failure.stage()) else { continue };
            let (code, message, help) = match failure {
                Failure::NoListener(message, help) => (&NO_MATCHING_LISTENER, message, help),
                Failure::NotAllowed(message, help) => (&NOT_ALLOWED_BY_LISTENERS, message, help),
                Failure::NoHostname(message, help) => (&NO_MATCHING_LISTENER_HOSTNAME, message, help),
            };
            let related = gateway_object.location(&Path::root().key("spec").key("listeners"));
            diagnostics.push(object.diagnostic(code, &path, message).with_help(help).with_related(related, "the Gateway's listeners"));
        }
    }
}

fn not_found(object: &Object, path: &Path, namespace: &str, reference: &ParentReference, names: Vec<&str>) -> Diagnostic {
    let message = format!(
        "the route attaches to no Gateway: Gateway `{}` is not among the inputs, which hold other Gateways in namespace `{namespace}`",
        qualified(namespace, &reference.name)
    );
    let help = match did_you_mean(&reference.name, names.iter().copied()) {
        Some(guess) => format!("did you mean `{guess}`?"),
        None => format!("Gateways in namespace `{namespace}`: {}", names.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")),
    };
    object.diagnostic(&PARENT_GATEWAY_NOT_FOUND, &path.key("name"), message).with_help(help)
}
