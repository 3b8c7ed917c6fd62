//! Addresses that disagree inside one inventory object.
//!
//! `PLC6101` a pod's `status.podIP` is not the first of `status.podIPs`; `PLC6102` a node's
//! `spec.podCIDR` is not the first of `spec.podCIDRs`; `PLC6103` a node's `InternalIP` or
//! `ExternalIP` is not an address; `PLC6104` a service's `clusterIP(s)` is neither an address
//! nor `None`; `PLC6105` an EndpointSlice address of the wrong family.
//! Fix: make the fields agree, as the API server keeps them.

use std::net::IpAddr;

use crate::checks::CheckCx;
use crate::codes::code;
use crate::diag::{Code, Severity};
use crate::model::inventory::{EndpointAddressType, EndpointSlice, Node, Pod, Service};
use crate::path::Path;

code!(
    POD_IPS_DISAGREE,
    "PLC6101",
    "pod-ips-disagree",
    Error,
    "a pod's `status.podIP` is not the first of its `status.podIPs`",
    "The API server keeps `status.podIP` equal to `status.podIPs[0].ip`. A hand-written inventory where they differ leaves the pod's address ambiguous.

Example:
  status:
    podIP: 10.0.1.10
    podIPs: [{ip: 10.0.1.11}]

Fix: make `podIP` the first of `podIPs`, or give only one of them."
);

code!(
    NODE_POD_CIDRS_DISAGREE,
    "PLC6102",
    "node-pod-cidrs-disagree",
    Error,
    "a node's `spec.podCIDR` is not the first of its `spec.podCIDRs`",
    "The API server keeps `spec.podCIDR` equal to `spec.podCIDRs[0]`.

Fix: make `podCIDR` the first of `podCIDRs`, or give only one of them."
);

code!(
    NODE_ADDRESS_INVALID,
    "PLC6103",
    "node-address-invalid",
    Error,
    "a node's `InternalIP` or `ExternalIP` is not an IP address",
    "Node addresses of type `InternalIP` and `ExternalIP` are IP addresses; polc uses them to know which traffic comes from a node (the `host` and `remote-node` identities).

Example:
  addresses: [{type: InternalIP, address: node-a.example.com}]

Fix: give the address, or use type `Hostname` or `InternalDNS` for a name."
);

code!(
    SERVICE_CLUSTER_IP_INVALID,
    "PLC6104",
    "service-cluster-ip-invalid",
    Error,
    "a service's `clusterIP` or `clusterIPs` is neither an address nor `None`",
    "`clusterIP` is an IP address, `None` for a headless service, or empty (the API server allocates one). `clusterIPs` lists the same address first.

Fix: correct the address."
);

code!(
    ENDPOINT_ADDRESS_FAMILY,
    "PLC6105",
    "endpoint-address-family",
    Error,
    "an EndpointSlice address is not of the slice's `addressType`",
    "An EndpointSlice of `addressType: IPv4` holds only IPv4 addresses, one of `IPv6` only IPv6 ones.

Fix: move the address to a slice of its family, or correct it."
);

pub(super) fn check_pod(pod: &Pod, cx: &mut CheckCx<'_>) {
    if let (Some(pod_ip), Some(first)) = (&pod.status.pod_ip, pod.status.pod_ips.first()) {
        let same = match (pod_ip.parse::<IpAddr>(), first.ip.parse::<IpAddr>()) {
            (Ok(a), Ok(b)) => a == b,
            _ => pod_ip == &first.ip,
        };
        if !same {
            let message = format!("`status.podIP` is `{pod_ip}` but `status.podIPs[0]` is `{}`", first.ip);
            cx.report(&POD_IPS_DISAGREE, &Path::root().key("status").key("podIP"), message).help =
                Some("the API server keeps them equal: make `podIP` the first of `podIPs`".to_owned());
        }
    }
}

