//! `CiliumBGPPeeringPolicy`: BGP control plane v1 (`cilium.io/v2alpha1`, removed in Cilium 1.19).
//!
//! One policy selects nodes and gives them virtual routers, each with a local ASN, the
//! neighbors to peer with, and what to advertise. Fields follow the last CRD that served it.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{BgpCommunities, BgpFamily, BgpGracefulRestart, CiliumLabelSelector, ServiceAddressType};
use crate::model::meta::ObjectMeta;

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CiliumBGPPeeringPolicy {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<BgpPeeringPolicySpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BgpPeeringPolicySpec {
    /// The nodes this policy applies to; absent means all nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<CiliumLabelSelector>,
    #[schemars(length(min = 1))]
    pub virtual_routers: Vec<BgpVirtualRouter>,
}

/// One BGP speaker instance on a selected node.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BgpVirtualRouter {
    #[serde(rename = "localASN")]
    pub local_asn: u32,
    /// Advertise the node's PodCIDR. Default false.
    #[serde(default, rename = "exportPodCIDR", skip_serializing_if = "Option::is_none")]
    pub export_pod_cidr: Option<bool>,
    /// The CiliumPodIPPools whose CIDRs are advertised.
    #[serde(default, rename = "podIPPoolSelector", skip_serializing_if = "Option::is_none")]
    pub pod_ip_pool_selector: Option<CiliumLabelSelector>,
    /// The services to advertise; absent means none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_selector: Option<CiliumLabelSelector>,
    /// Which service addresses to advertise. Default `[LoadBalancerIP]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_advertisements: Option<Vec<ServiceAddressType>>,
    #[schemars(length(min = 1))]
    pub neighbors: Vec<BgpNeighbor>,
}

/// One BGP neighbor of a virtual router.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BgpNeighbor {
    /// The neighbor's address as a host CIDR (`/32` or `/128`).
    #[schemars(extend("format" = "cidr"))]
    pub peer_address: String,
    /// Default 179.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub peer_port: Option<i32>,
    #[serde(rename = "peerASN")]
    pub peer_asn: u32,
    /// The name of a Secret holding the TCP MD5 password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_secret_ref: Option<String>,
    /// TTL of packets to an eBGP neighbor; 1 disables multihop. Ignored for iBGP. Default 1.
    #[serde(default, rename = "eBGPMultihopTTL", skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 255))]
    pub ebgp_multihop_ttl: Option<i32>,
    /// Default 120.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 2147483647))]
    pub connect_retry_time_seconds: Option<i32>,
    /// Default 90.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 3, max = 65535))]
    pub hold_time_seconds: Option<i32>,
    /// Default 30; at most `holdTimeSeconds`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub keep_alive_time_seconds: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graceful_restart: Option<BgpGracefulRestart>,
    /// Default ipv4/unicast and ipv6/unicast.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub families: Vec<BgpFamily>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub advertised_path_attributes: Vec<BgpPathAttributes>,
}

/// Path attributes to set on the routes of one kind of advertisement.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BgpPathAttributes {
    pub selector_type: PathAttributesSelectorType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<CiliumLabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub communities: Option<BgpCommunities>,
    /// Only used for iBGP neighbors. Default 100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_preference: Option<u32>,
}

/// What `advertisedPathAttributes[].selector` selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum PathAttributesSelectorType {
    #[serde(rename = "PodCIDR")]
    PodCidr,
    CiliumLoadBalancerIPPool,
    CiliumPodIPPool,
}
