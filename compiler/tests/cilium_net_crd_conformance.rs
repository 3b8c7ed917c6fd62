//! The models of the LB-IPAM, L2 announcement and BGP kinds against the upstream CRDs in the
//! corpus (`pkg/k8s/apis/cilium.io/client/crds/v2alpha1`): every field of the CRD exists in the
//! model with the same type, enum, pattern, format, bounds, required fields and list-map keys;
//! the model has no field the CRD lacks, except the listed `cilium.io/v2`-only fields and fields
//! upstream added after the corpus snapshot.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use polc_compiler::kinds::KindInfo;
use polc_compiler::schema_check::generic_json;
use polc_compiler::source::SourceId;
use polc_compiler::yaml::{Limits, parse_stream};
use serde_json::Value as Json;

fn crd_dir() -> Option<PathBuf> {
    let relative = "cilium/cilium/pkg/k8s/apis/cilium.io/client/crds/v2alpha1";
    let candidates = std::env::var_os("POLC_CORPUS").map(PathBuf::from).into_iter().chain([Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus")]);
    for candidate in candidates {
        if candidate.join(relative).is_dir() {
            return Some(candidate.join(relative));
        }
    }
    eprintln!("skipped: the corpus is absent (set POLC_CORPUS or provide ../shared/corpus)");
    None
}

/// Paths (in the walk's notation) of fields and enum values only `cilium.io/v2` has, or that
/// upstream added after the corpus snapshot.
const V2_ONLY: &[&str] = &[
    "spec.bgpInstances[].peers[].autoDiscovery",
    "spec.bgpInstances[].peers[].peerInterface",
    "spec.transport.sourceInterface",
    "spec.advertisements[].interface",
    "spec.advertisements[].advertisementType=Interface",
    // Added upstream to both versions after the corpus snapshot (Cilium 1.18.0-dev).
    "spec.bgpInstances[].localPort",
    "spec.advertisements[].service.aggregationLengthIPv4",
    "spec.advertisements[].service.aggregationLengthIPv6",
];

struct Walk<'a> {
    ours_root: &'a Json,
    problems: Vec<String>,
}

/// Our schema at a node: `$ref` followed, and `Option`'s null alternative dropped.
fn resolve<'s>(root: &'s Json, mut schema: &'s Json) -> &'s Json {
    {
        for _ in 0..16 {
            if let Some(name) = schema.get("$ref").and_then(Json::as_str).and_then(|r| r.strip_prefix("#/$defs/")) {
                match root.get("$defs").and_then(|defs| defs.get(name)) {
                    Some(target) => {
                        schema = target;
                        continue;
                    }
                    None => return schema,
                }
            }
            if let Some(branches) = schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(Json::as_array) {
                let non_null: Vec<&Json> = branches.iter().filter(|branch| branch.get("type").and_then(Json::as_str) != Some("null")).collect();
                if non_null.len() == 1 {
                    schema = non_null[0];
                    continue;
                }
            }
            return schema;
        }
        schema
    }
}

impl Walk<'_> {
    fn types(schema: &Json) -> BTreeSet<String> {
        match schema.get("type") {
            Some(Json::String(single)) => [single.clone()].into_iter().collect(),
            Some(Json::Array(many)) => many.iter().filter_map(Json::as_str).filter(|t| *t != "null").map(str::to_owned).collect(),
            _ => BTreeSet::new(),
        }
    }

    fn bounds(schema: &Json) -> (Option<i128>, Option<i128>) {
        let (mut low, mut high) = match schema.get("format").and_then(Json::as_str) {
            Some("uint32") => (Some(0), Some(i128::from(u32::MAX))),
            Some("int32") => (Some(i128::from(i32::MIN)), Some(i128::from(i32::MAX))),
            Some("int64") => (Some(i128::from(i64::MIN)), Some(i128::from(i64::MAX))),
            Some("uint64") => (Some(0), Some(i128::from(u64::MAX))),
            _ => (None, None),
        };
        if let Some(minimum) = schema.get("minimum").and_then(Json::as_i64) {
            low = Some(low.map_or(i128::from(minimum), |l| l.max(i128::from(minimum))));
        }
        if let Some(maximum) = schema.get("maximum").and_then(Json::as_u64) {
            high = Some(high.map_or(i128::from(maximum), |h| h.min(i128::from(maximum))));
        }
        (low, high)
    }

    fn compare(&mut self, crd: &Json, ours: &Json, path: &str) {
        let ours = resolve(self.ours_root, ours);
        let crd_types = Self::types(crd);
        let our_types = Self::types(ours);
        if !crd_types.is_empty() && !our_types.is_empty() && crd_types != our_types {
            self.problems.push(format!("{path}: type {crd_types:?} in the CRD, {our_types:?} in the model"));
        }
        if let Some(crd_enum) = crd.get("enum").and_then(Json::as_array) {
            let crd_values: BTreeSet<String> = crd_enum.iter().map(|v| v.as_str().unwrap_or_default().to_owned()).collect();
            let our_values: BTreeSet<String> =
                ours.get("enum").and_then(Json::as_array).into_iter().flatten().map(|v| v.as_str().unwrap_or_default().to_owned()).collect();
            let extra: BTreeSet<&String> = our_values.difference(&crd_values).filter(|value| !V2_ONLY.contains(&format!("{path}={value}").as_str())).collect();
            let missing: BTreeSet<&String> = crd_values.difference(&our_values).collect();
            if !extra.is_empty() || !missing.is_empty() {
                self.problems.push(format!("{path}: enum differs, missing {missing:?}, extra {extra:?}"));
            }
        }
        for keyword in ["pattern", "minLength", "maxLength", "minItems", "maxItems", "x-kubernetes-list-type", "x-kubernetes-list-map-keys"] {
            if let Some(value) = crd.get(keyword) {
                // `atomic` lists are plain lists.
                if keyword == "x-kubernetes-list-type" && value == "atomic" {
                    continue;
                }
                if ours.get(keyword) != Some(value) {
                    self.problems.push(format!("{path}: {keyword} is {value} in the CRD, {:?} in the model", ours.get(keyword)));
                }
            }
        }
        if let Some(format) = crd.get("format").and_then(Json::as_str)
            && matches!(format, "cidr" | "ipv4" | "ipv6" | "ip")
            && ours.get("format").and_then(Json::as_str) != Some(format)
        {
            self.problems.push(format!("{path}: format {format} in the CRD, {:?} in the model", ours.get("format")));
        }
        if crd_types.contains("integer") && (crd.get("minimum").is_some() || crd.get("maximum").is_some()) {
            let crd_bounds = (crd.get("minimum").and_then(Json::as_i64).map(i128::from), crd.get("maximum").and_then(Json::as_u64).map(i128::from));
            let our_bounds = Self::bounds(ours);
            if crd_bounds.0.is_some() && crd_bounds.0 != our_bounds.0 || crd_bounds.1.is_some() && crd_bounds.1 != our_bounds.1 {
                self.problems.push(format!("{path}: bounds {crd_bounds:?} in the CRD, {our_bounds:?} in the model"));
            }
        }
        if let Some(crd_properties) = crd.get("properties").and_then(Json::as_object) {
            let our_properties = ours.get("properties").and_then(Json::as_object);
            let Some(our_properties) = our_properties else {
                self.problems.push(format!("{path}: the CRD has fields, the model has none"));
                return;
            };
            let crd_required: BTreeSet<&str> = crd.get("required").and_then(Json::as_array).into_iter().flatten().filter_map(Json::as_str).collect();
            let our_required: BTreeSet<&str> = ours.get("required").and_then(Json::as_array).into_iter().flatten().filter_map(Json::as_str).collect();
            let at_root = path.is_empty();
            let (crd_required, our_required): (BTreeSet<&str>, BTreeSet<&str>) = if at_root {
                (crd_required.into_iter().filter(|name| *name == "spec").collect(), our_required.into_iter().filter(|name| *name == "spec").collect())
            } else {
                (crd_required, our_required)
            };
            if crd_required != our_required {
                self.problems.push(format!("{path}: required {crd_required:?} in the CRD, {our_required:?} in the model"));
            }
            for (name, crd_property) in crd_properties {
                if at_root && name != "spec" {
                    continue;
                }
                let child = if path.is_empty() { name.clone() } else { format!("{path}.{name}") };
                match our_properties.get(name) {
                    Some(our_property) => self.compare(crd_property, our_property, &child),
                    None => self.problems.push(format!("{child}: in the CRD, missing from the model")),
                }
            }
            if !at_root {
                for name in our_properties.keys() {
                    let child = format!("{path}.{name}");
                    if !crd_properties.contains_key(name) && !V2_ONLY.contains(&child.as_str()) {
                        self.problems.push(format!("{child}: in the model, not in the CRD"));
                    }
                }
            }
        }
        if let Some(crd_items) = crd.get("items") {
            match ours.get("items") {
                Some(our_items) => self.compare(crd_items, our_items, &format!("{path}[]")),
                None => self.problems.push(format!("{path}: a list in the CRD, not in the model")),
            }
        }
        if let Some(crd_values) = crd.get("additionalProperties").filter(|value| value.is_object()) {
            match ours.get("additionalProperties").filter(|value| value.is_object()) {
                Some(our_values) => self.compare(crd_values, our_values, &format!("{path}{{*}}")),
                None => self.problems.push(format!("{path}: a map in the CRD, not in the model")),
            }
        }
    }
}

