//! The schemars attributes the models rely on produce the keywords the validator enforces.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Sample {
    #[schemars(range(min = 1, max = 65535))]
    port: u32,
    #[schemars(length(min = 1, max = 253), regex(pattern = r"^[a-z]+$"))]
    name: String,
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]), length(max = 64))]
    items: Vec<Item>,
    #[serde(default)]
    #[schemars(extend("format" = "cidr"))]
    cidr: Option<String>,
    #[serde(default)]
    mode: Option<Mode>,
}

#[derive(Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Item {
    name: String,
}

/// Modes.
#[derive(Serialize, Deserialize, JsonSchema)]
enum Mode {
    /// First.
    Terminate,
    /// Second.
    Passthrough,
}

#[test]
fn attributes_produce_keywords() {
    let schema = serde_json::to_string(&schemars::schema_for!(Sample)).unwrap();
    for needle in [
        "\"minimum\":1",
        "\"maximum\":65535",
        "\"maxLength\":253",
        "\"pattern\":\"^[a-z]+$\"",
        "\"x-kubernetes-list-map-keys\":[\"name\"]",
        "\"format\":\"cidr\"",
        "\"additionalProperties\":false",
        "\"maxItems\":64",
    ] {
        assert!(schema.contains(needle), "{needle} missing from {schema}");
    }
}
