//! Per-node compile: the IR to policy map images, ipcaches and specialised datapath constants,
//! and from those to a bundle.
//!
//! Every endpoint of a node gets its own policy map and its own instance of the datapath object
//! (the constants differ: identity, default-deny per direction); the node's endpoints share one
//! ipcache. An endpoint whose map needs more entries than the policy map limit (Cilium's
//! `bpf-policy-map-max`, default 16,384) is an error that names it; the map is created with the
//! limit as its `max_entries`, as Cilium creates it.
//!
//! **Rule origins.** Each policy map value has Cilium's policy-log `cookie`. polc sets it to a
//! number standing for the set of rules that produced the entry: the first four bytes
//! (little-endian) of the SHA-256 of the rules' names (kind, namespace, name, rule path; not the
//! file position, so moving a rule within its file changes no map value), never 0, with
//! collisions moved to the next free number in a fixed order. The bundle carries what each cookie
//! stands for, and the labels of every identity, in two metadata maps that no endpoint binds (the
//! agent never loads them):
//!
//! | map | type | key (8 bytes) | value (248 bytes) |
//! | --- | --- | --- | --- |
//! | `meta/rule-origins` | hash | u32 cookie, u16 part, u16 parts (LE) | part of a JSON array of [`OriginRecord`]s |
//! | `meta/identities` | hash | u32 identity, u16 part, u16 parts (LE) | part of a JSON [`IdentityRecord`] |
//!
//! A JSON text is cut into 248-byte parts, numbered from 0, each key also holding the number of
//! parts; the last part is padded with zero bytes. [`decode_metadata`] puts them back together.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

use polc_ir::{EndpointId, EndpointKind, IdentityKind, PolicyIr, RuleOrigin};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::bundle::{Bundle, BundleBuilder, BundleError, Digest, MapImage, MapKind, ObjectImage};
use crate::config::DatapathConfig;
use crate::from_ir::{self, EntrySource, SourcedEntry};
use crate::image::{DEFAULT_POLICY_MAP_MAX_ENTRIES, IpcacheImage, POLICY_MAP_MAX_ENTRIES_LIMIT, PolicyMapImage};
use crate::object;

/// The smallest policy map limit Cilium accepts for `bpf-policy-map-max`.
pub const POLICY_MAP_MIN_ENTRIES: u32 = 256;
/// Name of the node's ipcache map in a bundle.
pub const IPCACHE_MAP: &str = "ipcache";
/// The name of a node's ipcache host HASH map in a bundle (endpoints in the
/// `ipcache_host_hash` mode bind it).
pub const IPCACHE_HOSTS_MAP: &str = "ipcache-hosts";
/// Name of the rule-origin metadata map.
pub const RULE_ORIGINS_MAP: &str = "meta/rule-origins";
/// Name of the identity metadata map.
pub const IDENTITIES_MAP: &str = "meta/identities";
/// Key size of a metadata map: the number, the part index and the number of parts.
pub const METADATA_KEY_SIZE: usize = 8;
/// Value size of a metadata map: one part of a JSON text.
pub const METADATA_VALUE_SIZE: usize = 248;
/// The bundle name of a node's host endpoint.
pub const HOST_ENDPOINT_NAME: &str = "host";

/// How the endpoints' datapath programs find the longest-prefix matches of the policy map and
/// the remote address's ipcache entry (`MAPS.md` §3, §4). Both modes give the same verdicts;
/// they differ in cost and in the maps a bundle carries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PolicyLookup {
    /// HASH probes (`policy_map_hash` and `ipcache_host_hash` on): the policy map is a HASH
    /// holding the same keys and values as Cilium's LPM policy map plus one summary record per
    /// (identity, direction, protocol), and the ipcache's host entries are also in a HASH that
    /// is read before the LPM trie. The cost per packet does not grow with the number of
    /// entries, which is why it is the default.
    #[default]
    Hash,
    /// Cilium's map types only: LPM tries for the policy map and the ipcache (both constants
    /// off); the cost per packet grows with the tries' depth.
    Lpm,
}

impl PolicyLookup {
    /// `hash` or `lpm`, as `polc compile --policy-lookup` spells it.
    pub fn name(self) -> &'static str {
        match self {
            PolicyLookup::Hash => "hash",
            PolicyLookup::Lpm => "lpm",
        }
    }

    /// `config` with this mode's lookup constants.
    pub fn apply(self, config: DatapathConfig) -> DatapathConfig {
        let hash = self == PolicyLookup::Hash;
        DatapathConfig { policy_map_hash: hash, ipcache_host_hash: hash, ..config }
    }
}

/// What to compile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompileOptions {
    /// Only this node's endpoints.
    pub node: Option<String>,
    /// Cilium's `bpf-policy-map-max`: the largest number of entries of one endpoint's policy map
    /// (256–65,536).
    pub policy_map_max_entries: u32,
    /// The lookup mode of every endpoint's datapath (its constants, and the maps it binds).
    pub policy_lookup: PolicyLookup,
}

