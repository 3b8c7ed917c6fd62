//! `polc diff BUNDLE --live BPFFS_DIR`: the map entries that differ between a compiled bundle
//! and what a running agent has live on this node.
//!
//! The bundle is read and checked as the agent would (`polc_agent::contract::plan`), for one
//! node section. The live side is the agent's bpffs (see `polc_agent::kernel`): the generation
//! selector says which slot is live, and for every endpoint the inner maps in that slot of its
//! instance's outer maps are read back entry by entry. Records are compared byte for byte by
//! key, and shown decoded (policy keys and values, the policy HASH map's summary records, ipcache
//! prefixes). Every map an endpoint binds is compared, in either lookup mode: the policy LPM trie
//! or HASH map, the ipcache trie and, in the `hash` mode, the HASH of the ipcache's host entries.
//! Reading the maps needs the privileges the agent has (root, or CAP_BPF).

use std::collections::BTreeMap;
use std::fmt::Write;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;

use polc_agent::contract::{self, Limits, OuterRole};
use polc_agent::kernel::{self, InnerMap, NodeKernel};
use polc_ebpf::bundle::read_bundle;
use polc_ebpf::layout::{self, POLICY_KEY_SIZE, POLICY_VALUE_SIZE};
use polc_ir::NumericIdentity;
use serde_json::json;

use super::DiffFormat;
use crate::exit::{Exit, Failure};
use crate::output::print;

/// Records by key bytes (for an LPM trie, the prefix length and the key data); value bytes.
type Records = BTreeMap<Vec<u8>, Vec<u8>>;

/// How one bound map of one endpoint compares.
struct MapComparison {
    role: OuterRole,
    /// The bundle's name of the map (`policy/shop/db`).
    map: String,
    bundle_entries: usize,
    /// `None` when the live slot holds no map.
    live_entries: Option<usize>,
    /// In the bundle, not live.
    missing: Vec<(Vec<u8>, Vec<u8>)>,
    /// Live, not in the bundle.
    extra: Vec<(Vec<u8>, Vec<u8>)>,
    /// Same key: (bundle value, live value).
    changed: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)>,
}

impl MapComparison {
    fn differs(&self) -> bool {
        self.live_entries.is_none() || !self.missing.is_empty() || !self.extra.is_empty() || !self.changed.is_empty()
    }

    /// Whether `key` is a summary record of a policy HASH map: derived from the entries, so
    /// the text forms count these rather than list them (JSON lists them).
    fn is_summary(&self, key: &[u8]) -> bool {
        self.role == OuterRole::PolicyHash && is_policy_summary(key)
    }

    /// (missing, extra, changed) entries, summary records left out.
    fn entry_counts(&self) -> (usize, usize, usize) {
        let missing = self.missing.iter().filter(|(key, _)| !self.is_summary(key)).count();
        let extra = self.extra.iter().filter(|(key, _)| !self.is_summary(key)).count();
        let changed = self.changed.iter().filter(|(key, _, _)| !self.is_summary(key)).count();
        (missing, extra, changed)
    }

    /// How many summary records differ, whichever way.
    fn summary_differences(&self) -> usize {
        let (missing, extra, changed) = self.entry_counts();
        self.missing.len() + self.extra.len() + self.changed.len() - missing - extra - changed
    }
}

/// How one endpoint compares.
struct EndpointComparison {
    name: String,
    /// The instance the bundle asks for, and the one found live (if any).
    instance: String,
    live_instance: Option<String>,
    maps: Vec<MapComparison>,
}

impl EndpointComparison {
    fn differs(&self) -> bool {
        self.live_instance.as_deref() != Some(self.instance.as_str()) || self.maps.iter().any(MapComparison::differs)
    }
}

fn records_of(bytes: &[u8], record_size: usize, key_size: usize) -> Records {
    if record_size == 0 {
        return Records::new();
    }
    bytes.chunks_exact(record_size).map(|record| (record[..key_size].to_vec(), record[key_size..].to_vec())).collect()
}

