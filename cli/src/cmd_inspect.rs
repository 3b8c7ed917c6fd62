//! `polc inspect BUNDLE`: a readable dump of every map and object of a bundle, in the spirit of
//! `cilium-dbg bpf policy get`.
//!
//! Per node: the identities with their labels, the ipcache, and per endpoint its identity, its
//! object with the constants patched into it, and its policy map: one line per entry with the
//! direction, the remote identity, the protocol, the port or range (the ICMP type for ICMP), the
//! verdict, the precedence, the proxy port, the auth type and the rules the entry came from
//! (kind, namespace, name, rule path, file:line:col). The bundle's metadata maps (see
//! `polc_ebpf::compile`) supply labels and rules; a bundle without them still dumps, with the
//! numbers only. Any other map is dumped record by record in hex.
//!
//! Exit 0 when the bundle was read and verified; 2 when it cannot be read or fails verification.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

use polc_ebpf::bundle::{Bundle, MapKind, MapSection, NodeSection, read_bundle};
use polc_ebpf::compile::{IDENTITIES_MAP, IdentityRecord, OriginRecord, RULE_ORIGINS_MAP, decode_metadata};
use polc_ebpf::layout::{
    self, IPCACHE_KEY_SIZE, IPCACHE_VALUE_SIZE, POLICY_KEY_SIZE, POLICY_STATIC_PREFIX_BITS, POLICY_SUMMARY_PREFIX_LEN, POLICY_VALUE_SIZE, PolicyKeyFields,
    PolicyValueFields,
};
use polc_ebpf::object;
use polc_ir::Protocol;

use crate::exit::{Exit, Failure};
use crate::output::print;

#[derive(Clone, Debug, clap::Args)]
pub struct Args {
    /// The bundle directory (as written by `polc compile`)
    #[arg(value_name = "BUNDLE")]
    pub bundle: PathBuf,
    /// Dump only this node's section
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
}

pub fn run(args: &Args) -> Result<Exit, Failure> {
    let bundle = read_bundle(&args.bundle).map_err(|error| Failure::new(format!("`{}`: {error}", args.bundle.display())))?;
    if let Some(wanted) = &args.node
        && bundle.node(wanted).is_none()
    {
        let known: Vec<String> = bundle.manifest().nodes.iter().map(|node| format!("`{}`", node.name)).collect();
        return Err(Failure::new(format!(
            "the bundle has no section for node `{wanted}` (it has {})",
            if known.is_empty() { "none".to_owned() } else { known.join(", ") }
        )));
    }
    print(&dump(&bundle, args.node.as_deref()));
    Ok(Exit::Clean)
}

/// The whole dump.
pub fn dump(bundle: &Bundle, only: Option<&str>) -> String {
    let manifest = bundle.manifest();
    let mut out = String::new();
    let _ = writeln!(out, "bundle {}", bundle.digest());
    let _ = writeln!(out, "  format version {}, written by {}, inputs {}", manifest.format_version, manifest.compiler_version, manifest.inputs_digest);
    for node in manifest.nodes.iter().filter(|node| only.is_none_or(|name| node.name == name)) {
        out.push('\n');
        dump_node(bundle, node, &mut out);
    }
    out
}

/// The records of a map (the reader has verified that its blob is there and well sized).
fn records<'a>(bundle: &'a Bundle, map: &MapSection) -> impl Iterator<Item = (&'a [u8], &'a [u8])> {
    let bytes = bundle.blob(&map.digest).unwrap_or_default();
    let record_size = map.record_size().max(1) as usize;
    let key_size = map.key_size as usize;
    bytes.chunks_exact(record_size).map(move |record| record.split_at(key_size.min(record.len())))
}

fn metadata(bundle: &Bundle, node: &NodeSection, name: &str) -> BTreeMap<u32, String> {
    node.maps
        .iter()
        .find(|map| map.name == name && map.kind == MapKind::Hash)
        .map(|map| decode_metadata(map.key_size, map.value_size, bundle.blob(&map.digest).unwrap_or_default()))
        .unwrap_or_default()
}

