//! Security identities: the labels Cilium derives for each pod, its label filter, selectors with
//! label sources, and deterministic identity allocation.
//!
//! A pod's identity labels (source `k8s`) are its own labels (minus keys under `io.cilium.k8s`),
//! `io.kubernetes.pod.namespace`, one `io.cilium.k8s.namespace.labels.<key>` per namespace label,
//! `io.cilium.k8s.policy.serviceaccount` and `io.cilium.k8s.policy.cluster`; then Cilium's
//! default label filter drops volatile keys (`pod-template-hash`, most `kubernetes.io` keys...).
//! Pods with equal filtered label sets share one identity. Identities are numbered from 256 in
//! the sorted order of their label sets, and CIDR identities from `1 << 24 | 1` in the sorted
//! order of their prefixes, so the same inventory and policies always give the same numbers.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use polc_ir::{IdentityInfo, IdentityKind, IpPrefix, Label, NumericIdentity, Protocol};

use crate::inventory::{Inventory, NamedPort, PodEntry};
use crate::model::meta::{LabelSelector, SelectorOperator};

/// The pod-namespace label key.
pub const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
/// The prefix of namespace-label keys.
pub const NAMESPACE_LABELS_PREFIX: &str = "io.cilium.k8s.namespace.labels.";
/// The service-account label key.
pub const SERVICE_ACCOUNT: &str = "io.cilium.k8s.policy.serviceaccount";
/// The cluster-name label key.
pub const CLUSTER: &str = "io.cilium.k8s.policy.cluster";

/// Key prefixes Cilium's default label filter drops (`!` entries of the default list).
const IGNORED_PREFIXES: &[&str] = &[
    "io.kubernetes",
    "kubernetes.io",
    "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index",
    "batch.kubernetes.io/job-completion-index",
    "batch.kubernetes.io/controller-uid",
    "k8s.io",
    "pod-template-generation",
    "pod-template-hash",
    "controller-revision-hash",
    "controller-uid",
    "annotation",
    "etcd_node",
    "topology.kubernetes.io",
];

/// Key prefixes the default filter keeps even where an ignored prefix also matches (the longer
/// match wins).
const INCLUDED_PREFIXES: &[&str] = &[POD_NAMESPACE, "io.cilium.k8s.namespace.labels", "app.kubernetes.io", CLUSTER, SERVICE_ACCOUNT];

/// Whether Cilium's default label filter keeps a `k8s` label with this key.
pub fn label_filter_keeps(key: &str) -> bool {
    let included = INCLUDED_PREFIXES.iter().filter(|prefix| key.starts_with(*prefix)).map(|prefix| prefix.len()).max();
    let mut ignored = IGNORED_PREFIXES.iter().filter(|prefix| key.starts_with(*prefix)).map(|prefix| prefix.len()).max();
    // `.*beta.kubernetes.io`: anywhere in the key.
    if let Some(position) = key.find("beta.kubernetes.io") {
        ignored = ignored.max(Some(position + "beta.kubernetes.io".len()));
    }
    match (included, ignored) {
        (_, None) => true,
        (Some(included), Some(ignored)) => included > ignored,
        (None, Some(_)) => false,
    }
}

/// The identity labels of a pod in a namespace with `namespace_labels`, after the label filter.
pub fn pod_identity_labels(pod: &PodEntry, namespace_labels: &BTreeMap<String, String>, cluster: &str) -> BTreeSet<Label> {
    let mut labels = BTreeSet::new();
    for (key, value) in &pod.labels {
        if !key.starts_with("io.cilium.k8s") {
            labels.insert(Label::new("k8s", key.clone(), value.clone()));
        }
    }
    labels.insert(Label::new("k8s", POD_NAMESPACE, pod.namespace.clone()));
    for (key, value) in namespace_labels {
        labels.insert(Label::new("k8s", format!("{NAMESPACE_LABELS_PREFIX}{key}"), value.clone()));
    }
    labels.insert(Label::new("k8s", SERVICE_ACCOUNT, pod.service_account.clone()));
    labels.insert(Label::new("k8s", CLUSTER, cluster));
    labels.into_iter().filter(|label| label_filter_keeps(&label.key)).collect()
}

