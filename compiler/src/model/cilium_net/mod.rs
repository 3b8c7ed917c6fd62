//! Typed models of Cilium's LB-IPAM, L2 announcement and BGP resources.
//!
//! Field names, required fields, enums, patterns, ranges and list-map keys follow the upstream
//! CRDs (`pkg/k8s/apis/cilium.io/client/crds/v2` and `v2alpha1`):
//!
//! | kind | versions | module |
//! | --- | --- | --- |
//! | `CiliumLoadBalancerIPPool` | `v2`, `v2alpha1` (same schema) | [`lb_ipam`] |
//! | `CiliumL2AnnouncementPolicy` | `v2alpha1` | [`l2`] |
//! | `CiliumBGPPeeringPolicy` (BGP v1) | `v2alpha1` | [`bgp_v1`] |
//! | `CiliumBGPClusterConfig`, `CiliumBGPPeerConfig`, `CiliumBGPAdvertisement`, `CiliumBGPNodeConfigOverride` | `v2`, `v2alpha1` | [`bgp_v2`] |
//!
//! Where the `v2` and `v2alpha1` schemas of a BGP v2 kind differ, the model is their union: it
//! accepts every field either version accepts, and the check
//! `checks::cilium_net::api_version_fields` reports a field used at a version that does not
//! have it (for example `peerConfigRef.group`, which only `v2alpha1` has, or `autoDiscovery`,
//! which only `v2` has). Rules that only one version enforces (the `v2` CEL rules that
//! `v2alpha1` lacks) are checked with `apiVersion` in hand.
//!
//! `status` is accepted unchecked on the kinds whose CRD has a status; the CRDs of
//! `CiliumBGPAdvertisement` and `CiliumBGPNodeConfigOverride` have none, so there it is an
//! unknown field, as the API server says.

pub mod bgp_v1;
pub mod bgp_v2;
pub mod common;
pub mod l2;
pub mod lb_ipam;

pub use bgp_v1::*;
pub use bgp_v2::*;
pub use common::*;
pub use l2::*;
pub use lb_ipam::*;
