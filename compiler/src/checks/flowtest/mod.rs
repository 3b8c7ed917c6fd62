//! Checks of FlowTest documents (codes `PLC6001`–`PLC6099`): each flow's endpoints, port and
//! protocol, and L7 request, on their own. Whether the endpoints exist in the inventory is
//! decided later, by the analysis stage (`PLC7xxx`), which sees the inventory.

mod endpoints;
mod l7_request;
mod names;
mod ports;

use super::CheckCx;
use crate::diag::{Code, Diagnostic};
use crate::frontend::Object;
use crate::model::flowtest;
use crate::path::Path;

pub use endpoints::FLOW_ENDPOINT_INVALID;
pub use l7_request::{FLOW_HTTP_AND_DNS, FLOW_HTTP_PATH_NOT_ABSOLUTE, FLOW_L7_PROTOCOL_MISMATCH};
pub use names::FLOW_DUPLICATE_NAME;
pub use ports::{FLOW_ICMP_TYPE_OUT_OF_RANGE, FLOW_PORT_MISSING};

pub static CODES: &[&Code] = &[
    &FLOW_ENDPOINT_INVALID,
    &FLOW_PORT_MISSING,
    &FLOW_ICMP_TYPE_OUT_OF_RANGE,
    &FLOW_L7_PROTOCOL_MISMATCH,
    &FLOW_HTTP_AND_DNS,
    &FLOW_HTTP_PATH_NOT_ABSOLUTE,
    &FLOW_DUPLICATE_NAME,
];

pub fn check_set(_objects: &[Object], _diagnostics: &mut Vec<Diagnostic>) {}

pub fn check_flow_test(object: &flowtest::FlowTest, cx: &mut CheckCx<'_>) {
    for (index, flow) in object.spec.flows.iter().enumerate() {
        let path = Path::root().key("spec").key("flows").index(index);
        endpoints::check(flow, &path, cx);
        ports::check(flow, &path, cx);
        l7_request::check(flow, &path, cx);
    }
    names::check(object, cx);
}
