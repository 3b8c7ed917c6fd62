//! GatewayClass: a class of Gateways, served by one controller.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{GROUP_HELP, GROUP_PATTERN, KIND_HELP, KIND_PATTERN, NAMESPACE_HELP, NAMESPACE_PATTERN};
use crate::model::meta::ObjectMeta;

/// A domain-prefixed path naming the controller (`example.com/gateway-controller`).
pub const CONTROLLER_NAME_PATTERN: &str = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/[A-Za-z0-9\/\-._~%!$&'()*+,;=:]+$";
pub const CONTROLLER_NAME_HELP: &str = "a domain-prefixed path such as `io.cilium/gateway-controller`: a lower-case DNS name, `/`, then a path";

/// A class of Gateways and the controller that implements it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayClass {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: GatewayClassSpec,
    /// Written by the controller; accepted and not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GatewayClassSpec {
    /// The controller that manages Gateways of this class (immutable once set).
    #[schemars(length(min = 1, max = 253), pattern(CONTROLLER_NAME_PATTERN), extend("x-polc-pattern-help" = CONTROLLER_NAME_HELP))]
    pub controller_name: String,
    /// Implementation-specific parameters of the class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameters_ref: Option<ParametersReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub description: Option<String>,
}

/// A reference to an implementation-specific parameters object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ParametersReference {
    #[schemars(length(max = 253), pattern(GROUP_PATTERN), extend("x-polc-pattern-help" = GROUP_HELP))]
    pub group: String,
    #[schemars(length(min = 1, max = 63), pattern(KIND_PATTERN), extend("x-polc-pattern-help" = KIND_HELP))]
    pub kind: String,
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Required for namespaced parameter kinds, absent for cluster-scoped ones.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63), pattern(NAMESPACE_PATTERN), extend("x-polc-pattern-help" = NAMESPACE_HELP))]
    pub namespace: Option<String>,
}