impl Default for CompileOptions {
    fn default() -> Self {
        CompileOptions { node: None, policy_map_max_entries: DEFAULT_POLICY_MAP_MAX_ENTRIES, policy_lookup: PolicyLookup::default() }
    }
}

/// Where a rule is written, when the caller knows.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SourcePlace {
    pub file: String,
    pub line: u32,
    pub column: u32,
}

/// One rule behind a policy map entry, as the bundle records it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OriginRecord {
    /// `CiliumNetworkPolicy`, `CiliumClusterwideNetworkPolicy`, `NetworkPolicy`, or `implicit`.
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The policy's name, or the implicit rule's (`allow-localhost`, `not-enforced`,
    /// `default-allow`).
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub place: Option<SourcePlace>,
}

impl OriginRecord {
    /// `CiliumNetworkPolicy prod/allow-web spec.ingress[0] (web.yaml:12:5)`, or a phrase for an
    /// implicit rule.
    pub fn describe(&self) -> String {
        let mut text = match (self.kind.as_str(), &self.namespace, &self.rule_path) {
            ("implicit", _, _) => match self.name.as_str() {
                "not-enforced" => "no policy selects the endpoint in this direction (allow all)".to_owned(),
                "default-allow" => "the policies set `enableDefaultDeny: false` (lowest-tier allow all)".to_owned(),
                name => format!("implicit rule {name}"),
            },
            (kind, Some(namespace), Some(path)) => format!("{kind} {namespace}/{} {path}", self.name),
            (kind, None, Some(path)) => format!("{kind} {} {path}", self.name),
            (kind, Some(namespace), None) => format!("{kind} {namespace}/{}", self.name),
            (kind, None, None) => format!("{kind} {}", self.name),
        };
        if let Some(place) = &self.place {
            text.push_str(&format!(" ({}:{}:{})", place.file, place.line, place.column));
        }
        text
    }

    fn of(source: &EntrySource, locate: &dyn Fn(&RuleOrigin) -> Option<SourcePlace>) -> OriginRecord {
        let implicit = |name: &str| OriginRecord { kind: "implicit".to_owned(), namespace: None, name: name.to_owned(), rule_path: None, place: None };
        match source {
            EntrySource::Rule(origin @ RuleOrigin::Policy { kind, namespace, name, rule_path, .. }) => {
                OriginRecord { kind: kind.clone(), namespace: namespace.clone(), name: name.clone(), rule_path: Some(rule_path.clone()), place: locate(origin) }
            }
            EntrySource::Rule(RuleOrigin::Implicit(rule)) => implicit(rule.as_str()),
            EntrySource::NotEnforced => implicit("not-enforced"),
            EntrySource::DefaultAllow => implicit("default-allow"),
        }
    }

    /// The words the cookie is computed from: everything but the place.
    fn identity_text(&self) -> String {
        format!("{}\t{}\t{}\t{}", self.kind, self.namespace.as_deref().unwrap_or(""), self.name, self.rule_path.as_deref().unwrap_or(""))
    }
}

/// An identity as the bundle records it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IdentityRecord {
    /// `reserved`, `endpoint` or `cidr`.
    pub kind: String,
    /// A short description: the reserved name, the prefix, or the pod labels.
    pub description: String,
    /// Every label, `source:key=value`, sorted.
    pub labels: Vec<String>,
}

/// One endpoint's compiled datapath: its constants and its policy map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledEndpoint {
    pub id: EndpointId,
    /// The name in a bundle: `NAMESPACE/POD`, or `host` for the node itself.
    pub name: String,
    /// How the endpoint is shown (`NAMESPACE/POD`, `node:NAME`).
    pub shown: String,
    pub identity: u32,
    pub addresses: Vec<IpAddr>,
    pub config: DatapathConfig,
    /// The entries before the image builder (merged per key, with their cookies and rules).
    pub entries: Vec<SourcedEntry>,
    pub policy: PolicyMapImage,
}

/// One node: its ipcache and its endpoints.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledNode {
    /// `None` for endpoints that run on no node (pods without `spec.nodeName`).
    pub name: Option<String>,
    pub ipcache: IpcacheImage,
    /// Sorted by endpoint ID.
    pub endpoints: Vec<CompiledEndpoint>,
}

/// The result of a compile.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Compiled {
    /// Sorted by name (`None` first).
    pub nodes: Vec<CompiledNode>,
    /// What every cookie used in a policy map stands for.
    pub origins: BTreeMap<u32, Vec<OriginRecord>>,
    /// Every identity of the IR.
    pub identities: BTreeMap<u32, IdentityRecord>,
    /// The policy map limit the images were checked against.
    pub policy_map_max_entries: u32,
}

