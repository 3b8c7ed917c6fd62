//! Types shared by the LB-IPAM, L2 announcement and BGP models: Cilium's label selector, BGP
//! address families, communities and graceful restart, and the patterns the CRDs use.

use std::collections::BTreeMap;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::{Deserialize, Serialize};

use crate::model::meta::{LabelSelector, LabelSelectorRequirement};

/// The pattern of a `matchLabels` value in Cilium's CRDs.
pub const LABEL_VALUE_PATTERN: &str = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$";

/// The pattern of an IPv4 or IPv6 address (with an optional `%zone`) in the BGP v2 CRDs
/// (`peerAddress`, `localAddress`), copied from the CRDs.
pub const IP_ADDRESS_PATTERN: &str = r"((^\s*((([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5])\.){3}([0-9]|[1-9][0-9]|1[0-9]{2}|2[0-4][0-9]|25[0-5]))\s*$)|(^\s*((([0-9A-Fa-f]{1,4}:){7}([0-9A-Fa-f]{1,4}|:))|(([0-9A-Fa-f]{1,4}:){6}(:[0-9A-Fa-f]{1,4}|((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3})|:))|(([0-9A-Fa-f]{1,4}:){5}(((:[0-9A-Fa-f]{1,4}){1,2})|:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3})|:))|(([0-9A-Fa-f]{1,4}:){4}(((:[0-9A-Fa-f]{1,4}){1,3})|((:[0-9A-Fa-f]{1,4})?:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}))|:))|(([0-9A-Fa-f]{1,4}:){3}(((:[0-9A-Fa-f]{1,4}){1,4})|((:[0-9A-Fa-f]{1,4}){0,2}:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}))|:))|(([0-9A-Fa-f]{1,4}:){2}(((:[0-9A-Fa-f]{1,4}){1,5})|((:[0-9A-Fa-f]{1,4}){0,3}:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}))|:))|(([0-9A-Fa-f]{1,4}:){1}(((:[0-9A-Fa-f]{1,4}){1,6})|((:[0-9A-Fa-f]{1,4}){0,4}:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}))|:))|(:(((:[0-9A-Fa-f]{1,4}){1,7})|((:[0-9A-Fa-f]{1,4}){0,5}:((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}))|:)))(%.+)?\s*$))";

/// Help shown when an address does not match [`IP_ADDRESS_PATTERN`].
pub const IP_ADDRESS_HELP: &str = "write a single IPv4 or IPv6 address without a prefix length, such as `10.0.0.1` or `fd00:10::1`";

/// The pattern of a standard (RFC 1997) community: a 32-bit decimal number, or two 16-bit
/// decimal numbers separated by a colon.
pub const STANDARD_COMMUNITY_PATTERN: &str = r"^([0-9]|[1-9][0-9]{1,8}|[1-3][0-9]{9}|4[01][0-9]{8}|42[0-8][0-9]{7}|429[0-3][0-9]{6}|4294[0-8][0-9]{5}|42949[0-5][0-9]{4}|429496[0-6][0-9]{3}|4294967[01][0-9]{2}|42949672[0-8][0-9]|429496729[0-5])$|^([0-9]|[1-9][0-9]{1,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]):([0-9]|[1-9][0-9]{1,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])$";

/// Help shown when a standard community does not match [`STANDARD_COMMUNITY_PATTERN`].
pub const STANDARD_COMMUNITY_HELP: &str = "a standard community is `ASN:VALUE` with two numbers from 0 to 65535 (`65000:100`) or one number from 0 to 4294967295; \
large communities `A:B:C` go in `large`, names such as `no-export` in `wellKnown`";

/// The pattern of a large (RFC 8092) community: three 32-bit decimal numbers separated by colons.
pub const LARGE_COMMUNITY_PATTERN: &str = r"^([0-9]|[1-9][0-9]{1,8}|[1-3][0-9]{9}|4[01][0-9]{8}|42[0-8][0-9]{7}|429[0-3][0-9]{6}|4294[0-8][0-9]{5}|42949[0-5][0-9]{4}|429496[0-6][0-9]{3}|4294967[01][0-9]{2}|42949672[0-8][0-9]|429496729[0-5]):([0-9]|[1-9][0-9]{1,8}|[1-3][0-9]{9}|4[01][0-9]{8}|42[0-8][0-9]{7}|429[0-3][0-9]{6}|4294[0-8][0-9]{5}|42949[0-5][0-9]{4}|429496[0-6][0-9]{3}|4294967[01][0-9]{2}|42949672[0-8][0-9]|429496729[0-5]):([0-9]|[1-9][0-9]{1,8}|[1-3][0-9]{9}|4[01][0-9]{8}|42[0-8][0-9]{7}|429[0-3][0-9]{6}|4294[0-8][0-9]{5}|42949[0-5][0-9]{4}|429496[0-6][0-9]{3}|4294967[01][0-9]{2}|42949672[0-8][0-9]|429496729[0-5])$";