pub(super) fn check_node(node: &Node, cx: &mut CheckCx<'_>) {
    if let (Some(pod_cidr), Some(first)) = (&node.spec.pod_cidr, node.spec.pod_cidrs.first()) {
        let same = match (crate::schema_check::parse_cidr(pod_cidr), crate::schema_check::parse_cidr(first)) {
            (Some(a), Some(b)) => a == b,
            _ => pod_cidr == first,
        };
        if !same {
            let message = format!("`spec.podCIDR` is `{pod_cidr}` but `spec.podCIDRs[0]` is `{first}`");
            cx.report(&NODE_POD_CIDRS_DISAGREE, &Path::root().key("spec").key("podCIDR"), message).help =
                Some("the API server keeps them equal: make `podCIDR` the first of `podCIDRs`".to_owned());
        }
    }
    for (index, address) in node.status.addresses.iter().enumerate() {
        if address.is_ip() && address.address.parse::<IpAddr>().is_err() {
            let message = format!("`{}` is not an IP address, but its type is `{}`", address.address, address.address_type);
            let path = Path::root().key("status").key("addresses").index(index).key("address");
            cx.report(&NODE_ADDRESS_INVALID, &path, message).help = Some("give an IP address, or use type `Hostname` for a name".to_owned());
        }
    }
}

fn cluster_ip_ok(text: &str) -> bool {
    text.is_empty() || text == "None" || text.parse::<IpAddr>().is_ok()
}

pub(super) fn check_service(service: &Service, cx: &mut CheckCx<'_>) {
    if let Some(cluster_ip) = &service.spec.cluster_ip
        && !cluster_ip_ok(cluster_ip)
    {
        let message = format!("`{cluster_ip}` is neither an IP address nor `None`");
        cx.report(&SERVICE_CLUSTER_IP_INVALID, &Path::root().key("spec").key("clusterIP"), message).help =
            Some("give an address, `None` for a headless service, or leave it out".to_owned());
    }
    for (index, cluster_ip) in service.spec.cluster_ips.iter().enumerate() {
        if !cluster_ip_ok(cluster_ip) {
            let message = format!("`{cluster_ip}` is neither an IP address nor `None`");
            cx.report(&SERVICE_CLUSTER_IP_INVALID, &Path::root().key("spec").key("clusterIPs").index(index), message);
        }
    }
    if let (Some(cluster_ip), Some(first)) = (&service.spec.cluster_ip, service.spec.cluster_ips.first())
        && cluster_ip_ok(cluster_ip)
        && cluster_ip_ok(first)
        && cluster_ip != first
    {
        let message = format!("`spec.clusterIP` is `{cluster_ip}` but `spec.clusterIPs[0]` is `{first}`");
        cx.report(&SERVICE_CLUSTER_IP_INVALID, &Path::root().key("spec").key("clusterIP"), message).help =
            Some("the API server keeps them equal: make `clusterIP` the first of `clusterIPs`".to_owned());
    }
}

pub(super) fn check_endpoint_slice(slice: &EndpointSlice, cx: &mut CheckCx<'_>) {
    let wants_v4 = match slice.address_type {
        EndpointAddressType::IPv4 => true,
        EndpointAddressType::IPv6 => false,
        EndpointAddressType::Fqdn => return,
    };
    for (endpoint_index, endpoint) in slice.endpoints.iter().enumerate() {
        for (address_index, address) in endpoint.addresses.iter().enumerate() {
            let path = Path::root().key("endpoints").index(endpoint_index).key("addresses").index(address_index);
            let family = if wants_v4 { "IPv4" } else { "IPv6" };
            match address.parse::<IpAddr>() {
                Ok(parsed) if parsed.is_ipv4() == wants_v4 => {}
                Ok(_) => {
                    let message = format!("`{address}` is not an {family} address, but the slice's `addressType` is `{family}`");
                    cx.report(&ENDPOINT_ADDRESS_FAMILY, &path, message).help = Some("put the address in a slice of its family".to_owned());
                }
                Err(_) => {
                    let message = format!("`{address}` is not an {family} address");
                    cx.report(&ENDPOINT_ADDRESS_FAMILY, &path, message);
                }
            }
        }
    }
}
