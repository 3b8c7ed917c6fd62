//! Checks of the LB-IPAM, L2 announcement and BGP kinds (codes `PLC5000`–`PLC5999`).
//!
//! The schema already enforces the CRDs' types, enums, patterns, ranges and list-map keys.
//! The modules here add the CEL rules of the CRDs, the checks Cilium makes in Go when it reads
//! these objects (and reports as status conditions), differences between `v2` and `v2alpha1`,
//! and references between objects.
//!
//! Ranges: `PLC50xx` LB-IPAM, `PLC51xx` L2 announcements, `PLC52xx` BGP sessions (v1 and
//! timers), `PLC53xx` BGP v2, `PLC59xx` shared (label selectors).

use super::CheckCx;
use crate::diag::{Code, Diagnostic};
use crate::frontend::Object;
use crate::model::cilium_net;

pub mod api_version_fields;
pub mod bgp_advertisement_types;
pub mod bgp_family_advertisements;
pub mod bgp_local_preference;
pub mod bgp_node_override;
pub mod bgp_override_references;
pub mod bgp_peer_address;
pub mod bgp_peer_config_refs;
pub mod bgp_timers;
pub mod bgp_v1_peer_address;
pub mod bgp_v1_session_attributes;
pub mod go_regex;
pub mod ip_range;
pub mod l2_interfaces;
pub mod l2_nothing_announced;
pub mod label_selectors;
pub mod lb_ipam_blocks;
pub mod lb_ipam_first_last;
pub mod lb_ipam_overlap;
pub mod lb_ipam_pool_conflict;

/// Every code of this area.
pub static CODES: &[&Code] = &[
    &lb_ipam_blocks::BLOCK_SHAPE,
    &lb_ipam_blocks::INVALID_ADDRESS,
    &lb_ipam_blocks::RANGE_REVERSED,
    &lb_ipam_blocks::RANGE_MIXED_FAMILIES,
    &lb_ipam_overlap::OVERLAPPING_BLOCKS,
    &lb_ipam_pool_conflict::POOL_CONFLICT,
    &lb_ipam_first_last::FIRST_LAST_NO_EFFECT,
    &lb_ipam_blocks::CIDR_HOST_BITS,
    &l2_interfaces::BAD_INTERFACE_REGEX,
    &l2_nothing_announced::NOTHING_ANNOUNCED,
    &l2_interfaces::INTERFACE_GLOB,
    &bgp_timers::KEEPALIVE_EXCEEDS_HOLD,
    &bgp_v1_peer_address::PEER_ADDRESS_NOT_HOST,
    &bgp_v1_session_attributes::LOCAL_PREFERENCE_EBGP,
    &bgp_v1_session_attributes::MULTIHOP_IBGP,
    &bgp_v1_session_attributes::SERVICE_ADVERTISEMENTS_UNSELECTED,
    &bgp_peer_config_refs::PEER_CONFIG_NOT_FOUND,
    &bgp_peer_address::PEER_ADDRESS_MISSING,
    &bgp_peer_address::PEER_WITHOUT_ADDRESS,
    &bgp_peer_address::AUTO_DISCOVERY_INCOMPLETE,
    &bgp_peer_address::PEER_INTERFACE_NOT_LINK_LOCAL,
    &api_version_fields::FIELD_NOT_IN_API_VERSION,
    &bgp_advertisement_types::FIELDS_FOR_TYPE,
    &bgp_advertisement_types::SELECTS_NOTHING,
    &bgp_override_references::OVERRIDE_TARGET_NOT_FOUND,
    &bgp_node_override::CONFLICTING_FIELDS,
    &bgp_family_advertisements::FAMILY_SELECTS_NO_ADVERTISEMENT,
    &bgp_local_preference::LOCAL_PREFERENCE_OUT_OF_RANGE,
    &bgp_advertisement_types::FIELD_IGNORED,
    &label_selectors::BAD_LABEL_SELECTOR,
];

/// Whether an object is given at `cilium.io/v2alpha1` (else `cilium.io/v2`).
pub(crate) fn is_v2alpha1(api_version: &str) -> bool {
    api_version == "cilium.io/v2alpha1"
}

