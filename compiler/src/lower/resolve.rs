//! Resolution of rule entries into the IR, endpoint by endpoint.
//!
//! Peers become identity sets once per rule; ports are resolved per endpoint because named
//! ports depend on it (ingress: the endpoint's own container ports; egress: each peer
//! identity's). Enforcement and default-deny follow the enforcement mode, and `allow-localhost`
//! adds its implicit rule to default-deny pod ingress.

use std::collections::{BTreeMap, BTreeSet};

use polc_ir::{
    Direction, DirectionPolicy, Endpoint, EndpointId, EndpointKind, EnforcementMode, IdentityKind, ImplicitRule, IpPrefix, L4Match, Label, NodeInfo,
    NumericIdentity, Peers, PolicyEntry, PolicyIr, PortRange, ReservedAddress, RuleOrigin, RuleVerdict, Settings,
};

use super::rules::{Peer, PeerSpec, PortSpec, PortValue, RuleEntry, Subject};
use super::select::LabelIndex;
use super::subject_path;
use crate::checks::analysis;
use crate::diag::Diagnostic;
use crate::frontend::Object;
use crate::identity::{CLUSTER, IdentityTable, Selector, has_world_label};
use crate::inventory::{Inventory, PodEntry};
use crate::model::cilium_policy::Entity;

/// A rule's peers, resolved.
struct ResolvedPeers {
    peers: Peers,
    fqdns: Vec<String>,
}

fn entity_identities(entity: Entity, identities: &IdentityTable, settings: &Settings) -> Peers {
    let set: BTreeSet<NumericIdentity> = match entity {
        Entity::All => return Peers::Any,
        Entity::World => {
            let mut set: BTreeSet<NumericIdentity> = [NumericIdentity::WORLD, NumericIdentity::WORLD_IPV4, NumericIdentity::WORLD_IPV6].into_iter().collect();
            set.extend(identities.identities.iter().filter(|identity| has_world_label(&identity.labels)).map(|identity| identity.id));
            set
        }
        Entity::Cluster => {
            let mut set: BTreeSet<NumericIdentity> = [
                NumericIdentity::HOST,
                NumericIdentity::REMOTE_NODE,
                NumericIdentity::INIT,
                NumericIdentity::INGRESS,
                NumericIdentity::HEALTH,
                NumericIdentity::UNMANAGED,
                NumericIdentity::KUBE_APISERVER,
            ]
            .into_iter()
            .collect();
            let cluster_label = Label::new("k8s", CLUSTER, settings.cluster_name.clone());
            set.extend(identities.endpoint_identities().filter(|identity| identity.labels.contains(&cluster_label)).map(|identity| identity.id));
            set
        }
        Entity::Host => [NumericIdentity::HOST].into_iter().collect(),
        Entity::RemoteNode => [NumericIdentity::REMOTE_NODE].into_iter().collect(),
        Entity::KubeApiserver => [NumericIdentity::KUBE_APISERVER].into_iter().collect(),
        Entity::Health => [NumericIdentity::HEALTH].into_iter().collect(),
        Entity::Init => [NumericIdentity::INIT].into_iter().collect(),
        Entity::Ingress => [NumericIdentity::INGRESS].into_iter().collect(),
        Entity::Unmanaged => [NumericIdentity::UNMANAGED].into_iter().collect(),
        Entity::None => BTreeSet::new(),
    };
    Peers::Identities(set)
}

/// Resolves rule peers to identities, evaluating each distinct selector, entity and CIDR once,
/// and each selector only against the identities that can match it ([`LabelIndex`]).
struct PeerResolver<'a> {
    identities: &'a IdentityTable,
    settings: &'a Settings,
    index: LabelIndex<'a>,
    selectors: BTreeMap<&'a Selector, BTreeSet<NumericIdentity>>,
    entities: BTreeMap<Entity, Peers>,
    cidrs: BTreeMap<(IpPrefix, &'a [IpPrefix]), BTreeSet<NumericIdentity>>,
}

impl<'a> PeerResolver<'a> {
    fn new(identities: &'a IdentityTable, settings: &'a Settings) -> Self {
        PeerResolver {
            identities,
            settings,
            index: LabelIndex::new(identities.identities.iter().map(|identity| &identity.labels)),
            selectors: BTreeMap::new(),
            entities: BTreeMap::new(),
            cidrs: BTreeMap::new(),
        }
    }