impl Compiled {
    /// The compiled endpoint `id`, with its node.
    pub fn endpoint(&self, id: EndpointId) -> Option<(&CompiledNode, &CompiledEndpoint)> {
        self.nodes.iter().find_map(|node| node.endpoints.iter().find(|endpoint| endpoint.id == id).map(|endpoint| (node, endpoint)))
    }

    /// Endpoints that go into no bundle because they run on no node, as shown to users.
    pub fn unplaced_endpoints(&self) -> Vec<String> {
        self.nodes.iter().filter(|node| node.name.is_none()).flat_map(|node| node.endpoints.iter().map(|endpoint| endpoint.shown.clone())).collect()
    }
}

/// Why a compile failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompileError {
    /// `--node` names a node that has no endpoint and is not in the inventory.
    UnknownNode { node: String, known: Vec<String> },
    /// The policy map limit is outside Cilium's range.
    InvalidPolicyMapLimit { limit: u32 },
    /// An endpoint's policy map needs more entries than the limit.
    PolicyMapTooLarge { endpoint: String, entries: usize, limit: u32 },
    /// An IR entry or image that the maps cannot express.
    Unrepresentable { what: String, message: String },
    /// The bundle could not be assembled.
    Bundle(BundleError),
}

impl fmt::Display for CompileError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompileError::UnknownNode { node, known } if known.is_empty() => write!(formatter, "node `{node}` is not in the inputs, which have no node"),
            CompileError::UnknownNode { node, known } => {
                let known: Vec<String> = known.iter().map(|name| format!("`{name}`")).collect();
                write!(formatter, "node `{node}` is not in the inputs (nodes: {})", known.join(", "))
            }
            CompileError::InvalidPolicyMapLimit { limit } => write!(
                formatter,
                "policy map limit `{limit}` is outside the range Cilium accepts for `bpf-policy-map-max` ({POLICY_MAP_MIN_ENTRIES} to {POLICY_MAP_MAX_ENTRIES_LIMIT})"
            ),
            CompileError::PolicyMapTooLarge { endpoint, entries, limit } => write!(
                formatter,
                "the policy map of `{endpoint}` needs {entries} entries, more than the policy map limit of {limit} (Cilium's `bpf-policy-map-max`); \
                 raise the limit (at most {POLICY_MAP_MAX_ENTRIES_LIMIT}) or select fewer peers and port ranges for this endpoint"
            ),
            CompileError::Unrepresentable { what, message } => write!(formatter, "{what}: {message}"),
            CompileError::Bundle(error) => write!(formatter, "cannot assemble the bundle: {error}"),
        }
    }
}

impl std::error::Error for CompileError {}

fn bundle_endpoint_name(kind: &EndpointKind) -> String {
    match kind {
        EndpointKind::Pod { namespace, name } => format!("{namespace}/{name}"),
        EndpointKind::Host { .. } => HOST_ENDPOINT_NAME.to_owned(),
    }
}

/// The cookie numbers of origin sets: a hash of each set, collisions moved to the next free
/// number, in the order of the sets' texts.
fn assign_cookies(sets: &BTreeSet<Vec<OriginRecord>>) -> BTreeMap<Vec<OriginRecord>, u32> {
    let mut by_text: BTreeMap<String, &Vec<OriginRecord>> = BTreeMap::new();
    for set in sets {
        let text: Vec<String> = set.iter().map(OriginRecord::identity_text).collect();
        by_text.insert(text.join("\n"), set);
    }
    let mut taken: BTreeMap<u32, String> = BTreeMap::new();
    let mut cookies = BTreeMap::new();
    for (text, set) in by_text {
        let digest = Sha256::digest(text.as_bytes());
        let mut cookie = u32::from_le_bytes([digest[0], digest[1], digest[2], digest[3]]);
        loop {
            if cookie != 0 {
                match taken.get(&cookie) {
                    None => break,
                    Some(other) if *other == text => break,
                    Some(_) => {}
                }
            }
            cookie = cookie.wrapping_add(1);
        }
        taken.insert(cookie, text);
        cookies.insert(set.clone(), cookie);
    }
    cookies
}

fn identity_records(ir: &PolicyIr) -> BTreeMap<u32, IdentityRecord> {
    ir.identities
        .iter()
        .map(|identity| {
            let kind = match identity.kind {
                IdentityKind::Reserved => "reserved",
                IdentityKind::Endpoint => "endpoint",
                IdentityKind::Cidr { .. } => "cidr",
            };
            let record =
                IdentityRecord { kind: kind.to_owned(), description: identity.describe(), labels: identity.labels.iter().map(ToString::to_string).collect() };
            (identity.id.0, record)
        })
        .collect()
}

