//! `PLC4103`: a backend reference to a Service has no `port`.
//!
//! A Service has several ports and the route must say which; the route CRDs reject a Service
//! reference without one. Fix: add `port:` with the Service port.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::gateway::BackendTarget;
use crate::path::Path;

code!(
    BACKEND_PORT_REQUIRED,
    "PLC4103",
    "backend-port-required",
    Error,
    "a backend reference to a Service has no `port`",
    "Traffic goes to one port of the Service, and a Service may have several, so a `backendRef` (or a mirror or auth `backendRef`) whose kind is `Service` (the default) must give `port`. The route CRDs reject it otherwise.

Example:
  backendRefs:
  - name: web

Fix: add the Service port: `- {name: web, port: 8080}`."
);

pub(super) fn check(backends: &[(Path, &dyn BackendTarget)], cx: &mut CheckCx<'_>) {
    for (path, backend) in backends {
        if !backend.is_service() || backend.port().is_some() {
            continue;
        }
        let message = format!("backend Service `{}` has no `port`", backend.name());
        let diagnostic = cx.report(&BACKEND_PORT_REQUIRED, path, message);
        diagnostic.help = Some(format!("add the Service port to send traffic to, such as `port: 8080`, next to `name: {}`", backend.name()));
        diagnostic.label = Some("`port` missing".to_owned());
    }
}