/// The records of a live inner map, in the bundle's record layout (an LPM key is its 4-byte
/// prefix length and its data).
fn live_records(map: &InnerMap) -> Result<Records, String> {
    let mut records = Records::new();
    match map {
        InnerMap::Policy(trie) => {
            for item in trie.iter() {
                let (key, value) = item.map_err(|error| error.to_string())?;
                let mut bytes = key.prefix_len().to_le_bytes().to_vec();
                bytes.extend_from_slice(&key.data());
                records.insert(bytes, value.to_vec());
            }
        }
        InnerMap::PolicyHash(hash) => {
            for item in hash.iter() {
                let (key, value) = item.map_err(|error| error.to_string())?;
                records.insert(key.to_vec(), value.to_vec());
            }
        }
        InnerMap::Ipcache(trie) => {
            for item in trie.iter() {
                let (key, value) = item.map_err(|error| error.to_string())?;
                let mut bytes = key.prefix_len().to_le_bytes().to_vec();
                bytes.extend_from_slice(&key.data());
                records.insert(bytes, value.to_vec());
            }
        }
        InnerMap::IpcacheHash(hash) => {
            for item in hash.iter() {
                let (key, value) = item.map_err(|error| error.to_string())?;
                records.insert(key.to_vec(), value.to_vec());
            }
        }
    }
    Ok(records)
}

fn compare(role: OuterRole, map: &str, bundle: &Records, live: Option<&Records>) -> MapComparison {
    let mut comparison = MapComparison {
        role,
        map: map.to_owned(),
        bundle_entries: bundle.len(),
        live_entries: live.map(BTreeMap::len),
        missing: Vec::new(),
        extra: Vec::new(),
        changed: Vec::new(),
    };
    let Some(live) = live else { return comparison };
    for (key, value) in bundle {
        match live.get(key) {
            None => comparison.missing.push((key.clone(), value.clone())),
            Some(live_value) if live_value != value => comparison.changed.push((key.clone(), value.clone(), live_value.clone())),
            Some(_) => {}
        }
    }
    for (key, value) in live {
        if !bundle.contains_key(key) {
            comparison.extra.push((key.clone(), value.clone()));
        }
    }
    comparison
}

fn identity_text(identity: u32) -> String {
    NumericIdentity(identity).to_string()
}

fn protocol_text(protocol: u8) -> String {
    if protocol == 0 { "any protocol".to_owned() } else { polc_ir::Protocol(protocol).name() }
}

/// Whether a policy key is a summary record of the policy HASH map.
fn is_policy_summary(key: &[u8]) -> bool {
    key.get(..4).is_some_and(|prefix| prefix == layout::POLICY_SUMMARY_PREFIX_LEN.to_le_bytes())
}

/// `ingress identity 256 TCP 5432` (the key) for a policy key of either map kind;
/// `ingress identity 256 TCP summary` for a summary record of the HASH map.
fn policy_key_text(key: &[u8]) -> String {
    let Ok(key): Result<[u8; POLICY_KEY_SIZE], _> = key.try_into() else { return hex(key) };
    let fields = layout::decode_policy_key(&key);
    if is_policy_summary(&key) {
        return format!("{} identity {} {} summary", fields.direction.name(), identity_text(fields.identity), protocol_text(fields.protocol));
    }
    let port_bits = fields.prefix_len.saturating_sub(layout::POLICY_STATIC_PREFIX_BITS + 8);
    let ports = match (fields.protocol, port_bits) {
        (0, _) => String::new(),
        (_, 0) => " any port".to_owned(),
        (_, 16) => format!(" {}", fields.port),
        (_, bits) => {
            let last = u32::from(fields.port) + (1u32 << (16 - bits.min(16))) - 1;
            format!(" {}-{last}", fields.port)
        }
    };
    format!("{} identity {} {}{ports}", fields.direction.name(), identity_text(fields.identity), protocol_text(fields.protocol))
}

/// The prefix lengths a summary record lists (bit i for 40 + i), as `40, 64`.
fn prefix_lengths_text(mask: u32) -> String {
    let lengths: Vec<String> = (0..32).filter(|bit| mask & (1 << bit) != 0).map(|bit| (layout::POLICY_STATIC_PREFIX_BITS + bit).to_string()).collect();
    if lengths.is_empty() { "none".to_owned() } else { lengths.join(", ") }
}