/// Help shown when a large community does not match [`LARGE_COMMUNITY_PATTERN`].
pub const LARGE_COMMUNITY_HELP: &str =
    "a large community is three numbers from 0 to 4294967295 separated by colons (`65000:1:100`); two-part communities go in `standard`";

fn match_labels_schema(_generator: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "object",
        "additionalProperties": {
            "type": "string",
            "maxLength": 63,
            "pattern": LABEL_VALUE_PATTERN,
            "x-polc-pattern-help": "a label value has at most 63 characters: letters, digits, `-`, `_` and `.`, beginning and ending with a letter or digit"
        }
    })
}

/// A label selector as Cilium's CRDs spell it (`matchLabels` values constrained to label values).
/// An empty selector selects everything; an absent one means what each field says.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CiliumLabelSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "match_labels_schema")]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

impl CiliumLabelSelector {
    /// The same selector as a plain Kubernetes label selector.
    pub fn to_label_selector(&self) -> LabelSelector {
        LabelSelector { match_labels: self.match_labels.clone(), match_expressions: self.match_expressions.clone() }
    }

    /// Whether this selector selects an object with `labels` (Kubernetes semantics).
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.to_label_selector().matches(labels)
    }
}

/// Address Family Identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Afi {
    Ipv4,
    Ipv6,
    L2vpn,
    Ls,
    Opaque,
}

/// Subsequent Address Family Identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Safi {
    Unicast,
    Multicast,
    MplsLabel,
    Encapsulation,
    Vpls,
    Evpn,
    Ls,
    SrPolicy,
    Mup,
    MplsVpn,
    MplsVpnMulticast,
    RouteTargetConstraints,
    FlowspecUnicast,
    FlowspecVpn,
    KeyValue,
}

/// An AFI/SAFI pair (BGP v1 `families[]`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BgpFamily {
    pub afi: Afi,
    pub safi: Safi,
}

/// Graceful restart (RFC 4724) settings of a peer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BgpGracefulRestart {
    pub enabled: bool,
    /// Default 120.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 4095))]
    pub restart_time_seconds: Option<i32>,
}

/// The well-known community names (RFC 1997 and later registrations).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum WellKnownCommunity {
    Internet,
    PlannedShut,
    AcceptOwn,
    #[serde(rename = "route-filter-translated-v4")]
    RouteFilterTranslatedV4,
    #[serde(rename = "route-filter-v4")]
    RouteFilterV4,
    #[serde(rename = "route-filter-translated-v6")]
    RouteFilterTranslatedV6,
    #[serde(rename = "route-filter-v6")]
    RouteFilterV6,
    LlgrStale,
    NoLlgr,
    Blackhole,
    NoExport,
    NoAdvertise,
    NoExportSubconfed,
    NoPeer,
}

fn standard_communities_schema(_generator: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": {"type": "string", "pattern": STANDARD_COMMUNITY_PATTERN, "x-polc-pattern-help": STANDARD_COMMUNITY_HELP}
    })
}

fn large_communities_schema(_generator: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "type": "array",
        "items": {"type": "string", "pattern": LARGE_COMMUNITY_PATTERN, "x-polc-pattern-help": LARGE_COMMUNITY_HELP}
    })
}

/// BGP communities to attach to advertised routes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BgpCommunities {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "standard_communities_schema")]
    pub standard: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub well_known: Vec<WellKnownCommunity>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "large_communities_schema")]
    pub large: Vec<String>,
}

/// The kinds of service address BGP can advertise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ServiceAddressType {
    #[serde(rename = "LoadBalancerIP")]
    LoadBalancerIp,
    #[serde(rename = "ClusterIP")]
    ClusterIp,
    #[serde(rename = "ExternalIP")]
    ExternalIp,
}
