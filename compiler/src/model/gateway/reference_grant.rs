//! ReferenceGrant: lets objects of other namespaces refer to objects of this one.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{GROUP_HELP, GROUP_PATTERN, KIND_HELP, KIND_PATTERN, NAMESPACE_HELP, NAMESPACE_PATTERN};
use crate::model::meta::ObjectMeta;

/// Permits references from the `from` kinds and namespaces to the `to` kinds (and names) of
/// the grant's own namespace.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReferenceGrant {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: ReferenceGrantSpec,
    /// Accepted and not checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReferenceGrantSpec {
    /// Who may refer.
    #[schemars(length(min = 1, max = 16))]
    pub from: Vec<ReferenceGrantFrom>,
    /// What may be referred to, in this namespace.
    #[schemars(length(min = 1, max = 16))]
    pub to: Vec<ReferenceGrantTo>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReferenceGrantFrom {
    /// API group of the referring kind (`gateway.networking.k8s.io` for routes and Gateways).
    #[schemars(length(max = 253), pattern(GROUP_PATTERN), extend("x-polc-pattern-help" = GROUP_HELP))]
    pub group: String,
    #[schemars(length(min = 1, max = 63), pattern(KIND_PATTERN), extend("x-polc-pattern-help" = KIND_HELP))]
    pub kind: String,
    #[schemars(length(min = 1, max = 63), pattern(NAMESPACE_PATTERN), extend("x-polc-pattern-help" = NAMESPACE_HELP))]
    pub namespace: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReferenceGrantTo {
    /// API group of the referred kind (`""` for Services and Secrets).
    #[schemars(length(max = 253), pattern(GROUP_PATTERN), extend("x-polc-pattern-help" = GROUP_HELP))]
    pub group: String,
    #[schemars(length(min = 1, max = 63), pattern(KIND_PATTERN), extend("x-polc-pattern-help" = KIND_HELP))]
    pub kind: String,
    /// One object by name; when absent, every object of the kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub name: Option<String>,
}

impl ReferenceGrant {
    /// Whether this grant (living in `self`'s namespace) lets a `from_kind` object of
    /// `from_namespace` refer to the `to_group`/`to_kind` object named `to_name`.
    pub fn permits(&self, from_group: &str, from_kind: &str, from_namespace: &str, to_group: &str, to_kind: &str, to_name: &str) -> bool {
        self.spec.from.iter().any(|from| from.group == from_group && from.kind == from_kind && from.namespace == from_namespace)
            && self.spec.to.iter().any(|to| to.group == to_group && to.kind == to_kind && to.name.as_deref().is_none_or(|name| name == to_name))
    }
}