/// `allow`, `deny`, `redirect to proxy port 10080`, with authentication and precedence; for
/// a summary record (`key`), the prefix lengths it lists.
fn policy_value_text(key: &[u8], value: &[u8]) -> String {
    if is_policy_summary(key) && value.len() == POLICY_VALUE_SIZE {
        let prefix_mask = u32::from_le_bytes([value[0], value[1], value[2], value[3]]);
        let wildcard_mask = u32::from_le_bytes([value[4], value[5], value[6], value[7]]);
        return format!("prefix lengths {}; identity 0's: {}", prefix_lengths_text(prefix_mask), prefix_lengths_text(wildcard_mask));
    }
    let Ok(value): Result<[u8; POLICY_VALUE_SIZE], _> = value.try_into() else { return hex(value) };
    let fields = layout::decode_policy_value(&value);
    let mut text = match (fields.deny, fields.proxy_port) {
        (true, _) => "deny".to_owned(),
        (false, 0) => "allow".to_owned(),
        (false, port) => format!("redirect to proxy port {port}"),
    };
    if fields.auth_type != 0 || fields.auth_explicit {
        let _ = write!(text, ", auth type {}{}", fields.auth_type, if fields.auth_explicit { " (explicit)" } else { "" });
    }
    let _ = write!(text, ", precedence {:#010x}", fields.precedence);
    text
}

/// `10.244.2.0/24` for an ipcache key record (prefix length, cluster, pad, family, address).
fn ipcache_key_text(key: &[u8]) -> String {
    if key.len() != 24 {
        return hex(key);
    }
    let prefix_len = u32::from_le_bytes([key[0], key[1], key[2], key[3]]).saturating_sub(32);
    let cluster = u16::from_le_bytes([key[4], key[5]]);
    let address: IpAddr = match key[7] {
        1 => IpAddr::V4(Ipv4Addr::new(key[8], key[9], key[10], key[11])),
        _ => {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(&key[8..24]);
            IpAddr::V6(Ipv6Addr::from(octets))
        }
    };
    if cluster == 0 { format!("{address}/{prefix_len}") } else { format!("{address}/{prefix_len} (cluster {cluster})") }
}

