//! The kinds polc reads: their names, accepted API versions, schemas, decoders and checks.
//!
//! This table is the one place that ties a `kind` to its model type and its checks. Adding a
//! kind means adding a line here and its model and check modules.

use std::sync::OnceLock;

use serde_json::Value as Json;

use crate::checks::{self, CheckCx};
use crate::model::meta::ObjectMeta;
use crate::model::{cilium_net, cilium_policy, flowtest, gateway, inventory, k8s_policy};
use crate::schema_check::KindSchema;

/// What a kind is for: decides which commands look at it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Category {
    /// Network policy (CNP, CCNP, NetworkPolicy).
    Policy,
    /// LB-IPAM, L2 announcements, BGP.
    Networking,
    /// Gateway API.
    Gateway,
    /// Cluster inventory (Namespace, Pod, Node, Service, EndpointSlice).
    Inventory,
    /// polc's own FlowTest.
    Test,
}

/// One entry of the kind table.
pub struct KindInfo {
    pub kind: &'static str,
    /// Accepted `apiVersion`s, preferred first.
    pub api_versions: &'static [&'static str],
    pub category: Category,
    /// Whether objects of this kind live in a namespace.
    pub namespaced: bool,
    schema: fn() -> schemars::Schema,
    decode: fn(Json) -> Result<Resource, serde_json::Error>,
    check: fn(&Resource, &mut CheckCx<'_>),
}

macro_rules! kinds {
    ($( $variant:ident => $ty:ty, $category:ident, namespaced: $namespaced:literal, [$($version:literal),+ $(,)?], $check:path; )*) => {
        /// A decoded object of any kind polc models.
        #[derive(Clone, Debug)]
        pub enum Resource {
            $( $variant(Box<$ty>), )*
        }

        impl Resource {
            /// The `kind` of this object.
            pub fn kind(&self) -> &'static str {
                match self {
                    $( Resource::$variant(_) => stringify!($variant), )*
                }
            }

            pub fn metadata(&self) -> &ObjectMeta {
                match self {
                    $( Resource::$variant(object) => &object.metadata, )*
                }
            }
        }

        /// Every kind polc models.
        pub static KINDS: &[KindInfo] = &[
            $(
                KindInfo {
                    kind: stringify!($variant),
                    api_versions: &[$($version),+],
                    category: Category::$category,
                    namespaced: $namespaced,
                    schema: || schemars::schema_for!($ty),
                    decode: |json| serde_json::from_value::<$ty>(json).map(|object| Resource::$variant(Box::new(object))),
                    check: |resource, cx| {
                        if let Resource::$variant(object) = resource {
                            $check(object, cx)
                        }
                    },
                },
            )*
        ];
    };
}