/// The world label of an address outside the cluster: `reserved:world` in a single-stack
/// cluster, `reserved:world-ipv4` or `reserved:world-ipv6` in a dual-stack one.
pub fn world_label(address: IpAddr, dual_stack: bool) -> Label {
    match (dual_stack, address) {
        (false, _) => Label::reserved("world"),
        (true, IpAddr::V4(_)) => Label::reserved("world-ipv4"),
        (true, IpAddr::V6(_)) => Label::reserved("world-ipv6"),
    }
}

/// The labels of a reserved identity. `apiserver_addresses` are the API server's addresses
/// outside the nodes, which also carry the world label.
pub fn reserved_labels(id: NumericIdentity, apiserver_addresses: &[IpAddr], dual_stack: bool) -> BTreeSet<Label> {
    let mut labels = BTreeSet::new();
    if let Some(name) = id.reserved_name() {
        labels.insert(Label::reserved(name));
    }
    if id == NumericIdentity::KUBE_APISERVER {
        labels.extend(apiserver_addresses.iter().map(|address| world_label(*address, dual_stack)));
    }
    labels
}

/// Whether `labels` carry a world label of any family.
pub fn has_world_label(labels: &BTreeSet<Label>) -> bool {
    ["world", "world-ipv4", "world-ipv6"].iter().any(|name| labels.contains(&Label::reserved(name)))
}

/// The operator of one selector requirement.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operator {
    In(BTreeSet<String>),
    NotIn(BTreeSet<String>),
    Exists,
    DoesNotExist,
}

/// One requirement on a label. `source: None` is Cilium's `any` source: a label of any source
/// with the key counts.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Requirement {
    pub source: Option<String>,
    pub key: String,
    pub operator: Operator,
}

impl Requirement {
    fn matches(&self, labels: &BTreeSet<Label>) -> bool {
        let mut values =
            labels.iter().filter(|label| label.key == self.key && self.source.as_deref().is_none_or(|source| source == label.source)).map(|label| &label.value);
        match &self.operator {
            Operator::In(wanted) => values.any(|value| wanted.contains(value)),
            Operator::NotIn(unwanted) => values.all(|value| !unwanted.contains(value)),
            Operator::Exists => values.next().is_some(),
            Operator::DoesNotExist => values.next().is_none(),
        }
    }
}

/// Splits a selector key into its source and key: `k8s:app` → (`k8s`, `app`); `app` → (any, `app`).
pub fn split_source(key: &str) -> (Option<String>, String) {
    match key.split_once(':') {
        Some(("any", rest)) => (None, rest.to_owned()),
        Some((source, rest)) if !source.is_empty() => (Some(source.to_owned()), rest.to_owned()),
        _ => (None, key.to_owned()),
    }
}

/// A Cilium endpoint selector: every requirement must hold. An empty selector selects every
/// label set.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Selector {
    pub requirements: Vec<Requirement>,
}

impl Selector {
    /// The selector a Kubernetes label selector stands for, with Cilium's key sources.
    pub fn from_label_selector(selector: &LabelSelector) -> Selector {
        let mut requirements = Vec::new();
        for (key, value) in &selector.match_labels {
            let (source, key) = split_source(key);
            requirements.push(Requirement { source, key, operator: Operator::In([value.clone()].into_iter().collect()) });
        }
        for expression in &selector.match_expressions {
            let (source, key) = split_source(&expression.key);
            let values: BTreeSet<String> = expression.values.iter().cloned().collect();
            let operator = match expression.operator {
                SelectorOperator::In => Operator::In(values),
                SelectorOperator::NotIn => Operator::NotIn(values),
                SelectorOperator::Exists => Operator::Exists,
                SelectorOperator::DoesNotExist => Operator::DoesNotExist,
            };
            requirements.push(Requirement { source, key, operator });
        }
        Selector { requirements }
    }

