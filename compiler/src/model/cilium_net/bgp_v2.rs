//! The BGP control plane v2 kinds: `CiliumBGPClusterConfig` (instances and peers per node
//! group), `CiliumBGPPeerConfig` (session settings shared by peers), `CiliumBGPAdvertisement`
//! (what to advertise) and `CiliumBGPNodeConfigOverride` (per-node settings).
//!
//! All cluster-scoped, served at `cilium.io/v2` (stored) and `cilium.io/v2alpha1` (deprecated).
//! Each type is the union of both versions; the fields marked "`v2` only" or "`v2alpha1` only"
//! are reported at the other version by `checks::cilium_net::api_version_fields`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{Afi, BgpCommunities, BgpGracefulRestart, CiliumLabelSelector, IP_ADDRESS_HELP, IP_ADDRESS_PATTERN, Safi, ServiceAddressType};
use crate::model::meta::ObjectMeta;

// ---------------------------------------------------------------------------------------------
// CiliumBGPClusterConfig

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CiliumBGPClusterConfig {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: BgpClusterConfigSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BgpClusterConfigSpec {
    /// The nodes this configuration applies to; absent means all nodes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<CiliumLabelSelector>,
    #[schemars(length(min = 1, max = 16), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub bgp_instances: Vec<BgpInstance>,
}

/// One BGP speaker instance on each selected node.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BgpInstance {
    #[schemars(length(min = 1, max = 255))]
    pub name: String,
    #[serde(default, rename = "localASN", skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 4294967295u32))]
    pub local_asn: Option<u32>,
    /// The port the instance listens on; absent means it does not listen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub local_port: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub peers: Vec<BgpPeer>,
}

/// One BGP peer of an instance.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BgpPeer {
    #[schemars(length(min = 1, max = 255))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = IP_ADDRESS_PATTERN), extend("x-polc-pattern-help" = IP_ADDRESS_HELP))]
    pub peer_address: Option<String>,
    /// `v2` only: the local interface to reach an IPv6 link-local `peerAddress` through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub peer_interface: Option<String>,
    /// 0 (the default) learns the ASN from the peer's OPEN message.
    #[serde(default, rename = "peerASN", skip_serializing_if = "Option::is_none")]
    pub peer_asn: Option<u32>,
    /// `v2` only: discover the peer address instead of configuring it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_discovery: Option<BgpAutoDiscovery>,
    /// The CiliumBGPPeerConfig with this peer's session settings; absent means the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_config_ref: Option<PeerConfigReference>,
}

/// A reference to a `CiliumBGPPeerConfig` by name.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PeerConfigReference {
    pub name: String,
    /// `v2alpha1` only. Default `cilium.io`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// `v2alpha1` only. Default `CiliumBGPPeerConfig`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// How a peer's address is discovered (`v2` only).
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BgpAutoDiscovery {
    pub mode: AutoDiscoveryMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_gateway: Option<DefaultGatewayDiscovery>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unnumbered: Option<UnnumberedDiscovery>,
}

/// The auto-discovery modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum AutoDiscoveryMode {
    DefaultGateway,
    Unnumbered,
}

/// Peer with the gateway of the default route of an address family.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DefaultGatewayDiscovery {
    pub address_family: AddressFamily,
}

/// An address family of the default route.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AddressFamily {
    Ipv4,
    Ipv6,
}

/// BGP unnumbered over a named interface.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UnnumberedDiscovery {
    #[schemars(length(min = 1, max = 255))]
    pub interface: String,
}

// ---------------------------------------------------------------------------------------------
// CiliumBGPPeerConfig

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CiliumBGPPeerConfig {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: BgpPeerConfigSpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BgpPeerConfigSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport: Option<BgpTransport>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timers: Option<BgpTimers>,
    /// The name of a Secret holding the TCP MD5 password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_secret_ref: Option<String>,
    /// Absent means graceful restart is disabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graceful_restart: Option<BgpGracefulRestart>,
    /// TTL of packets to an eBGP peer; ignored for iBGP. Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 255))]
    pub ebgp_multihop: Option<i32>,
    /// Default ipv6/unicast and ipv4/unicast, with no advertisements.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub families: Vec<BgpFamilyWithAdvertisements>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BgpTransport {
    /// Default 179.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub peer_port: Option<i32>,
    /// `v2` only: the interface whose address is the session's source address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_interface: Option<String>,
    /// `v2alpha1` only (deprecated there): the local port of the session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub local_port: Option<i32>,
}

