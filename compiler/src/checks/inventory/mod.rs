//! PLACEHOLDER: the checks of this area.

use super::CheckCx;
use crate::diag::{Code, Diagnostic};
use crate::frontend::Object;
use crate::model::inventory;

pub static CODES: &[&Code] = &[];

pub fn check_set(_objects: &[Object], _diagnostics: &mut Vec<Diagnostic>) {}

pub fn check_namespace(_object: &inventory::Namespace, _cx: &mut CheckCx<'_>) {}

pub fn check_pod(_object: &inventory::Pod, _cx: &mut CheckCx<'_>) {}

pub fn check_node(_object: &inventory::Node, _cx: &mut CheckCx<'_>) {}

pub fn check_service(_object: &inventory::Service, _cx: &mut CheckCx<'_>) {}

pub fn check_endpoint_slice(_object: &inventory::EndpointSlice, _cx: &mut CheckCx<'_>) {}