    /// A Kubernetes label selector applied to plain labels (no sources), with its keys
    /// rewritten by `rename`.
    pub fn from_label_selector_renamed(selector: &LabelSelector, rename: impl Fn(&str) -> String) -> Selector {
        let mut renamed = Selector::from_label_selector(selector);
        for requirement in &mut renamed.requirements {
            requirement.key = rename(&requirement.key);
        }
        renamed
    }

    pub fn matches(&self, labels: &BTreeSet<Label>) -> bool {
        self.requirements.iter().all(|requirement| requirement.matches(labels))
    }

    /// Whether a requirement names `key` (in any source).
    pub fn mentions_key(&self, key: &str) -> bool {
        self.requirements.iter().any(|requirement| requirement.key == key)
    }

    /// Whether a requirement's key starts with `prefix`.
    pub fn mentions_key_prefix(&self, prefix: &str) -> bool {
        self.requirements.iter().any(|requirement| requirement.key.starts_with(prefix))
    }

    /// Whether a requirement uses the `reserved` source.
    pub fn uses_reserved(&self) -> bool {
        self.requirements.iter().any(|requirement| requirement.source.as_deref() == Some("reserved"))
    }

    /// This selector with one more requirement.
    pub fn with(mut self, requirement: Requirement) -> Selector {
        self.requirements.push(requirement);
        self
    }

    /// `k8s:KEY=VALUE` as a requirement.
    pub fn equals(key: &str, value: &str) -> Requirement {
        Requirement { source: Some("k8s".to_owned()), key: key.to_owned(), operator: Operator::In([value.to_owned()].into_iter().collect()) }
    }

    /// `k8s:KEY` exists, as a requirement.
    pub fn exists(key: &str) -> Requirement {
        Requirement { source: Some("k8s".to_owned()), key: key.to_owned(), operator: Operator::Exists }
    }

    /// `reserved:NAME` exists, as a requirement.
    pub fn reserved(name: &str) -> Requirement {
        Requirement { source: Some("reserved".to_owned()), key: name.to_owned(), operator: Operator::Exists }
    }
}

/// Every allocated identity, and which pods and prefixes have which.
#[derive(Clone, Debug, Default)]
pub struct IdentityTable {
    /// Sorted by ID.
    pub identities: Vec<IdentityInfo>,
    /// The identity of every endpoint pod, by `(namespace, name)`.
    pub pods: BTreeMap<(String, String), NumericIdentity>,
    /// CIDR identities by prefix.
    pub cidrs: BTreeMap<IpPrefix, NumericIdentity>,
    /// The named ports of the pods of each endpoint identity.
    pub named_ports: BTreeMap<NumericIdentity, Vec<NamedPort>>,
    /// Reserved identities given to addresses outside the pods and nodes (`kube-apiserver`).
    pub reserved_addresses: Vec<(IpAddr, NumericIdentity)>,
    /// Whether the world is split by family (a dual-stack cluster).
    pub dual_stack: bool,
}

/// Why identities could not all be allocated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AllocationProblem {
    /// More distinct label sets than the cluster-local identity range holds.
    EndpointRangeExhausted { needed: usize },
    /// More CIDR prefixes than the node-local range holds.
    LocalRangeExhausted { needed: usize },
}

