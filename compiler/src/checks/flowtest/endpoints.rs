//! `PLC6001`: a flow's `from` or `to` is not `NAMESPACE/POD`, an IP address or `node:NAME`.
//!
//! Fix: write the pod as `namespace/name` (as `kubectl get pod -n namespace name` names it),
//! a single address (not a CIDR), or `node:` followed by the node's name.

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::flowtest::{Flow, FlowEndpoint};
use crate::path::Path;

code!(
    FLOW_ENDPOINT_INVALID,
    "PLC6001",
    "flow-endpoint-invalid",
    Error,
    "a flow's `from` or `to` is not a pod, an address or a node",
    "Each end of a FlowTest flow is one of:
  - `NAMESPACE/POD`, a pod of the inventory, such as `prod/backend`;
  - an IPv4 or IPv6 address, such as `203.0.113.7` (an address of no pod or node is `world`);
  - `node:NAME`, a node of the inventory, such as `node:node-a`.

Example:
  - from: backend            # no namespace
    to: 10.0.0.0/8           # a CIDR, not an address

Fix: write `prod/backend` and one address such as `10.0.0.1`."
);

pub(super) fn check(flow: &Flow, path: &Path, cx: &mut CheckCx<'_>) {
    for (field, text) in [("from", &flow.from), ("to", &flow.to)] {
        if let Err(message) = FlowEndpoint::parse(text) {
            let help = if !text.contains('/') && !text.contains(':') && !text.contains('.') {
                format!("name the pod with its namespace, such as `default/{}`", text.trim())
            } else {
                "write `NAMESPACE/POD`, an IP address, or `node:NAME`".to_owned()
            };
            cx.report(&FLOW_ENDPOINT_INVALID, &path.key(field), message).help = Some(help);
        }
    }
}
