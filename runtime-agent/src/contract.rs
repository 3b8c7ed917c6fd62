//! What this node's datapath accepts from a verified bundle, and the plan to apply it.
//!
//! The bundle reader has checked digests, the format version, record sizes and order. This
//! module checks the bundle against the datapath object's contract and the node's limits,
//! before anything touches the kernel:
//! - every outer map an endpoint binds is one of the object's generation outer maps, and the
//!   bound map has the type, key size and value size of that outer map's inner maps;
//! - every endpoint binds the outer maps its object reads: `polc_ipcache`; `polc_policy_hash`
//!   or `polc_policy` as its `policy_map_hash` constant says; and `polc_ipcache_hash` when its
//!   `ipcache_host_hash` constant is on (a constant the bundle leaves out has the committed
//!   object's default, on for both);
//! - every constant is one of the object's `.rodata` globals, with the global's width;
//! - no map asks for more entries than the node allows, and the records fit in its budget.

use std::collections::BTreeMap;
use std::net::IpAddr;

use polc_ebpf::bundle::{Bundle, Constant, Digest, EndpointSection, MapKind, MapSection, NodeSection, ObjectSection};
use polc_ebpf::layout::{IPCACHE_KEY_SIZE, IPCACHE_VALUE_SIZE, POLICY_KEY_SIZE, POLICY_VALUE_SIZE};
use polc_ebpf::{DatapathConfig, object};

/// Size limits of this node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest max entries of one map.
    pub max_entries_per_map: u32,
    /// Largest total of record bytes over every map of a generation.
    pub max_total_record_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_entries_per_map: 4 * 1024 * 1024, max_total_record_bytes: 1024 * 1024 * 1024 }
    }
}

/// A generation outer map of the datapath object, and the inner maps it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OuterRole {
    /// `polc_policy`: LPM trie policy maps.
    Policy,
    /// `polc_policy_hash`: HASH policy maps (`policy_map_hash` mode).
    PolicyHash,
    /// `polc_ipcache`: LPM trie ipcaches.
    Ipcache,
    /// `polc_ipcache_hash`: HASH maps of the ipcache's host entries (`ipcache_host_hash` mode),
    /// read before the trie of the same generation.
    IpcacheHash,
}

impl OuterRole {
    pub const ALL: [OuterRole; 4] = [OuterRole::Policy, OuterRole::PolicyHash, OuterRole::Ipcache, OuterRole::IpcacheHash];

    /// The outer map's name in the object.
    pub fn outer_map(self) -> &'static str {
        match self {
            OuterRole::Policy => object::POLICY_GENERATIONS_MAP,
            OuterRole::PolicyHash => object::POLICY_HASH_GENERATIONS_MAP,
            OuterRole::Ipcache => object::IPCACHE_GENERATIONS_MAP,
            OuterRole::IpcacheHash => object::IPCACHE_HASH_GENERATIONS_MAP,
        }
    }

    pub fn from_outer_map(name: &str) -> Option<OuterRole> {
        OuterRole::ALL.into_iter().find(|role| role.outer_map() == name)
    }

    /// The type, key size and value size of the inner maps.
    pub fn layout(self) -> (MapKind, u32, u32) {
        match self {
            OuterRole::Policy => (MapKind::LpmTrie, POLICY_KEY_SIZE as u32, POLICY_VALUE_SIZE as u32),
            OuterRole::PolicyHash => (MapKind::Hash, POLICY_KEY_SIZE as u32, POLICY_VALUE_SIZE as u32),
            OuterRole::Ipcache => (MapKind::LpmTrie, IPCACHE_KEY_SIZE as u32, IPCACHE_VALUE_SIZE as u32),
            OuterRole::IpcacheHash => (MapKind::Hash, IPCACHE_KEY_SIZE as u32, IPCACHE_VALUE_SIZE as u32),
        }
    }

    /// The outer maps an object with these constants reads. A lookup-mode constant the
    /// bundle leaves out keeps the committed object's default.
    pub fn read_by(constants: &BTreeMap<String, Constant>) -> Vec<OuterRole> {
        let defaults = DatapathConfig::default();
        let flag = |name: &str, default: bool| constants.get(name).map_or(default, |constant| constant.value != 0);
        let mut roles = vec![if flag("policy_map_hash", defaults.policy_map_hash) { OuterRole::PolicyHash } else { OuterRole::Policy }, OuterRole::Ipcache];
        if flag("ipcache_host_hash", defaults.ipcache_host_hash) {
            roles.push(OuterRole::IpcacheHash);
        }
        roles
    }
}

