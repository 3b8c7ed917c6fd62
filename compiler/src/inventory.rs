//! The cluster inventory: the decoded Namespace, Node, Pod, Service and EndpointSlice objects,
//! boiled down to what policy needs — labels, node placement, addresses, named ports and
//! service backends.
//!
//! The first object of a kind/namespace/name wins (duplicates are reported by the inventory
//! checks). Pods that finished (`Succeeded`, `Failed`) hold no address and are left out. A
//! namespace that pods use but no Namespace object describes gets the one label the API server
//! sets on every namespace, `kubernetes.io/metadata.name`.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use polc_ir::{IpPrefix, Protocol};

use crate::frontend::Object;
use crate::kinds::Resource;
use crate::model::inventory::{EndpointAddressType, IntOrString, PortProtocol, ServiceType};

/// The label the API server puts on every namespace.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Where an inventory object came from (index into the front end's objects).
pub type ObjectIndex = usize;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NamespaceEntry {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// `None` when no Namespace object describes it.
    pub object: Option<ObjectIndex>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeEntry {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// `InternalIP` and `ExternalIP` addresses, in the object's order, without repeats.
    pub addresses: Vec<IpAddr>,
    pub pod_cidrs: Vec<IpPrefix>,
    pub object: ObjectIndex,
}

/// A named container port.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct NamedPort {
    pub name: String,
    pub protocol: Protocol,
    pub port: u16,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodEntry {
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub node: Option<String>,
    pub service_account: String,
    pub host_network: bool,
    /// `status.podIPs` (or `status.podIP`), in order, without repeats.
    pub addresses: Vec<IpAddr>,
    /// Every named container port, sorted.
    pub named_ports: Vec<NamedPort>,
    pub object: ObjectIndex,
}

impl PodEntry {
    /// The port numbers the name stands for with `protocol` (usually one).
    pub fn named_port(&self, name: &str, protocol: Protocol) -> Vec<u16> {
        let mut ports: Vec<u16> = self.named_ports.iter().filter(|port| port.name == name && port.protocol == protocol).map(|port| port.port).collect();
        ports.sort_unstable();
        ports.dedup();
        ports
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServicePortEntry {
    pub name: Option<String>,
    pub protocol: Protocol,
    pub port: u16,
    /// The pod port, by number or by name.
    pub target_port: Option<IntOrString>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceEntry {
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// `None` for a service without a selector (its backends come from EndpointSlices).
    pub selector: Option<BTreeMap<String, String>>,
    pub service_type: ServiceType,
    /// Cluster IPs, external IPs and load-balancer IPs: the addresses clients use.
    pub frontend_addresses: Vec<IpAddr>,
    pub ports: Vec<ServicePortEntry>,
    /// The ready backend addresses of the service's EndpointSlices, sorted.
    pub backend_addresses: Vec<IpAddr>,
    pub object: ObjectIndex,
}

/// The inventory of one cluster snapshot. Maps are keyed by name (and namespace), so iteration
/// is sorted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Inventory {
    pub namespaces: BTreeMap<String, NamespaceEntry>,
    pub nodes: BTreeMap<String, NodeEntry>,
    /// Keyed by `(namespace, name)`.
    pub pods: BTreeMap<(String, String), PodEntry>,
    /// Keyed by `(namespace, name)`.
    pub services: BTreeMap<(String, String), ServiceEntry>,
}

fn protocol_of(protocol: PortProtocol) -> Protocol {
    match protocol {
        PortProtocol::Tcp => Protocol::TCP,
        PortProtocol::Udp => Protocol::UDP,
        PortProtocol::Sctp => Protocol::SCTP,
    }
}

fn push_unique(addresses: &mut Vec<IpAddr>, text: &str) {
    if let Ok(address) = text.trim().parse::<IpAddr>()
        && !addresses.contains(&address)
    {
        addresses.push(address);
    }
}

impl Inventory {
    /// Builds the inventory from the front end's objects (other kinds are ignored).
    pub fn from_objects(objects: &[Object]) -> Inventory {
        let mut inventory = Inventory::default();
        let mut slices: Vec<(ObjectIndex, &crate::model::inventory::EndpointSlice)> = Vec::new();
        for (index, object) in objects.iter().enumerate() {
            match &object.resource {
                Resource::Namespace(namespace) => {
                    let name = namespace.metadata.name().to_owned();
                    if name.is_empty() || inventory.namespaces.contains_key(&name) {
                        continue;
                    }
                    let mut labels = namespace.metadata.labels.clone();
                    labels.entry(NAMESPACE_NAME_LABEL.to_owned()).or_insert_with(|| name.clone());
                    inventory.namespaces.insert(name.clone(), NamespaceEntry { name, labels, object: Some(index) });
                }
                Resource::Node(node) => {
                    let name = node.metadata.name().to_owned();
                    if name.is_empty() || inventory.nodes.contains_key(&name) {
                        continue;
                    }
                    let mut addresses = Vec::new();
                    for address in node.status.addresses.iter().filter(|address| address.is_ip()) {
                        push_unique(&mut addresses, &address.address);
                    }
                    let mut pod_cidrs: Vec<IpPrefix> = node.spec.pod_cidrs.iter().filter_map(|text| IpPrefix::parse(text)).collect();
                    if let Some(single) = node.spec.pod_cidr.as_deref().and_then(IpPrefix::parse)
                        && !pod_cidrs.contains(&single)
                    {
                        pod_cidrs.insert(0, single);
                    }
                    inventory.nodes.insert(name.clone(), NodeEntry { name, labels: node.metadata.labels.clone(), addresses, pod_cidrs, object: index });
                }
                Resource::Pod(pod) => {
                    let name = pod.metadata.name().to_owned();
                    let namespace = pod.metadata.namespace.clone().unwrap_or_else(|| "default".to_owned());
                    if name.is_empty() || matches!(pod.status.phase.as_deref(), Some("Succeeded" | "Failed")) {
                        continue;
                    }
                    let key = (namespace.clone(), name.clone());
                    if inventory.pods.contains_key(&key) {
                        continue;
                    }
                    let mut addresses = Vec::new();
                    if let Some(pod_ip) = &pod.status.pod_ip {
                        push_unique(&mut addresses, pod_ip);
                    }
                    for pod_ip in &pod.status.pod_ips {
                        push_unique(&mut addresses, &pod_ip.ip);
                    }
                    let mut named_ports: Vec<NamedPort> = pod
                        .spec
                        .containers
                        .iter()
                        .flat_map(|container| container.ports.iter())
                        .filter_map(|port| {
                            let name = port.name.as_deref()?.to_ascii_lowercase();
                            Some(NamedPort { name, protocol: protocol_of(port.protocol), port: port.container_port })
                        })
                        .collect();
                    named_ports.sort();
                    named_ports.dedup();
                    let service_account =
                        pod.spec.service_account_name.clone().or_else(|| pod.spec.service_account.clone()).unwrap_or_else(|| "default".to_owned());
                    let entry = PodEntry {
                        namespace,
                        name,
                        labels: pod.metadata.labels.clone(),
                        node: pod.spec.node_name.clone(),
                        service_account,
                        host_network: pod.spec.host_network == Some(true),
                        addresses,
                        named_ports,
                        object: index,
                    };
                    inventory.pods.insert(key, entry);
                }
                Resource::Service(service) => {
                    let name = service.metadata.name().to_owned();
                    let namespace = service.metadata.namespace.clone().unwrap_or_else(|| "default".to_owned());
                    let key = (namespace.clone(), name.clone());
                    if name.is_empty() || inventory.services.contains_key(&key) {
                        continue;
                    }
                    let mut frontend_addresses = Vec::new();
                    for text in service.spec.cluster_ip.iter().chain(service.spec.cluster_ips.iter()).chain(service.spec.external_ips.iter()) {
                        push_unique(&mut frontend_addresses, text);
                    }
                    if let Some(text) = &service.spec.load_balancer_ip {
                        push_unique(&mut frontend_addresses, text);
                    }
                    for ingress in service.status.load_balancer.iter().flat_map(|status| status.ingress.iter()) {
                        if let Some(text) = &ingress.ip {
                            push_unique(&mut frontend_addresses, text);
                        }
                    }
                    let ports = service
                        .spec
                        .ports
                        .iter()
                        .map(|port| ServicePortEntry {
                            name: port.name.clone(),
                            protocol: protocol_of(port.protocol),
                            port: port.port,
                            target_port: port.target_port.clone(),
                        })
                        .collect();
                    inventory.services.insert(
                        key,
                        ServiceEntry {
                            namespace,
                            name,
                            labels: service.metadata.labels.clone(),
                            selector: service.spec.selector.clone().filter(|selector| !selector.is_empty()),
                            service_type: service.spec.service_type,
                            frontend_addresses,
                            ports,
                            backend_addresses: Vec::new(),
                            object: index,
                        },
                    );
                }
                Resource::EndpointSlice(slice) => slices.push((index, slice)),
                _ => {}
            }
        }
        for (_, slice) in slices {
            if slice.address_type == EndpointAddressType::Fqdn {
                continue;
            }
            let Some(service_name) = slice.metadata.labels.get("kubernetes.io/service-name") else { continue };
            let namespace = slice.metadata.namespace.clone().unwrap_or_else(|| "default".to_owned());
            let Some(service) = inventory.services.get_mut(&(namespace, service_name.clone())) else { continue };
            for endpoint in &slice.endpoints {
                if endpoint.conditions.as_ref().and_then(|conditions| conditions.ready) == Some(false) {
                    continue;
                }
                for address in &endpoint.addresses {
                    push_unique(&mut service.backend_addresses, address);
                }
            }
            service.backend_addresses.sort();
        }
        // Namespaces that pods live in but that no Namespace object describes.
        let used: BTreeSet<String> = inventory.pods.values().map(|pod| pod.namespace.clone()).collect();
        for name in used {
            inventory.namespaces.entry(name.clone()).or_insert_with(|| NamespaceEntry {
                name: name.clone(),
                labels: [(NAMESPACE_NAME_LABEL.to_owned(), name.clone())].into_iter().collect(),
                object: None,
            });
        }
        inventory
    }

    pub fn pod(&self, namespace: &str, name: &str) -> Option<&PodEntry> {
        self.pods.get(&(namespace.to_owned(), name.to_owned()))
    }

    pub fn service(&self, namespace: &str, name: &str) -> Option<&ServiceEntry> {
        self.services.get(&(namespace.to_owned(), name.to_owned()))
    }

    /// Pods with their own network namespace (Cilium endpoints), sorted by namespace and name.
    pub fn endpoint_pods(&self) -> impl Iterator<Item = &PodEntry> {
        self.pods.values().filter(|pod| !pod.host_network)
    }

    /// The addresses of the Kubernetes API server (the `default/kubernetes` service's backends)
    /// that are not node addresses.
    pub fn apiserver_addresses(&self) -> Vec<IpAddr> {
        let node_addresses: BTreeSet<IpAddr> = self.nodes.values().flat_map(|node| node.addresses.iter().copied()).collect();
        self.service("default", "kubernetes")
            .map(|service| service.backend_addresses.iter().copied().filter(|address| !node_addresses.contains(address)).collect())
            .unwrap_or_default()
    }

    /// The node whose address `address` is.
    pub fn node_by_address(&self, address: IpAddr) -> Option<&NodeEntry> {
        self.nodes.values().find(|node| node.addresses.contains(&address))
    }

    /// The service whose frontend (cluster IP, external IP, load-balancer IP) `address` is.
    pub fn service_by_frontend(&self, address: IpAddr) -> Option<&ServiceEntry> {
        self.services.values().find(|service| service.frontend_addresses.contains(&address))
    }
}
