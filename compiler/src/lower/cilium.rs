//! CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy to rule entries.
//!
//! Namespace scoping follows Cilium: a CNP's subject is confined to the policy's namespace, and
//! its endpoint peers too unless they name a namespace (or namespace labels); a CCNP's subject is
//! not confined, and its endpoint peers are confined to pods (`io.kubernetes.pod.namespace`
//! exists). Peers that use a `reserved:` label are never confined. Endpoint peers also get the
//! local cluster's name unless they name a cluster.

use polc_ir::{Direction, IpPrefix, RuleVerdict};

use super::LowerCx;
use super::rules::{Peer, PeerSpec, PortItem, PortSpec, RuleEntry, Subject, cilium_auth, cilium_l7, cilium_port_value, cilium_protocols, icmp_items};
use crate::identity::{CLUSTER, NAMESPACE_LABELS_PREFIX, POD_NAMESPACE, Requirement, Selector};
use crate::inventory::ObjectIndex;
use crate::model::cilium_policy::{self as model, CidrRule, Entity, FqdnSelector, Groups, IcmpRule, L7Rules, PortProtocol, Rule};
use crate::model::meta::LabelSelector;
use crate::path::Path;

/// Where a policy's selectors are confined.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// A namespaced policy (CNP, NetworkPolicy).
    Namespace(String),
    /// A cluster-wide policy (CCNP).
    Cluster,
}

/// The subject selector of a rule's `endpointSelector`.
pub fn subject_selector(scope: &Scope, selector: &LabelSelector) -> Selector {
    let mut subject = Selector::from_label_selector(selector);
    if let Scope::Namespace(namespace) = scope {
        // The policy's namespace always wins over a namespace the selector names.
        subject.requirements.retain(|requirement| requirement.key != POD_NAMESPACE);
        subject = subject.with(Selector::equals(POD_NAMESPACE, namespace));
    }
    subject
}

/// An endpoint peer selector (`fromEndpoints`/`toEndpoints`) with Cilium's scoping.
pub fn peer_selector(scope: &Scope, selector: &LabelSelector, cluster: &str) -> Selector {
    let mut peer = Selector::from_label_selector(selector);
    if peer.uses_reserved() {
        return peer;
    }
    if !peer.mentions_key(POD_NAMESPACE) && !peer.mentions_key_prefix(NAMESPACE_LABELS_PREFIX) {
        peer = match scope {
            Scope::Namespace(namespace) => peer.with(Selector::equals(POD_NAMESPACE, namespace)),
            Scope::Cluster => peer.with(Selector::exists(POD_NAMESPACE)),
        };
    }
    with_cluster(peer, cluster)
}

/// `selector` confined to the local cluster unless it names a cluster.
pub fn with_cluster(selector: Selector, cluster: &str) -> Selector {
    if selector.mentions_key(CLUSTER) || selector.uses_reserved() { selector } else { selector.with(Selector::equals(CLUSTER, cluster)) }
}

/// One port rule of `toPorts`: its ports and its L7 rules (none for deny rules).
type PortRuleView<'a> = (Option<&'a [PortProtocol]>, Option<&'a L7Rules>);

/// The parts of an `ingress`/`ingressDeny`/`egress`/`egressDeny` item, whatever its direction.
struct Element<'a> {
    endpoints: Option<&'a [LabelSelector]>,
    cidrs: Option<&'a [String]>,
    cidr_sets: Option<&'a [CidrRule]>,
    entities: Option<&'a [Entity]>,
    groups: Option<&'a [Groups]>,
    nodes: Option<&'a [LabelSelector]>,
    services: Option<&'a [model::Service]>,
    fqdns: Option<&'a [FqdnSelector]>,
    /// `toPorts`: each port rule's ports and L7 rules.
    port_rules: Option<Vec<PortRuleView<'a>>>,
    icmps: Option<&'a [IcmpRule]>,
    auth: Option<&'a model::Authentication>,
    /// `from` or `to`, for paths.
    prefix: &'static str,
}