/// Renders rows as columns separated by two spaces, the last column unpadded.
fn table(out: &mut String, indent: &str, header: &[&str], rows: &[Vec<String>]) {
    let columns = header.len();
    let mut widths: Vec<usize> = header.iter().map(|title| title.chars().count()).collect();
    for row in rows {
        for (index, cell) in row.iter().enumerate().take(columns) {
            widths[index] = widths[index].max(cell.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut text = String::from(indent);
        for (index, cell) in cells.iter().enumerate() {
            if index + 1 == cells.len() {
                text.push_str(cell);
            } else {
                text.push_str(cell);
                text.push_str(&" ".repeat(widths[index] - cell.chars().count() + 2));
            }
        }
        text.trim_end().to_owned()
    };
    let _ = writeln!(out, "{}", line(header.to_vec()));
    for row in rows {
        let _ = writeln!(out, "{}", line(row.iter().map(String::as_str).collect()));
    }
}

fn identity_cell(identity: u32, identities: &BTreeMap<u32, IdentityRecord>) -> String {
    if identity == 0 {
        return "ANY".to_owned();
    }
    match identities.get(&identity) {
        Some(record) if !record.description.is_empty() => format!("{identity} ({})", record.description),
        _ => identity.to_string(),
    }
}

fn protocol_name(protocol: u8) -> String {
    if protocol == 0 { "ANY".to_owned() } else { Protocol(protocol).name() }
}

fn port_cell(fields: &PolicyKeyFields) -> String {
    let port_bits = fields.prefix_len.saturating_sub(POLICY_STATIC_PREFIX_BITS + 8);
    if fields.protocol == 0 || port_bits == 0 {
        return "ANY".to_owned();
    }
    let size = 1u32 << (16 - port_bits.min(16));
    let last = (u32::from(fields.port) + size - 1).min(65_535);
    let range = if size == 1 { fields.port.to_string() } else { format!("{}-{last}", fields.port) };
    if matches!(fields.protocol, 1 | 58) { format!("type {range}") } else { range }
}

fn auth_cell(value: &PolicyValueFields) -> String {
    let name = match value.auth_type {
        0 => "disabled".to_owned(),
        1 => "spire".to_owned(),
        2 => "always-fail".to_owned(),
        other => format!("type {other}"),
    };
    match (value.auth_type, value.auth_explicit) {
        (0, false) => "-".to_owned(),
        (_, true) => name,
        (_, false) => format!("{name} (inherited)"),
    }
}

fn verdict_cell(value: &PolicyValueFields) -> &'static str {
    if value.deny {
        "deny"
    } else if value.proxy_port != 0 {
        "redirect"
    } else {
        "allow"
    }
}

fn rule_lines(cookie: u32, origins: &BTreeMap<u32, Vec<OriginRecord>>) -> Vec<String> {
    match origins.get(&cookie) {
        Some(records) if !records.is_empty() => records.iter().map(OriginRecord::describe).collect(),
        _ if cookie == 0 => vec!["-".to_owned()],
        _ => vec![format!("cookie {cookie} (no rule recorded)")],
    }
}

fn dump_policy(out: &mut String, bundle: &Bundle, map: &MapSection, identities: &BTreeMap<u32, IdentityRecord>, origins: &BTreeMap<u32, Vec<OriginRecord>>) {
    let _ = writeln!(
        out,
        "    policy map `{}`: {}, {} entr{} (max {})",
        map.name,
        map.kind.name(),
        map.entries,
        if map.entries == 1 { "y" } else { "ies" },
        map.max_entries
    );
    let mut entries: Vec<(PolicyKeyFields, PolicyValueFields)> = Vec::new();
    let mut summaries = 0usize;
    for (key, value) in records(bundle, map) {
        let (Ok(key), Ok(value)) = (<[u8; POLICY_KEY_SIZE]>::try_from(key), <[u8; POLICY_VALUE_SIZE]>::try_from(value)) else { continue };
        let fields = layout::decode_policy_key(&key);
        if fields.prefix_len == POLICY_SUMMARY_PREFIX_LEN {
            summaries += 1;
            continue;
        }
        entries.push((fields, layout::decode_policy_value(&value)));
    }
    if entries.is_empty() {
        let _ = writeln!(out, "      (no entries: nothing is allowed in a default-deny direction)");
        return;
    }
    entries.sort_by_key(|(key, _)| (key.direction, key.identity, key.protocol, key.port, key.prefix_len));
    let mut rows = Vec::new();
    for (key, value) in &entries {
        let rules = rule_lines(value.cookie, origins);
        let proxy = if value.proxy_port == 0 { "-".to_owned() } else { value.proxy_port.to_string() };
        rows.push(vec![
            key.direction.name().to_owned(),
            identity_cell(key.identity, identities),
            protocol_name(key.protocol),
            port_cell(key),
            verdict_cell(value).to_owned(),
            format!("{:#010x}", value.precedence),
            proxy,
            auth_cell(value),
            rules[0].clone(),
        ]);
        for rule in &rules[1..] {
            let mut row = vec![String::new(); 8];
            row.push(rule.clone());
            rows.push(row);
        }
    }
    table(out, "      ", &["DIRECTION", "IDENTITY", "PROTOCOL", "PORT", "VERDICT", "PRECEDENCE", "PROXY PORT", "AUTH", "RULE"], &rows);
    if summaries > 0 {
        let _ = writeln!(out, "      ({summaries} lookup summary records of the HASH mode not shown)");
    }
}

fn decode_address(family: u8, bytes: &[u8]) -> Option<IpAddr> {
    match family {
        layout::FAMILY_IPV4 => Some(IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))),
        layout::FAMILY_IPV6 => <[u8; 16]>::try_from(&bytes[..16]).ok().map(|octets| IpAddr::V6(Ipv6Addr::from(octets))),
        _ => None,
    }
}

