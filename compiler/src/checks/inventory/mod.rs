//! Checks of the cluster inventory (codes `PLC6100`–`PLC6299`): addresses that disagree within
//! one object, ambiguous named ports, and, across objects, duplicates, shared addresses and
//! references to nodes or namespaces that are not in the inputs.

mod addresses;
mod duplicates;
mod named_ports;
mod placement;

use super::CheckCx;
use crate::diag::{Code, Diagnostic};
use crate::frontend::Object;
use crate::model::inventory;

pub use addresses::{ENDPOINT_ADDRESS_FAMILY, NODE_ADDRESS_INVALID, NODE_POD_CIDRS_DISAGREE, POD_IPS_DISAGREE, SERVICE_CLUSTER_IP_INVALID};
pub use duplicates::{DUPLICATE_INVENTORY_OBJECT, DUPLICATE_POD_ADDRESS};
pub use named_ports::AMBIGUOUS_NAMED_PORT;
pub use placement::{POD_IP_OUTSIDE_NODE_CIDR, POD_NAMESPACE_MISSING, POD_ON_UNKNOWN_NODE};

pub static CODES: &[&Code] = &[
    &POD_IPS_DISAGREE,
    &NODE_POD_CIDRS_DISAGREE,
    &NODE_ADDRESS_INVALID,
    &SERVICE_CLUSTER_IP_INVALID,
    &ENDPOINT_ADDRESS_FAMILY,
    &AMBIGUOUS_NAMED_PORT,
    &DUPLICATE_INVENTORY_OBJECT,
    &DUPLICATE_POD_ADDRESS,
    &POD_ON_UNKNOWN_NODE,
    &POD_NAMESPACE_MISSING,
    &POD_IP_OUTSIDE_NODE_CIDR,
];

pub fn check_set(objects: &[Object], diagnostics: &mut Vec<Diagnostic>) {
    duplicates::check_set(objects, diagnostics);
    placement::check_set(objects, diagnostics);
}

pub fn check_namespace(_object: &inventory::Namespace, _cx: &mut CheckCx<'_>) {}

pub fn check_pod(object: &inventory::Pod, cx: &mut CheckCx<'_>) {
    addresses::check_pod(object, cx);
    named_ports::check_pod(object, cx);
}

pub fn check_node(object: &inventory::Node, cx: &mut CheckCx<'_>) {
    addresses::check_node(object, cx);
}

pub fn check_service(object: &inventory::Service, cx: &mut CheckCx<'_>) {
    addresses::check_service(object, cx);
}

pub fn check_endpoint_slice(object: &inventory::EndpointSlice, cx: &mut CheckCx<'_>) {
    addresses::check_endpoint_slice(object, cx);
}