/// Compiles the IR: per node, the ipcache; per endpoint, the constants and the policy map.
/// `locate` gives the file and line of a policy rule, when known.
pub fn compile(ir: &PolicyIr, options: &CompileOptions, locate: &dyn Fn(&RuleOrigin) -> Option<SourcePlace>) -> Result<Compiled, CompileError> {
    let limit = options.policy_map_max_entries;
    if !(POLICY_MAP_MIN_ENTRIES..=POLICY_MAP_MAX_ENTRIES_LIMIT).contains(&limit) {
        return Err(CompileError::InvalidPolicyMapLimit { limit });
    }
    let mut node_names: BTreeSet<Option<String>> = ir.nodes.iter().map(|node| Some(node.name.clone())).collect();
    node_names.extend(ir.endpoints.iter().map(|endpoint| endpoint.node.clone()));
    if let Some(wanted) = &options.node {
        if !node_names.contains(&Some(wanted.clone())) {
            return Err(CompileError::UnknownNode { node: wanted.clone(), known: node_names.iter().flatten().cloned().collect() });
        }
        node_names.retain(|name| name.as_deref() == Some(wanted.as_str()));
    }

    // Entries of every endpoint, with the records of their rules.
    struct Pending<'a> {
        endpoint: &'a polc_ir::Endpoint,
        entries: Vec<(SourcedEntry, Vec<OriginRecord>)>,
    }
    let mut pending: BTreeMap<Option<String>, Vec<Pending<'_>>> = node_names.iter().map(|name| (name.clone(), Vec::new())).collect();
    let mut origin_sets: BTreeSet<Vec<OriginRecord>> = BTreeSet::new();
    for endpoint in &ir.endpoints {
        let Some(list) = pending.get_mut(&endpoint.node) else { continue };
        let entries = from_ir::endpoint_entries(endpoint)
            .map_err(|error| CompileError::Unrepresentable { what: format!("the policy of `{}`", endpoint.kind), message: error.message().to_owned() })?;
        let entries: Vec<(SourcedEntry, Vec<OriginRecord>)> = entries
            .into_iter()
            .map(|sourced| {
                let mut records: Vec<OriginRecord> = sourced.sources.iter().map(|source| OriginRecord::of(source, locate)).collect();
                records.sort();
                records.dedup();
                (sourced, records)
            })
            .collect();
        origin_sets.extend(entries.iter().map(|(_, records)| records.clone()));
        list.push(Pending { endpoint, entries });
    }
    let cookies = assign_cookies(&origin_sets);

    let mut nodes = Vec::new();
    let mut used_cookies: BTreeMap<u32, Vec<OriginRecord>> = BTreeMap::new();
    for (name, endpoints) in pending {
        let ipcache_entries = from_ir::ipcache_entries(ir, name.as_deref())
            .map_err(|error| CompileError::Unrepresentable { what: "the ipcache".to_owned(), message: error.message().to_owned() })?;
        let ipcache = IpcacheImage::build(&ipcache_entries, 0)
            .map_err(|error| CompileError::Unrepresentable { what: "the ipcache".to_owned(), message: error.message().to_owned() })?;
        let mut compiled_endpoints = Vec::new();
        for Pending { endpoint, entries } in endpoints {
            let mut sourced_entries = Vec::with_capacity(entries.len());
            for (mut sourced, records) in entries {
                let cookie = cookies.get(&records).copied().unwrap_or(0);
                sourced.entry.cookie = cookie;
                used_cookies.entry(cookie).or_insert(records);
                sourced_entries.push(sourced);
            }
            let plain: Vec<_> = sourced_entries.iter().map(|sourced| sourced.entry).collect();
            let policy = PolicyMapImage::build(&plain).map_err(|error| CompileError::Unrepresentable {
                what: format!("the policy map of `{}`", endpoint.kind),
                message: error.message().to_owned(),
            })?;
            if policy.len() > limit as usize {
                return Err(CompileError::PolicyMapTooLarge { endpoint: endpoint.kind.to_string(), entries: policy.len(), limit });
            }
            compiled_endpoints.push(CompiledEndpoint {
                id: endpoint.id,
                name: bundle_endpoint_name(&endpoint.kind),
                shown: endpoint.kind.to_string(),
                identity: endpoint.identity.0,
                addresses: endpoint.addresses.clone(),
                config: options.policy_lookup.apply(from_ir::datapath_config(ir, endpoint)),
                entries: sourced_entries,
                policy,
            });
        }
        nodes.push(CompiledNode { name, ipcache, endpoints: compiled_endpoints });
    }
    // Only the cookies some image still holds (denies prune entries).
    let held: BTreeSet<u32> = nodes
        .iter()
        .flat_map(|node| node.endpoints.iter())
        .flat_map(|endpoint| endpoint.policy.entries().iter().map(|(_, value)| crate::layout::decode_policy_value(value).cookie))
        .collect();
    used_cookies.retain(|cookie, _| held.contains(cookie));
    Ok(Compiled { nodes, origins: used_cookies, identities: identity_records(ir), policy_map_max_entries: limit })
}

