//! `PLC6106`: two container ports of one pod have the same name but different numbers.
//!
//! A policy that names the port (`port: http`) then means two ports at once, and which one a
//! datapath picks depends on the implementation. Fix: give the ports distinct names.

use std::collections::BTreeMap;

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::inventory::Pod;
use crate::path::Path;

code!(
    AMBIGUOUS_NAMED_PORT,
    "PLC6106",
    "ambiguous-named-port",
    Warning,
    "two container ports of one pod share a name but not a number",
    "Policies can name a port (`port: http`); Cilium resolves the name with the pod's container ports. When two containers of one pod name different ports alike, the name stands for both, and a policy written for one opens the other.

Example:
  containers:
  - name: app
    ports: [{name: http, containerPort: 8080}]
  - name: sidecar
    ports: [{name: http, containerPort: 15000}]

Fix: give the ports distinct names."
);

pub(super) fn check_pod(pod: &Pod, cx: &mut CheckCx<'_>) {
    let mut first_by_name: BTreeMap<(&str, &str), (u16, Path)> = BTreeMap::new();
    for (container_index, container) in pod.spec.containers.iter().enumerate() {
        for (port_index, port) in container.ports.iter().enumerate() {
            let Some(name) = port.name.as_deref() else { continue };
            let path = Path::root().key("spec").key("containers").index(container_index).key("ports").index(port_index).key("name");
            match first_by_name.get(&(name, port.protocol.as_str())) {
                Some((number, first_path)) if *number != port.container_port => {
                    let first_location = cx.location(first_path);
                    let message = format!("port name `{name}` means both {number} and {} in this pod", port.container_port);
                    let diagnostic = cx.report(&AMBIGUOUS_NAMED_PORT, &path, message);
                    diagnostic.help = Some("give the ports distinct names".to_owned());
                    diagnostic.related.push(crate::diag::Related { location: first_location, message: format!("`{name}` is {number} here") });
                }
                Some(_) => {}
                None => {
                    first_by_name.insert((name, port.protocol.as_str()), (port.container_port, path));
                }
            }
        }
    }
}
