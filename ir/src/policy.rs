//! The policy IR: every endpoint with its resolved ingress and egress policy.
//!
//! This is Cilium's flat `PolicyEntry` form after selector resolution: each entry names the
//! remote identities it applies to (or any identity), the L4 it matches, allow or deny, the L7
//! rules and authentication of allow entries, and where it came from. Per endpoint and
//! direction the IR also says whether policy is enforced and whether it denies by default.
//! No byte layouts live here: backends derive their map images from these types.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use crate::identity::{IdentityInfo, IdentityKind, NumericIdentity};
use crate::l4::L4Match;
use crate::l7::L7Rules;
use crate::net::IpPrefix;

/// The direction of traffic, seen from the endpoint whose policy applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Cilium's `policy-enforcement` mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnforcementMode {
    /// A direction is enforced once a policy selects the endpoint for it.
    #[default]
    Default,
    /// Every endpoint is enforced, default-deny, in both directions.
    Always,
    /// Nothing is enforced.
    Never,
}

/// The agent settings the IR was computed with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    pub enforcement: EnforcementMode,
    /// `allow-localhost`: a default-deny ingress of a pod also admits its own node.
    pub allow_localhost: bool,
    /// Whether nodes' own traffic is subject to host policies (`nodeSelector` rules). polc
    /// assumes it is (a host policy means nothing otherwise); Cilium's own default is off.
    pub host_firewall: bool,
    /// The cluster name in `io.cilium.k8s.policy.cluster`.
    pub cluster_name: String,
    /// Whether the cluster runs IPv4 and IPv6 (`enable-ipv4` and `enable-ipv6`). Then the world
    /// splits into `world-ipv4` and `world-ipv6`, and a `/0` prefix stands for its own family
    /// only; in a single-stack cluster (Cilium's default) every `/0` is the whole world.
    #[serde(default)]
    pub dual_stack: bool,
}

impl Settings {
    /// The world identity of an address of this family.
    pub fn world_of(&self, address: IpAddr) -> NumericIdentity {
        match (self.dual_stack, address) {
            (false, _) => NumericIdentity::WORLD,
            (true, IpAddr::V4(_)) => NumericIdentity::WORLD_IPV4,
            (true, IpAddr::V6(_)) => NumericIdentity::WORLD_IPV6,
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings { enforcement: EnforcementMode::Default, allow_localhost: true, host_firewall: true, cluster_name: "default".to_owned(), dual_stack: false }
    }
}

/// A numeric endpoint ID (Cilium's `endpoint_id`, 1–65535).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EndpointId(pub u16);

impl fmt::Display for EndpointId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// What an endpoint is.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EndpointKind {
    /// A pod with its own network namespace.
    Pod { namespace: String, name: String },
    /// A node itself (and its host-network pods).
    Host { node: String },
}

impl fmt::Display for EndpointKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointKind::Pod { namespace, name } => write!(f, "{namespace}/{name}"),
            EndpointKind::Host { node } => write!(f, "node:{node}"),
        }
    }
}

/// Which remote identities an entry applies to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Peers {
    /// Every remote identity (identity 0 in a policy key).
    Any,
    /// Exactly these identities; an empty set selects nothing.
    Identities(BTreeSet<NumericIdentity>),
}

impl Peers {
    pub fn contains(&self, identity: NumericIdentity) -> bool {
        match self {
            Peers::Any => true,
            Peers::Identities(identities) => identities.contains(&identity),
        }
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Peers::Identities(identities) if identities.is_empty())
    }
}

/// Allow or deny.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleVerdict {
    Allow,
    Deny,
}

/// `authentication.mode` of an allow rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    /// Explicitly no authentication (auth type 0, explicit).
    Disabled,
    /// SPIRE mutual authentication (auth type 1).
    Required,
    /// Always fails (auth type 2), for tests.
    TestAlwaysFail,
}

impl AuthMode {
    /// The auth type number in Cilium's policy map.
    pub fn auth_type(self) -> u8 {
        match self {
            AuthMode::Disabled => 0,
            AuthMode::Required => 1,
            AuthMode::TestAlwaysFail => 2,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMode::Disabled => "disabled",
            AuthMode::Required => "required",
            AuthMode::TestAlwaysFail => "test-always-fail",
        }
    }
}

/// An index into the caller's table of source locations (the IR carries no spans).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct LocationId(pub u32);

/// Rules that the agent adds on its own, with no policy behind them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImplicitRule {
    /// `allow-localhost`: a default-deny pod ingress admits its own node.
    AllowLocalhost,
}

impl ImplicitRule {
    pub fn as_str(self) -> &'static str {
        match self {
            ImplicitRule::AllowLocalhost => "allow-localhost",
        }
    }
}