/// Encodes `texts` (number → text) as metadata map records (see the module documentation).
pub fn encode_metadata(name: &str, texts: &BTreeMap<u32, String>) -> Option<MapImage> {
    let mut records: Vec<([u8; METADATA_KEY_SIZE], [u8; METADATA_VALUE_SIZE])> = Vec::new();
    for (number, text) in texts {
        let chunks: Vec<&[u8]> = text.as_bytes().chunks(METADATA_VALUE_SIZE).take(usize::from(u16::MAX)).collect();
        let total = chunks.len() as u16;
        for (part, chunk) in chunks.into_iter().enumerate() {
            let mut key = [0u8; METADATA_KEY_SIZE];
            key[0..4].copy_from_slice(&number.to_le_bytes());
            key[4..6].copy_from_slice(&(part as u16).to_le_bytes());
            key[6..8].copy_from_slice(&total.to_le_bytes());
            let mut value = [0u8; METADATA_VALUE_SIZE];
            value[..chunk.len()].copy_from_slice(chunk);
            records.push((key, value));
        }
    }
    if records.is_empty() {
        return None;
    }
    records.sort();
    let mut bytes = Vec::with_capacity(records.len() * (METADATA_KEY_SIZE + METADATA_VALUE_SIZE));
    for (key, value) in &records {
        bytes.extend_from_slice(key);
        bytes.extend_from_slice(value);
    }
    Some(MapImage {
        name: name.to_owned(),
        kind: MapKind::Hash,
        key_size: METADATA_KEY_SIZE as u32,
        value_size: METADATA_VALUE_SIZE as u32,
        max_entries: records.len() as u32,
        records: bytes,
    })
}

/// Decodes the records of a metadata map back into number → text. Records that are not of the
/// metadata layout, parts that are missing and texts that are not UTF-8 are left out.
pub fn decode_metadata(key_size: u32, value_size: u32, records: &[u8]) -> BTreeMap<u32, String> {
    let mut parts: BTreeMap<u32, BTreeMap<(u16, u16), Vec<u8>>> = BTreeMap::new();
    if key_size as usize != METADATA_KEY_SIZE || value_size == 0 {
        return BTreeMap::new();
    }
    let record_size = METADATA_KEY_SIZE + value_size as usize;
    for record in records.chunks_exact(record_size) {
        let number = u32::from_le_bytes([record[0], record[1], record[2], record[3]]);
        let part = u16::from_le_bytes([record[4], record[5]]);
        let total = u16::from_le_bytes([record[6], record[7]]);
        parts.entry(number).or_default().insert((part, total), record[METADATA_KEY_SIZE..].to_vec());
    }
    parts
        .into_iter()
        .filter_map(|(number, parts)| {
            let total = parts.keys().next().map(|(_, total)| *total).unwrap_or(0);
            let complete = parts.keys().copied().eq((0..total).map(|part| (part, total)));
            if !complete {
                return None;
            }
            let mut bytes: Vec<u8> = parts.into_values().flatten().collect();
            while bytes.last() == Some(&0) {
                bytes.pop();
            }
            String::from_utf8(bytes).ok().map(|text| (number, text))
        })
        .collect()
}

/// The map name of an endpoint's policy map in a bundle.
pub fn policy_map_name(endpoint: &str) -> String {
    format!("policy/{endpoint}")
}

/// The object name of an endpoint's datapath instance in a bundle.
pub fn object_name(endpoint: &str) -> String {
    format!("datapath/{endpoint}")
}