kinds! {
    CiliumNetworkPolicy => cilium_policy::CiliumNetworkPolicy, Policy, namespaced: true, ["cilium.io/v2"], checks::cilium_policy::check_cnp;
    CiliumClusterwideNetworkPolicy => cilium_policy::CiliumClusterwideNetworkPolicy, Policy, namespaced: false, ["cilium.io/v2"], checks::cilium_policy::check_ccnp;
    NetworkPolicy => k8s_policy::NetworkPolicy, Policy, namespaced: true, ["networking.k8s.io/v1"], checks::k8s_policy::check_network_policy;
    CiliumL2AnnouncementPolicy => cilium_net::CiliumL2AnnouncementPolicy, Networking, namespaced: false, ["cilium.io/v2alpha1"], checks::cilium_net::check_l2_announcement_policy;
    CiliumLoadBalancerIPPool => cilium_net::CiliumLoadBalancerIPPool, Networking, namespaced: false, ["cilium.io/v2", "cilium.io/v2alpha1"], checks::cilium_net::check_lb_ip_pool;
    CiliumBGPPeeringPolicy => cilium_net::CiliumBGPPeeringPolicy, Networking, namespaced: false, ["cilium.io/v2alpha1"], checks::cilium_net::check_bgp_peering_policy;
    CiliumBGPClusterConfig => cilium_net::CiliumBGPClusterConfig, Networking, namespaced: false, ["cilium.io/v2", "cilium.io/v2alpha1"], checks::cilium_net::check_bgp_cluster_config;
    CiliumBGPPeerConfig => cilium_net::CiliumBGPPeerConfig, Networking, namespaced: false, ["cilium.io/v2", "cilium.io/v2alpha1"], checks::cilium_net::check_bgp_peer_config;
    CiliumBGPAdvertisement => cilium_net::CiliumBGPAdvertisement, Networking, namespaced: false, ["cilium.io/v2", "cilium.io/v2alpha1"], checks::cilium_net::check_bgp_advertisement;
    CiliumBGPNodeConfigOverride => cilium_net::CiliumBGPNodeConfigOverride, Networking, namespaced: false, ["cilium.io/v2", "cilium.io/v2alpha1"], checks::cilium_net::check_bgp_node_config_override;
    GatewayClass => gateway::GatewayClass, Gateway, namespaced: false, ["gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"], checks::gateway::check_gateway_class;
    Gateway => gateway::Gateway, Gateway, namespaced: true, ["gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"], checks::gateway::check_gateway;
    HTTPRoute => gateway::HTTPRoute, Gateway, namespaced: true, ["gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1beta1"], checks::gateway::check_http_route;
    GRPCRoute => gateway::GRPCRoute, Gateway, namespaced: true, ["gateway.networking.k8s.io/v1", "gateway.networking.k8s.io/v1alpha2"], checks::gateway::check_grpc_route;
    TLSRoute => gateway::TLSRoute, Gateway, namespaced: true, ["gateway.networking.k8s.io/v1alpha2", "gateway.networking.k8s.io/v1alpha3", "gateway.networking.k8s.io/v1"], checks::gateway::check_tls_route;
    ReferenceGrant => gateway::ReferenceGrant, Gateway, namespaced: true, ["gateway.networking.k8s.io/v1beta1", "gateway.networking.k8s.io/v1alpha2", "gateway.networking.k8s.io/v1"], checks::gateway::check_reference_grant;
    Namespace => inventory::Namespace, Inventory, namespaced: false, ["v1"], checks::inventory::check_namespace;
    Pod => inventory::Pod, Inventory, namespaced: true, ["v1"], checks::inventory::check_pod;
    Node => inventory::Node, Inventory, namespaced: false, ["v1"], checks::inventory::check_node;
    Service => inventory::Service, Inventory, namespaced: true, ["v1"], checks::inventory::check_service;
    EndpointSlice => inventory::EndpointSlice, Inventory, namespaced: true, ["discovery.k8s.io/v1"], checks::inventory::check_endpoint_slice;
    FlowTest => flowtest::FlowTest, Test, namespaced: false, ["polc/v1alpha1"], checks::flowtest::check_flow_test;
}

static SCHEMAS: OnceLock<Vec<OnceLock<KindSchema>>> = OnceLock::new();

impl KindInfo {
    /// Looks a kind up by its `kind` name.
    pub fn find(kind: &str) -> Option<&'static KindInfo> {
        KINDS.iter().find(|info| info.kind == kind)
    }

    /// Looks a kind up ignoring case (for `polc schema httproute`).
    pub fn find_ignore_case(kind: &str) -> Option<&'static KindInfo> {
        KINDS.iter().find(|info| info.kind.eq_ignore_ascii_case(kind))
    }

    fn position(&self) -> usize {
        KINDS.iter().position(|info| std::ptr::eq(info, self)).expect("kind info comes from KINDS")
    }

    /// The JSON Schema of this kind (draft 2020-12), built once.
    pub fn schema(&'static self) -> &'static KindSchema {
        let all = SCHEMAS.get_or_init(|| KINDS.iter().map(|_| OnceLock::new()).collect());
        all[self.position()].get_or_init(|| KindSchema::new((self.schema)().to_value()))
    }

    pub fn decode(&self, json: Json) -> Result<Resource, serde_json::Error> {
        (self.decode)(json)
    }

    pub fn check(&self, resource: &Resource, cx: &mut CheckCx<'_>) {
        (self.check)(resource, cx)
    }
}