impl IdentityTable {
    /// Allocates identities for the inventory's pods and for `prefixes` (the CIDRs that
    /// policies name).
    pub fn allocate(inventory: &Inventory, prefixes: &BTreeSet<IpPrefix>, cluster: &str, dual_stack: bool) -> (IdentityTable, Vec<AllocationProblem>) {
        let mut table = IdentityTable { dual_stack, ..IdentityTable::default() };
        let mut problems = Vec::new();
        let apiserver_addresses = inventory.apiserver_addresses();
        for id in NumericIdentity::RESERVED {
            table.identities.push(IdentityInfo { id, kind: IdentityKind::Reserved, labels: reserved_labels(id, &apiserver_addresses, dual_stack) });
        }
        let empty = BTreeMap::new();
        let mut by_labels: BTreeMap<BTreeSet<Label>, Vec<&PodEntry>> = BTreeMap::new();
        for pod in inventory.endpoint_pods() {
            let namespace_labels = inventory.namespaces.get(&pod.namespace).map(|namespace| &namespace.labels).unwrap_or(&empty);
            by_labels.entry(pod_identity_labels(pod, namespace_labels, cluster)).or_default().push(pod);
        }
        let capacity = (NumericIdentity::LAST_CLUSTER_LOCAL - NumericIdentity::FIRST_CLUSTER_LOCAL + 1) as usize;
        if by_labels.len() > capacity {
            problems.push(AllocationProblem::EndpointRangeExhausted { needed: by_labels.len() });
        }
        for (index, (labels, pods)) in by_labels.into_iter().take(capacity).enumerate() {
            let id = NumericIdentity(NumericIdentity::FIRST_CLUSTER_LOCAL + index as u32);
            let mut named_ports: Vec<NamedPort> = pods.iter().flat_map(|pod| pod.named_ports.iter().cloned()).collect();
            named_ports.sort();
            named_ports.dedup();
            table.named_ports.insert(id, named_ports);
            for pod in pods {
                table.pods.insert((pod.namespace.clone(), pod.name.clone()), id);
            }
            table.identities.push(IdentityInfo { id, kind: IdentityKind::Endpoint, labels });
        }
        let capacity = NumericIdentity::LAST_LOCAL_INDEX as usize;
        if prefixes.len() > capacity {
            problems.push(AllocationProblem::LocalRangeExhausted { needed: prefixes.len() });
        }
        for (index, prefix) in prefixes.iter().take(capacity).enumerate() {
            let id = NumericIdentity::local(index as u32 + 1);
            let mut labels = BTreeSet::new();
            labels.insert(Label::new("cidr", prefix.to_string().replace(':', "-"), ""));
            labels.insert(world_label(prefix.address(), dual_stack));
            table.cidrs.insert(*prefix, id);
            table.identities.push(IdentityInfo { id, kind: IdentityKind::Cidr { prefix: *prefix }, labels });
        }
        for address in apiserver_addresses {
            table.reserved_addresses.push((address, NumericIdentity::KUBE_APISERVER));
        }
        table.identities.sort_by_key(|identity| identity.id);
        (table, problems)
    }

    pub fn info(&self, id: NumericIdentity) -> Option<&IdentityInfo> {
        self.identities.binary_search_by_key(&id, |identity| identity.id).ok().map(|index| &self.identities[index])
    }

    /// Every identity whose labels `selector` selects.
    pub fn select(&self, selector: &Selector) -> BTreeSet<NumericIdentity> {
        self.identities.iter().filter(|identity| selector.matches(&identity.labels)).map(|identity| identity.id).collect()
    }

    /// The endpoint (pod) identities.
    pub fn endpoint_identities(&self) -> impl Iterator<Item = &IdentityInfo> {
        self.identities.iter().filter(|identity| identity.kind == IdentityKind::Endpoint)
    }

    /// The port numbers the pods of `id` name `name` with `protocol`.
    pub fn named_port(&self, id: NumericIdentity, name: &str, protocol: Protocol) -> Vec<u16> {
        let mut ports: Vec<u16> = self
            .named_ports
            .get(&id)
            .map(|ports| ports.iter().filter(|port| port.name == name && port.protocol == protocol).map(|port| port.port).collect())
            .unwrap_or_default();
        ports.sort_unstable();
        ports.dedup();
        ports
    }