fn dump_ipcache(out: &mut String, bundle: &Bundle, map: &MapSection, identities: &BTreeMap<u32, IdentityRecord>) {
    let _ = writeln!(out, "  ipcache `{}`: {} entr{} (max {})", map.name, map.entries, if map.entries == 1 { "y" } else { "ies" }, map.max_entries);
    let mut rows: Vec<(IpAddr, u32, Vec<String>)> = Vec::new();
    for (key, value) in records(bundle, map) {
        if key.len() != IPCACHE_KEY_SIZE || value.len() != IPCACHE_VALUE_SIZE {
            continue;
        }
        let prefix_len = u32::from_le_bytes([key[0], key[1], key[2], key[3]]).saturating_sub(layout::IPCACHE_STATIC_PREFIX_BITS);
        let cluster = u16::from_le_bytes([key[4], key[5]]);
        let Some(address) = decode_address(key[7], &key[8..]) else { continue };
        let identity = u32::from_le_bytes([value[0], value[1], value[2], value[3]]);
        rows.push((address, prefix_len, vec![format!("{address}/{prefix_len}"), identity_cell(identity, identities), cluster.to_string()]));
    }
    rows.sort_by_key(|(address, prefix_len, _)| (*address, *prefix_len));
    let rows: Vec<Vec<String>> = rows.into_iter().map(|(_, _, row)| row).collect();
    table(out, "    ", &["PREFIX", "IDENTITY", "CLUSTER"], &rows);
}

fn dump_other_map(out: &mut String, bundle: &Bundle, map: &MapSection) {
    let _ = writeln!(
        out,
        "  map `{}`: {}, {}-byte keys, {}-byte values, {} entr{} (max {})",
        map.name,
        map.kind.name(),
        map.key_size,
        map.value_size,
        map.entries,
        if map.entries == 1 { "y" } else { "ies" },
        map.max_entries
    );
    let hex = |bytes: &[u8]| bytes.iter().map(|byte| format!("{byte:02x}")).collect::<String>();
    for (key, value) in records(bundle, map) {
        let _ = writeln!(out, "    {} => {}", hex(key), hex(value));
    }
}

