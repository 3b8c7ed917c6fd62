//! PLACEHOLDER: the checks of this area.

use super::CheckCx;
use crate::diag::{Code, Diagnostic};
use crate::frontend::Object;
use crate::model::cilium_policy;

pub static CODES: &[&Code] = &[];

pub fn check_set(_objects: &[Object], _diagnostics: &mut Vec<Diagnostic>) {}

pub fn check_cnp(_object: &cilium_policy::CiliumNetworkPolicy, _cx: &mut CheckCx<'_>) {}

pub fn check_ccnp(_object: &cilium_policy::CiliumClusterwideNetworkPolicy, _cx: &mut CheckCx<'_>) {}
