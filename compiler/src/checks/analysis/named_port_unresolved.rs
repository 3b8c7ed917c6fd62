//! `PLC7003`: a rule names a port (`port: http`) that no selected pod declares. On ingress the
//! name is looked up in the subject pods' container ports, on egress in the peers'. A name
//! nobody declares adds nothing, so the rule allows (or denies) less than it seems. Fix: use the
//! container port's name as the pods declare it, or a number.

use crate::codes::code;
use crate::diag::{Code, Severity};

code!(
    NAMED_PORT_UNRESOLVED,
    "PLC7003",
    "named-port-unresolved",
    Warning,
    "a named port matches no container port of the pods it applies to",
    "A port given by name is resolved with the pods' container ports: for ingress, the ports of the pods the rule applies to; for egress, the ports of the peer pods. When none of them declares the name, Cilium adds nothing for that port, so the rule allows (or denies) nothing there.

Example:
  ingress:
  - toPorts: [{ports: [{port: web}]}]     # the pods name their port `http`

Fix: use the name the pods declare in `spec.containers[].ports[].name`, or the port number."
);
