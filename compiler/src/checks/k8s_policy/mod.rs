//! PLACEHOLDER: the checks of this area.

use super::CheckCx;
use crate::diag::{Code, Diagnostic};
use crate::frontend::Object;
use crate::model::k8s_policy;

pub static CODES: &[&Code] = &[];

pub fn check_set(_objects: &[Object], _diagnostics: &mut Vec<Diagnostic>) {}

pub fn check_network_policy(_object: &k8s_policy::NetworkPolicy, _cx: &mut CheckCx<'_>) {}