impl<'a> Element<'a> {
    fn ingress(rule: &'a model::IngressRule) -> Self {
        Element {
            endpoints: rule.from_endpoints.as_deref(),
            cidrs: rule.from_cidr.as_deref(),
            cidr_sets: rule.from_cidr_set.as_deref(),
            entities: rule.from_entities.as_deref(),
            groups: rule.from_groups.as_deref(),
            nodes: rule.from_nodes.as_deref(),
            services: None,
            fqdns: None,
            port_rules: rule.to_ports.as_ref().map(|rules| rules.iter().map(|rule| (rule.ports.as_deref(), rule.rules.as_ref())).collect()),
            icmps: rule.icmps.as_deref(),
            auth: rule.authentication.as_ref(),
            prefix: "from",
        }
    }

    fn ingress_deny(rule: &'a model::IngressDenyRule) -> Self {
        Element {
            endpoints: rule.from_endpoints.as_deref(),
            cidrs: rule.from_cidr.as_deref(),
            cidr_sets: rule.from_cidr_set.as_deref(),
            entities: rule.from_entities.as_deref(),
            groups: rule.from_groups.as_deref(),
            nodes: rule.from_nodes.as_deref(),
            services: None,
            fqdns: None,
            port_rules: rule.to_ports.as_ref().map(|rules| rules.iter().map(|rule| (rule.ports.as_deref(), None)).collect()),
            icmps: rule.icmps.as_deref(),
            auth: None,
            prefix: "from",
        }
    }

    fn egress(rule: &'a model::EgressRule) -> Self {
        Element {
            endpoints: rule.to_endpoints.as_deref(),
            cidrs: rule.to_cidr.as_deref(),
            cidr_sets: rule.to_cidr_set.as_deref(),
            entities: rule.to_entities.as_deref(),
            groups: rule.to_groups.as_deref(),
            nodes: rule.to_nodes.as_deref(),
            services: rule.to_services.as_deref(),
            fqdns: rule.to_fqdns.as_deref(),
            port_rules: rule.to_ports.as_ref().map(|rules| rules.iter().map(|rule| (rule.ports.as_deref(), rule.rules.as_ref())).collect()),
            icmps: rule.icmps.as_deref(),
            auth: rule.authentication.as_ref(),
            prefix: "to",
        }
    }

    fn egress_deny(rule: &'a model::EgressDenyRule) -> Self {
        Element {
            endpoints: rule.to_endpoints.as_deref(),
            cidrs: rule.to_cidr.as_deref(),
            cidr_sets: rule.to_cidr_set.as_deref(),
            entities: rule.to_entities.as_deref(),
            groups: rule.to_groups.as_deref(),
            nodes: rule.to_nodes.as_deref(),
            services: rule.to_services.as_deref(),
            fqdns: None,
            port_rules: rule.to_ports.as_ref().map(|rules| rules.iter().map(|rule| (rule.ports.as_deref(), None)).collect()),
            icmps: rule.icmps.as_deref(),
            auth: None,
            prefix: "to",
        }
    }

    fn has_peer_field(&self) -> bool {
        self.endpoints.is_some()
            || self.cidrs.is_some()
            || self.cidr_sets.is_some()
            || self.entities.is_some()
            || self.groups.is_some()
            || self.nodes.is_some()
            || self.services.is_some()
            || self.fqdns.is_some()
    }

    fn has_l4(&self) -> bool {
        self.port_rules.as_ref().is_some_and(|rules| !rules.is_empty()) || self.icmps.is_some_and(|icmps| !icmps.is_empty())
    }
}

/// One section of a rule (`ingress`, `ingressDeny`, ...): its name, direction, verdict,
/// default-deny setting and elements.
type Section<'a> = (&'static str, Direction, RuleVerdict, bool, Vec<Element<'a>>);

