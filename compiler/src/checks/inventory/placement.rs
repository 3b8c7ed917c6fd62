//! Where pods are placed, against the rest of the inventory.
//!
//! `PLC6203` a pod's `spec.nodeName` names no node of the inputs; `PLC6204` a pod's namespace
//! has no Namespace object; `PLC6205` a pod's address lies outside its node's pod CIDRs.
//! The first two are only reported when the inputs hold some nodes (or namespaces): an
//! inventory of pods alone is fine. Fix: add the missing object, or correct the reference.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::codes::code;
use crate::diag::{Code, Diagnostic, Severity};
use crate::frontend::Object;
use crate::kinds::Resource;
use crate::model::inventory::Node;
use crate::path::Path;

code!(
    POD_ON_UNKNOWN_NODE,
    "PLC6203",
    "pod-on-unknown-node",
    Warning,
    "a pod runs on a node that is not in the inputs",
    "polc decides which traffic is local to a node (the `host` identity) and which comes from another node (`remote-node`) from the pods' `spec.nodeName`. A pod on a node missing from the inventory is treated as if on a node of its own.

Fix: add the Node object to the inventory, or correct `spec.nodeName`."
);

code!(
    POD_NAMESPACE_MISSING,
    "PLC6204",
    "pod-namespace-missing",
    Warning,
    "a pod's namespace has no Namespace object in the inputs",
    "Namespace labels take part in a pod's identity (`namespaceSelector`, `io.cilium.k8s.namespace.labels.*`). Without the Namespace object polc only knows the label `kubernetes.io/metadata.name`, which the API server sets on every namespace.

Fix: add the Namespace object (`kubectl get namespace NAME -o yaml`)."
);

code!(
    POD_IP_OUTSIDE_NODE_CIDR,
    "PLC6205",
    "pod-ip-outside-node-cidr",
    Warning,
    "a pod's address lies outside the pod CIDRs of its node",
    "With Kubernetes or cluster-pool IPAM a pod gets its address from its node's `spec.podCIDRs`. An address outside them usually means the pod or the node was copied from another cluster.

Fix: correct the pod's address or its `spec.nodeName`. (With ENI or other IPAM modes the warning does not apply.)"
);

fn prefix_contains(prefix: &(IpAddr, u8), address: IpAddr) -> bool {
    let (network, length) = *prefix;
    match (network, address) {
        (IpAddr::V4(network), IpAddr::V4(address)) => {
            let mask = if length == 0 { 0 } else { u32::MAX << (32 - u32::from(length.min(32))) };
            u32::from(network) & mask == u32::from(address) & mask
        }
        (IpAddr::V6(network), IpAddr::V6(address)) => {
            let mask = if length == 0 { 0 } else { u128::MAX << (128 - u32::from(length.min(128))) };
            u128::from(network) & mask == u128::from(address) & mask
        }
        _ => false,
    }
}

fn node_cidrs(node: &Node) -> Vec<(IpAddr, u8)> {
    let mut texts: Vec<&str> = node.spec.pod_cidrs.iter().map(String::as_str).collect();
    if let Some(single) = node.spec.pod_cidr.as_deref() {
        texts.push(single);
    }
    texts.into_iter().filter_map(crate::schema_check::parse_cidr).collect()
}

pub(super) fn check_set(objects: &[Object], diagnostics: &mut Vec<Diagnostic>) {
    let mut nodes: BTreeMap<&str, &Node> = BTreeMap::new();
    let mut namespaces: BTreeSet<&str> = BTreeSet::new();
    for object in objects {
        match &object.resource {
            Resource::Node(node) => {
                nodes.entry(object.name()).or_insert(node);
            }
            Resource::Namespace(_) => {
                namespaces.insert(object.name());
            }
            _ => {}
        }
    }
    for object in objects {
        let Resource::Pod(pod) = &object.resource else { continue };
        if let Some(node_name) = pod.spec.node_name.as_deref() {
            match nodes.get(node_name) {
                None if !nodes.is_empty() => {
                    let message = format!("pod `{}` runs on node `{node_name}`, which is not in the inputs", object.name());
                    diagnostics.push(
                        object
                            .diagnostic(&POD_ON_UNKNOWN_NODE, &Path::root().key("spec").key("nodeName"), message)
                            .with_help("add the Node object to the inventory, or correct `spec.nodeName`"),
                    );
                }
                Some(node) if pod.spec.host_network != Some(true) => {
                    let cidrs = node_cidrs(node);
                    let address = pod.status.pod_ip.as_deref().and_then(|text| text.parse::<IpAddr>().ok());
                    if let Some(address) = address {
                        let same_family: Vec<_> = cidrs.iter().filter(|cidr| cidr.0.is_ipv4() == address.is_ipv4()).collect();
                        if !same_family.is_empty() && !same_family.iter().any(|cidr| prefix_contains(cidr, address)) {
                            let shown: Vec<String> = same_family.iter().map(|(network, length)| format!("`{network}/{length}`")).collect();
                            let message = format!("pod address `{address}` is outside the pod CIDRs of node `{node_name}` ({})", shown.join(", "));
                            diagnostics.push(
                                object
                                    .diagnostic(&POD_IP_OUTSIDE_NODE_CIDR, &Path::root().key("status").key("podIP"), message)
                                    .with_help("correct the pod's address or its `spec.nodeName`"),
                            );
                        }
                    }
                }
                _ => {}
            }
        }
        let namespace = object.namespace().unwrap_or("default");
        if !namespaces.is_empty() && !namespaces.contains(namespace) {
            let message = format!("pod `{}` is in namespace `{namespace}`, which has no Namespace object in the inputs", object.name());
            let path = if object.namespace().is_some() { Path::root().key("metadata").key("namespace") } else { Path::root().key("metadata") };
            diagnostics.push(
                object
                    .diagnostic(&POD_NAMESPACE_MISSING, &path, message)
                    .with_help("add the Namespace object; until then only its `kubernetes.io/metadata.name` label is known"),
            );
        }
    }
}
