//! Kubernetes NetworkPolicy to rule entries, as Cilium maps it.
//!
//! The subject is `podSelector` in the policy's namespace. Each `from`/`to` item is one peer: an
//! `ipBlock` is a CIDR with its `except`s; a `podSelector` alone is confined to the policy's
//! namespace; a `namespaceSelector` selects by namespace labels (an empty one: every namespace),
//! optionally narrowed by a `podSelector`. An absent or empty `from`/`to` is every peer, world and
//! host included; absent or empty `ports` is every port. Rules are default-deny. A direction
//! without rules denies everything when `policyTypes` lists it (or, for ingress, when it does not
//! list egress); Cilium lowers a direction's rules even when `policyTypes` leaves it out.

use polc_ir::{Direction, IpPrefix, PortRange, Protocol, RuleVerdict};

use super::LowerCx;
use super::cilium::{Scope, subject_selector, with_cluster};
use super::rules::{Peer, PeerSpec, PortItem, PortSpec, PortValue, RuleEntry, Subject};
use crate::identity::{NAMESPACE_LABELS_PREFIX, POD_NAMESPACE, Selector};
use crate::inventory::ObjectIndex;
use crate::model::k8s_policy::{IntOrString, NetworkPolicy, NetworkPolicyPeer, NetworkPolicyPort, PolicyType, Protocol as K8sProtocol};
use crate::path::Path;

fn protocol_of(protocol: K8sProtocol) -> Protocol {
    match protocol {
        K8sProtocol::Tcp => Protocol::TCP,
        K8sProtocol::Udp => Protocol::UDP,
        K8sProtocol::Sctp => Protocol::SCTP,
    }
}

fn peer(peer: &NetworkPolicyPeer, namespace: &str, cluster: &str) -> Peer {
    if let Some(block) = &peer.ip_block {
        return match IpPrefix::parse(block.cidr.trim()) {
            Some(prefix) => Peer::Cidr { prefix, except: block.except.iter().flatten().filter_map(|text| IpPrefix::parse(text.trim())).collect() },
            None => Peer::Unresolvable,
        };
    }
    let mut selector = match &peer.pod_selector {
        Some(pods) => Selector::from_label_selector(pods),
        None => Selector::default(),
    };
    match &peer.namespace_selector {
        Some(namespaces) if namespaces.is_empty() => selector = selector.with(Selector::exists(POD_NAMESPACE)),
        Some(namespaces) => {
            let renamed = Selector::from_label_selector_renamed(namespaces, |key| format!("{NAMESPACE_LABELS_PREFIX}{key}"));
            selector.requirements.extend(renamed.requirements);
        }
        None if peer.pod_selector.is_some() => selector = selector.with(Selector::equals(POD_NAMESPACE, namespace)),
        // A peer with none of the three fields; the API server rejects it.
        None => return Peer::Unresolvable,
    }
    Peer::Selector(with_cluster(selector, cluster))
}

fn port_items(ports: &[NetworkPolicyPort], path: &Path) -> PortSpec {
    if ports.is_empty() {
        return PortSpec::All;
    }
    let mut items = Vec::new();
    for (index, port) in ports.iter().enumerate() {
        let value = match &port.port {
            None => PortValue::Range(PortRange::ALL),
            Some(IntOrString::Int(number)) => match u16::try_from(*number) {
                Ok(0) => PortValue::Range(PortRange::ALL),
                Ok(first) => {
                    let last = port.end_port.and_then(|end| u16::try_from(end).ok()).filter(|end| *end > first).unwrap_or(first);
                    PortValue::Range(PortRange::new(first, last))
                }
                Err(_) => continue,
            },
            Some(IntOrString::String(text)) => match super::rules::parse_port_number(text.trim()) {
                Some(0) => PortValue::Range(PortRange::ALL),
                Some(number) => PortValue::Range(PortRange::single(number)),
                None => PortValue::Named(text.trim().to_ascii_lowercase()),
            },
        };
        items.push(PortItem { protocols: vec![protocol_of(port.protocol())], port: value, l7: None, path: path.key("ports").index(index) });
    }
    PortSpec::Items(items)
}