/// Builds the bundle of `compiled`: one section per node (endpoints without a node are left
/// out; see [`Compiled::unplaced_endpoints`]).
pub fn to_bundle(compiled: &Compiled, compiler_version: &str, inputs_digest: Digest) -> Result<Bundle, CompileError> {
    let mut builder = BundleBuilder::new(compiler_version, inputs_digest);
    for node in &compiled.nodes {
        let Some(node_name) = node.name.as_deref() else { continue };
        builder.add_node(node_name);
        builder.add_map(node_name, MapImage::ipcache(IPCACHE_MAP, &node.ipcache)).map_err(CompileError::Bundle)?;
        if node.endpoints.iter().any(|endpoint| endpoint.config.ipcache_host_hash) {
            builder.add_map(node_name, MapImage::ipcache_hosts(IPCACHE_HOSTS_MAP, &node.ipcache)).map_err(CompileError::Bundle)?;
        }
        let mut cookies = BTreeSet::new();
        for endpoint in &node.endpoints {
            let map_name = policy_map_name(&endpoint.name);
            let object = object_name(&endpoint.name);
            // The policy map in the form the endpoint's object reads.
            let (policy_outer, image) = if endpoint.config.policy_map_hash {
                (object::POLICY_HASH_GENERATIONS_MAP, MapImage::policy_hash(&map_name, &endpoint.policy))
            } else {
                (object::POLICY_GENERATIONS_MAP, MapImage { max_entries: compiled.policy_map_max_entries, ..MapImage::policy(&map_name, &endpoint.policy) })
            };
            builder.add_map(node_name, image).map_err(CompileError::Bundle)?;
            builder.add_object(node_name, ObjectImage::datapath(&object, &endpoint.config)).map_err(CompileError::Bundle)?;
            let mut bindings = vec![(object::IPCACHE_GENERATIONS_MAP, IPCACHE_MAP), (policy_outer, map_name.as_str())];
            if endpoint.config.ipcache_host_hash {
                bindings.push((object::IPCACHE_HASH_GENERATIONS_MAP, IPCACHE_HOSTS_MAP));
            }
            builder.add_endpoint(node_name, &endpoint.name, endpoint.identity, &endpoint.addresses, &object, &bindings).map_err(CompileError::Bundle)?;
            cookies.extend(endpoint.policy.entries().iter().map(|(_, value)| crate::layout::decode_policy_value(value).cookie));
        }
        let origins: BTreeMap<u32, String> = compiled
            .origins
            .iter()
            .filter(|(cookie, _)| cookies.contains(cookie))
            .map(|(cookie, records)| (*cookie, serde_json::to_string(records).unwrap_or_default()))
            .collect();
        if let Some(image) = encode_metadata(RULE_ORIGINS_MAP, &origins) {
            builder.add_map(node_name, image).map_err(CompileError::Bundle)?;
        }
        let identities: BTreeMap<u32, String> =
            compiled.identities.iter().map(|(id, record)| (*id, serde_json::to_string(record).unwrap_or_default())).collect();
        if let Some(image) = encode_metadata(IDENTITIES_MAP, &identities) {
            builder.add_map(node_name, image).map_err(CompileError::Bundle)?;
        }
    }
    builder.finish().map_err(CompileError::Bundle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_round_trips_through_parts() {
        let long = "x".repeat(METADATA_VALUE_SIZE * 2 + 7);
        let texts: BTreeMap<u32, String> = [(1, "short".to_owned()), (0x0100_0001, long.clone()), (7, String::new())].into_iter().collect();
        let image = encode_metadata("meta/test", &texts).unwrap();
        assert_eq!(image.records.len(), (1 + 3) * (METADATA_KEY_SIZE + METADATA_VALUE_SIZE));
        let decoded = decode_metadata(image.key_size, image.value_size, &image.records);
        assert_eq!(decoded.get(&1).map(String::as_str), Some("short"));
        assert_eq!(decoded.get(&0x0100_0001), Some(&long));
        assert_eq!(decoded.get(&7), None, "an empty text has no part");
        assert!(encode_metadata("meta/empty", &BTreeMap::new()).is_none());
        let record = METADATA_KEY_SIZE + METADATA_VALUE_SIZE;
        for missing in 0..4 {
            let mut damaged = image.records.clone();
            damaged.drain(missing * record..(missing + 1) * record);
            let decoded = decode_metadata(image.key_size, image.value_size, &damaged);
            assert_eq!(decoded.len(), 1, "a text with a missing part is left out (record {missing} removed): {decoded:?}");
        }
    }

    #[test]
    fn cookies_are_stable_non_zero_and_distinct() {
        let record = |name: &str, line: u32| OriginRecord {
            kind: "CiliumNetworkPolicy".to_owned(),
            namespace: Some("default".to_owned()),
            name: name.to_owned(),
            rule_path: Some("spec.ingress[0]".to_owned()),
            place: Some(SourcePlace { file: "a.yaml".to_owned(), line, column: 3 }),
        };
        let sets: BTreeSet<Vec<OriginRecord>> = [vec![record("a", 1)], vec![record("b", 1)], vec![record("a", 1), record("b", 1)]].into_iter().collect();
        let cookies = assign_cookies(&sets);
        let values: BTreeSet<u32> = cookies.values().copied().collect();
        assert_eq!(values.len(), 3);
        assert!(!values.contains(&0));
        let moved: BTreeSet<Vec<OriginRecord>> = [vec![record("a", 40)]].into_iter().collect();
        assert_eq!(assign_cookies(&moved).values().next(), cookies.get(&vec![record("a", 1)]), "the place is not part of the cookie");
        assert_eq!(record("a", 1).describe(), "CiliumNetworkPolicy default/a spec.ingress[0] (a.yaml:1:3)");
    }

    use polc_ir::{
        DirectionPolicy, Endpoint, EndpointKind, IdentityInfo, L4Match, NodeInfo, NumericIdentity, Peers, PolicyEntry, PortRange, Protocol, RuleVerdict,
        Settings,
    };
    use std::net::Ipv4Addr;

    fn origin(index: usize) -> RuleOrigin {
        RuleOrigin::Policy {
            kind: "CiliumNetworkPolicy".to_owned(),
            namespace: Some("default".to_owned()),
            name: "web".to_owned(),
            rule_path: format!("spec.ingress[{index}]"),
            location: None,
        }
    }

    /// Pods on node-a, one with a pod-without-node neighbour; pod 1 admits `peers` identities on
    /// every TCP port but port 0 (16 blocks each).
    fn ir(peers: u32) -> PolicyIr {
        let identities: Vec<IdentityInfo> = (0..peers.max(2))
            .map(|index| IdentityInfo { id: NumericIdentity(300 + index), kind: IdentityKind::Endpoint, labels: Default::default() })
            .collect();
        let entry = PolicyEntry {
            verdict: RuleVerdict::Allow,
            peers: Peers::Identities((0..peers).map(|index| NumericIdentity(300 + index)).collect()),
            l4: L4Match::protocol(Protocol::TCP, PortRange::new(1, 65535)),
            l7: None,
            auth: None,
            pending_fqdns: Vec::new(),
            origin: origin(0),
        };
        let pod = |id: u16, node: Option<&str>, ingress: DirectionPolicy| Endpoint {
            id: EndpointId(id),
            kind: EndpointKind::Pod { namespace: "default".to_owned(), name: format!("pod-{id}") },
            identity: NumericIdentity(300 + u32::from(id)),
            node: node.map(str::to_owned),
            addresses: vec![IpAddr::V4(Ipv4Addr::new(10, 0, 0, id as u8))],
            ingress,
            egress: DirectionPolicy::default(),
        };
        let ingress = DirectionPolicy { enforced: true, default_deny: true, entries: vec![entry], selected_by: vec![origin(0)] };
        let node = NodeInfo { name: "node-a".to_owned(), addresses: vec![IpAddr::V4(Ipv4Addr::new(172, 16, 0, 1))], pod_cidrs: Vec::new() };
        PolicyIr::new(Settings::default(), identities, vec![node], vec![pod(1, Some("node-a"), ingress), pod(2, None, DirectionPolicy::default())], Vec::new())
    }

    #[test]
    fn the_bundle_holds_exactly_the_compiled_images_constants_and_rules() {
        let ir = ir(3);
        let place = SourcePlace { file: "web.yaml".to_owned(), line: 7, column: 3 };
        let lpm = CompileOptions { policy_lookup: PolicyLookup::Lpm, ..CompileOptions::default() };
        let compiled = compile(&ir, &lpm, &|_| Some(place.clone())).unwrap();
        assert_eq!(compiled.unplaced_endpoints(), vec!["default/pod-2".to_owned()]);
        let bundle = to_bundle(&compiled, "polc test", Digest::of(b"inputs")).unwrap();
        let node = bundle.node("node-a").unwrap();
        assert_eq!(node.endpoints.iter().map(|endpoint| endpoint.name.as_str()).collect::<Vec<_>>(), vec!["default/pod-1"]);
        let (compiled_node, endpoint) = compiled.endpoint(EndpointId(1)).unwrap();
        let map = |name: &str| node.maps.iter().find(|map| map.name == name).unwrap();
        let policy = map("policy/default/pod-1");
        assert_eq!(bundle.blob(&policy.digest), Some(endpoint.policy.encoded().as_slice()));
        assert_eq!(policy.max_entries, DEFAULT_POLICY_MAP_MAX_ENTRIES);
        assert_eq!(policy.entries, 3 * 16 + 1, "3 peers × 16 port blocks, and egress not enforced");
        assert_eq!(bundle.blob(&map(IPCACHE_MAP).digest), Some(compiled_node.ipcache.encoded().as_slice()));
        let object = node.objects.iter().find(|object| object.name == "datapath/default/pod-1").unwrap();
        assert_eq!(object.constants, crate::bundle::datapath_constants(&endpoint.config));
        assert_eq!(object.constants.get("endpoint_identity").map(|constant| constant.value), Some(301));
        assert_eq!(object.constants.get("default_deny_egress").map(|constant| constant.value), Some(1));
        let bound: Vec<(&str, &str)> = node.endpoints[0].maps.iter().map(|(outer, map)| (outer.as_str(), map.as_str())).collect();
        assert_eq!(bound, vec![("polc_ipcache", "ipcache"), ("polc_policy", "policy/default/pod-1")]);
        assert!(node.maps.iter().all(|map| map.name != IPCACHE_HOSTS_MAP));
        assert_eq!((endpoint.config.policy_map_hash, endpoint.config.ipcache_host_hash), (false, false));

        // By default, endpoints use the HASH lookup modes and bind the maps their object reads;
        // the images are the same, in HASH form.
        let hashed = compile(&ir, &CompileOptions::default(), &|_| Some(place.clone())).unwrap();
        let (_, hashed_endpoint) = hashed.endpoint(EndpointId(1)).unwrap();
        assert_eq!(hashed_endpoint.config, DatapathConfig { policy_map_hash: true, ipcache_host_hash: true, ..endpoint.config });
        assert_eq!(hashed_endpoint.policy, endpoint.policy);
        let hashed_bundle = to_bundle(&hashed, "polc test", Digest::of(b"inputs")).unwrap();
        let hashed_node = hashed_bundle.node("node-a").unwrap();
        let bound: Vec<(&str, &str)> = hashed_node.endpoints[0].maps.iter().map(|(outer, map)| (outer.as_str(), map.as_str())).collect();
        assert_eq!(bound, vec![("polc_ipcache", "ipcache"), ("polc_ipcache_hash", IPCACHE_HOSTS_MAP), ("polc_policy_hash", "policy/default/pod-1")]);
        let hashed_object = hashed_node.objects.iter().find(|object| object.name == "datapath/default/pod-1").unwrap();
        assert_eq!(hashed_object.constants.get("policy_map_hash").map(|constant| constant.value), Some(1));
        assert_eq!(hashed_object.constants.get("ipcache_host_hash").map(|constant| constant.value), Some(1));
        let hashed_map = |name: &str| hashed_node.maps.iter().find(|map| map.name == name).unwrap();
        let expected_policy = MapImage::policy_hash("policy/default/pod-1", &endpoint.policy);
        assert_eq!(hashed_bundle.blob(&hashed_map("policy/default/pod-1").digest), Some(expected_policy.records.as_slice()));
        let expected_hosts = MapImage::ipcache_hosts(IPCACHE_HOSTS_MAP, &compiled_node.ipcache);
        assert_eq!(hashed_bundle.blob(&hashed_map(IPCACHE_HOSTS_MAP).digest), Some(expected_hosts.records.as_slice()));

        let origins = map(RULE_ORIGINS_MAP);
        let texts = decode_metadata(origins.key_size, origins.value_size, bundle.blob(&origins.digest).unwrap());
        let cookies: BTreeSet<u32> = endpoint.policy.entries().iter().map(|(_, value)| crate::layout::decode_policy_value(value).cookie).collect();
        assert_eq!(texts.keys().copied().collect::<BTreeSet<u32>>(), cookies, "every cookie of the map is explained, and no other");
        let described: BTreeSet<String> =
            texts.values().flat_map(|text| serde_json::from_str::<Vec<OriginRecord>>(text).unwrap()).map(|record| record.describe()).collect();
        assert!(described.contains("CiliumNetworkPolicy default/web spec.ingress[0] (web.yaml:7:3)"), "{described:?}");
        assert!(described.contains("no policy selects the endpoint in this direction (allow all)"), "{described:?}");
        let identities = map(IDENTITIES_MAP);
        let texts = decode_metadata(identities.key_size, identities.value_size, bundle.blob(&identities.digest).unwrap());
        assert_eq!(texts.len(), ir.identities.len());
    }

    #[test]
    fn a_policy_map_over_the_limit_names_the_endpoint() {
        let ir = ir(20);
        let error = compile(&ir, &CompileOptions { policy_map_max_entries: 256, ..CompileOptions::default() }, &|_| None).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the policy map of `default/pod-1` needs 321 entries, more than the policy map limit of 256 (Cilium's `bpf-policy-map-max`); \
             raise the limit (at most 65536) or select fewer peers and port ranges for this endpoint"
        );
        let lpm = CompileOptions { policy_map_max_entries: 512, policy_lookup: PolicyLookup::Lpm, ..CompileOptions::default() };
        let compiled = compile(&ir, &lpm, &|_| None).unwrap();
        let bundle = to_bundle(&compiled, "polc test", Digest::of(b"inputs")).unwrap();
        let policy = bundle.node("node-a").unwrap().maps.iter().find(|map| map.name == "policy/default/pod-1").unwrap();
        assert_eq!((policy.entries, policy.max_entries), (321, 512), "the LPM map is created with the limit as its size");
        // The limit counts policy entries, not the HASH map's summary records.
        let compiled = compile(&ir, &CompileOptions { policy_map_max_entries: 512, ..CompileOptions::default() }, &|_| None).unwrap();
        let (_, endpoint) = compiled.endpoint(EndpointId(1)).unwrap();
        assert_eq!(endpoint.policy.len(), 321);
        let bundle = to_bundle(&compiled, "polc test", Digest::of(b"inputs")).unwrap();
        let policy = bundle.node("node-a").unwrap().maps.iter().find(|map| map.name == "policy/default/pod-1").unwrap();
        assert_eq!(policy.kind, MapKind::Hash);
        assert_eq!(policy.entries as usize, endpoint.policy.hash_map_entries().len());
    }

    #[test]
    fn limits_outside_ciliums_range_are_refused() {
        let ir = PolicyIr::new(polc_ir::Settings::default(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for limit in [0, 255, 65_537] {
            let error = compile(&ir, &CompileOptions { policy_map_max_entries: limit, ..CompileOptions::default() }, &|_| None).unwrap_err();
            assert!(matches!(error, CompileError::InvalidPolicyMapLimit { .. }), "{error}");
        }
        let error = compile(&ir, &CompileOptions { node: Some("node-z".to_owned()), ..CompileOptions::default() }, &|_| None).unwrap_err();
        assert_eq!(error.to_string(), "node `node-z` is not in the inputs, which have no node");
    }
}