/// Why a verified bundle does not fit this node's datapath.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ContractError {
    #[error("the bundle has no node sections")]
    NoNodes,
    #[error("the bundle has no section for node `{node}` (it has {available})")]
    NodeNotInBundle { node: String, available: String },
    #[error("the bundle has sections for several nodes ({available}); start the agent with `--node`")]
    NodeAmbiguous { available: String },
    #[error(
        "endpoint `{endpoint}` binds outer map `{outer}`, which the datapath does not have (it has `polc_ipcache`, `polc_ipcache_hash`, `polc_policy` and `polc_policy_hash`)"
    )]
    UnknownOuterMap { endpoint: String, outer: String },
    #[error("endpoint `{endpoint}` does not bind outer map `{outer}`, which its object reads")]
    MissingBinding { endpoint: String, outer: &'static str },
    #[error("map `{map}` is {found} but outer map `{outer}` holds {expected}")]
    LayoutMismatch { map: String, outer: &'static str, found: String, expected: String },
    #[error("map `{map}` asks for {max_entries} entries, more than this node allows ({limit})")]
    TooManyEntries { map: String, max_entries: u32, limit: u32 },
    #[error("the generation's maps hold {total} bytes of records, more than this node allows ({limit})")]
    TooLarge { total: u64, limit: u64 },
    #[error("object `{object}` sets constant `{constant}`, which the datapath does not have")]
    UnknownConstant { object: String, constant: String },
    #[error("object `{object}` gives constant `{constant}` {size} bytes, but the datapath's global has {expected}")]
    ConstantSize { object: String, constant: String, size: u8, expected: usize },
}

/// One endpoint's part of a plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointPlan {
    pub name: String,
    /// The endpoint's name as a bpffs file name.
    pub key: String,
    pub identity: u32,
    pub addresses: Vec<IpAddr>,
    pub object: ObjectSection,
    /// Names the object and its constants: equal keys load the same programs.
    pub instance: String,
    pub bindings: BTreeMap<OuterRole, String>,
}

/// A checked bundle, ready for the kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub node: String,
    pub bundle_digest: Digest,
    pub endpoints: Vec<EndpointPlan>,
    /// Every map some endpoint binds, by name.
    pub maps: BTreeMap<String, MapSection>,
}

impl Plan {
    /// Total records over the plan's maps.
    pub fn entries(&self) -> u64 {
        self.maps.values().map(|map| map.entries).sum()
    }
}

/// The bpffs file name of an endpoint: its name with `/` as `~` (names have no `~`).
pub fn endpoint_key(name: &str) -> String {
    name.replace('/', "~")
}

/// The instance key of an object with its constants.
pub fn instance_key(object: &ObjectSection) -> String {
    let constants = serde_json::to_vec(&object.constants).unwrap_or_default();
    Digest::of_parts(&[object.digest.as_bytes(), &constants]).hex()[..16].to_owned()
}

fn node_names(bundle: &Bundle) -> String {
    bundle.manifest().nodes.iter().map(|node| format!("`{}`", node.name)).collect::<Vec<_>>().join(", ")
}

/// Picks the node section: the one named `node`, or the only one.
pub fn select_node<'a>(bundle: &'a Bundle, node: Option<&str>) -> Result<&'a NodeSection, ContractError> {
    let nodes = &bundle.manifest().nodes;
    match node {
        Some(name) => bundle.node(name).ok_or_else(|| ContractError::NodeNotInBundle {
            node: name.to_owned(),
            available: if nodes.is_empty() { "none".to_owned() } else { node_names(bundle) },
        }),
        None => match nodes.as_slice() {
            [] => Err(ContractError::NoNodes),
            [only] => Ok(only),
            _ => Err(ContractError::NodeAmbiguous { available: node_names(bundle) }),
        },
    }
}