    /// Every identity whose labels `selector` selects (what [`IdentityTable::select`] gives).
    fn select(&mut self, selector: &'a Selector) -> &BTreeSet<NumericIdentity> {
        let (index, identities) = (&self.index, self.identities);
        self.selectors
            .entry(selector)
            .or_insert_with(|| index.select(selector).into_iter().map(|position| identities.identities[position as usize].id).collect())
    }

    fn entity(&mut self, entity: Entity) -> &Peers {
        let (identities, settings) = (self.identities, self.settings);
        self.entities.entry(entity).or_insert_with(|| entity_identities(entity, identities, settings))
    }

    fn cidr(&mut self, prefix: IpPrefix, except: &'a [IpPrefix]) -> &BTreeSet<NumericIdentity> {
        let identities = self.identities;
        self.cidrs.entry((prefix, except)).or_insert_with(|| identities.select_cidr(&prefix, except))
    }

    fn resolve(&mut self, spec: &'a PeerSpec) -> ResolvedPeers {
        let peers = match spec {
            PeerSpec::Wildcard => return ResolvedPeers { peers: Peers::Any, fqdns: Vec::new() },
            PeerSpec::Nothing => return ResolvedPeers { peers: Peers::Identities(BTreeSet::new()), fqdns: Vec::new() },
            PeerSpec::Peers(peers) => peers,
        };
        let mut set = BTreeSet::new();
        let mut fqdns = Vec::new();
        for peer in peers {
            match peer {
                Peer::Any => return ResolvedPeers { peers: Peers::Any, fqdns: Vec::new() },
                Peer::Selector(selector) => set.extend(self.select(selector).iter().copied()),
                Peer::Identities(fixed) => set.extend(fixed.iter().copied()),
                Peer::Entity(entity) => match self.entity(*entity) {
                    Peers::Any => return ResolvedPeers { peers: Peers::Any, fqdns: Vec::new() },
                    Peers::Identities(fixed) => set.extend(fixed.iter().copied()),
                },
                Peer::Cidr { prefix, except } => set.extend(self.cidr(*prefix, except).iter().copied()),
                Peer::Fqdn(name) => fqdns.push(name.clone()),
                Peer::Nodes(selector) if selector.requirements.is_empty() => {
                    set.insert(NumericIdentity::REMOTE_NODE);
                }
                Peer::Nodes(_) | Peer::Unresolvable => {}
            }
        }
        fqdns.sort();
        fqdns.dedup();
        // Rebuilt from sorted order, the set's tree nodes are full; every endpoint the rule
        // selects gets a copy of it, so this halves the memory the IR's identity sets take.
        let set: BTreeSet<NumericIdentity> = set.into_iter().collect();
        ResolvedPeers { peers: Peers::Identities(set), fqdns }
    }
}

/// One endpoint being built, with what subject matching needs.
struct Building<'a> {
    endpoint: Endpoint,
    /// Identity labels (pods) or node labels as `k8s` labels (hosts).
    labels: BTreeSet<Label>,
    pod: Option<&'a PodEntry>,
}

fn node_labels(labels: &BTreeMap<String, String>) -> BTreeSet<Label> {
    let mut set: BTreeSet<Label> = labels.iter().map(|(key, value)| Label::new("k8s", key.clone(), value.clone())).collect();
    set.insert(Label::reserved("host"));
    set
}

fn empty_endpoint(id: EndpointId, kind: EndpointKind, identity: NumericIdentity, node: Option<String>, addresses: Vec<std::net::IpAddr>) -> Endpoint {
    Endpoint { id, kind, identity, node, addresses, ingress: DirectionPolicy::default(), egress: DirectionPolicy::default() }
}