fn ipcache_value_text(value: &[u8]) -> String {
    match value.get(..4) {
        Some(bytes) => format!("identity {}", identity_text(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))),
        None => hex(value),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn key_text(role: OuterRole, key: &[u8]) -> String {
    match role {
        OuterRole::Policy | OuterRole::PolicyHash => policy_key_text(key),
        OuterRole::Ipcache | OuterRole::IpcacheHash => ipcache_key_text(key),
    }
}

fn value_text(role: OuterRole, key: &[u8], value: &[u8]) -> String {
    match role {
        OuterRole::Policy => policy_value_text(&[], value),
        OuterRole::PolicyHash => policy_value_text(key, value),
        OuterRole::Ipcache | OuterRole::IpcacheHash => ipcache_value_text(value),
    }
}

/// Compares `bundle_path` (one node section) with the maps live under `bpffs`.
pub fn run(bundle_path: &Path, bpffs: &Path, node: Option<&str>, format: DiffFormat) -> Result<Exit, Failure> {
    let bundle = read_bundle(bundle_path).map_err(|error| Failure::new(format!("cannot use bundle `{}`: {error}", bundle_path.display())))?;
    let plan = contract::plan(&bundle, node, &Limits::default()).map_err(|error| Failure::new(format!("bundle `{}`: {error}", bundle_path.display())))?;
    if !kernel::is_bpffs(bpffs) {
        return Err(Failure::new(format!("`{}` is not a bpffs: give the directory the agent runs with (`polc agent --bpffs DIR`)", bpffs.display())));
    }
    let node_kernel = NodeKernel::new(bpffs);
    let slot =
        node_kernel.read_selector().map_err(|error| Failure::new(format!("cannot read the generation selector under `{}`: {error}", bpffs.display())))?;
    let mut live_instances: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (endpoint, instance) in node_kernel.instances() {
        live_instances.entry(endpoint).or_default().push(instance);
    }
    let mut endpoints = Vec::new();
    for endpoint in &plan.endpoints {
        let instances = live_instances.remove(&endpoint.key).unwrap_or_default();
        let live_instance = if instances.contains(&endpoint.instance) {
            Some(endpoint.instance.clone())
        } else if instances.len() == 1 {
            instances.first().cloned()
        } else {
            None
        };
        let mut maps = Vec::new();
        for (role, map_name) in &endpoint.bindings {
            let Some(section) = plan.maps.get(map_name) else { continue };
            let bytes = bundle.blob(&section.digest).unwrap_or(&[]);
            let key_size = section.key_size as usize;
            let expected = records_of(bytes, section.record_size() as usize, key_size);
            let live = match (&live_instance, slot) {
                (Some(instance), Some(slot)) => node_kernel
                    .get_slot(&endpoint.key, instance, *role, slot)
                    .map_err(|error| Failure::new(format!("cannot read the live `{}` of `{}`: {error}", role.outer_map(), endpoint.name)))?
                    .map(|inner| live_records(&inner))
                    .transpose()
                    .map_err(|error| Failure::new(format!("cannot read the live `{}` of `{}`: {error}", role.outer_map(), endpoint.name)))?,
                _ => None,
            };
            maps.push(compare(*role, map_name, &expected, live.as_ref()));
        }
        endpoints.push(EndpointComparison { name: endpoint.name.clone(), instance: endpoint.instance.clone(), live_instance, maps });
    }
    // Endpoints with datapath instances live that the bundle does not have.
    let only_live: Vec<String> = live_instances.keys().map(|key| key.replace('~', "/")).collect();
    let report = Report { bundle: bundle_path, bpffs, node: &plan.node, digest: plan.bundle_digest.hex(), slot, endpoints: &endpoints, only_live: &only_live };
    let differs = endpoints.iter().any(EndpointComparison::differs) || !only_live.is_empty() || slot.is_none();
    let text = match format {
        DiffFormat::Human => report.human(),
        DiffFormat::Markdown => report.markdown(),
        DiffFormat::Json => {
            let mut text = serde_json::to_string_pretty(&report.json(differs)).unwrap_or_default();
            text.push('\n');
            text
        }
    };
    print(&text);
    Ok(if differs { Exit::Findings } else { Exit::Clean })
}

fn plural(count: usize, one: &str, many: &str) -> String {
    if count == 1 { format!("{count} {one}") } else { format!("{count} {many}") }
}

fn counts_line(missing: usize, extra: usize, changed: usize, summaries: usize) -> String {
    let mut line = format!(
        "{} of the bundle not live, {} live but not in the bundle, {} with another value",
        plural(missing, "entry", "entries"),
        plural(extra, "entry", "entries"),
        plural(changed, "entry", "entries")
    );
    if summaries > 0 {
        let _ = write!(line, "; {} of policy HASH maps differ", plural(summaries, "summary record", "summary records"));
    }
    line
}

/// The lines of one map's comparison, in the human form.
fn map_lines(map: &MapComparison) -> Vec<String> {
    let mut lines = Vec::new();
    match map.live_entries {
        Some(live) => {
            lines.push(format!("    {} `{}`: {} in the bundle, {live} live", map.role.outer_map(), map.map, plural(map.bundle_entries, "entry", "entries")))
        }
        None => {
            lines.push(format!("    {} `{}`: {} in the bundle, no map live", map.role.outer_map(), map.map, plural(map.bundle_entries, "entry", "entries")))
        }
    }
    for (key, value) in map.missing.iter().filter(|(key, _)| !map.is_summary(key)) {
        lines.push(format!("      - not live: {}: {}", key_text(map.role, key), value_text(map.role, key, value)));
    }
    for (key, value) in map.extra.iter().filter(|(key, _)| !map.is_summary(key)) {
        lines.push(format!("      + only live: {}: {}", key_text(map.role, key), value_text(map.role, key, value)));
    }
    for (key, bundle_value, live_value) in map.changed.iter().filter(|(key, _, _)| !map.is_summary(key)) {
        lines.push(format!(
            "      ~ {}: bundle {}, live {}",
            key_text(map.role, key),
            value_text(map.role, key, bundle_value),
            value_text(map.role, key, live_value)
        ));
    }
    let summaries = map.summary_differences();
    if summaries > 0 {
        lines.push(format!(
            "      and {} (they follow from the entries; `--format json` lists them)",
            plural(summaries, "summary record differs", "summary records differ")
        ));
    }
    lines
}

struct Report<'a> {
    bundle: &'a Path,
    bpffs: &'a Path,
    node: &'a str,
    digest: String,
    slot: Option<u32>,
    endpoints: &'a [EndpointComparison],
    only_live: &'a [String],
}