    /// The CIDR identities (and reserved outside addresses) inside `cidr` and outside every
    /// `except` prefix.
    pub fn select_cidr(&self, cidr: &IpPrefix, except: &[IpPrefix]) -> BTreeSet<NumericIdentity> {
        let mut selected: BTreeSet<NumericIdentity> =
            self.cidrs.iter().filter(|(prefix, _)| cidr.covers(prefix) && !except.iter().any(|excluded| excluded.covers(prefix))).map(|(_, id)| *id).collect();
        for (address, id) in &self.reserved_addresses {
            if cidr.contains(*address) && !except.iter().any(|excluded| excluded.contains(*address)) {
                selected.insert(*id);
            }
        }
        if cidr.length() == 0 {
            // A /0 prefix is a world label: of its own family in a dual-stack cluster, else the
            // whole world. It selects the world identities and every identity that carries the
            // label (minus the `except` prefixes).
            let label = world_label(cidr.address(), self.dual_stack);
            let worlds: &[NumericIdentity] = match (self.dual_stack, cidr.is_ipv4()) {
                (false, _) => &[NumericIdentity::WORLD, NumericIdentity::WORLD_IPV4, NumericIdentity::WORLD_IPV6],
                (true, true) => &[NumericIdentity::WORLD_IPV4],
                (true, false) => &[NumericIdentity::WORLD_IPV6],
            };
            selected.extend(worlds.iter().copied());
            let excepted = |prefix: &IpPrefix| except.iter().any(|excluded| excluded.covers(prefix));
            for identity in self.identities.iter().filter(|identity| identity.labels.contains(&label)) {
                match &identity.kind {
                    IdentityKind::Cidr { prefix } if !excepted(prefix) => {
                        selected.insert(identity.id);
                    }
                    IdentityKind::Reserved if identity.id == NumericIdentity::KUBE_APISERVER => {
                        let outside = self
                            .reserved_addresses
                            .iter()
                            .any(|(address, id)| *id == identity.id && world_label(*address, self.dual_stack) == label && !excepted(&IpPrefix::host(*address)));
                        if outside {
                            selected.insert(identity.id);
                        }
                    }
                    _ => {}
                }
            }
        }
        selected
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_label_filter() {
        assert!(label_filter_keeps("app"));
        assert!(label_filter_keeps("k8s-app"));
        assert!(label_filter_keeps("app.kubernetes.io/name"));
        assert!(label_filter_keeps("io.kubernetes.pod.namespace"));
        assert!(label_filter_keeps("io.cilium.k8s.namespace.labels.kubernetes.io/metadata.name"));
        assert!(!label_filter_keeps("pod-template-hash"));
        assert!(!label_filter_keeps("controller-revision-hash"));
        assert!(!label_filter_keeps("statefulset.kubernetes.io/pod-name"));
        assert!(!label_filter_keeps("kubernetes.io/hostname"));
        assert!(!label_filter_keeps("failure-domain.beta.kubernetes.io/zone"));
        assert!(!label_filter_keeps("io.kubernetes.container.name"));
    }

    #[test]
    fn selector_keys_carry_sources() {
        let labels: BTreeSet<Label> = [Label::new("k8s", "app", "web"), Label::reserved("host")].into_iter().collect();
        let by_any = Selector { requirements: vec![Requirement { source: None, key: "app".to_owned(), operator: Operator::In(["web".to_owned()].into()) }] };
        assert!(by_any.matches(&labels));
        let by_other_source =
            Selector { requirements: vec![Requirement { source: Some("container".to_owned()), key: "app".to_owned(), operator: Operator::Exists }] };
        assert!(!by_other_source.matches(&labels));
        assert_eq!(split_source("reserved:host"), (Some("reserved".to_owned()), "host".to_owned()));
        assert_eq!(split_source("any:app"), (None, "app".to_owned()));
        assert_eq!(split_source("app"), (None, "app".to_owned()));
        let not_in = Selector { requirements: vec![Requirement { source: None, key: "tier".to_owned(), operator: Operator::NotIn(["db".to_owned()].into()) }] };
        assert!(not_in.matches(&labels), "NotIn holds when the key is absent");
    }
}
