//! The bundle format: a directory with a canonical `manifest.json` and content-addressed blobs.
//!
//! ```text
//! BUNDLE/
//!   manifest.json            canonical JSON (see below), ends with a newline
//!   blobs/sha256/<hex>       one file per distinct blob, named by the SHA-256 of its bytes
//! ```
//!
//! The manifest records the format version, the compiler version, the digest of the inputs
//! and one section per node. A node section lists
//! - its **maps**: name, type (`lpm_trie`, `hash`, `array`), key size, value size, max
//!   entries, entry count and the digest of the map image blob;
//! - its **objects**: name, digest and size of the object file (ELF), and the `.rodata`
//!   constants to patch in (name → byte width and unsigned value);
//! - its **endpoints**: name, identity, addresses, the object that guards it, and which
//!   map fills which generation outer map of that object (`polc_policy` → `policy/...`).
//!
//! A map image blob is the map's records, sorted by key bytes, each record the key bytes
//! followed by the value bytes (exactly what [`PolicyMapImage::encoded`] and
//! [`IpcacheImage::encoded`] produce), so `entries × (key_size + value_size)` is its length.
//!
//! Canonical JSON: object keys sorted by bytes, two-space indentation, one array element
//! per line, `": "` after keys, no floating-point numbers, a trailing newline. Every list
//! of named things is sorted by name and has no duplicates. The reader refuses a manifest
//! that is not byte-for-byte in this form, so a bundle's digest (the SHA-256 of its
//! manifest, which names every blob's digest) identifies all of its bytes.
//!
//! This module is pure except for [`write_bundle`] and [`read_bundle`], which move the
//! bytes of [`Bundle::files`] to and from a directory. Writing is atomic: everything goes
//! into a temporary directory beside the target, every file and directory is synced, and
//! the directory is renamed into place (exchanged atomically with an existing bundle).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::File;
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::config::DatapathConfig;
use crate::image::{IpcacheImage, PolicyMapImage};
use crate::layout::{IPCACHE_KEY_SIZE, IPCACHE_VALUE_SIZE, POLICY_KEY_SIZE, POLICY_VALUE_SIZE};

/// The manifest format this module writes and the only one it reads.
pub const FORMAT_VERSION: u64 = 1;
/// The manifest's file name inside a bundle.
pub const MANIFEST_FILE: &str = "manifest.json";
/// The directory of blobs inside a bundle, relative to its root.
pub const BLOB_DIRECTORY: &str = "blobs/sha256";
/// Largest key a BPF map can have (the kernel copies keys through the 512-byte BPF stack).
pub const MAX_KEY_SIZE: u32 = 512;
/// Largest value this format accepts for one record (the kernel's practical limit for
/// hash and trie values is far below `KMALLOC_MAX_SIZE`; 64 KiB is generous).
pub const MAX_VALUE_SIZE: u32 = 65_536;
/// Largest name of a node, map, object or endpoint.
pub const MAX_NAME_LENGTH: usize = 253;

/// A SHA-256 digest, written `sha256:<64 lower-case hex digits>`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Digest([u8; 32]);

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Digest {
        Digest(Sha256::digest(bytes).into())
    }

    /// The digest of several byte strings, each prefixed with its length (so that the
    /// split between them matters).
    pub fn of_parts(parts: &[&[u8]]) -> Digest {
        let mut hasher = Sha256::new();
        for part in parts {
            hasher.update((part.len() as u64).to_le_bytes());
            hasher.update(part);
        }
        Digest(hasher.finalize().into())
    }

    pub fn from_bytes(bytes: [u8; 32]) -> Digest {
        Digest(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 64 hex digits, without the `sha256:` prefix (the blob's file name).
    pub fn hex(&self) -> String {
        let mut text = String::with_capacity(64);
        for byte in self.0 {
            text.push(char::from(HEX[usize::from(byte >> 4)]));
            text.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        text
    }

    /// The blob's path relative to the bundle root.
    pub fn blob_path(&self) -> String {
        format!("{BLOB_DIRECTORY}/{}", self.hex())
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

impl fmt::Display for Digest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, formatter)
    }
}

impl FromStr for Digest {
    type Err = String;

    /// Parses `sha256:` followed by exactly 64 lower-case hex digits.
    fn from_str(text: &str) -> Result<Digest, String> {
        let Some(hex) = text.strip_prefix("sha256:") else {
            return Err(format!("digest `{text}` does not start with `sha256:`"));
        };
        if hex.len() != 64 {
            return Err(format!("digest `{text}` does not have 64 hex digits"));
        }
        let mut bytes = [0u8; 32];
        for (index, pair) in hex.as_bytes().chunks(2).enumerate() {
            let digit = |character: u8| HEX.iter().position(|candidate| *candidate == character);
            match (digit(pair[0]), digit(pair[1])) {
                (Some(high), Some(low)) => bytes[index] = (high * 16 + low) as u8,
                _ => return Err(format!("digest `{text}` has a character that is not a lower-case hex digit")),
            }
        }
        Ok(Digest(bytes))
    }
}

impl Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Digest, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// The kernel map type of a map image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum MapKind {
    /// `BPF_MAP_TYPE_LPM_TRIE`: keys start with a little-endian u32 prefix length in bits.
    #[serde(rename = "lpm_trie")]
    LpmTrie,
    /// `BPF_MAP_TYPE_HASH`.
    #[serde(rename = "hash")]
    Hash,
    /// `BPF_MAP_TYPE_ARRAY`: keys are little-endian u32 indexes below max entries.
    #[serde(rename = "array")]
    Array,
}

impl MapKind {
    pub fn name(self) -> &'static str {
        match self {
            MapKind::LpmTrie => "lpm_trie",
            MapKind::Hash => "hash",
            MapKind::Array => "array",
        }
    }
}

/// The manifest: everything about a bundle except the blob bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format_version: u64,
    /// The compiler that wrote the bundle (`polc 0.1.0`).
    pub compiler_version: String,
    /// The digest of the compiler's inputs (the caller decides what goes in).
    pub inputs_digest: Digest,
    /// Sorted by name, names unique.
    pub nodes: Vec<NodeSection>,
}

/// What one node runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeSection {
    pub name: String,
    /// Sorted by name, names unique.
    pub endpoints: Vec<EndpointSection>,
    /// Sorted by name, names unique.
    pub maps: Vec<MapSection>,
    /// Sorted by name, names unique.
    pub objects: Vec<ObjectSection>,
}

/// One map image.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapSection {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: MapKind,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    /// Number of records in the blob.
    pub entries: u64,
    pub digest: Digest,
}

impl MapSection {
    /// Bytes of one record (key then value).
    pub fn record_size(&self) -> u64 {
        u64::from(self.key_size) + u64::from(self.value_size)
    }
}

/// One object file with the constants to patch into its `.rodata`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ObjectSection {
    pub name: String,
    pub digest: Digest,
    /// Length of the object file in bytes.
    pub size: u64,
    pub constants: BTreeMap<String, Constant>,
}

/// One `.rodata` constant: its width in bytes (1, 2, 4 or 8) and its unsigned value,
/// written little-endian into the global of that name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constant {
    pub size: u8,
    pub value: u64,
}