fn check_constants(object: &ObjectSection) -> Result<(), ContractError> {
    let globals: BTreeMap<&str, usize> = DatapathConfig::default().globals().into_iter().map(|(name, bytes)| (name, bytes.len())).collect();
    for (name, constant) in &object.constants {
        let Some(expected) = globals.get(name.as_str()) else {
            return Err(ContractError::UnknownConstant { object: object.name.clone(), constant: name.clone() });
        };
        if usize::from(constant.size) != *expected {
            return Err(ContractError::ConstantSize { object: object.name.clone(), constant: name.clone(), size: constant.size, expected: *expected });
        }
    }
    Ok(())
}

fn describe_layout(kind: MapKind, key_size: u32, value_size: u32) -> String {
    format!("a {} map with {key_size}-byte keys and {value_size}-byte values", kind.name())
}

fn plan_endpoint(node: &NodeSection, endpoint: &EndpointSection, maps: &mut BTreeMap<String, MapSection>) -> Result<EndpointPlan, ContractError> {
    // The bundle reader has checked that the object and every bound map exist.
    let object = node
        .objects
        .iter()
        .find(|object| object.name == endpoint.object)
        .cloned()
        .ok_or_else(|| ContractError::UnknownConstant { object: endpoint.object.clone(), constant: String::new() })?;
    check_constants(&object)?;
    let mut bindings = BTreeMap::new();
    for (outer, map_name) in &endpoint.maps {
        let role = OuterRole::from_outer_map(outer).ok_or_else(|| ContractError::UnknownOuterMap { endpoint: endpoint.name.clone(), outer: outer.clone() })?;
        let Some(map) = node.maps.iter().find(|map| map.name == *map_name) else {
            continue;
        };
        let (kind, key_size, value_size) = role.layout();
        if (map.kind, map.key_size, map.value_size) != (kind, key_size, value_size) {
            return Err(ContractError::LayoutMismatch {
                map: map.name.clone(),
                outer: role.outer_map(),
                found: describe_layout(map.kind, map.key_size, map.value_size),
                expected: describe_layout(kind, key_size, value_size),
            });
        }
        maps.insert(map.name.clone(), map.clone());
        bindings.insert(role, map_name.clone());
    }
    for role in OuterRole::read_by(&object.constants) {
        if !bindings.contains_key(&role) {
            return Err(ContractError::MissingBinding { endpoint: endpoint.name.clone(), outer: role.outer_map() });
        }
    }
    Ok(EndpointPlan {
        name: endpoint.name.clone(),
        key: endpoint_key(&endpoint.name),
        identity: endpoint.identity,
        addresses: endpoint.ip_addresses(),
        instance: instance_key(&object),
        object,
        bindings,
    })
}

/// Checks `bundle` against the datapath contract and `limits` for `node` (or the only node).
pub fn plan(bundle: &Bundle, node: Option<&str>, limits: &Limits) -> Result<Plan, ContractError> {
    let section = select_node(bundle, node)?;
    let mut maps = BTreeMap::new();
    let mut endpoints = Vec::new();
    for endpoint in &section.endpoints {
        endpoints.push(plan_endpoint(section, endpoint, &mut maps)?);
    }
    let mut total: u64 = 0;
    for map in maps.values() {
        if map.max_entries > limits.max_entries_per_map {
            return Err(ContractError::TooManyEntries { map: map.name.clone(), max_entries: map.max_entries, limit: limits.max_entries_per_map });
        }
        total = total.saturating_add(map.entries.saturating_mul(map.record_size()));
    }
    if total > limits.max_total_record_bytes {
        return Err(ContractError::TooLarge { total, limit: limits.max_total_record_bytes });
    }
    Ok(Plan { node: section.name.clone(), bundle_digest: bundle.digest(), endpoints, maps })
}

#[cfg(test)]
mod tests {
    use super::*;
    use polc_ebpf::bundle::{BundleBuilder, MapImage, ObjectImage};
    use polc_ebpf::{Direction, IpPrefix, IpcacheEntry, IpcacheImage, PolicyEntry, PolicyMapImage};
    use std::net::Ipv4Addr;

