//! `PLC7011`: a flow goes to a service's cluster, external or load-balancer address. Cilium
//! translates the address to a backend before policy, so policy decides per backend; polc
//! evaluates the address as given (an outside address). Fix: write the flow to the backend pod.

use crate::codes::code;
use crate::diag::{Code, Severity};

code!(
    FLOW_TO_SERVICE_ADDRESS,
    "PLC7011",
    "flow-to-service-address",
    Warning,
    "a flow goes to a service address rather than to a backend",
    "Cilium's load balancer translates a service address (ClusterIP, external IP, load-balancer IP) to one backend before policy is applied, so the verdict depends on the backend chosen. polc evaluates the address as given, which has no identity of its own (`world`).

Example:
  - from: default/frontend
    to: 10.96.10.20            # the ClusterIP of default/backend

Fix: write the flow to the backend pod, such as `to: default/backend`, with the target port."
);