fn dump_node(bundle: &Bundle, node: &NodeSection, out: &mut String) {
    let identities: BTreeMap<u32, IdentityRecord> =
        metadata(bundle, node, IDENTITIES_MAP).into_iter().filter_map(|(id, text)| serde_json::from_str(&text).ok().map(|record| (id, record))).collect();
    let origins: BTreeMap<u32, Vec<OriginRecord>> = metadata(bundle, node, RULE_ORIGINS_MAP)
        .into_iter()
        .filter_map(|(cookie, text)| serde_json::from_str(&text).ok().map(|records| (cookie, records)))
        .collect();
    let _ = writeln!(out, "node {}", node.name);

    // Which map plays which part, from the endpoints' bindings.
    let mut policy_maps: BTreeSet<&str> = BTreeSet::new();
    let mut ipcache_maps: BTreeSet<&str> = BTreeSet::new();
    let mut ipcache_host_maps: BTreeSet<&str> = BTreeSet::new();
    for endpoint in &node.endpoints {
        for (outer, map) in &endpoint.maps {
            if outer == object::IPCACHE_GENERATIONS_MAP {
                ipcache_maps.insert(map);
            } else if outer == object::IPCACHE_HASH_GENERATIONS_MAP {
                ipcache_host_maps.insert(map);
            } else if outer == object::POLICY_GENERATIONS_MAP || outer == object::POLICY_HASH_GENERATIONS_MAP {
                policy_maps.insert(map);
            }
        }
    }

    // Identities the node's maps mention.
    let mut mentioned: BTreeSet<u32> = node.endpoints.iter().map(|endpoint| endpoint.identity).collect();
    for map in &node.maps {
        if policy_maps.contains(map.name.as_str()) {
            mentioned.extend(
                records(bundle, map).filter(|(key, _)| key.len() == POLICY_KEY_SIZE).map(|(key, _)| u32::from_le_bytes([key[4], key[5], key[6], key[7]])),
            );
        } else if ipcache_maps.contains(map.name.as_str()) {
            mentioned.extend(
                records(bundle, map).filter(|(_, value)| value.len() >= 4).map(|(_, value)| u32::from_le_bytes([value[0], value[1], value[2], value[3]])),
            );
        }
    }
    mentioned.remove(&0);
    let _ = writeln!(out, "  identities");
    let rows: Vec<Vec<String>> = mentioned
        .iter()
        .map(|id| match identities.get(id) {
            Some(record) => vec![id.to_string(), record.kind.clone(), if record.labels.is_empty() { "-".to_owned() } else { record.labels.join(",") }],
            None => vec![id.to_string(), "-".to_owned(), "(no labels recorded)".to_owned()],
        })
        .collect();
    table(out, "    ", &["IDENTITY", "KIND", "LABELS"], &rows);

    for map in node.maps.iter().filter(|map| ipcache_maps.contains(map.name.as_str())) {
        dump_ipcache(out, bundle, map, &identities);
    }
    // The host HASH holds the ipcache's host entries again (the `hash` lookup mode): counted,
    // not listed.
    for map in node.maps.iter().filter(|map| ipcache_host_maps.contains(map.name.as_str())) {
        let _ = writeln!(
            out,
            "  ipcache host HASH `{}`: {} entr{} (max {}), the ipcache's /32 and /128 entries, looked up before the trie",
            map.name,
            map.entries,
            if map.entries == 1 { "y" } else { "ies" },
            map.max_entries
        );
    }

    for endpoint in &node.endpoints {
        let addresses = if endpoint.addresses.is_empty() { "no address".to_owned() } else { endpoint.addresses.join(", ") };
        let _ = writeln!(out, "  endpoint {}: identity {}, {addresses}", endpoint.name, identity_cell(endpoint.identity, &identities));
        if let Some(object) = node.objects.iter().find(|object| object.name == endpoint.object) {
            let _ = writeln!(out, "    object `{}`: {} bytes, {}", object.name, object.size, object.digest);
            let constants: Vec<String> = object.constants.iter().map(|(name, constant)| format!("{name}={}", constant.value)).collect();
            let _ = writeln!(out, "      constants: {}", constants.join(" "));
        }
        for (outer, map_name) in &endpoint.maps {
            if outer == object::IPCACHE_GENERATIONS_MAP {
                let _ = writeln!(out, "    ipcache: `{map_name}`");
                continue;
            }
            if outer == object::IPCACHE_HASH_GENERATIONS_MAP {
                let _ = writeln!(out, "    ipcache host HASH: `{map_name}`");
                continue;
            }
            if let Some(map) = node.maps.iter().find(|map| map.name == *map_name) {
                if map.key_size as usize == POLICY_KEY_SIZE && map.value_size as usize == POLICY_VALUE_SIZE {
                    dump_policy(out, bundle, map, &identities, &origins);
                } else {
                    dump_other_map(out, bundle, map);
                }
            }
        }
    }

    let known: BTreeSet<&str> =
        policy_maps.iter().chain(ipcache_maps.iter()).chain(ipcache_host_maps.iter()).copied().chain([IDENTITIES_MAP, RULE_ORIGINS_MAP]).collect();
    for map in node.maps.iter().filter(|map| !known.contains(map.name.as_str())) {
        dump_other_map(out, bundle, map);
    }
    let bound: BTreeSet<&str> = node.endpoints.iter().map(|endpoint| endpoint.object.as_str()).collect();
    for object in node.objects.iter().filter(|object| !bound.contains(object.name.as_str())) {
        let _ = writeln!(out, "  object `{}` (no endpoint): {} bytes, {}", object.name, object.size, object.digest);
        let constants: Vec<String> = object.constants.iter().map(|(name, constant)| format!("{name}={}", constant.value)).collect();
        let _ = writeln!(out, "    constants: {}", constants.join(" "));
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use clap::Parser;

    use super::*;

    #[derive(Debug, clap::Parser)]
    struct Command {
        #[command(flatten)]
        args: Args,
    }

    fn args(words: &[&str]) -> Args {
        Command::try_parse_from(std::iter::once("polc-inspect").chain(words.iter().copied())).expect("valid arguments").args
    }

    fn examples() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../policies/examples")
    }

    fn compiled_bundle(dir: &tempfile::TempDir, policy: &str) -> PathBuf {
        let output = dir.path().join("bundle");
        let inventory = examples().join("inventory").display().to_string();
        let policy = examples().join(policy).display().to_string();
        let compile = crate::cmd_compile::tests_support::args(&[&inventory, &policy, "-o", &output.display().to_string()]);
        assert_eq!(crate::cmd_compile::run(&compile).expect("compiles"), Exit::Clean);
        output
    }

    #[test]
    fn every_entry_names_its_identity_port_verdict_and_rule() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let output = compiled_bundle(&dir, "cilium-policy/l7-http.yaml");
        let bundle = read_bundle(&output).expect("a valid bundle");
        let text = dump(&bundle, None);
        assert!(text.starts_with(&format!("bundle {}\n", bundle.digest())), "{text}");
        assert!(text.contains("\nnode node-a\n") && text.contains("\nnode node-b\n"), "{text}");
        assert!(text.contains("DIRECTION  IDENTITY"), "{text}");
        assert!(text.contains("redirect"), "an L7 rule is a redirect: {text}");
        assert!(text.contains("CiliumNetworkPolicy "), "{text}");
        assert!(text.contains("l7-http.yaml:"), "rules name their file and line: {text}");
        assert!(text.contains("k8s:io.kubernetes.pod.namespace="), "identities have their labels: {text}");
        assert!(text.contains("constants: allow_icmp_frag_needed=1"), "{text}");
        assert!(text.contains("ipcache `ipcache`"), "{text}");
        // The default (`hash`) lookup mode: the host HASH is counted once per node, not dumped in hex.
        assert!(text.contains("  ipcache host HASH `ipcache-hosts`: "), "{text}");
        assert!(text.contains("    ipcache host HASH: `ipcache-hosts`"), "{text}");
        assert!(!text.contains("map `ipcache-hosts`"), "{text}");
        assert!(text.contains("lookup summary records of the HASH mode not shown"), "{text}");
        assert!(text.contains("no policy selects the endpoint in this direction (allow all)"), "{text}");
        let only = dump(&bundle, Some("node-b"));
        assert!(!only.contains("\nnode node-a\n") && only.contains("\nnode node-b\n"));
    }

    #[test]
    fn a_missing_or_damaged_bundle_is_a_failure() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let failure = run(&args(&[&dir.path().join("nothing").display().to_string()])).expect_err("no bundle");
        assert!(failure.lines[0].contains("is not a bundle directory"), "{:?}", failure.lines);
        let output = compiled_bundle(&dir, "cilium-policy/deny.yaml");
        assert_eq!(run(&args(&[&output.display().to_string()])).expect("dumps"), Exit::Clean);
        let failure = run(&args(&[&output.display().to_string(), "--node", "node-z"])).expect_err("no such node");
        assert!(failure.lines[0].contains("`node-a`"), "{:?}", failure.lines);
        let blobs = output.join("blobs/sha256");
        let first = std::fs::read_dir(&blobs).expect("blobs").next().expect("a blob").expect("entry").path();
        std::fs::write(&first, b"tampered").expect("overwrite a blob");
        let failure = run(&args(&[&output.display().to_string()])).expect_err("corrupted");
        assert!(failure.lines[0].contains("corrupted") || failure.lines[0].contains("blob"), "{:?}", failure.lines);
    }
}