/// Where a policy entry came from.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleOrigin {
    Policy {
        /// `CiliumNetworkPolicy`, `CiliumClusterwideNetworkPolicy` or `NetworkPolicy`.
        kind: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
        name: String,
        /// The rule inside the object, such as `spec.ingress[0]` or `specs[1].egressDeny[2]`.
        rule_path: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        location: Option<LocationId>,
    },
    Implicit(ImplicitRule),
}

impl RuleOrigin {
    /// `CiliumNetworkPolicy prod/allow-web spec.ingress[0]`.
    pub fn describe(&self) -> String {
        match self {
            RuleOrigin::Policy { kind, namespace: Some(namespace), name, rule_path, .. } => format!("{kind} {namespace}/{name} {rule_path}"),
            RuleOrigin::Policy { kind, namespace: None, name, rule_path, .. } => format!("{kind} {name} {rule_path}"),
            RuleOrigin::Implicit(rule) => format!("implicit rule {}", rule.as_str()),
        }
    }

    pub fn location(&self) -> Option<LocationId> {
        match self {
            RuleOrigin::Policy { location, .. } => *location,
            RuleOrigin::Implicit(_) => None,
        }
    }
}

/// One resolved policy entry.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PolicyEntry {
    pub verdict: RuleVerdict,
    pub peers: Peers,
    pub l4: L4Match,
    /// L7 rules (allow entries only): traffic is redirected to the proxy, which permits a
    /// request when one of the rules matches it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l7: Option<L7Rules>,
    /// Authentication required by an allow entry; `None` when the rule does not say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<AuthMode>,
    /// `toFQDNs` names and patterns whose addresses would join `peers` once DNS answers are
    /// seen; polc knows no DNS answers, so they select nothing yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending_fqdns: Vec<String>,
    pub origin: RuleOrigin,
}

/// The policy of one endpoint in one direction.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectionPolicy {
    /// Whether policy applies at all. When not, everything is allowed.
    pub enforced: bool,
    /// When enforced: whether traffic no entry allows is dropped. When not, the agent's
    /// lowest-tier allow-all applies, so only denies and L7 rules restrict traffic.
    pub default_deny: bool,
    pub entries: Vec<PolicyEntry>,
    /// Every rule that selects the endpoint in this direction (including rules, such as
    /// `ingress: [{}]`, that add no entry), sorted.
    pub selected_by: Vec<RuleOrigin>,
}

/// One endpoint and its policy.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: EndpointId,
    pub kind: EndpointKind,
    /// The endpoint's own identity (for a host endpoint: `host`).
    pub identity: NumericIdentity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    pub addresses: Vec<IpAddr>,
    pub ingress: DirectionPolicy,
    pub egress: DirectionPolicy,
}

impl Endpoint {
    pub fn policy(&self, direction: Direction) -> &DirectionPolicy {
        match direction {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        }
    }

    pub fn policy_mut(&mut self, direction: Direction) -> &mut DirectionPolicy {
        match direction {
            Direction::Ingress => &mut self.ingress,
            Direction::Egress => &mut self.egress,
        }
    }

    pub fn is_host(&self) -> bool {
        matches!(self.kind, EndpointKind::Host { .. })
    }
}

/// A node of the cluster: its addresses are the `host` identity on the node itself and
/// `remote-node` everywhere else.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeInfo {
    pub name: String,
    pub addresses: Vec<IpAddr>,
    pub pod_cidrs: Vec<IpPrefix>,
}

/// An address range outside the pods and nodes with a fixed reserved identity (for example the
/// Kubernetes API server's addresses, `kube-apiserver`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ReservedAddress {
    pub prefix: IpPrefix,
    pub identity: NumericIdentity,
}

/// The whole IR of one compile.
///
/// INVARIANT (kept by [`PolicyIr::new`]): identities sorted by ID, endpoints sorted by ID,
/// nodes sorted by name; every entry's identities are in the identity table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicyIr {
    pub settings: Settings,
    pub identities: Vec<IdentityInfo>,
    pub nodes: Vec<NodeInfo>,
    pub endpoints: Vec<Endpoint>,
    pub reserved_addresses: Vec<ReservedAddress>,
}

impl PolicyIr {
    /// Builds the IR, putting every table in its canonical order and every endpoint's entries
    /// and `selected_by` in sorted order.
    pub fn new(
        settings: Settings,
        mut identities: Vec<IdentityInfo>,
        mut nodes: Vec<NodeInfo>,
        mut endpoints: Vec<Endpoint>,
        mut reserved_addresses: Vec<ReservedAddress>,
    ) -> Self {
        identities.sort_by_key(|identity| identity.id);
        identities.dedup_by_key(|identity| identity.id);
        nodes.sort();
        endpoints.sort_by_key(|endpoint| endpoint.id);
        for endpoint in &mut endpoints {
            for direction in [Direction::Ingress, Direction::Egress] {
                let policy = endpoint.policy_mut(direction);
                policy.entries.sort();
                policy.entries.dedup();
                policy.selected_by.sort();
                policy.selected_by.dedup();
            }
        }
        reserved_addresses.sort();
        PolicyIr { settings, identities, nodes, endpoints, reserved_addresses }
    }