impl Constant {
    /// The little-endian bytes of the value, `size` long.
    pub fn bytes(&self) -> Vec<u8> {
        let size = usize::from(self.size).min(8);
        self.value.to_le_bytes()[..size].to_vec()
    }
}

/// One local endpoint (a pod) and the datapath instance that guards it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointSection {
    /// `NAMESPACE/POD`, or a plain name.
    pub name: String,
    pub identity: u32,
    /// The endpoint's addresses, sorted, unique, in canonical text form.
    pub addresses: Vec<String>,
    /// Name of the object (in this node's `objects`) loaded for this endpoint.
    pub object: String,
    /// Generation outer map of the object → name of the map (in this node's `maps`) that
    /// fills it.
    pub maps: BTreeMap<String, String>,
}

impl EndpointSection {
    /// The addresses, parsed (the reader has checked they parse).
    pub fn ip_addresses(&self) -> Vec<IpAddr> {
        self.addresses.iter().filter_map(|address| address.parse().ok()).collect()
    }
}

/// Why a bundle was refused (or could not be built or written).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("cannot {action} `{path}`: {message}")]
    Io { action: &'static str, path: String, message: String },
    #[error("`{path}` is not a bundle directory")]
    NotADirectory { path: String },
    #[error("the bundle has no `manifest.json`")]
    MissingManifest,
    #[error("`manifest.json` is not valid JSON (is the bundle truncated?): {detail}")]
    ManifestNotJson { detail: String },
    #[error("`manifest.json` has no `format_version`")]
    MissingFormatVersion,
    #[error("bundle format version `{found}` is not supported; this build reads version {supported}")]
    UnsupportedFormatVersion { found: String, supported: u64 },
    #[error("`manifest.json` does not have the structure of a bundle manifest: {detail}")]
    ManifestStructure { detail: String },
    #[error("`manifest.json` is not in canonical form; a bundle's manifest must be exactly as the writer wrote it")]
    ManifestNotCanonical,
    #[error("the manifest has a floating-point number, which bundles never contain")]
    FloatInManifest,
    #[error("{what} name `{name}` is not valid: {reason}")]
    InvalidName { what: &'static str, name: String, reason: &'static str },
    #[error("{what} `{name}` appears more than once in {scope}")]
    Duplicate { what: &'static str, name: String, scope: String },
    #[error("the {what} of {scope} are not sorted by name (`{name}` is out of order)")]
    NotSorted { what: &'static str, scope: String, name: String },
    #[error("endpoint `{endpoint}` of node `{node}` refers to {what} `{name}`, which the node does not have")]
    UnknownReference { node: String, endpoint: String, what: &'static str, name: String },
    #[error("endpoint `{endpoint}` of node `{node}` has an invalid address `{address}`")]
    InvalidAddress { node: String, endpoint: String, address: String },
    #[error("the addresses of endpoint `{endpoint}` of node `{node}` are not sorted, unique and in canonical form")]
    AddressesNotCanonical { node: String, endpoint: String },
    #[error("map `{map}` of node `{node}` has {field} {value}, which is not allowed: {reason}")]
    InvalidMapSize { node: String, map: String, field: &'static str, value: u64, reason: String },
    #[error("map `{map}` of node `{node}` has {entries} entries, more than its max entries ({max_entries})")]
    EntriesExceedMaxEntries { node: String, map: String, entries: u64, max_entries: u32 },
    #[error("blob `{digest}` is missing from the bundle")]
    MissingBlob { digest: Digest },
    #[error("blob `{digest}` is corrupted: its bytes have digest `{actual}`")]
    BlobDigestMismatch { digest: Digest, actual: Digest },
    #[error("{what} `{name}` of node `{node}` needs a blob of {expected} bytes but blob `{digest}` has {actual}")]
    BlobSizeMismatch { node: String, what: &'static str, name: String, digest: Digest, expected: u64, actual: u64 },
    #[error("the records of map `{map}` of node `{node}` are not sorted by key with unique keys (record {index})")]
    RecordsNotSorted { node: String, map: String, index: u64 },
    #[error("record {index} of lpm_trie map `{map}` of node `{node}` has prefix length {prefix_len}, more than the {max} bits of its key data")]
    InvalidPrefixLength { node: String, map: String, index: u64, prefix_len: u32, max: u32 },
    #[error("record {index} of array map `{map}` of node `{node}` has index {array_index}, not below max entries {max_entries}")]
    ArrayIndexOutOfRange { node: String, map: String, index: u64, array_index: u32, max_entries: u32 },
    #[error("constant `{constant}` of object `{object}` of node `{node}` is invalid: {reason}")]
    InvalidConstant { node: String, object: String, constant: String, reason: String },
    #[error("object `{object}` of node `{node}` is not an eBPF ELF object: {reason}")]
    NotAnObject { node: String, object: String, reason: &'static str },
    #[error("the bundle has an unexpected file `{path}`")]
    UnexpectedFile { path: String },
    #[error("the compiler version is empty or not printable")]
    InvalidCompilerVersion,
    #[error("{what} `{name}` is added twice to node `{node}`")]
    AddedTwice { node: String, what: &'static str, name: String },
}

/// A verified bundle in memory: the manifest and every blob it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle {
    manifest: Manifest,
    // INVARIANT: canonical_manifest(&manifest) == manifest_bytes; blobs hold exactly the
    // digests the manifest names, each under the digest of its bytes; every check of
    // `verify_manifest` and `verify_blobs` holds.
    manifest_bytes: Vec<u8>,
    blobs: BTreeMap<Digest, Vec<u8>>,
}

impl Bundle {
    /// Verifies a bundle given its manifest bytes and a way to fetch blobs by digest.
    pub fn from_parts(manifest_bytes: Vec<u8>, mut fetch: impl FnMut(&Digest) -> Result<Option<Vec<u8>>, BundleError>) -> Result<Bundle, BundleError> {
        let manifest = parse_manifest(&manifest_bytes)?;
        let mut blobs = BTreeMap::new();
        for digest in manifest_digests(&manifest) {
            let bytes = fetch(&digest)?.ok_or(BundleError::MissingBlob { digest })?;
            let actual = Digest::of(&bytes);
            if actual != digest {
                return Err(BundleError::BlobDigestMismatch { digest, actual });
            }
            blobs.insert(digest, bytes);
        }
        verify_blobs(&manifest, &blobs)?;
        Ok(Bundle { manifest, manifest_bytes, blobs })
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// The canonical manifest bytes.
    pub fn manifest_bytes(&self) -> &[u8] {
        &self.manifest_bytes
    }

    /// The bundle's digest: the digest of its manifest, which names every blob's digest.
    pub fn digest(&self) -> Digest {
        Digest::of(&self.manifest_bytes)
    }

    /// The bytes of a blob the manifest names.
    pub fn blob(&self, digest: &Digest) -> Option<&[u8]> {
        self.blobs.get(digest).map(Vec::as_slice)
    }

    pub fn node(&self, name: &str) -> Option<&NodeSection> {
        self.manifest.nodes.iter().find(|node| node.name == name)
    }

    /// Every file of the bundle as (path relative to the root, bytes), manifest first,
    /// then blobs in digest order.
    pub fn files(&self) -> Vec<(String, &[u8])> {
        let mut files = vec![(MANIFEST_FILE.to_owned(), self.manifest_bytes.as_slice())];
        for (digest, bytes) in &self.blobs {
            files.push((digest.blob_path(), bytes.as_slice()));
        }
        files
    }
}

fn manifest_digests(manifest: &Manifest) -> BTreeSet<Digest> {
    let mut digests = BTreeSet::new();
    for node in &manifest.nodes {
        digests.extend(node.maps.iter().map(|map| map.digest));
        digests.extend(node.objects.iter().map(|object| object.digest));
    }
    digests
}

// ---- canonical JSON ----

/// Writes `value` as canonical JSON (see the module documentation).
pub fn canonical_json(value: &serde_json::Value) -> Result<String, BundleError> {
    let mut out = String::new();
    write_canonical(value, 0, &mut out)?;
    out.push('\n');
    Ok(out)
}

fn write_canonical(value: &serde_json::Value, depth: usize, out: &mut String) -> Result<(), BundleError> {
    use serde_json::Value;
    let indent = |out: &mut String, depth: usize| {
        for _ in 0..depth {
            out.push_str("  ");
        }
    };
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(flag) => out.push_str(if *flag { "true" } else { "false" }),
        Value::Number(number) => {
            if let Some(unsigned) = number.as_u64() {
                out.push_str(&unsigned.to_string());
            } else if let Some(signed) = number.as_i64() {
                out.push_str(&signed.to_string());
            } else {
                return Err(BundleError::FloatInManifest);
            }
        }
        Value::String(text) => out.push_str(&serde_json::Value::String(text.clone()).to_string()),
        Value::Array(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            out.push_str("[\n");
            for (index, item) in items.iter().enumerate() {
                indent(out, depth + 1);
                write_canonical(item, depth + 1, out)?;
                out.push_str(if index + 1 < items.len() { ",\n" } else { "\n" });
            }
            indent(out, depth);
            out.push(']');
        }
        Value::Object(map) => {
            if map.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push_str("{\n");
            for (index, key) in keys.iter().enumerate() {
                indent(out, depth + 1);
                out.push_str(&serde_json::Value::String((*key).clone()).to_string());
                out.push_str(": ");
                if let Some(item) = map.get(*key) {
                    write_canonical(item, depth + 1, out)?;
                }
                out.push_str(if index + 1 < keys.len() { ",\n" } else { "\n" });
            }
            indent(out, depth);
            out.push('}');
        }
    }
    Ok(())
}

/// The canonical bytes of `manifest`.
pub fn canonical_manifest(manifest: &Manifest) -> Result<Vec<u8>, BundleError> {
    let value = serde_json::to_value(manifest).map_err(|error| BundleError::ManifestStructure { detail: error.to_string() })?;
    Ok(canonical_json(&value)?.into_bytes())
}

/// Parses and checks manifest bytes: JSON, format version, structure, canonical form,
/// names, order, references and sizes. Blobs are not looked at.
pub fn parse_manifest(bytes: &[u8]) -> Result<Manifest, BundleError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|error| BundleError::ManifestNotJson { detail: lower_first(&error.to_string()) })?;
    // The version decides how to read the rest, so it is checked first.
    match value.get("format_version") {
        None => return Err(BundleError::MissingFormatVersion),
        Some(version) if version.as_u64() == Some(FORMAT_VERSION) => {}
        Some(version) => {
            return Err(BundleError::UnsupportedFormatVersion { found: version.to_string(), supported: FORMAT_VERSION });
        }
    }
    let manifest: Manifest = serde_json::from_value(value).map_err(|error| BundleError::ManifestStructure { detail: lower_first(&error.to_string()) })?;
    if canonical_manifest(&manifest)? != bytes {
        return Err(BundleError::ManifestNotCanonical);
    }
    verify_manifest(&manifest)?;
    Ok(manifest)
}

fn lower_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

// ---- structural checks ----

fn check_name(what: &'static str, name: &str, max_slashes: usize) -> Result<(), BundleError> {
    let invalid = |reason| BundleError::InvalidName { what, name: name.to_owned(), reason };
    if name.is_empty() || name.len() > MAX_NAME_LENGTH {
        return Err(invalid("it must have 1 to 253 characters"));
    }
    let segments: Vec<&str> = name.split('/').collect();
    if segments.len() > max_slashes + 1 {
        return Err(invalid(match max_slashes {
            0 => "it may not have a `/`",
            1 => "it may have at most one `/`",
            _ => "it has too many `/`",
        }));
    }
    for segment in segments {
        let bytes = segment.as_bytes();
        let alphanumeric = |byte: &u8| byte.is_ascii_lowercase() || byte.is_ascii_digit();
        if bytes.is_empty() || !alphanumeric(&bytes[0]) || !alphanumeric(&bytes[bytes.len() - 1]) {
            return Err(invalid("each part must start and end with a lower-case letter or digit"));
        }
        if !bytes.iter().all(|byte| alphanumeric(byte) || *byte == b'-' || *byte == b'.') {
            return Err(invalid("only lower-case letters, digits, `-` and `.` are allowed"));
        }
    }
    Ok(())
}

/// A C identifier: the name of a global or of a map in an object.
fn check_symbol(what: &'static str, name: &str) -> Result<(), BundleError> {
    let bytes = name.as_bytes();
    let valid = !bytes.is_empty()
        && bytes.len() <= 128
        && (bytes[0].is_ascii_alphabetic() || bytes[0] == b'_')
        && bytes.iter().all(|byte| byte.is_ascii_alphanumeric() || *byte == b'_');
    if valid {
        Ok(())
    } else {
        Err(BundleError::InvalidName { what, name: name.to_owned(), reason: "it must be a C identifier (letters, digits and `_`, not starting with a digit)" })
    }
}

fn check_sorted_unique<'a>(what: &'static str, scope: &str, names: impl Iterator<Item = &'a str>) -> Result<(), BundleError> {
    let mut previous: Option<&str> = None;
    for name in names {
        if let Some(previous) = previous {
            if previous == name {
                return Err(BundleError::Duplicate { what, name: name.to_owned(), scope: scope.to_owned() });
            }
            if previous > name {
                return Err(BundleError::NotSorted { what, scope: scope.to_owned(), name: name.to_owned() });
            }
        }
        previous = Some(name);
    }
    Ok(())
}

fn check_map_section(node: &str, map: &MapSection) -> Result<(), BundleError> {
    check_name("map", &map.name, 7)?;
    let size_error =
        |field: &'static str, value: u64, reason: String| BundleError::InvalidMapSize { node: node.to_owned(), map: map.name.clone(), field, value, reason };
    if map.key_size == 0 || map.key_size > MAX_KEY_SIZE {
        return Err(size_error("key size", u64::from(map.key_size), format!("it must be 1 to {MAX_KEY_SIZE} bytes")));
    }
    if map.value_size == 0 || map.value_size > MAX_VALUE_SIZE {
        return Err(size_error("value size", u64::from(map.value_size), format!("it must be 1 to {MAX_VALUE_SIZE} bytes")));
    }
    if map.max_entries == 0 {
        return Err(size_error("max entries", 0, "a map holds at least one entry".to_owned()));
    }
    match map.kind {
        MapKind::LpmTrie if map.key_size <= 4 => {
            return Err(size_error("key size", u64::from(map.key_size), "an lpm_trie key is a 4-byte prefix length followed by at least one byte".to_owned()));
        }
        MapKind::Array if map.key_size != 4 => {
            return Err(size_error("key size", u64::from(map.key_size), "an array key is a 4-byte index".to_owned()));
        }
        _ => {}
    }
    if map.entries > u64::from(map.max_entries) {
        return Err(BundleError::EntriesExceedMaxEntries { node: node.to_owned(), map: map.name.clone(), entries: map.entries, max_entries: map.max_entries });
    }
    Ok(())
}

fn check_object_section(node: &str, object: &ObjectSection) -> Result<(), BundleError> {
    check_name("object", &object.name, 7)?;
    for (name, constant) in &object.constants {
        check_symbol("constant", name)?;
        let invalid = |reason: String| BundleError::InvalidConstant { node: node.to_owned(), object: object.name.clone(), constant: name.clone(), reason };
        if !matches!(constant.size, 1 | 2 | 4 | 8) {
            return Err(invalid(format!("its size is {} bytes; it must be 1, 2, 4 or 8", constant.size)));
        }
        if constant.size < 8 && constant.value >> (u32::from(constant.size) * 8) != 0 {
            return Err(invalid(format!("value {} does not fit in {} bytes", constant.value, constant.size)));
        }
    }
    Ok(())
}

fn check_endpoint_section(node: &NodeSection, endpoint: &EndpointSection) -> Result<(), BundleError> {
    check_name("endpoint", &endpoint.name, 1)?;
    let mut parsed = Vec::new();
    for address in &endpoint.addresses {
        let ip: IpAddr =
            address.parse().map_err(|_| BundleError::InvalidAddress { node: node.name.clone(), endpoint: endpoint.name.clone(), address: address.clone() })?;
        if ip.to_string() != *address {
            return Err(BundleError::AddressesNotCanonical { node: node.name.clone(), endpoint: endpoint.name.clone() });
        }
        parsed.push(ip);
    }
    if parsed.windows(2).any(|pair| pair[0] >= pair[1]) {
        return Err(BundleError::AddressesNotCanonical { node: node.name.clone(), endpoint: endpoint.name.clone() });
    }
    let unknown = |what: &'static str, name: &str| BundleError::UnknownReference {
        node: node.name.clone(),
        endpoint: endpoint.name.clone(),
        what,
        name: name.to_owned(),
    };
    if !node.objects.iter().any(|object| object.name == endpoint.object) {
        return Err(unknown("object", &endpoint.object));
    }
    for (outer, map) in &endpoint.maps {
        check_symbol("outer map", outer)?;
        if !node.maps.iter().any(|candidate| candidate.name == *map) {
            return Err(unknown("map", map));
        }
    }
    Ok(())
}

/// Every check that needs only the manifest.
pub fn verify_manifest(manifest: &Manifest) -> Result<(), BundleError> {
    if manifest.format_version != FORMAT_VERSION {
        return Err(BundleError::UnsupportedFormatVersion { found: manifest.format_version.to_string(), supported: FORMAT_VERSION });
    }
    if manifest.compiler_version.trim().is_empty() || manifest.compiler_version.chars().any(char::is_control) {
        return Err(BundleError::InvalidCompilerVersion);
    }
    check_sorted_unique("node", "the bundle", manifest.nodes.iter().map(|node| node.name.as_str()))?;
    for node in &manifest.nodes {
        check_name("node", &node.name, 0)?;
        let scope = format!("node `{}`", node.name);
        check_sorted_unique("map", &scope, node.maps.iter().map(|map| map.name.as_str()))?;
        check_sorted_unique("object", &scope, node.objects.iter().map(|object| object.name.as_str()))?;
        check_sorted_unique("endpoint", &scope, node.endpoints.iter().map(|endpoint| endpoint.name.as_str()))?;
        for map in &node.maps {
            check_map_section(&node.name, map)?;
        }
        for object in &node.objects {
            check_object_section(&node.name, object)?;
        }
        for endpoint in &node.endpoints {
            check_endpoint_section(node, endpoint)?;
        }
    }
    Ok(())
}

/// Checks one map's records: length, order, and the key rules of its type.
pub fn verify_records(node: &str, map: &MapSection, records: &[u8]) -> Result<(), BundleError> {
    let record_size = map.record_size();
    let expected = map.entries.checked_mul(record_size).ok_or_else(|| BundleError::InvalidMapSize {
        node: node.to_owned(),
        map: map.name.clone(),
        field: "entries",
        value: map.entries,
        reason: "the records would not fit in memory".to_owned(),
    })?;
    if expected != records.len() as u64 {
        return Err(BundleError::BlobSizeMismatch {
            node: node.to_owned(),
            what: "map",
            name: map.name.clone(),
            digest: map.digest,
            expected,
            actual: records.len() as u64,
        });
    }
    let key_size = map.key_size as usize;
    let mut previous: Option<&[u8]> = None;
    for (index, record) in records.chunks_exact(record_size as usize).enumerate() {
        let key = &record[..key_size];
        if previous.is_some_and(|previous| previous >= key) {
            return Err(BundleError::RecordsNotSorted { node: node.to_owned(), map: map.name.clone(), index: index as u64 });
        }
        previous = Some(key);
        match map.kind {
            MapKind::LpmTrie => {
                let prefix_len = u32::from_le_bytes([key[0], key[1], key[2], key[3]]);
                let max = (map.key_size - 4) * 8;
                if prefix_len > max {
                    return Err(BundleError::InvalidPrefixLength { node: node.to_owned(), map: map.name.clone(), index: index as u64, prefix_len, max });
                }
            }
            MapKind::Array => {
                let array_index = u32::from_le_bytes([key[0], key[1], key[2], key[3]]);
                if array_index >= map.max_entries {
                    return Err(BundleError::ArrayIndexOutOfRange {
                        node: node.to_owned(),
                        map: map.name.clone(),
                        index: index as u64,
                        array_index,
                        max_entries: map.max_entries,
                    });
                }
            }
            MapKind::Hash => {}
        }
    }
    Ok(())
}

/// Checks an object file's header: a 64-bit little-endian ELF for the BPF machine.
fn check_object_bytes(node: &str, object: &ObjectSection, bytes: &[u8]) -> Result<(), BundleError> {
    const EM_BPF: u16 = 247;
    let not_an_object = |reason| BundleError::NotAnObject { node: node.to_owned(), object: object.name.clone(), reason };
    if bytes.len() < 64 || &bytes[0..4] != b"\x7fELF" {
        return Err(not_an_object("it does not start with an ELF header"));
    }
    if bytes[4] != 2 || bytes[5] != 1 {
        return Err(not_an_object("it is not a 64-bit little-endian ELF file"));
    }
    if u16::from_le_bytes([bytes[18], bytes[19]]) != EM_BPF {
        return Err(not_an_object("its machine is not BPF"));
    }
    Ok(())
}

/// Every check that needs the blobs: sizes, record order and object headers.
fn verify_blobs(manifest: &Manifest, blobs: &BTreeMap<Digest, Vec<u8>>) -> Result<(), BundleError> {
    for node in &manifest.nodes {
        for map in &node.maps {
            let records = blobs.get(&map.digest).ok_or(BundleError::MissingBlob { digest: map.digest })?;
            verify_records(&node.name, map, records)?;
        }
        for object in &node.objects {
            let bytes = blobs.get(&object.digest).ok_or(BundleError::MissingBlob { digest: object.digest })?;
            if bytes.len() as u64 != object.size {
                return Err(BundleError::BlobSizeMismatch {
                    node: node.name.clone(),
                    what: "object",
                    name: object.name.clone(),
                    digest: object.digest,
                    expected: object.size,
                    actual: bytes.len() as u64,
                });
            }
            check_object_bytes(&node.name, object, bytes)?;
        }
    }
    Ok(())
}

// ---- building ----

/// A map image ready to go into a bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MapImage {
    pub name: String,
    pub kind: MapKind,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
    /// Sorted records, key then value.
    pub records: Vec<u8>,
}

impl MapImage {
    /// A policy map (LPM trie) image, for the `polc_policy` generation outer map.
    pub fn policy(name: &str, image: &PolicyMapImage) -> MapImage {
        MapImage {
            name: name.to_owned(),
            kind: MapKind::LpmTrie,
            key_size: POLICY_KEY_SIZE as u32,
            value_size: POLICY_VALUE_SIZE as u32,
            max_entries: image.max_entries(),
            records: image.encoded(),
        }
    }

    /// A policy HASH map image (the `policy_map_hash` mode), for `polc_policy_hash`.
    pub fn policy_hash(name: &str, image: &PolicyMapImage) -> MapImage {
        let records = hash_records(&image.hash_map_entries());
        MapImage {
            name: name.to_owned(),
            kind: MapKind::Hash,
            key_size: POLICY_KEY_SIZE as u32,
            value_size: POLICY_VALUE_SIZE as u32,
            max_entries: image.hash_map_max_entries(),
            records,
        }
    }

    /// An ipcache (LPM trie) image, for the `polc_ipcache` generation outer map.
    pub fn ipcache(name: &str, image: &IpcacheImage) -> MapImage {
        MapImage {
            name: name.to_owned(),
            kind: MapKind::LpmTrie,
            key_size: IPCACHE_KEY_SIZE as u32,
            value_size: IPCACHE_VALUE_SIZE as u32,
            max_entries: image.max_entries(),
            records: image.encoded(),
        }
    }

    /// A HASH image of the ipcache's host entries (the `ipcache_host_hash` mode), for the
    /// `polc_ipcache_hash` generation outer map.
    pub fn ipcache_hosts(name: &str, image: &IpcacheImage) -> MapImage {
        let records = hash_records(&image.host_entries());
        MapImage {
            name: name.to_owned(),
            kind: MapKind::Hash,
            key_size: IPCACHE_KEY_SIZE as u32,
            value_size: IPCACHE_VALUE_SIZE as u32,
            max_entries: image.host_hash_max_entries(),
            records,
        }
    }

    fn entries(&self) -> u64 {
        let record_size = u64::from(self.key_size) + u64::from(self.value_size);
        (self.records.len() as u64).checked_div(record_size).unwrap_or(0)
    }
}

/// An object file with its constants, ready to go into a bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ObjectImage {
    pub name: String,
    pub bytes: Vec<u8>,
    pub constants: BTreeMap<String, Constant>,
}