/// For every endpoint being built, the rules whose subject selects it, ascending. Pods with one
/// identity share their labels, so each selector is evaluated once per identity (and per node),
/// and only against the label sets that can match it.
fn subject_rules(building: &[Building<'_>], rules: &[RuleEntry]) -> Vec<Vec<usize>> {
    // Distinct label sets of pods (by identity) and of nodes, and the endpoints of each.
    let mut pod_sets: Vec<&BTreeSet<Label>> = Vec::new();
    let mut pod_members: Vec<Vec<usize>> = Vec::new();
    let mut pod_set_of: BTreeMap<NumericIdentity, usize> = BTreeMap::new();
    let mut host_sets: Vec<&BTreeSet<Label>> = Vec::new();
    let mut host_members: Vec<Vec<usize>> = Vec::new();
    for (position, item) in building.iter().enumerate() {
        if item.endpoint.is_host() {
            host_sets.push(&item.labels);
            host_members.push(vec![position]);
        } else {
            let set = *pod_set_of.entry(item.endpoint.identity).or_insert_with(|| {
                pod_sets.push(&item.labels);
                pod_members.push(Vec::new());
                pod_sets.len() - 1
            });
            pod_members[set].push(position);
        }
    }
    let pods = LabelIndex::new(pod_sets);
    let hosts = LabelIndex::new(host_sets);
    let mut selected: BTreeMap<(bool, &Selector), Vec<u32>> = BTreeMap::new();
    let mut rules_of_item: Vec<Vec<usize>> = vec![Vec::new(); building.len()];
    for (rule_index, rule) in rules.iter().enumerate() {
        let (is_host, selector) = match &rule.subject {
            Subject::Endpoints(selector) => (false, selector),
            Subject::Nodes(selector) => (true, selector),
        };
        let (index, members) = if is_host { (&hosts, &host_members) } else { (&pods, &pod_members) };
        let sets = selected.entry((is_host, selector)).or_insert_with(|| index.select(selector));
        for set in sets.iter() {
            for &item in &members[*set as usize] {
                rules_of_item[item].push(rule_index);
            }
        }
    }
    rules_of_item
}

/// Builds the IR from resolved identities and the rule entries.
pub(super) fn build_ir(
    objects: &[Object],
    inventory: &Inventory,
    identities: &IdentityTable,
    rules: &[RuleEntry],
    settings: &Settings,
) -> (PolicyIr, Vec<Diagnostic>) {
    let mut diagnostics = Vec::new();
    let mut building: Vec<Building<'_>> = Vec::new();
    let mut next_id: u32 = 1;
    let mut exhausted = false;
    let mut allocate = |exhausted: &mut bool| -> Option<EndpointId> {
        if next_id > u32::from(u16::MAX) {
            *exhausted = true;
            return None;
        }
        let id = EndpointId(next_id as u16);
        next_id += 1;
        Some(id)
    };
    for pod in inventory.endpoint_pods() {
        let Some(identity) = identities.pods.get(&(pod.namespace.clone(), pod.name.clone())).copied() else { continue };
        let Some(id) = allocate(&mut exhausted) else { break };
        let labels = identities.info(identity).map(|info| info.labels.clone()).unwrap_or_default();
        let kind = EndpointKind::Pod { namespace: pod.namespace.clone(), name: pod.name.clone() };
        building.push(Building { endpoint: empty_endpoint(id, kind, identity, pod.node.clone(), pod.addresses.clone()), labels, pod: Some(pod) });
    }
    for node in inventory.nodes.values() {
        let Some(id) = allocate(&mut exhausted) else { break };
        let kind = EndpointKind::Host { node: node.name.clone() };
        let endpoint = empty_endpoint(id, kind, NumericIdentity::HOST, Some(node.name.clone()), node.addresses.clone());
        building.push(Building { endpoint, labels: node_labels(&node.labels), pod: None });
    }
    if exhausted {
        diagnostics.push(
            Diagnostic::new(
                &analysis::identity_space_exhausted::IDENTITY_SPACE_EXHAUSTED,
                "the inventory has more than 65535 pods and nodes; the rest get no endpoint",
            )
            .with_help("compile a smaller part of the cluster at a time"),
        );
    }

    let mut resolver = PeerResolver::new(identities, settings);
    let resolved: Vec<ResolvedPeers> = rules.iter().map(|rule| resolver.resolve(&rule.peers)).collect();
    drop(resolver);
    let rules_of_item = subject_rules(&building, rules);
    // Per rule: whether it selected an endpoint; per (rule, port item): whether a name resolved.
    let mut selected_any = vec![false; rules.len()];
    let mut named_resolved: BTreeMap<(usize, usize), bool> = BTreeMap::new();

    for (item, selecting) in building.iter_mut().zip(&rules_of_item) {
        for &rule_index in selecting {
            let rule = &rules[rule_index];
            selected_any[rule_index] = true;
            let pod = item.pod;
            let policy = item.endpoint.policy_mut(rule.direction);
            policy.selected_by.push(rule.origin.clone());
            policy.enforced = true;
            policy.default_deny |= rule.default_deny;
            if rule.peers == PeerSpec::Nothing {
                continue;
            }
            let peers = &resolved[rule_index];
            let entry = |peers: Peers, l4: L4Match, l7: Option<polc_ir::L7Rules>, fqdns: Vec<String>| PolicyEntry {
                verdict: rule.verdict,
                peers,
                l4,
                l7: if rule.verdict == RuleVerdict::Allow { l7 } else { None },
                auth: rule.auth,
                pending_fqdns: fqdns,
                origin: rule.origin.clone(),
            };
            let keep = |entry: &PolicyEntry| !entry.peers.is_empty() || !entry.pending_fqdns.is_empty();
            match &rule.ports {
                PortSpec::All => {
                    let new = entry(peers.peers.clone(), L4Match::Any, None, peers.fqdns.clone());
                    if keep(&new) {
                        policy.entries.push(new);
                    }
                }
                PortSpec::Items(items) => {
                    for (item_index, port_item) in items.iter().enumerate() {
                        for protocol in &port_item.protocols {
                            match &port_item.port {
                                PortValue::Range(range) => {
                                    let new = entry(peers.peers.clone(), L4Match::protocol(*protocol, *range), port_item.l7.clone(), peers.fqdns.clone());
                                    if keep(&new) {
                                        policy.entries.push(new);
                                    }
                                }
                                PortValue::Named(name) => {
                                    let found = named_resolved.entry((rule_index, item_index)).or_insert(false);
                                    match rule.direction {
                                        Direction::Ingress => {
                                            let ports = pod.map(|pod| pod.named_port(name, *protocol)).unwrap_or_default();
                                            *found |= !ports.is_empty();
                                            for port in ports {
                                                let new = entry(
                                                    peers.peers.clone(),
                                                    L4Match::protocol(*protocol, PortRange::single(port)),
                                                    port_item.l7.clone(),
                                                    Vec::new(),
                                                );
                                                if keep(&new) {
                                                    policy.entries.push(new);
                                                }
                                            }
                                        }
                                        Direction::Egress => {
                                            let candidates: Vec<NumericIdentity> = match &peers.peers {
                                                Peers::Any => identities.endpoint_identities().map(|identity| identity.id).collect(),
                                                Peers::Identities(set) => set.iter().copied().collect(),
                                            };
                                            let mut by_port: BTreeMap<u16, BTreeSet<NumericIdentity>> = BTreeMap::new();
                                            for candidate in candidates {
                                                for port in identities.named_port(candidate, name, *protocol) {
                                                    by_port.entry(port).or_default().insert(candidate);
                                                }
                                            }
                                            *found |= !by_port.is_empty();
                                            for (port, group) in by_port {
                                                let new = entry(
                                                    Peers::Identities(group),
                                                    L4Match::protocol(*protocol, PortRange::single(port)),
                                                    port_item.l7.clone(),
                                                    Vec::new(),
                                                );
                                                policy.entries.push(new);
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    // Enforcement mode, host firewall and the implicit rules.
    for item in &mut building {
        let is_host = item.endpoint.is_host();
        for direction in [Direction::Ingress, Direction::Egress] {
            let policy = item.endpoint.policy_mut(direction);
            match settings.enforcement {
                EnforcementMode::Default => {}
                EnforcementMode::Always => {
                    policy.enforced = true;
                    policy.default_deny = true;
                }
                EnforcementMode::Never => {
                    policy.enforced = false;
                    policy.default_deny = false;
                }
            }
            if is_host && !settings.host_firewall {
                policy.enforced = false;
                policy.default_deny = false;
            }
            if !policy.enforced {
                policy.default_deny = false;
            }
            if direction == Direction::Ingress && !is_host && settings.allow_localhost && policy.enforced && policy.default_deny {
                policy.entries.push(PolicyEntry {
                    verdict: RuleVerdict::Allow,
                    peers: Peers::Identities([NumericIdentity::HOST].into_iter().collect()),
                    l4: L4Match::Any,
                    l7: None,
                    auth: None,
                    pending_fqdns: Vec::new(),
                    origin: RuleOrigin::Implicit(ImplicitRule::AllowLocalhost),
                });
            }
        }
    }

    // Findings that need the whole picture.
    let has_pods = inventory.endpoint_pods().next().is_some();
    let has_nodes = !inventory.nodes.is_empty();
    let mut reported_subjects = BTreeSet::new();
    for (rule_index, rule) in rules.iter().enumerate() {
        let object = &objects[rule.object];
        let relevant = match rule.subject {
            Subject::Endpoints(_) => has_pods,
            Subject::Nodes(_) => has_nodes,
        };
        if !selected_any[rule_index] && relevant {
            let path = subject_path(rule);
            if reported_subjects.insert((rule.object, path.clone())) {
                let what = match rule.subject {
                    Subject::Endpoints(_) => "pod",
                    Subject::Nodes(_) => "node",
                };
                let mut message = format!("this selector selects no {what} of the inventory");
                if let (Subject::Endpoints(_), Some(namespace)) = (&rule.subject, object.namespace()) {
                    message.push_str(&format!(" in namespace `{namespace}`"));
                }
                diagnostics.push(
                    object
                        .diagnostic(&analysis::policy_selects_nothing::POLICY_SELECTS_NOTHING, &path, message)
                        .with_help("check the labels and the namespace against the pods of the inventory"),
                );
            }
        }
        if let (Subject::Nodes(_), false) = (&rule.subject, settings.host_firewall) {
            let path = subject_path(rule);
            if reported_subjects.insert((rule.object, path.key("(host firewall)"))) {
                diagnostics.push(
                    object
                        .diagnostic(
                            &analysis::host_policy_without_host_firewall::HOST_POLICY_WITHOUT_HOST_FIREWALL,
                            &path,
                            "this host policy is not enforced: the host firewall is off",
                        )
                        .with_help("run without `--host-firewall=false` to evaluate host policies"),
                );
            }
        }
        if !resolved[rule_index].fqdns.is_empty() {
            let names = resolved[rule_index].fqdns.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ");
            diagnostics.push(
                object
                    .diagnostic(
                        &analysis::fqdn_selects_nothing::FQDN_SELECTS_NOTHING,
                        &rule.path.key("toFQDNs"),
                        format!("{names} select no address until DNS answers are known; polc evaluates without them"),
                    )
                    .with_help("test the DNS lookup itself with a `dns` flow, or use `toCIDR` for fixed addresses"),
            );
        }
        if let PortSpec::Items(items) = &rule.ports {
            for (item_index, port_item) in items.iter().enumerate() {
                let PortValue::Named(name) = &port_item.port else { continue };
                if selected_any[rule_index] && named_resolved.get(&(rule_index, item_index)) == Some(&false) {
                    let whose = match rule.direction {
                        Direction::Ingress => "the pods this rule applies to",
                        Direction::Egress => "the peer pods",
                    };
                    diagnostics.push(
                        object
                            .diagnostic(
                                &analysis::named_port_unresolved::NAMED_PORT_UNRESOLVED,
                                &port_item.path.key("port"),
                                format!("no container port of {whose} is named `{name}`"),
                            )
                            .with_help("use the name the pods declare in `spec.containers[].ports[].name`, or the port number"),
                    );
                }
            }
        }
    }

    let nodes: Vec<NodeInfo> = inventory
        .nodes
        .values()
        .map(|node| NodeInfo { name: node.name.clone(), addresses: node.addresses.clone(), pod_cidrs: node.pod_cidrs.clone() })
        .collect();
    let reserved_addresses: Vec<ReservedAddress> = identities
        .reserved_addresses
        .iter()
        .map(|(address, identity)| ReservedAddress { prefix: polc_ir::IpPrefix::host(*address), identity: *identity })
        .collect();
    debug_assert!(
        identities.identities.iter().all(|identity| identity.kind != IdentityKind::Endpoint || identity.id.0 >= NumericIdentity::FIRST_CLUSTER_LOCAL)
    );
    let ir =
        PolicyIr::new(settings.clone(), identities.identities.clone(), nodes, building.into_iter().map(|item| item.endpoint).collect(), reserved_addresses);
    (ir, diagnostics)
}
