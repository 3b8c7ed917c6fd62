//! `PLC7005`: a `toServices` rule names a service that the inventory does not have; it allows
//! (or denies) nothing. Fix: correct the name and namespace, or add the Service to the inputs.

use crate::codes::code;
use crate::diag::{Code, Severity};

code!(
    SERVICE_NOT_FOUND,
    "PLC7005",
    "service-not-found",
    Warning,
    "a `toServices` rule names no service of the inventory",
    "`toServices` selects the backends of Kubernetes services: the pods of a service with a selector, or the addresses of its EndpointSlices. A service missing from the inventory gives no backend, so the rule applies to nothing.

Fix: correct `serviceName`/`namespace` (or the `k8sServiceSelector`), or add the Service and its EndpointSlices to the inputs."
);
