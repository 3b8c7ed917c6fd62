//! `CiliumLoadBalancerIPPool`: a pool of addresses LB-IPAM hands out to `LoadBalancer` services.
//!
//! Cluster-scoped; served at `cilium.io/v2` (stored) and `cilium.io/v2alpha1` (deprecated)
//! with the same schema.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::CiliumLabelSelector;
use crate::model::meta::ObjectMeta;

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CiliumLoadBalancerIPPool {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: LoadBalancerIPPoolSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LoadBalancerIPPoolSpec {
    /// The address blocks of the pool.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blocks: Vec<IpBlock>,
    /// Which services may get addresses from this pool; absent means all services.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_selector: Option<CiliumLabelSelector>,
    /// `No` reserves the first and last address of each CIDR block larger than two addresses.
    /// Absent behaves as `Yes`.
    #[serde(default, rename = "allowFirstLastIPs", skip_serializing_if = "Option::is_none")]
    pub allow_first_last_ips: Option<AllowFirstLastIps>,
    /// Stops new allocations from this pool; existing ones are kept. Default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<bool>,
}

/// One block of a pool: a `cidr`, or a `start` address with an optional inclusive `stop`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IpBlock {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "cidr"))]
    pub cidr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<String>,
}

/// The values of `allowFirstLastIPs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum AllowFirstLastIps {
    Yes,
    No,
}