impl ObjectImage {
    /// The committed datapath object with `config` as its constants.
    pub fn datapath(name: &str, config: &DatapathConfig) -> ObjectImage {
        ObjectImage { name: name.to_owned(), bytes: crate::object::POLICY_OBJECT.to_vec(), constants: datapath_constants(config) }
    }
}

/// The constants of `config` in bundle form.
pub fn datapath_constants(config: &DatapathConfig) -> BTreeMap<String, Constant> {
    config
        .globals()
        .into_iter()
        .map(|(name, bytes)| {
            let mut value = [0u8; 8];
            let size = bytes.len().min(8);
            value[..size].copy_from_slice(&bytes[..size]);
            (name.to_owned(), Constant { size: size as u8, value: u64::from_le_bytes(value) })
        })
        .collect()
}

#[derive(Default)]
struct NodeParts {
    endpoints: BTreeMap<String, EndpointSection>,
    maps: BTreeMap<String, (MapSection, Vec<u8>)>,
    objects: BTreeMap<String, (ObjectSection, Vec<u8>)>,
}

/// Collects maps, objects and endpoints per node, in any order, and builds a [`Bundle`]
/// whose bytes depend only on what was added.
pub struct BundleBuilder {
    compiler_version: String,
    inputs_digest: Digest,
    nodes: BTreeMap<String, NodeParts>,
}