impl Report<'_> {
    fn header(&self) -> String {
        let live = match self.slot {
            Some(slot) => format!("generation slot {slot}"),
            None => "no generation live".to_owned(),
        };
        format!(
            "bundle `{}` (sha256:{}, node `{}`) against the maps pinned under `{}` ({live})",
            self.bundle.display(),
            self.digest,
            self.node,
            self.bpffs.display()
        )
    }

    /// (missing, extra, changed) entries and differing summary records over every map.
    fn counts(&self) -> (usize, usize, usize, usize) {
        let maps = self.endpoints.iter().flat_map(|endpoint| endpoint.maps.iter());
        maps.fold((0, 0, 0, 0), |(missing, extra, changed, summaries), map| {
            let (map_missing, map_extra, map_changed) = map.entry_counts();
            (missing + map_missing, extra + map_extra, changed + map_changed, summaries + map.summary_differences())
        })
    }

    fn human(&self) -> String {
        let mut out = String::new();
        let (missing, extra, changed, summaries) = self.counts();
        let _ = writeln!(out, "polc diff: {}", self.header());
        let _ = writeln!(out, "{}", counts_line(missing, extra, changed, summaries));
        let mut shown: BTreeMap<(String, Vec<String>), String> = BTreeMap::new();
        for endpoint in self.endpoints {
            if !endpoint.differs() {
                continue;
            }
            let _ = writeln!(out, "\n  {}", endpoint.name);
            match &endpoint.live_instance {
                None => {
                    let _ = writeln!(out, "    not live: no datapath instance of this endpoint is pinned");
                }
                Some(live) if *live != endpoint.instance => {
                    let _ = writeln!(out, "    runs instance `{live}`, the bundle's is `{}` (other object or constants)", endpoint.instance);
                }
                Some(_) => {}
            }
            for map in endpoint.maps.iter().filter(|map| map.differs()) {
                let lines = map_lines(map);
                // A map several endpoints bind (the node's ipcache) is shown once.
                let key = (map.map.clone(), lines.clone());
                if let Some(first) = shown.get(&key) {
                    let _ = writeln!(out, "    {} `{}`: the same as for {first}", map.role.outer_map(), map.map);
                    continue;
                }
                shown.insert(key, endpoint.name.clone());
                for line in lines {
                    let _ = writeln!(out, "{line}");
                }
            }
        }
        if !self.only_live.is_empty() {
            let _ = writeln!(out, "\nendpoints live but not in the bundle: {}", self.only_live.join(", "));
        }
        out
    }

    fn markdown(&self) -> String {
        let mut out = String::new();
        let (missing, extra, changed, summaries) = self.counts();
        let _ = writeln!(out, "### polc diff: {}\n", self.header());
        let _ = writeln!(out, "{}\n", counts_line(missing, extra, changed, summaries));
        let mut rows = Vec::new();
        for endpoint in self.endpoints {
            for map in &endpoint.maps {
                let mut row = |change: &str, key: &[u8], value: String| {
                    rows.push(format!("| `{}` | `{}` | {change} | {} | {value} |", endpoint.name, map.map, key_text(map.role, key)));
                };
                for (key, value) in map.missing.iter().filter(|(key, _)| !map.is_summary(key)) {
                    row("- not live", key, value_text(map.role, key, value));
                }
                for (key, value) in map.extra.iter().filter(|(key, _)| !map.is_summary(key)) {
                    row("+ only live", key, value_text(map.role, key, value));
                }
                for (key, bundle_value, live_value) in map.changed.iter().filter(|(key, _, _)| !map.is_summary(key)) {
                    let value = format!("bundle {}, live {}", value_text(map.role, key, bundle_value), value_text(map.role, key, live_value));
                    row("~ differs", key, value);
                }
            }
        }
        if !rows.is_empty() {
            let _ = writeln!(out, "| Endpoint | Map | Change | Key | Value |\n|---|---|---|---|---|");
            for row in rows {
                let _ = writeln!(out, "{row}");
            }
        }
        for endpoint in self.endpoints.iter().filter(|endpoint| endpoint.live_instance.as_deref() != Some(endpoint.instance.as_str())) {
            let _ = writeln!(out, "\n- `{}`: the bundle's datapath instance is not the live one", endpoint.name);
        }
        if !self.only_live.is_empty() {
            let _ = writeln!(
                out,
                "\nEndpoints live but not in the bundle: {}",
                self.only_live.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(", ")
            );
        }
        out
    }

    fn json(&self, differs: bool) -> serde_json::Value {
        let entry = |role: OuterRole, key: &[u8], value: &[u8]| json!({"key": key_text(role, key), "value": value_text(role, key, value), "keyHex": hex(key), "valueHex": hex(value)});
        json!({
            "changed": differs,
            "bundle": self.bundle.display().to_string(),
            "bundleDigest": format!("sha256:{}", self.digest),
            "node": self.node,
            "bpffs": self.bpffs.display().to_string(),
            "liveSlot": self.slot,
            "endpoints": self.endpoints.iter().map(|endpoint| json!({
                "name": endpoint.name,
                "instance": endpoint.instance,
                "liveInstance": endpoint.live_instance,
                "maps": endpoint.maps.iter().map(|map| json!({
                    "role": map.role.outer_map(),
                    "map": map.map,
                    "bundleEntries": map.bundle_entries,
                    "liveEntries": map.live_entries,
                    "notLive": map.missing.iter().map(|(key, value)| entry(map.role, key, value)).collect::<Vec<_>>(),
                    "onlyLive": map.extra.iter().map(|(key, value)| entry(map.role, key, value)).collect::<Vec<_>>(),
                    "differ": map.changed.iter().map(|(key, bundle_value, live_value)| json!({
                        "key": key_text(map.role, key),
                        "bundle": value_text(map.role, key, bundle_value),
                        "live": value_text(map.role, key, live_value),
                    })).collect::<Vec<_>>(),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
            "endpointsOnlyLive": self.only_live,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_values_decode_into_words() {
        let key = layout::encode_policy_key(layout::POLICY_STATIC_PREFIX_BITS + 8 + 16, 256, polc_ebpf::Direction::Ingress, 6, 5432);
        assert_eq!(policy_key_text(&key), "ingress identity 256 TCP 5432");
        let key = layout::encode_policy_key(layout::POLICY_STATIC_PREFIX_BITS, 2, polc_ebpf::Direction::Egress, 0, 0);
        assert_eq!(policy_key_text(&key), "egress identity 2 (world) any protocol");
        let key = layout::encode_policy_key(layout::POLICY_STATIC_PREFIX_BITS + 8 + 10, 0, polc_ebpf::Direction::Ingress, 17, 8000);
        assert_eq!(policy_key_text(&key), "ingress identity 0 UDP 8000-8063");
        let mut ipcache = (32u32 + 24).to_le_bytes().to_vec();
        ipcache.extend_from_slice(&[0, 0, 0, 1, 10, 244, 2, 0]);
        ipcache.extend_from_slice(&[0; 12]);
        assert_eq!(ipcache_key_text(&ipcache), "10.244.2.0/24");
        assert_eq!(ipcache_value_text(&[1, 1, 0, 0]), "identity 257");
        let (summary_key, summary_value) = layout::encode_policy_summary(256, polc_ebpf::Direction::Ingress, 6, 1 | 1 << 24, 1 << 8);
        assert_eq!(key_text(OuterRole::PolicyHash, &summary_key), "ingress identity 256 TCP summary");
        assert_eq!(value_text(OuterRole::PolicyHash, &summary_key, &summary_value), "prefix lengths 40, 64; identity 0's: 48");
        let allow = layout::encode_policy_key(layout::POLICY_STATIC_PREFIX_BITS + 8 + 16, 256, polc_ebpf::Direction::Ingress, 6, 5432);
        let allow_value = layout::encode_policy_value(&layout::PolicyValueFields {
            proxy_port: 0,
            deny: false,
            lpm_prefix_len: 24,
            auth_type: 0,
            auth_explicit: false,
            precedence: 0xFFFF_FF01,
            cookie: 0,
        });
        assert_eq!(value_text(OuterRole::PolicyHash, &allow, &allow_value), value_text(OuterRole::Policy, &allow, &allow_value));
        assert!(value_text(OuterRole::Policy, &allow, &allow_value).starts_with("allow, precedence"));
        assert_eq!(hex(&[0xab, 0x01]), "ab01");
    }

    #[test]
    fn comparisons_find_missing_extra_and_changed_records() {
        let bundle: Records = [(vec![1], vec![1]), (vec![2], vec![2]), (vec![3], vec![3])].into_iter().collect();
        let live: Records = [(vec![2], vec![2]), (vec![3], vec![4]), (vec![5], vec![5])].into_iter().collect();
        let comparison = compare(OuterRole::Policy, "policy/a", &bundle, Some(&live));
        assert_eq!(comparison.missing, [(vec![1], vec![1])]);
        assert_eq!(comparison.extra, [(vec![5], vec![5])]);
        assert_eq!(comparison.changed, [(vec![3], vec![3], vec![4])]);
        assert!(comparison.differs());
        assert!(!compare(OuterRole::Policy, "policy/a", &bundle, Some(&bundle)).differs());
        assert!(compare(OuterRole::Policy, "policy/a", &bundle, None).differs(), "no live map differs");
    }
}