/// The rule entries of one CNP or CCNP object.
pub fn lower_policy(cx: &mut LowerCx<'_>, object: ObjectIndex, kind: &str, namespace: Option<&str>, name: &str, rules: &[(Path, &Rule)]) {
    let scope = match namespace {
        Some(namespace) => Scope::Namespace(namespace.to_owned()),
        None => Scope::Cluster,
    };
    for (base, rule) in rules {
        let subject = match (&rule.endpoint_selector, &rule.node_selector) {
            (Some(selector), _) => Subject::Endpoints(subject_selector(&scope, selector)),
            // A CNP may not use `nodeSelector` (a policy check says so); Cilium refuses it.
            (None, Some(_)) if matches!(scope, Scope::Namespace(_)) => continue,
            (None, Some(selector)) => Subject::Nodes(Selector::from_label_selector(selector)),
            (None, None) => continue,
        };
        let defaults = rule.enable_default_deny.unwrap_or_default();
        let ingress_default_deny = defaults.ingress.unwrap_or(true);
        let egress_default_deny = defaults.egress.unwrap_or(true);
        let sections: Vec<Section<'_>> = vec![
            ("ingress", Direction::Ingress, RuleVerdict::Allow, ingress_default_deny, rule.ingress().iter().map(Element::ingress).collect()),
            ("ingressDeny", Direction::Ingress, RuleVerdict::Deny, ingress_default_deny, rule.ingress_deny().iter().map(Element::ingress_deny).collect()),
            ("egress", Direction::Egress, RuleVerdict::Allow, egress_default_deny, rule.egress().iter().map(Element::egress).collect()),
            ("egressDeny", Direction::Egress, RuleVerdict::Deny, egress_default_deny, rule.egress_deny().iter().map(Element::egress_deny).collect()),
        ];
        for (section, direction, verdict, default_deny, elements) in sections {
            for (index, element) in elements.iter().enumerate() {
                let path = base.key(section).index(index);
                let origin = cx.origin(object, kind, namespace, name, &path);
                let ports = port_spec(element, &path);
                let peers = if element.has_peer_field() {
                    PeerSpec::Peers(peers(cx, object, &scope, element, &path))
                } else if element.has_l4() {
                    PeerSpec::Wildcard
                } else {
                    PeerSpec::Nothing
                };
                let auth = if verdict == RuleVerdict::Allow { cilium_auth(element.auth) } else { None };
                cx.rules.push(RuleEntry { origin, object, path, subject: subject.clone(), direction, verdict, peers, ports, default_deny, auth });
            }
        }
    }
}

fn port_spec(element: &Element<'_>, path: &Path) -> PortSpec {
    if !element.has_l4() {
        return PortSpec::All;
    }
    let mut items = Vec::new();
    for (rule_index, (ports, l7)) in element.port_rules.iter().flatten().enumerate() {
        let l7 = cilium_l7(*l7);
        for (port_index, port) in ports.iter().copied().flatten().enumerate() {
            let Some(value) = cilium_port_value(port) else { continue };
            let item_path = path.key("toPorts").index(rule_index).key("ports").index(port_index);
            items.push(PortItem { protocols: cilium_protocols(port.protocol), port: value, l7: l7.clone(), path: item_path });
        }
    }
    items.extend(icmp_items(element.icmps.unwrap_or_default(), path));
    PortSpec::Items(items)
}

fn parse_prefix(text: &str) -> Option<IpPrefix> {
    IpPrefix::parse(text.trim())
}