    pub fn identity(&self, id: NumericIdentity) -> Option<&IdentityInfo> {
        self.identities.binary_search_by_key(&id, |identity| identity.id).ok().map(|index| &self.identities[index])
    }

    pub fn endpoint(&self, id: EndpointId) -> Option<&Endpoint> {
        self.endpoints.binary_search_by_key(&id, |endpoint| endpoint.id).ok().map(|index| &self.endpoints[index])
    }

    /// The pod endpoint `namespace/name`.
    pub fn pod(&self, namespace: &str, name: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|endpoint| matches!(&endpoint.kind, EndpointKind::Pod { namespace: n, name: m } if n == namespace && m == name))
    }

    /// The host endpoint of node `node`.
    pub fn host(&self, node: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|endpoint| matches!(&endpoint.kind, EndpointKind::Host { node: n } if n == node))
    }

    pub fn node(&self, name: &str) -> Option<&NodeInfo> {
        self.nodes.iter().find(|node| node.name == name)
    }

    /// The endpoint that owns `address`: a pod with that address, else the host endpoint of a
    /// node with that address.
    pub fn endpoint_by_address(&self, address: IpAddr) -> Option<&Endpoint> {
        self.endpoints
            .iter()
            .find(|endpoint| !endpoint.is_host() && endpoint.addresses.contains(&address))
            .or_else(|| self.endpoints.iter().find(|endpoint| endpoint.is_host() && endpoint.addresses.contains(&address)))
    }

    /// The identity an endpoint has as seen from an endpoint on `observer_node`: a node is
    /// `host` to itself and `remote-node` to every other node.
    pub fn identity_of_endpoint(&self, endpoint: &Endpoint, observer_node: Option<&str>) -> NumericIdentity {
        match &endpoint.kind {
            EndpointKind::Host { node } if observer_node == Some(node.as_str()) => NumericIdentity::HOST,
            EndpointKind::Host { .. } => NumericIdentity::REMOTE_NODE,
            EndpointKind::Pod { .. } => endpoint.identity,
        }
    }

    /// The identity of an address that belongs to no endpoint: the longest prefix holding it among
    /// the reserved address ranges and the CIDR identities (a reserved range wins a tie, as in
    /// [`PolicyIr::ipcache`]), else `world` (of the address's family in a dual-stack cluster).
    /// This is the datapath's longest-prefix match over the ipcache, minus the endpoint addresses.
    pub fn identity_of_external_address(&self, address: IpAddr) -> NumericIdentity {
        let reserved = self
            .reserved_addresses
            .iter()
            .filter(|reserved| reserved.prefix.contains(address))
            .map(|reserved| (reserved.prefix.length(), true, reserved.identity));
        let cidrs = self.identities.iter().filter_map(|identity| match &identity.kind {
            IdentityKind::Cidr { prefix } if prefix.contains(address) => Some((prefix.length(), false, identity.id)),
            _ => None,
        });
        reserved.chain(cidrs).max().map(|(_, _, id)| id).unwrap_or_else(|| self.settings.world_of(address))
    }

    /// The identity of any address, as seen from an endpoint on `observer_node`.
    pub fn identity_of_address(&self, address: IpAddr, observer_node: Option<&str>) -> NumericIdentity {
        match self.endpoint_by_address(address) {
            Some(endpoint) => self.identity_of_endpoint(endpoint, observer_node),
            None => self.identity_of_external_address(address),
        }
    }

    /// The address-to-identity table of one node (Cilium's ipcache), sorted by prefix: every
    /// endpoint address, every node address, every reserved range and every CIDR identity.
    pub fn ipcache(&self, node: Option<&str>) -> Vec<(IpPrefix, NumericIdentity)> {
        let mut table: std::collections::BTreeMap<IpPrefix, NumericIdentity> = std::collections::BTreeMap::new();
        for identity in &self.identities {
            if let IdentityKind::Cidr { prefix } = &identity.kind {
                table.insert(*prefix, identity.id);
            }
        }
        for reserved in &self.reserved_addresses {
            table.insert(reserved.prefix, reserved.identity);
        }
        // Hosts first, so that a pod address shared with a node (it should not be) stays the pod's.
        for endpoint in self.endpoints.iter().filter(|endpoint| endpoint.is_host()).chain(self.endpoints.iter().filter(|endpoint| !endpoint.is_host())) {
            for address in &endpoint.addresses {
                table.insert(IpPrefix::host(*address), self.identity_of_endpoint(endpoint, node));
            }
        }
        table.into_iter().collect()
    }
}