impl BundleBuilder {
    pub fn new(compiler_version: &str, inputs_digest: Digest) -> BundleBuilder {
        BundleBuilder { compiler_version: compiler_version.to_owned(), inputs_digest, nodes: BTreeMap::new() }
    }

    /// Declares a node (a node without endpoints, maps or objects is kept).
    pub fn add_node(&mut self, node: &str) -> &mut Self {
        self.nodes.entry(node.to_owned()).or_default();
        self
    }

    pub fn add_map(&mut self, node: &str, image: MapImage) -> Result<&mut Self, BundleError> {
        let parts = self.nodes.entry(node.to_owned()).or_default();
        if parts.maps.contains_key(&image.name) {
            return Err(BundleError::AddedTwice { node: node.to_owned(), what: "map", name: image.name });
        }
        let section = MapSection {
            name: image.name.clone(),
            kind: image.kind,
            key_size: image.key_size,
            value_size: image.value_size,
            max_entries: image.max_entries,
            entries: image.entries(),
            digest: Digest::of(&image.records),
        };
        parts.maps.insert(image.name, (section, image.records));
        Ok(self)
    }

    pub fn add_object(&mut self, node: &str, image: ObjectImage) -> Result<&mut Self, BundleError> {
        let parts = self.nodes.entry(node.to_owned()).or_default();
        if parts.objects.contains_key(&image.name) {
            return Err(BundleError::AddedTwice { node: node.to_owned(), what: "object", name: image.name });
        }
        let section = ObjectSection { name: image.name.clone(), digest: Digest::of(&image.bytes), size: image.bytes.len() as u64, constants: image.constants };
        parts.objects.insert(image.name, (section, image.bytes));
        Ok(self)
    }

