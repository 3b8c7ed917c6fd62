//! PLACEHOLDER: the checks of this area.

use super::CheckCx;
use crate::diag::{Code, Diagnostic};
use crate::frontend::Object;
use crate::model::gateway;

pub static CODES: &[&Code] = &[];

pub fn check_set(_objects: &[Object], _diagnostics: &mut Vec<Diagnostic>) {}

pub fn check_gateway_class(_object: &gateway::GatewayClass, _cx: &mut CheckCx<'_>) {}

pub fn check_gateway(_object: &gateway::Gateway, _cx: &mut CheckCx<'_>) {}

pub fn check_http_route(_object: &gateway::HTTPRoute, _cx: &mut CheckCx<'_>) {}

pub fn check_grpc_route(_object: &gateway::GRPCRoute, _cx: &mut CheckCx<'_>) {}

pub fn check_tls_route(_object: &gateway::TLSRoute, _cx: &mut CheckCx<'_>) {}

pub fn check_reference_grant(_object: &gateway::ReferenceGrant, _cx: &mut CheckCx<'_>) {}