fn peers(cx: &mut LowerCx<'_>, object: ObjectIndex, scope: &Scope, element: &Element<'_>, path: &Path) -> Vec<Peer> {
    let cluster = cx.settings.cluster_name.clone();
    let field = element.prefix;
    let mut peers = Vec::new();
    for selector in element.endpoints.unwrap_or_default() {
        peers.push(Peer::Selector(peer_selector(scope, selector, &cluster)));
    }
    let mut cidr_entries = Vec::new();
    for (index, text) in element.cidrs.unwrap_or_default().iter().enumerate() {
        if let Some(prefix) = parse_prefix(text) {
            cidr_entries.push((path.key(format!("{field}CIDR")).index(index), prefix, Vec::new()));
            peers.push(Peer::Cidr { prefix, except: Vec::new() });
        }
    }
    for (index, set) in element.cidr_sets.unwrap_or_default().iter().enumerate() {
        match set.cidr.as_deref().and_then(parse_prefix) {
            Some(prefix) => {
                let except: Vec<IpPrefix> = set.except.iter().flatten().filter_map(|text| parse_prefix(text)).collect();
                cidr_entries.push((path.key(format!("{field}CIDRSet")).index(index), prefix, except.clone()));
                peers.push(Peer::Cidr { prefix, except });
            }
            None if set.cidr_group_ref.is_some() || set.cidr_group_selector.is_some() => {
                let at = path.key(format!("{field}CIDRSet")).index(index);
                cx.cidr_group_unresolved(object, &at);
                peers.push(Peer::Unresolvable);
            }
            None => peers.push(Peer::Unresolvable),
        }
    }
    cx.check_zero_prefixes(object, &cidr_entries);
    for entity in element.entities.unwrap_or_default() {
        peers.push(Peer::Entity(*entity));
    }
    if let Some(groups) = element.groups {
        if !groups.is_empty() {
            cx.groups_unsupported(object, &path.key(format!("{field}Groups")));
        }
        peers.extend(groups.iter().map(|_| Peer::Unresolvable));
    }
    for (index, selector) in element.nodes.unwrap_or_default().iter().enumerate() {
        let nodes = Selector::from_label_selector(selector);
        if !nodes.requirements.is_empty() {
            cx.node_selector_labels_disabled(object, &path.key(format!("{field}Nodes")).index(index));
        }
        peers.push(Peer::Nodes(nodes));
    }
    for (index, service) in element.services.unwrap_or_default().iter().enumerate() {
        let at = path.key("toServices").index(index);
        peers.extend(service_peers(cx, object, service, &at, &cluster));
    }
    for selector in element.fqdns.unwrap_or_default() {
        if let Some(name) = selector.match_name.as_ref().or(selector.match_pattern.as_ref()) {
            peers.push(Peer::Fqdn(name.clone()));
        }
    }
    peers
}

fn service_peers(cx: &mut LowerCx<'_>, object: ObjectIndex, service: &model::Service, path: &Path, cluster: &str) -> Vec<Peer> {
    let inventory = cx.inventory;
    let matched: Vec<&crate::inventory::ServiceEntry> = if let Some(by_name) = &service.k8s_service {
        let name = by_name.service_name.as_deref().unwrap_or("");
        let namespace = by_name.namespace.as_deref().filter(|namespace| !namespace.is_empty());
        inventory.services.values().filter(|entry| entry.name == name && namespace.is_none_or(|namespace| entry.namespace == namespace)).collect()
    } else if let Some(by_selector) = &service.k8s_service_selector {
        let namespace = by_selector.namespace.as_deref().filter(|namespace| !namespace.is_empty());
        inventory
            .services
            .values()
            .filter(|entry| namespace.is_none_or(|namespace| entry.namespace == namespace) && by_selector.selector.matches(&entry.labels))
            .collect()
    } else {
        Vec::new()
    };
    if matched.is_empty() {
        cx.service_not_found(object, path, service);
        return Vec::new();
    }
    let mut peers = Vec::new();
    for entry in matched {
        match &entry.selector {
            Some(selector) => {
                let mut generated = Selector::default();
                for (key, value) in selector {
                    generated = generated.with(Requirement {
                        source: Some("k8s".to_owned()),
                        key: key.clone(),
                        operator: crate::identity::Operator::In([value.clone()].into_iter().collect()),
                    });
                }
                generated = generated.with(Selector::equals(POD_NAMESPACE, &entry.namespace));
                peers.push(Peer::Selector(with_cluster(generated, cluster)));
            }
            None => {
                for address in &entry.backend_addresses {
                    peers.push(Peer::Cidr { prefix: IpPrefix::host(*address), except: Vec::new() });
                }
            }
        }
    }
    peers
}
