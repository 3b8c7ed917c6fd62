//! `CiliumL2AnnouncementPolicy`: which nodes answer ARP/NDP for which service addresses, on
//! which interfaces.
//!
//! Cluster-scoped; served at `cilium.io/v2alpha1` only. The CRD does not require `spec`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::CiliumLabelSelector;
use crate::model::meta::ObjectMeta;

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CiliumL2AnnouncementPolicy {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spec: Option<L2AnnouncementPolicySpec>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct L2AnnouncementPolicySpec {
    /// The nodes that may announce; absent means all nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<CiliumLabelSelector>,
    /// The services to announce; absent means all services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_selector: Option<CiliumLabelSelector>,
    /// Announce the services' load balancer addresses.
    #[serde(default, rename = "loadBalancerIPs", skip_serializing_if = "Option::is_none")]
    pub load_balancer_ips: Option<bool>,
    /// Announce the services' external IPs.
    #[serde(default, rename = "externalIPs", skip_serializing_if = "Option::is_none")]
    pub external_ips: Option<bool>,
    /// Go regular expressions matched against network device names; empty means all devices.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interfaces: Vec<String>,
}
