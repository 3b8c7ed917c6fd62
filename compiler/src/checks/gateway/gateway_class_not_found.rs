//! `PLC4501` (warning): a Gateway's `gatewayClassName` names no GatewayClass of the inputs,
//! while the inputs do hold GatewayClasses.
//!
//! A Gateway of an unknown class is ignored by every controller. Only reported when some
//! GatewayClass is among the inputs (otherwise the classes live elsewhere). Fix: correct the
//! name, or add the GatewayClass.

use crate::codes::code;
use crate::diag::{Code, Diagnostic, Severity};
use crate::path::Path;
use crate::schema_check::did_you_mean;

use super::inputs::Inputs;

code!(
    GATEWAY_CLASS_NOT_FOUND,
    "PLC4501",
    "gateway-class-not-found",
    Warning,
    "a Gateway's `gatewayClassName` names no GatewayClass of the inputs",
    "A Gateway is served by the controller of its GatewayClass. When the inputs define GatewayClasses and none has the name a Gateway gives, no controller will program that Gateway (it stays `Accepted: Unknown`). polc only says so when the inputs hold at least one GatewayClass.

Example:
  kind: GatewayClass
  metadata: {name: cilium}
  ---
  kind: Gateway
  spec: {gatewayClassName: cillium, ...}

Fix: correct `gatewayClassName`, or add the GatewayClass to the inputs."
);

pub(super) fn check_set(inputs: &Inputs<'_>, diagnostics: &mut Vec<Diagnostic>) {
    if inputs.gateway_classes.is_empty() {
        return;
    }
    let names: Vec<&str> = inputs.gateway_classes.iter().map(|(object, _)| object.name()).collect();
    for by_name in inputs.gateways.values() {
        for (object, gateway) in by_name.values().flatten() {
            let class = gateway.spec.gateway_class_name.as_str();
            if names.contains(&class) {
                continue;
            }
            let message = format!("the GatewayClass `{class}` of Gateway `{}` is not among the inputs", object.name());
            let help = match did_you_mean(class, names.iter().copied()) {
                Some(guess) => format!("did you mean `{guess}`?"),
                None => format!("GatewayClasses in the inputs: {}", names.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")),
            };
            diagnostics.push(object.diagnostic(&GATEWAY_CLASS_NOT_FOUND, &Path::root().key("spec").key("gatewayClassName"), message).with_help(help));
        }
    }
}