    /// Adds an endpoint; its addresses are sorted and deduplicated here.
    pub fn add_endpoint(
        &mut self,
        node: &str,
        name: &str,
        identity: u32,
        addresses: &[IpAddr],
        object: &str,
        maps: &[(&str, &str)],
    ) -> Result<&mut Self, BundleError> {
        let parts = self.nodes.entry(node.to_owned()).or_default();
        if parts.endpoints.contains_key(name) {
            return Err(BundleError::AddedTwice { node: node.to_owned(), what: "endpoint", name: name.to_owned() });
        }
        let mut sorted: Vec<IpAddr> = addresses.to_vec();
        sorted.sort();
        sorted.dedup();
        let endpoint = EndpointSection {
            name: name.to_owned(),
            identity,
            addresses: sorted.iter().map(IpAddr::to_string).collect(),
            object: object.to_owned(),
            maps: maps.iter().map(|(outer, map)| ((*outer).to_owned(), (*map).to_owned())).collect(),
        };
        parts.endpoints.insert(name.to_owned(), endpoint);
        Ok(self)
    }

    /// Builds and verifies the bundle.
    pub fn finish(self) -> Result<Bundle, BundleError> {
        let mut blobs: BTreeMap<Digest, Vec<u8>> = BTreeMap::new();
        let mut nodes = Vec::new();
        for (name, parts) in self.nodes {
            let mut maps = Vec::new();
            for (_, (section, records)) in parts.maps {
                blobs.insert(section.digest, records);
                maps.push(section);
            }
            let mut objects = Vec::new();
            for (_, (section, bytes)) in parts.objects {
                blobs.insert(section.digest, bytes);
                objects.push(section);
            }
            nodes.push(NodeSection { name, endpoints: parts.endpoints.into_values().collect(), maps, objects });
        }
        let manifest = Manifest { format_version: FORMAT_VERSION, compiler_version: self.compiler_version, inputs_digest: self.inputs_digest, nodes };
        let manifest_bytes = canonical_manifest(&manifest)?;
        Bundle::from_parts(manifest_bytes, |digest| Ok(blobs.remove(digest)))
    }
}