/// The rule entries of one NetworkPolicy object.
pub fn lower_network_policy(cx: &mut LowerCx<'_>, object: ObjectIndex, policy: &NetworkPolicy) {
    let namespace = policy.metadata.namespace.clone().unwrap_or_else(|| "default".to_owned());
    let name = policy.metadata.name().to_owned();
    let cluster = cx.settings.cluster_name.clone();
    let subject = Subject::Endpoints(subject_selector(&Scope::Namespace(namespace.clone()), policy.spec.pod_selector()));
    let listed = |wanted: PolicyType| policy.spec.policy_types.as_ref().is_some_and(|types| types.contains(&wanted));
    let kind = "NetworkPolicy";
    for (direction, section) in [(Direction::Ingress, "ingress"), (Direction::Egress, "egress")] {
        // Cilium lowers the rules of both directions whatever `policyTypes` says, and adds a
        // deny-all entry to a direction without rules when: ingress is listed or egress is not
        // (ingress); egress is listed (egress).
        let deny_all_without_rules = match direction {
            Direction::Ingress => listed(PolicyType::Ingress) || !listed(PolicyType::Egress),
            Direction::Egress => listed(PolicyType::Egress),
        };
        let rules: Vec<(Option<&[NetworkPolicyPeer]>, &[NetworkPolicyPort])> = match direction {
            Direction::Ingress => policy.spec.ingress().iter().map(|rule| (rule.from.as_deref(), rule.ports.as_deref().unwrap_or_default())).collect(),
            Direction::Egress => policy.spec.egress().iter().map(|rule| (rule.to.as_deref(), rule.ports.as_deref().unwrap_or_default())).collect(),
        };
        if rules.is_empty() {
            if !deny_all_without_rules {
                continue;
            }
            // No rules: default deny for this direction.
            let path =
                if policy.spec.policy_types.is_some() { Path::root().key("spec").key("policyTypes") } else { Path::root().key("spec").key("podSelector") };
            let origin = cx.origin(object, kind, Some(&namespace), &name, &path);
            cx.rules.push(RuleEntry {
                origin,
                object,
                path,
                subject: subject.clone(),
                direction,
                verdict: RuleVerdict::Allow,
                peers: PeerSpec::Nothing,
                ports: PortSpec::All,
                default_deny: true,
                auth: None,
            });
            continue;
        }
        for (index, (peers, ports)) in rules.into_iter().enumerate() {
            let path = Path::root().key("spec").key(section).index(index);
            let origin = cx.origin(object, kind, Some(&namespace), &name, &path);
            let peer_field = if direction == Direction::Ingress { "from" } else { "to" };
            let peers = match peers {
                None | Some([]) => PeerSpec::Peers(vec![Peer::Any]),
                Some(peers) => {
                    let resolved: Vec<Peer> = peers.iter().map(|item| peer(item, &namespace, &cluster)).collect();
                    let cidr_entries: Vec<(Path, IpPrefix, Vec<IpPrefix>)> = resolved
                        .iter()
                        .enumerate()
                        .filter_map(|(position, item)| match item {
                            Peer::Cidr { prefix, except } => Some((path.key(peer_field).index(position).key("ipBlock"), *prefix, except.clone())),
                            _ => None,
                        })
                        .collect();
                    cx.check_zero_prefixes(object, &cidr_entries);
                    PeerSpec::Peers(resolved)
                }
            };
            let ports = port_items(ports, &path);
            cx.rules.push(RuleEntry {
                origin,
                object,
                path,
                subject: subject.clone(),
                direction,
                verdict: RuleVerdict::Allow,
                peers,
                ports,
                default_deny: true,
                auth: None,
            });
        }
    }
}
