//! `PLC7004`: a rule's subject selector selects no pod (or node) of the inventory. The rule then
//! applies to nothing in this snapshot; usually a label or namespace is wrong. Fix: correct the
//! selector, or ignore the warning if the pods do not exist yet.

use crate::codes::code;
use crate::diag::{Code, Severity};

code!(
    POLICY_SELECTS_NOTHING,
    "PLC7004",
    "policy-selects-nothing",
    Warning,
    "a policy's subject selects no pod or node of the inventory",
    "The subject selector (`endpointSelector`, `nodeSelector` or `podSelector`) matches no pod (or node) of the inventory, so the rule applies to nothing. A CiliumNetworkPolicy and a NetworkPolicy only select pods of their own namespace.

Example:
  metadata: {namespace: default}
  spec:
    endpointSelector: {matchLabels: {app: backend}}   # the backend pods run in `prod`

Fix: correct the labels or the namespace, or add the pods to the inventory."
);
