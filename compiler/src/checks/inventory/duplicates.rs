//! `PLC6201`: two inventory objects of one kind have the same namespace and name;
//! `PLC6202`: two pods that are not host-network pods have the same address.
//!
//! An inventory is one snapshot of a cluster, where both are impossible: the inputs probably
//! mix two dumps. polc keeps the first object. Fix: remove one of them.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::codes::code;
use crate::diag::{Code, Diagnostic, Severity};
use crate::frontend::Object;
use crate::kinds::{Category, KindInfo, Resource};
use crate::path::Path;

code!(
    DUPLICATE_INVENTORY_OBJECT,
    "PLC6201",
    "duplicate-inventory-object",
    Error,
    "two inventory objects have the same kind, namespace and name",
    "The inventory is a snapshot of one cluster, where an object's kind, namespace and name are unique. Two objects with the same identity usually mean two dumps (or two clusters) were mixed. polc keeps the first one.

Fix: remove one of the two objects, or lint the two clusters separately."
);

code!(
    DUPLICATE_POD_ADDRESS,
    "PLC6202",
    "duplicate-pod-address",
    Error,
    "two pods have the same address",
    "Each pod that does not use the host network has its own addresses. When two pods of the inventory share one, polc cannot tell which one a flow from that address comes from. It gives the address to the first pod.

Fix: correct the address of one of the pods, or remove the pod that no longer runs."
);

pub(super) fn check_set(objects: &[Object], diagnostics: &mut Vec<Diagnostic>) {
    let mut first: BTreeMap<(&str, Option<&str>, &str), &Object> = BTreeMap::new();
    for object in objects {
        if KindInfo::find(object.kind()).is_none_or(|info| info.category != Category::Inventory) || object.name().is_empty() {
            continue;
        }
        let key = (object.kind(), object.namespace(), object.name());
        match first.get(&key) {
            Some(earlier) => {
                let shown = match object.namespace() {
                    Some(namespace) => format!("{namespace}/{}", object.name()),
                    None => object.name().to_owned(),
                };
                let message = format!("{} `{shown}` is given twice; the first one is used", object.kind());
                let diagnostic = object
                    .diagnostic(&DUPLICATE_INVENTORY_OBJECT, &Path::root().key("metadata").key("name"), message)
                    .with_help("remove one of them, or lint the two snapshots separately")
                    .with_related(earlier.location(&Path::root().key("metadata").key("name")), "first given here");
                diagnostics.push(diagnostic);
            }
            None => {
                first.insert(key, object);
            }
        }
    }

    let mut owners: BTreeMap<IpAddr, &Object> = BTreeMap::new();
    for object in objects {
        let Resource::Pod(pod) = &object.resource else { continue };
        if pod.spec.host_network == Some(true) || matches!(pod.status.phase.as_deref(), Some("Succeeded" | "Failed")) {
            continue;
        }
        let mut addresses: Vec<(IpAddr, Path)> = Vec::new();
        if let Some(address) = pod.status.pod_ip.as_deref().and_then(|text| text.parse().ok()) {
            addresses.push((address, Path::root().key("status").key("podIP")));
        }
        for (index, pod_ip) in pod.status.pod_ips.iter().enumerate() {
            if let Ok(address) = pod_ip.ip.parse()
                && !addresses.iter().any(|(seen, _)| *seen == address)
            {
                addresses.push((address, Path::root().key("status").key("podIPs").index(index).key("ip")));
            }
        }
        for (address, path) in addresses {
            match owners.get(&address) {
                Some(owner) if !std::ptr::eq(*owner, object) => {
                    let message = format!(
                        "pod `{}/{}` has the address `{address}` of pod `{}/{}`",
                        pod.metadata.namespace.as_deref().unwrap_or("default"),
                        object.name(),
                        owner.namespace().unwrap_or("default"),
                        owner.name()
                    );
                    let diagnostic = object
                        .diagnostic(&DUPLICATE_POD_ADDRESS, &path, message)
                        .with_help("correct one of the addresses, or remove the pod that no longer runs")
                        .with_related(owner.location(&Path::root().key("status")), "the first pod with this address");
                    diagnostics.push(diagnostic);
                }
                Some(_) => {}
                None => {
                    owners.insert(address, object);
                }
            }
        }
    }
}