#[test]
fn models_follow_the_v2alpha1_crds() {
    let Some(dir) = crd_dir() else { return };
    let mut checked = 0;
    for (file, kind) in [
        ("ciliumloadbalancerippools.yaml", "CiliumLoadBalancerIPPool"),
        ("ciliuml2announcementpolicies.yaml", "CiliumL2AnnouncementPolicy"),
        ("ciliumbgppeeringpolicies.yaml", "CiliumBGPPeeringPolicy"),
        ("ciliumbgpclusterconfigs.yaml", "CiliumBGPClusterConfig"),
        ("ciliumbgppeerconfigs.yaml", "CiliumBGPPeerConfig"),
        ("ciliumbgpadvertisements.yaml", "CiliumBGPAdvertisement"),
        ("ciliumbgpnodeconfigoverrides.yaml", "CiliumBGPNodeConfigOverride"),
    ] {
        let text = std::fs::read_to_string(dir.join(file)).unwrap_or_else(|error| panic!("{file}: {error}"));
        let stream = parse_stream(SourceId(0), &text, &Limits::default());
        let crd =
            stream.documents.iter().map(|document| generic_json(&document.root)).find(|json| json.get("kind") == Some(&Json::from("CustomResourceDefinition")));
        let crd = crd.unwrap_or_else(|| panic!("{file} holds no CRD"));
        let versions = crd.pointer("/spec/versions").and_then(Json::as_array).cloned().unwrap_or_default();
        let info = KindInfo::find(kind).expect("modeled kind");
        let ours = info.schema().json();
        for version in versions {
            let name = version.get("name").and_then(Json::as_str).unwrap_or_default();
            let Some(schema) = version.pointer("/schema/openAPIV3Schema") else { continue };
            assert!(info.api_versions.contains(&format!("cilium.io/{name}").as_str()), "{kind} is served at {name} but polc does not accept it");
            let mut walk = Walk { ours_root: ours, problems: Vec::new() };
            walk.compare(schema, ours, "");
            assert!(walk.problems.is_empty(), "{kind} {name}:\n{}", walk.problems.join("\n"));
            checked += 1;
        }
    }
    assert_eq!(checked, 7);
}
