//! PLACEHOLDER: the checks of this area.

use super::CheckCx;
use crate::diag::{Code, Diagnostic};
use crate::frontend::Object;
use crate::model::flowtest;

pub static CODES: &[&Code] = &[];

pub fn check_set(_objects: &[Object], _diagnostics: &mut Vec<Diagnostic>) {}

pub fn check_flow_test(_object: &flowtest::FlowTest, _cx: &mut CheckCx<'_>) {}
