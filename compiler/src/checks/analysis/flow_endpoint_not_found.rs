//! `PLC7001`: a FlowTest flow (or `polc trace`) names a pod or node that the inventory does not
//! have. Fix: add the object to the inventory, or correct the name.

use crate::codes::code;
use crate::diag::{Code, Severity};

code!(
    FLOW_ENDPOINT_NOT_FOUND,
    "PLC7001",
    "flow-endpoint-not-found",
    Error,
    "a flow names a pod or node that is not in the inventory",
    "A flow's `from` and `to` name pods (`NAMESPACE/POD`) and nodes (`node:NAME`) of the inventory given with the policies. A name the inventory does not have cannot be given an identity, so the flow cannot be evaluated.

Example:
  - from: default/frontnd        # typo of default/frontend
    to: prod/backend

Fix: correct the name, or add the Pod or Node (`kubectl get pod -n NS NAME -o yaml`) to the inputs. Finished pods (`Succeeded`, `Failed`) have no address and are not in the inventory."
);