    fn bundle(config: DatapathConfig, bindings: &[(&str, &str)], extra_node: bool) -> Bundle {
        let policy = PolicyMapImage::build(&[PolicyEntry::allow(5, Direction::Ingress, 6, 80, 16)]).unwrap();
        let ipcache = IpcacheImage::build(&[IpcacheEntry { prefix: IpPrefix::host(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))), identity: 5 }], 0).unwrap();
        let mut builder = BundleBuilder::new("polc test", Digest::of(b"in"));
        builder.add_map("node-a", MapImage::ipcache("ipcache", &ipcache)).unwrap();
        builder.add_map("node-a", MapImage::ipcache_hosts("ipcache-hosts", &ipcache)).unwrap();
        builder.add_map("node-a", MapImage::policy("policy", &policy)).unwrap();
        builder.add_map("node-a", MapImage::policy_hash("policy-hash", &policy)).unwrap();
        builder.add_object("node-a", ObjectImage::datapath("web", &config)).unwrap();
        builder.add_endpoint("node-a", "default/web", 9, &[IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2))], "web", bindings).unwrap();
        if extra_node {
            builder.add_node("node-b");
        }
        builder.finish().unwrap()
    }

    /// The maps the default object reads (HASH lookup modes).
    const BINDINGS: [(&str, &str); 3] = [("polc_ipcache", "ipcache"), ("polc_ipcache_hash", "ipcache-hosts"), ("polc_policy_hash", "policy-hash")];
    /// The maps an object in the LPM lookup modes reads.
    const LPM_BINDINGS: [(&str, &str); 2] = [("polc_ipcache", "ipcache"), ("polc_policy", "policy")];

    fn lpm() -> DatapathConfig {
        DatapathConfig { policy_map_hash: false, ipcache_host_hash: false, ..DatapathConfig::default() }
    }

    #[test]
    fn a_well_formed_bundle_gives_a_plan() {
        let plan = plan(&bundle(DatapathConfig::default(), &BINDINGS, false), None, &Limits::default()).unwrap();
        assert_eq!(plan.node, "node-a");
        assert_eq!(plan.endpoints.len(), 1);
        assert_eq!(plan.endpoints[0].key, "default~web");
        let bound: Vec<(OuterRole, &str)> = plan.endpoints[0].bindings.iter().map(|(role, map)| (*role, map.as_str())).collect();
        assert_eq!(bound, vec![(OuterRole::PolicyHash, "policy-hash"), (OuterRole::Ipcache, "ipcache"), (OuterRole::IpcacheHash, "ipcache-hosts")]);
        assert_eq!(plan.maps.keys().cloned().collect::<Vec<_>>(), vec!["ipcache".to_owned(), "ipcache-hosts".to_owned(), "policy-hash".to_owned()]);
        // One policy entry and its summary record; one ipcache entry in the trie and in the HASH.
        assert_eq!(plan.entries(), 4);

        let lpm_plan = super::plan(&bundle(lpm(), &LPM_BINDINGS, false), None, &Limits::default()).unwrap();
        assert_eq!(lpm_plan.endpoints[0].bindings.get(&OuterRole::Policy).map(String::as_str), Some("policy"));
        assert_eq!(lpm_plan.maps.keys().cloned().collect::<Vec<_>>(), vec!["ipcache".to_owned(), "policy".to_owned()]);
        assert_eq!(lpm_plan.entries(), 2);
    }

    #[test]
    fn node_selection_is_explicit_when_there_are_several() {
        let two = bundle(DatapathConfig::default(), &BINDINGS, true);
        assert!(matches!(plan(&two, None, &Limits::default()), Err(ContractError::NodeAmbiguous { .. })));
        assert!(plan(&two, Some("node-a"), &Limits::default()).is_ok());
        let error = plan(&two, Some("node-c"), &Limits::default()).unwrap_err();
        assert_eq!(error.to_string(), "the bundle has no section for node `node-c` (it has `node-a`, `node-b`)");
    }

    #[test]
    fn layouts_bindings_and_limits_are_enforced() {
        let swapped = bundle(lpm(), &[("polc_ipcache", "policy"), ("polc_policy", "policy")], false);
        let error = plan(&swapped, None, &Limits::default()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "map `policy` is a lpm_trie map with 12-byte keys and 12-byte values but outer map `polc_ipcache` holds a lpm_trie map with 24-byte keys and 24-byte values"
        );
        let swapped_hash =
            bundle(DatapathConfig::default(), &[("polc_ipcache", "ipcache"), ("polc_ipcache_hash", "policy-hash"), ("polc_policy_hash", "policy-hash")], false);
        let error = plan(&swapped_hash, None, &Limits::default()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "map `policy-hash` is a hash map with 12-byte keys and 12-byte values but outer map `polc_ipcache_hash` holds a hash map with 24-byte keys and 24-byte values"
        );
        let missing = bundle(lpm(), &[("polc_ipcache", "ipcache")], false);
        assert!(matches!(plan(&missing, None, &Limits::default()), Err(ContractError::MissingBinding { outer: "polc_policy", .. })));
        // The default object reads the HASH maps: LPM bindings alone are refused.
        assert!(matches!(
            plan(&bundle(DatapathConfig::default(), &LPM_BINDINGS, false), None, &Limits::default()),
            Err(ContractError::MissingBinding { outer: "polc_policy_hash", .. })
        ));
        let without_hosts = bundle(DatapathConfig::default(), &[("polc_ipcache", "ipcache"), ("polc_policy_hash", "policy-hash")], false);
        assert!(matches!(plan(&without_hosts, None, &Limits::default()), Err(ContractError::MissingBinding { outer: "polc_ipcache_hash", .. })));
        // Each constant selects its own map.
        let policy_hash_only = DatapathConfig { ipcache_host_hash: false, ..DatapathConfig::default() };
        assert!(plan(&bundle(policy_hash_only, &[("polc_ipcache", "ipcache"), ("polc_policy_hash", "policy-hash")], false), None, &Limits::default()).is_ok());
        let host_hash_only = DatapathConfig { policy_map_hash: false, ..DatapathConfig::default() };
        let bindings = [("polc_ipcache", "ipcache"), ("polc_ipcache_hash", "ipcache-hosts"), ("polc_policy", "policy")];
        assert!(plan(&bundle(host_hash_only, &bindings, false), None, &Limits::default()).is_ok());
        let unknown = bundle(lpm(), &[("polc_ipcache", "ipcache"), ("polc_policy", "policy"), ("polc_lb", "policy")], false);
        assert!(matches!(plan(&unknown, None, &Limits::default()), Err(ContractError::UnknownOuterMap { .. })));
        let small = Limits { max_entries_per_map: 1000, ..Limits::default() };
        let error = plan(&bundle(DatapathConfig::default(), &BINDINGS, false), None, &small).unwrap_err();
        assert_eq!(error.to_string(), "map `ipcache` asks for 512000 entries, more than this node allows (1000)");
        let tiny = Limits { max_total_record_bytes: 10, ..Limits::default() };
        assert!(matches!(plan(&bundle(lpm(), &LPM_BINDINGS, false), None, &tiny), Err(ContractError::TooLarge { total: 72, .. })));
        assert!(matches!(plan(&bundle(DatapathConfig::default(), &BINDINGS, false), None, &tiny), Err(ContractError::TooLarge { total: 144, .. })));
    }

    #[test]
    fn lookup_constants_left_out_keep_the_objects_defaults() {
        let mut constants = polc_ebpf::bundle::datapath_constants(&DatapathConfig::default());
        constants.remove("policy_map_hash");
        constants.remove("ipcache_host_hash");
        assert_eq!(OuterRole::read_by(&constants), vec![OuterRole::PolicyHash, OuterRole::Ipcache, OuterRole::IpcacheHash]);
        let lpm_constants = polc_ebpf::bundle::datapath_constants(&lpm());
        assert_eq!(OuterRole::read_by(&lpm_constants), vec![OuterRole::Policy, OuterRole::Ipcache]);
    }

    #[test]
    fn instance_keys_follow_object_and_constants() {
        let base = bundle(DatapathConfig::default(), &BINDINGS, false);
        let other = bundle(DatapathConfig { endpoint_identity: 42, ..DatapathConfig::default() }, &BINDINGS, false);
        let key = |bundle: &Bundle| plan(bundle, None, &Limits::default()).unwrap().endpoints[0].instance.clone();
        assert_eq!(key(&base), key(&bundle(DatapathConfig::default(), &BINDINGS, false)));
        assert_ne!(key(&base), key(&other));
        assert_eq!(key(&base).len(), 16);
    }
}
