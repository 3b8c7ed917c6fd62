//! Typed models of every input kind, with serde for decoding and schemars for the JSON Schema.
//!
//! Policy kinds reject unknown fields (`deny_unknown_fields`), as the upstream CRD schemas do.
//! Inventory kinds (Pod, Node, ...) come from `kubectl get -o yaml` dumps full of fields polc
//! does not use, so they model only what polc reads and ignore the rest.
//! Field names, enums and limits follow the upstream CRD schemas.

pub mod cilium_net;
pub mod cilium_policy;
pub mod flowtest;
pub mod gateway;
pub mod inventory;
pub mod k8s_policy;
pub mod meta;
