//! Security identities: numeric IDs, the reserved ones, and the labels each identity stands for.
//!
//! Numbers follow Cilium: 0 is "any identity" in a policy key, 1–10 are the reserved identities,
//! cluster-local endpoint identities start at 256, and local CIDR identities carry scope `0x01`
//! in the top byte (`1 << 24 | n`).

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::net::IpPrefix;

/// A numeric security identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct NumericIdentity(pub u32);

impl NumericIdentity {
    /// In a policy entry: any remote identity.
    pub const ANY: NumericIdentity = NumericIdentity(0);
    /// The local node, including host-network pods.
    pub const HOST: NumericIdentity = NumericIdentity(1);
    /// Anything outside the cluster.
    pub const WORLD: NumericIdentity = NumericIdentity(2);
    /// Pods not managed by Cilium.
    pub const UNMANAGED: NumericIdentity = NumericIdentity(3);
    /// cilium-health endpoints.
    pub const HEALTH: NumericIdentity = NumericIdentity(4);
    /// Endpoints whose labels are not known yet.
    pub const INIT: NumericIdentity = NumericIdentity(5);
    /// Every node but the local one.
    pub const REMOTE_NODE: NumericIdentity = NumericIdentity(6);
    /// The Kubernetes API server (outside the cluster's nodes).
    pub const KUBE_APISERVER: NumericIdentity = NumericIdentity(7);
    /// The addresses of Cilium's ingress and Gateway proxies.
    pub const INGRESS: NumericIdentity = NumericIdentity(8);
    /// The IPv4 world (dual-stack clusters).
    pub const WORLD_IPV4: NumericIdentity = NumericIdentity(9);
    /// The IPv6 world (dual-stack clusters).
    pub const WORLD_IPV6: NumericIdentity = NumericIdentity(10);
    /// The first identity a cluster with ID 0 allocates for endpoints.
    pub const FIRST_CLUSTER_LOCAL: u32 = 256;
    /// The last identity a cluster with ID 0 allocates for endpoints (8 cluster-ID bits).
    pub const LAST_CLUSTER_LOCAL: u32 = 65535;
    /// The scope bits of node-local CIDR and FQDN identities.
    pub const LOCAL_SCOPE: u32 = 1 << 24;
    /// The largest node-local identity index.
    pub const LAST_LOCAL_INDEX: u32 = 0x00FF_FFFF;

    /// The reserved identities, in numeric order.
    pub const RESERVED: [NumericIdentity; 10] = [
        Self::HOST,
        Self::WORLD,
        Self::UNMANAGED,
        Self::HEALTH,
        Self::INIT,
        Self::REMOTE_NODE,
        Self::KUBE_APISERVER,
        Self::INGRESS,
        Self::WORLD_IPV4,
        Self::WORLD_IPV6,
    ];

    /// The name of a reserved identity (`host`, `world`, ...).
    pub fn reserved_name(self) -> Option<&'static str> {
        Some(match self.0 {
            0 => "unknown",
            1 => "host",
            2 => "world",
            3 => "unmanaged",
            4 => "health",
            5 => "init",
            6 => "remote-node",
            7 => "kube-apiserver",
            8 => "ingress",
            9 => "world-ipv4",
            10 => "world-ipv6",
            _ => return None,
        })
    }

    /// The node-local CIDR identity with index `index` (1-based).
    pub fn local(index: u32) -> NumericIdentity {
        NumericIdentity(Self::LOCAL_SCOPE | (index & Self::LAST_LOCAL_INDEX))
    }

    /// Whether this is a node-local (CIDR or FQDN) identity.
    pub fn is_local_scope(self) -> bool {
        self.0 >> 24 == 1
    }

    /// Whether this identity stands for something outside the cluster (world, CIDR, FQDN).
    pub fn is_world(self) -> bool {
        matches!(self, Self::WORLD | Self::WORLD_IPV4 | Self::WORLD_IPV6) || self.is_local_scope()
    }
}

impl fmt::Display for NumericIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reserved_name() {
            Some(name) if self.0 != 0 => write!(f, "{} ({name})", self.0),
            _ => write!(f, "{}", self.0),
        }
    }
}

/// A label with its source: `k8s:app=web`, `reserved:host`, `cidr:10.0.0.0/8`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Label {
    pub source: String,
    pub key: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
}

impl Label {
    pub fn new(source: impl Into<String>, key: impl Into<String>, value: impl Into<String>) -> Self {
        Label { source: source.into(), key: key.into(), value: value.into() }
    }

    /// `reserved:NAME`.
    pub fn reserved(name: &str) -> Self {
        Label::new("reserved", name, "")
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.value.is_empty() { write!(f, "{}:{}", self.source, self.key) } else { write!(f, "{}:{}={}", self.source, self.key, self.value) }
    }
}

/// What an identity stands for.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum IdentityKind {
    /// One of the reserved identities (1–10).
    Reserved,
    /// The pods with one set of identity labels.
    Endpoint,
    /// The addresses of one CIDR prefix that no more specific prefix claims.
    Cidr { prefix: IpPrefix },
}

/// One allocated identity and its labels.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct IdentityInfo {
    pub id: NumericIdentity,
    pub kind: IdentityKind,
    pub labels: BTreeSet<Label>,
}

impl IdentityInfo {
    /// A short description: the reserved name, the CIDR, or the pod labels.
    pub fn describe(&self) -> String {
        match &self.kind {
            IdentityKind::Reserved => self.id.reserved_name().unwrap_or("reserved").to_owned(),
            IdentityKind::Cidr { prefix } => format!("cidr {prefix}"),
            IdentityKind::Endpoint => {
                let shown: Vec<String> = self
                    .labels
                    .iter()
                    .filter(|label| label.key != "io.cilium.k8s.policy.cluster" && label.key != "io.cilium.k8s.policy.serviceaccount")
                    .filter(|label| !label.key.starts_with("io.cilium.k8s.namespace.labels."))
                    .map(|label| format!("{}={}", label.key, label.value))
                    .collect();
                shown.join(",")
            }
        }
    }
}
