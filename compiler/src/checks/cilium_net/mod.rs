//! PLACEHOLDER: the checks of this area.

use super::CheckCx;
use crate::diag::{Code, Diagnostic};
use crate::frontend::Object;
use crate::model::cilium_net;

pub static CODES: &[&Code] = &[];

pub fn check_set(_objects: &[Object], _diagnostics: &mut Vec<Diagnostic>) {}

pub fn check_l2_announcement_policy(_object: &cilium_net::CiliumL2AnnouncementPolicy, _cx: &mut CheckCx<'_>) {}

pub fn check_lb_ip_pool(_object: &cilium_net::CiliumLoadBalancerIPPool, _cx: &mut CheckCx<'_>) {}

pub fn check_bgp_peering_policy(_object: &cilium_net::CiliumBGPPeeringPolicy, _cx: &mut CheckCx<'_>) {}

pub fn check_bgp_cluster_config(_object: &cilium_net::CiliumBGPClusterConfig, _cx: &mut CheckCx<'_>) {}

pub fn check_bgp_peer_config(_object: &cilium_net::CiliumBGPPeerConfig, _cx: &mut CheckCx<'_>) {}

pub fn check_bgp_advertisement(_object: &cilium_net::CiliumBGPAdvertisement, _cx: &mut CheckCx<'_>) {}

pub fn check_bgp_node_config_override(_object: &cilium_net::CiliumBGPNodeConfigOverride, _cx: &mut CheckCx<'_>) {}