// ---- filesystem ----

fn io_error(action: &'static str, path: &Path, error: &std::io::Error) -> BundleError {
    let text = error.to_string();
    let text = match text.find(" (os error") {
        Some(end) => text[..end].to_owned(),
        None => text,
    };
    BundleError::Io { action, path: path.display().to_string(), message: lower_first(&text) }
}

fn sync_directory(path: &Path) -> Result<(), BundleError> {
    File::open(path).and_then(|directory| directory.sync_all()).map_err(|error| io_error("sync directory", path, &error))
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), BundleError> {
    let mut file = File::create(path).map_err(|error| io_error("create", path, &error))?;
    file.write_all(bytes).map_err(|error| io_error("write", path, &error))?;
    file.sync_all().map_err(|error| io_error("sync", path, &error))
}

static TEMPORARY_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bundle` to the directory `target` atomically: into a temporary directory beside
/// it, with every file and directory synced, then renamed into place. An existing bundle
/// (or empty directory) at `target` is exchanged atomically and then removed; any other
/// existing path is refused.
pub fn write_bundle(bundle: &Bundle, target: &Path) -> Result<(), BundleError> {
    let parent = match target.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = target.file_name().ok_or_else(|| BundleError::NotADirectory { path: target.display().to_string() })?.to_string_lossy().into_owned();
    std::fs::create_dir_all(&parent).map_err(|error| io_error("create directory", &parent, &error))?;
    let replace = match std::fs::symlink_metadata(target) {
        Ok(metadata) if metadata.is_dir() => {
            let empty = std::fs::read_dir(target).map_err(|error| io_error("read directory", target, &error))?.next().is_none();
            if !empty && !target.join(MANIFEST_FILE).is_file() {
                return Err(BundleError::NotADirectory { path: target.display().to_string() });
            }
            true
        }
        Ok(_) => {
            return Err(BundleError::NotADirectory { path: target.display().to_string() });
        }
        Err(_) => false,
    };
    let temporary = parent.join(format!(".{file_name}.tmp-{}-{}", std::process::id(), TEMPORARY_COUNTER.fetch_add(1, Ordering::Relaxed)));
    let result = write_into(bundle, &temporary).and_then(|()| {
        if replace {
            rustix::fs::renameat_with(rustix::fs::CWD, &temporary, rustix::fs::CWD, target, rustix::fs::RenameFlags::EXCHANGE)
                .map_err(|error| io_error("replace", target, &std::io::Error::from(error)))?;
        } else {
            std::fs::rename(&temporary, target).map_err(|error| io_error("rename into", target, &error))?;
        }
        sync_directory(&parent)
    });
    // After an exchange the temporary name holds the previous bundle; after a failure, the
    // partial one. Either way it goes.
    let _ = std::fs::remove_dir_all(&temporary);
    result
}

fn write_into(bundle: &Bundle, directory: &Path) -> Result<(), BundleError> {
    let blob_directory = directory.join(BLOB_DIRECTORY);
    std::fs::create_dir_all(&blob_directory).map_err(|error| io_error("create directory", &blob_directory, &error))?;
    for (relative, bytes) in bundle.files() {
        write_synced(&directory.join(relative), bytes)?;
    }
    sync_directory(&blob_directory)?;
    if let Some(blobs_parent) = blob_directory.parent() {
        sync_directory(blobs_parent)?;
    }
    sync_directory(directory)
}

/// Reads and verifies the bundle in `directory`. Refuses missing, corrupted, truncated,
/// mis-sized and unreferenced files, and any manifest problem [`parse_manifest`] finds.
pub fn read_bundle(directory: &Path) -> Result<Bundle, BundleError> {
    if !directory.is_dir() {
        return Err(BundleError::NotADirectory { path: directory.display().to_string() });
    }
    let manifest_path = directory.join(MANIFEST_FILE);
    let manifest_bytes = match std::fs::read(&manifest_path) {
        Ok(bytes) => bytes,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Err(BundleError::MissingManifest),
        Err(error) => return Err(io_error("read", &manifest_path, &error)),
    };
    let bundle = Bundle::from_parts(manifest_bytes, |digest| {
        let path = directory.join(digest.blob_path());
        match std::fs::read(&path) {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(io_error("read", &path, &error)),
        }
    })?;
    check_no_extra_files(&bundle, directory)?;
    Ok(bundle)
}

fn check_no_extra_files(bundle: &Bundle, directory: &Path) -> Result<(), BundleError> {
    let expected: BTreeSet<String> = bundle.files().into_iter().map(|(path, _)| path).collect();
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        let absolute = directory.join(&relative);
        let entries = std::fs::read_dir(&absolute).map_err(|error| io_error("read directory", &absolute, &error))?;
        for entry in entries {
            let entry = entry.map_err(|error| io_error("read directory", &absolute, &error))?;
            let child = relative.join(entry.file_name());
            let child_text = child.to_string_lossy().into_owned();
            let file_type = entry.file_type().map_err(|error| io_error("inspect", &entry.path(), &error))?;
            if file_type.is_dir() && (child_text == "blobs" || child_text == BLOB_DIRECTORY) {
                pending.push(child);
            } else if !(file_type.is_file() && expected.contains(&child_text)) {
                return Err(BundleError::UnexpectedFile { path: child_text });
            }
        }
    }
    Ok(())
}

/// The records of a HASH map image: every key followed by its value, in the given order.
fn hash_records<const KEY: usize, const VALUE: usize>(entries: &[([u8; KEY], [u8; VALUE])]) -> Vec<u8> {
    let mut records = Vec::with_capacity(entries.len() * (KEY + VALUE));
    for (key, value) in entries {
        records.extend_from_slice(key);
        records.extend_from_slice(value);
    }
    records
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{IpPrefix, IpcacheEntry, PolicyEntry};
    use crate::layout::Direction;
    use std::net::Ipv4Addr;

    fn sample() -> Bundle {
        let policy =
            PolicyMapImage::build(&[PolicyEntry::allow(1000, Direction::Ingress, 6, 80, 16), PolicyEntry::allow(0, Direction::Egress, 17, 53, 16)]).unwrap();
        let ipcache = IpcacheImage::build(&[IpcacheEntry { prefix: IpPrefix::host(IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1))), identity: 1000 }], 0).unwrap();
        let mut builder = BundleBuilder::new("polc 0.1.0", Digest::of(b"inputs"));
        builder.add_map("node-a", MapImage::ipcache("ipcache", &ipcache)).unwrap();
        builder.add_map("node-a", MapImage::policy("policy/default/web", &policy)).unwrap();
        builder.add_object("node-a", ObjectImage::datapath("default/web", &DatapathConfig::default())).unwrap();
        builder
            .add_endpoint(
                "node-a",
                "default/web",
                2000,
                &[IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2))],
                "default/web",
                &[("polc_ipcache", "ipcache"), ("polc_policy", "policy/default/web")],
            )
            .unwrap();
        builder.finish().unwrap()
    }

    #[test]
    fn bundle_manifest_is_canonical_and_names_every_blob() {
        let bundle = sample();
        let text = String::from_utf8(bundle.manifest_bytes().to_vec()).unwrap();
        assert!(text.ends_with("}\n"));
        assert!(text.contains("\"format_version\": 1"));
        assert!(text.contains("\"type\": \"lpm_trie\""));
        assert_eq!(bundle.files().len(), 4);
        assert_eq!(parse_manifest(bundle.manifest_bytes()).unwrap(), *bundle.manifest());
        let map = &bundle.manifest().nodes[0].maps[1];
        assert_eq!(map.entries, 2);
        assert_eq!(bundle.blob(&map.digest).map(<[u8]>::len), Some(48));
    }

    #[test]
    fn bundle_canonical_json_sorts_keys_and_refuses_floats() {
        let value = serde_json::json!({"b": [1, {"z": true, "a": null}], "a": "x\n", "c": []});
        assert_eq!(
            canonical_json(&value).unwrap(),
            "{\n  \"a\": \"x\\n\",\n  \"b\": [\n    1,\n    {\n      \"a\": null,\n      \"z\": true\n    }\n  ],\n  \"c\": []\n}\n"
        );
        assert_eq!(canonical_json(&serde_json::json!({"f": 1.5})), Err(BundleError::FloatInManifest));
    }

    #[test]
    fn bundle_same_inputs_give_the_same_bytes() {
        let first = sample();
        let second = sample();
        assert_eq!(first.files(), second.files());
        assert_eq!(first.digest(), second.digest());
    }

    #[test]
    fn bundle_digests_parse_strictly() {
        let digest = Digest::of(b"x");
        assert_eq!(digest.to_string().parse::<Digest>(), Ok(digest));
        assert!("sha256:ABC".parse::<Digest>().is_err());
        assert!(format!("sha256:{}", digest.hex().to_uppercase()).parse::<Digest>().is_err());
        assert!(format!("sha512:{}", digest.hex()).parse::<Digest>().is_err());
    }

    fn reparse(mutate: impl FnOnce(&mut serde_json::Value)) -> Result<Manifest, BundleError> {
        let mut value = serde_json::to_value(sample().manifest()).unwrap();
        mutate(&mut value);
        parse_manifest(canonical_json(&value).unwrap().as_bytes())
    }

    #[test]
    fn bundle_manifest_problems_are_refused_precisely() {
        assert!(matches!(
            reparse(|value| value["format_version"] = serde_json::json!(2)),
            Err(BundleError::UnsupportedFormatVersion { found, .. }) if found == "2"
        ));
        assert_eq!(
            reparse(|value| {
                value.as_object_mut().unwrap().remove("format_version");
            }),
            Err(BundleError::MissingFormatVersion)
        );
        assert!(matches!(
            reparse(|value| value["nodes"][0]["maps"][0]["entries"] = serde_json::json!(600_000)),
            Err(BundleError::EntriesExceedMaxEntries { entries: 600_000, .. })
        ));
        assert!(matches!(
            reparse(|value| value["nodes"][0]["maps"][0]["key_size"] = serde_json::json!(4)),
            Err(BundleError::InvalidMapSize { field: "key size", .. })
        ));
        assert!(matches!(
            reparse(|value| value["nodes"][0]["endpoints"][0]["object"] = serde_json::json!("other")),
            Err(BundleError::UnknownReference { what: "object", .. })
        ));
        assert!(matches!(
            reparse(|value| value["nodes"][0]["extra"] = serde_json::json!(1)),
            Err(BundleError::ManifestStructure { detail }) if detail.contains("unknown field `extra`")
        ));
        assert!(matches!(reparse(|value| value["nodes"][0]["maps"].as_array_mut().unwrap().reverse()), Err(BundleError::NotSorted { what: "map", .. })));
        assert!(matches!(
            reparse(|value| value["nodes"][0]["objects"][0]["constants"]["audit_mode"]["value"] = serde_json::json!(256)),
            Err(BundleError::InvalidConstant { .. })
        ));
        assert!(matches!(
            reparse(|value| value["nodes"][0]["endpoints"][0]["addresses"] = serde_json::json!(["10.0.0.02"])),
            Err(BundleError::InvalidAddress { .. })
        ));
        assert!(matches!(reparse(|value| value["nodes"][0]["name"] = serde_json::json!("Node_A")), Err(BundleError::InvalidName { what: "node", .. })));
    }

    #[test]
    fn bundle_non_canonical_and_truncated_manifests_are_refused() {
        let bundle = sample();
        let text = String::from_utf8(bundle.manifest_bytes().to_vec()).unwrap();
        let compact = serde_json::to_string(&serde_json::from_str::<serde_json::Value>(&text).unwrap()).unwrap();
        assert_eq!(parse_manifest(compact.as_bytes()), Err(BundleError::ManifestNotCanonical));
        let truncated = &bundle.manifest_bytes()[..bundle.manifest_bytes().len() / 2];
        assert!(matches!(parse_manifest(truncated), Err(BundleError::ManifestNotJson { .. })));
    }

    #[test]
    fn bundle_records_must_be_sorted_and_sized() {
        let bundle = sample();
        let map = bundle.manifest().nodes[0].maps[1].clone();
        let records = bundle.blob(&map.digest).unwrap().to_vec();
        assert_eq!(verify_records("n", &map, &records), Ok(()));
        let mut swapped = records[24..].to_vec();
        swapped.extend_from_slice(&records[..24]);
        assert!(matches!(verify_records("n", &map, &swapped), Err(BundleError::RecordsNotSorted { index: 1, .. })));
        assert!(matches!(verify_records("n", &map, &records[..40]), Err(BundleError::BlobSizeMismatch { expected: 48, actual: 40, .. })));
        let mut bad_prefix = records.clone();
        bad_prefix[24..28].copy_from_slice(&65u32.to_le_bytes());
        assert!(matches!(verify_records("n", &map, &bad_prefix), Err(BundleError::InvalidPrefixLength { prefix_len: 65, max: 64, .. })));
    }

    #[test]
    fn bundle_blob_corruption_is_refused() {
        let bundle = sample();
        let mut files: BTreeMap<Digest, Vec<u8>> = bundle.files().into_iter().skip(1).map(|(_, bytes)| (Digest::of(bytes), bytes.to_vec())).collect();
        let victim = *files.keys().next().unwrap();
        if let Some(bytes) = files.get_mut(&victim) {
            bytes[0] ^= 1;
        }
        let result = Bundle::from_parts(bundle.manifest_bytes().to_vec(), |digest| Ok(files.get(digest).cloned()));
        assert!(matches!(result, Err(BundleError::BlobDigestMismatch { digest, .. }) if digest == victim));
        let result = Bundle::from_parts(bundle.manifest_bytes().to_vec(), |digest| Ok(if *digest == victim { None } else { files.get(digest).cloned() }));
        assert_eq!(result, Err(BundleError::MissingBlob { digest: victim }));
    }

    fn written() -> (tempfile::TempDir, PathBuf) {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("bundle");
        write_bundle(&sample(), &path).unwrap();
        (root, path)
    }

    fn first_blob(path: &Path) -> PathBuf {
        let mut blobs: Vec<PathBuf> = std::fs::read_dir(path.join(BLOB_DIRECTORY)).unwrap().map(|entry| entry.unwrap().path()).collect();
        blobs.sort();
        blobs.remove(0)
    }

    #[test]
    fn bundle_round_trips_through_a_directory() {
        let (_root, path) = written();
        let read = read_bundle(&path).unwrap();
        assert_eq!(read, sample());
        let leftovers: Vec<_> =
            std::fs::read_dir(path.parent().unwrap()).unwrap().map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(leftovers, vec!["bundle".to_owned()]);
    }

    #[test]
    fn bundle_written_twice_is_byte_identical() {
        let (_first_root, first) = written();
        let (_second_root, second) = written();
        let listing = |root: &Path| {
            let mut files = Vec::new();
            let mut pending = vec![root.to_path_buf()];
            while let Some(directory) = pending.pop() {
                for entry in std::fs::read_dir(&directory).unwrap() {
                    let entry = entry.unwrap();
                    if entry.file_type().unwrap().is_dir() {
                        pending.push(entry.path());
                    } else {
                        let relative = entry.path().strip_prefix(root).unwrap().to_path_buf();
                        files.push((relative, std::fs::read(entry.path()).unwrap()));
                    }
                }
            }
            files.sort();
            files
        };
        let first_files = listing(&first);
        assert_eq!(first_files.len(), 4);
        assert_eq!(first_files, listing(&second));
    }

    #[test]
    fn bundle_rewrite_replaces_an_existing_bundle_and_refuses_other_directories() {
        let (root, path) = written();
        write_bundle(&sample(), &path).unwrap();
        assert_eq!(read_bundle(&path).unwrap(), sample());
        let other = root.path().join("other");
        std::fs::create_dir(&other).unwrap();
        std::fs::write(other.join("notes.txt"), b"keep me").unwrap();
        assert!(matches!(write_bundle(&sample(), &other), Err(BundleError::NotADirectory { .. })));
        assert_eq!(std::fs::read(other.join("notes.txt")).unwrap(), b"keep me");
    }

    #[test]
    fn bundle_corrupted_blob_on_disk_is_refused() {
        let (_root, path) = written();
        let blob = first_blob(&path);
        let mut bytes = std::fs::read(&blob).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0x40;
        std::fs::write(&blob, bytes).unwrap();
        assert!(matches!(read_bundle(&path), Err(BundleError::BlobDigestMismatch { .. })));
    }

    #[test]
    fn bundle_truncated_on_disk_is_refused() {
        let (_root, path) = written();
        let blob = first_blob(&path);
        let bytes = std::fs::read(&blob).unwrap();
        std::fs::write(&blob, &bytes[..bytes.len() / 2]).unwrap();
        assert!(matches!(read_bundle(&path), Err(BundleError::BlobDigestMismatch { .. })));
        let manifest = std::fs::read(path.join(MANIFEST_FILE)).unwrap();
        std::fs::write(path.join(MANIFEST_FILE), &manifest[..manifest.len() - 20]).unwrap();
        let error = read_bundle(&path).unwrap_err();
        assert!(matches!(error, BundleError::ManifestNotJson { .. }), "{error}");
        assert!(error.to_string().contains("truncated"), "{error}");
        std::fs::remove_file(path.join(MANIFEST_FILE)).unwrap();
        assert_eq!(read_bundle(&path), Err(BundleError::MissingManifest));
    }

    #[test]
    fn bundle_missing_blob_on_disk_is_refused() {
        let (_root, path) = written();
        let blob = first_blob(&path);
        std::fs::remove_file(&blob).unwrap();
        let error = read_bundle(&path).unwrap_err();
        assert!(matches!(&error, BundleError::MissingBlob { digest } if digest.hex() == blob.file_name().unwrap().to_string_lossy()), "{error}");
    }

    #[test]
    fn bundle_wrong_format_version_on_disk_is_refused() {
        let (_root, path) = written();
        let manifest = std::fs::read_to_string(path.join(MANIFEST_FILE)).unwrap();
        std::fs::write(path.join(MANIFEST_FILE), manifest.replace("\"format_version\": 1", "\"format_version\": 7")).unwrap();
        let error = read_bundle(&path).unwrap_err();
        assert_eq!(error.to_string(), "bundle format version `7` is not supported; this build reads version 1");
    }

    #[test]
    fn bundle_entries_beyond_max_entries_on_disk_are_refused() {
        let (_root, path) = written();
        let manifest = std::fs::read_to_string(path.join(MANIFEST_FILE)).unwrap();
        // The ipcache's max entries, 512000, goes down to 0 entries' worth below the count.
        let edited = manifest.replacen("\"max_entries\": 512000", "\"max_entries\": 0", 1);
        assert_ne!(edited, manifest);
        std::fs::write(path.join(MANIFEST_FILE), &edited).unwrap();
        assert!(matches!(read_bundle(&path), Err(BundleError::InvalidMapSize { field: "max entries", .. })));
        let edited = manifest.replacen("\"max_entries\": 16384", "\"max_entries\": 1", 1);
        assert_ne!(edited, manifest);
        std::fs::write(path.join(MANIFEST_FILE), &edited).unwrap();
        let error = read_bundle(&path).unwrap_err();
        assert_eq!(error.to_string(), "map `policy/default/web` of node `node-a` has 2 entries, more than its max entries (1)");
    }

    #[test]
    fn bundle_unexpected_files_are_refused() {
        let (_root, path) = written();
        std::fs::write(path.join(BLOB_DIRECTORY).join("stray"), b"x").unwrap();
        assert_eq!(read_bundle(&path), Err(BundleError::UnexpectedFile { path: format!("{BLOB_DIRECTORY}/stray") }));
    }

    #[test]
    fn bundle_error_messages_are_lower_case() {
        let error = BundleError::MissingBlob { digest: Digest::of(b"") };
        let text = error.to_string();
        assert!(text.starts_with("blob `sha256:e3b0c442"));
        assert!(!text.ends_with('.'));
    }
}