/// BGP timers (RFC 4271). The CRD requires `keepAliveTimeSeconds <= holdTimeSeconds`, with
/// defaults filled in first.
#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BgpTimers {
    /// Default 120.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 2147483647))]
    pub connect_retry_time_seconds: Option<i32>,
    /// Default 90.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 3, max = 65535))]
    pub hold_time_seconds: Option<i32>,
    /// Default 30.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub keep_alive_time_seconds: Option<i32>,
}

/// An AFI/SAFI pair and the advertisements to send in it.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BgpFamilyWithAdvertisements {
    pub afi: Afi,
    pub safi: Safi,
    /// Selects CiliumBGPAdvertisements by their labels; absent means none are sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advertisements: Option<CiliumLabelSelector>,
}

// ---------------------------------------------------------------------------------------------
// CiliumBGPAdvertisement

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CiliumBGPAdvertisement {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: BgpAdvertisementSpec,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BgpAdvertisementSpec {
    pub advertisements: Vec<BgpAdvertisement>,
}

/// One kind of route to advertise, with the attributes to set on it.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BgpAdvertisement {
    pub advertisement_type: AdvertisementType,
    /// Required exactly when the type is `Service`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<BgpServiceOptions>,
    /// `v2` only; required exactly when the type is `Interface`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interface: Option<BgpInterfaceOptions>,
    /// Selects the objects of the type; not allowed for `PodCIDR`; absent selects nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<CiliumLabelSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<BgpRouteAttributes>,
}

/// The advertisement types (`Interface` is `v2` only).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum AdvertisementType {
    #[serde(rename = "PodCIDR")]
    PodCidr,
    CiliumPodIPPool,
    Service,
    Interface,
}

impl AdvertisementType {
    /// The spelling used in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            AdvertisementType::PodCidr => "PodCIDR",
            AdvertisementType::CiliumPodIPPool => "CiliumPodIPPool",
            AdvertisementType::Service => "Service",
            AdvertisementType::Interface => "Interface",
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BgpServiceOptions {
    #[schemars(length(min = 1))]
    pub addresses: Vec<ServiceAddressType>,
    #[serde(default, rename = "aggregationLengthIPv4", skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 31))]
    pub aggregation_length_ipv4: Option<i32>,
    #[serde(default, rename = "aggregationLengthIPv6", skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0, max = 127))]
    pub aggregation_length_ipv6: Option<i32>,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BgpInterfaceOptions {
    /// The local interface whose addresses are advertised as host routes.
    pub name: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BgpRouteAttributes {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub communities: Option<BgpCommunities>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_preference: Option<i64>,
}

// ---------------------------------------------------------------------------------------------
// CiliumBGPNodeConfigOverride

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CiliumBGPNodeConfigOverride {
    pub api_version: String,
    pub kind: String,
    /// The name must be the name of the node it overrides.
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: BgpNodeConfigOverrideSpec,
}

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BgpNodeConfigOverrideSpec {
    #[schemars(length(min = 1), extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub bgp_instances: Vec<BgpInstanceOverride>,
}

/// Per-node settings of one instance of a CiliumBGPClusterConfig.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BgpInstanceOverride {
    #[schemars(length(min = 1, max = 255))]
    pub name: String,
    #[serde(default, rename = "routerID", skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "ipv4"))]
    pub router_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_port: Option<i32>,
    #[serde(default, rename = "localASN", skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 4294967295u32))]
    pub local_asn: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub peers: Vec<BgpPeerOverride>,
}

/// Per-node settings of one peer of an instance.
#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BgpPeerOverride {
    #[schemars(length(min = 1, max = 255))]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = IP_ADDRESS_PATTERN), extend("x-polc-pattern-help" = IP_ADDRESS_HELP))]
    pub local_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_port: Option<i32>,
    /// `v2` only; not together with `localAddress`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub peer_interface: Option<String>,
}
