//! Gateway API: GatewayClass, Gateway, HTTPRoute, GRPCRoute, TLSRoute and ReferenceGrant.
//!
//! The types follow the upstream CRDs of `kubernetes-sigs/gateway-api` (standard channel):
//! field names, required fields, enums, patterns, lengths, list keys. Defaults the API server
//! would apply are not filled in while decoding (so a finding can say what was written); the
//! accessor methods (`kind()`, `mode()`, `effective_matches()`...) apply them.
//!
//! Experimental-channel fields (`retry`, `sessionPersistence`, the `ExternalAuth` filter,
//! `useDefaultGateways`, `defaultScope`) are modeled from the experimental CRDs of the same
//! release, so that experimental manifests are checked rather than rejected; the checks add a
//! note that a standard-channel cluster does not have them.
//!
//! Status is accepted as written and not checked: it is the controllers' output.

pub mod common;
pub mod gateway_class;
pub mod gateways;
pub mod grpc_route;
pub mod http_route;
pub mod reference_grant;
pub mod tls_route;

pub use common::*;
pub use gateway_class::*;
pub use gateways::*;
pub use grpc_route::*;
pub use http_route::*;
pub use reference_grant::*;
pub use tls_route::*;