/// Cross-object checks: pool conflicts, peer config references, advertisement selection and
/// node config overrides.
pub fn check_set(objects: &[Object], diagnostics: &mut Vec<Diagnostic>) {
    lb_ipam_pool_conflict::check(objects, diagnostics);
    bgp_peer_config_refs::check(objects, diagnostics);
    bgp_family_advertisements::check(objects, diagnostics);
    bgp_override_references::check(objects, diagnostics);
}

pub fn check_l2_announcement_policy(object: &cilium_net::CiliumL2AnnouncementPolicy, cx: &mut CheckCx<'_>) {
    l2_nothing_announced::check(object, cx);
    l2_interfaces::check(object, cx);
    if let Some(spec) = &object.spec {
        label_selectors::check_optional(spec.node_selector.as_ref(), "spec.nodeSelector", cx);
        label_selectors::check_optional(spec.service_selector.as_ref(), "spec.serviceSelector", cx);
    }
}

pub fn check_lb_ip_pool(object: &cilium_net::CiliumLoadBalancerIPPool, cx: &mut CheckCx<'_>) {
    lb_ipam_blocks::check(object, cx);
    lb_ipam_overlap::check(object, cx);
    lb_ipam_first_last::check(object, cx);
    label_selectors::check_optional(object.spec.service_selector.as_ref(), "spec.serviceSelector", cx);
}

pub fn check_bgp_peering_policy(object: &cilium_net::CiliumBGPPeeringPolicy, cx: &mut CheckCx<'_>) {
    let Some(spec) = &object.spec else { return };
    label_selectors::check_optional(spec.node_selector.as_ref(), "spec.nodeSelector", cx);
    for (router_index, router) in spec.virtual_routers.iter().enumerate() {
        let router_path = format!("spec.virtualRouters[{router_index}]");
        label_selectors::check_optional(router.pod_ip_pool_selector.as_ref(), &format!("{router_path}.podIPPoolSelector"), cx);
        label_selectors::check_optional(router.service_selector.as_ref(), &format!("{router_path}.serviceSelector"), cx);
        for (neighbor_index, neighbor) in router.neighbors.iter().enumerate() {
            let neighbor_path = format!("{router_path}.neighbors[{neighbor_index}]");
            bgp_timers::check_v1_neighbor(neighbor, &neighbor_path, cx);
            for (attribute_index, attributes) in neighbor.advertised_path_attributes.iter().enumerate() {
                label_selectors::check_optional(
                    attributes.selector.as_ref(),
                    &format!("{neighbor_path}.advertisedPathAttributes[{attribute_index}].selector"),
                    cx,
                );
            }
        }
    }
    bgp_v1_peer_address::check(object, cx);
    bgp_v1_session_attributes::check(object, cx);
}

pub fn check_bgp_cluster_config(object: &cilium_net::CiliumBGPClusterConfig, cx: &mut CheckCx<'_>) {
    api_version_fields::check_cluster_config(object, cx);
    bgp_peer_address::check(object, cx);
    label_selectors::check_optional(object.spec.node_selector.as_ref(), "spec.nodeSelector", cx);
}

pub fn check_bgp_peer_config(object: &cilium_net::CiliumBGPPeerConfig, cx: &mut CheckCx<'_>) {
    api_version_fields::check_peer_config(object, cx);
    bgp_timers::check_peer_config(object, cx);
    for (family_index, family) in object.spec.families.iter().enumerate() {
        label_selectors::check_optional(family.advertisements.as_ref(), &format!("spec.families[{family_index}].advertisements"), cx);
    }
}

pub fn check_bgp_advertisement(object: &cilium_net::CiliumBGPAdvertisement, cx: &mut CheckCx<'_>) {
    api_version_fields::check_advertisement(object, cx);
    bgp_advertisement_types::check(object, cx);
    bgp_local_preference::check(object, cx);
    for (index, advertisement) in object.spec.advertisements.iter().enumerate() {
        label_selectors::check_optional(advertisement.selector.as_ref(), &format!("spec.advertisements[{index}].selector"), cx);
    }
}

pub fn check_bgp_node_config_override(object: &cilium_net::CiliumBGPNodeConfigOverride, cx: &mut CheckCx<'_>) {
    api_version_fields::check_node_config_override(object, cx);
    bgp_node_override::check(object, cx);
}
