//! What `polc status` shows: the live generation, its bundle, when it was applied, entries
//! per map, endpoints and their interfaces, the last error and counts.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::state::{ErrorRecord, PersistedState};

/// The agent's status, as JSON on the control socket.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    /// The live generation; 0 before the first apply.
    pub generation: u64,
    /// Digest of the live bundle (`sha256:…`).
    pub bundle_digest: Option<String>,
    /// Where the live bundle was read from.
    pub bundle_path: Option<String>,
    /// When the live generation was flipped in (RFC 3339, UTC).
    pub applied_at: Option<String>,
    /// The node section the agent uses.
    pub node: Option<String>,
    /// The generation selector's value.
    pub slot: Option<u32>,
    /// Entries per map of the live generation.
    pub maps: BTreeMap<String, MapStatus>,
    pub endpoints: BTreeMap<String, EndpointStatus>,
    /// Interfaces with programs attached, sorted.
    pub interfaces: Vec<String>,
    pub last_error: Option<ErrorRecord>,
    pub applies: u64,
    pub failures: u64,
    /// When this agent process started.
    pub started_at: String,
    /// Whether this process found a live generation on the bpffs and took it over.
    pub adopted: bool,
    /// An apply is running now.
    pub applying: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MapStatus {
    #[serde(rename = "type")]
    pub kind: String,
    pub entries: u64,
    pub max_entries: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointStatus {
    pub identity: u32,
    pub addresses: Vec<String>,
    pub instance: String,
    /// The interface the programs are attached to, if any yet.
    pub interface: Option<String>,
    pub attached: bool,
}

impl Status {
    /// Fills the generation fields from the persisted state.
    pub fn refresh_from(&mut self, state: &PersistedState) {
        self.applies = state.applies;
        self.failures = state.failures;
        self.last_error = state.last_error.clone();
        let Some(committed) = &state.committed else {
            self.generation = 0;
            self.bundle_digest = None;
            self.bundle_path = None;
            self.applied_at = None;
            self.node = None;
            self.slot = None;
            self.maps.clear();
            self.endpoints.clear();
            self.interfaces.clear();
            return;
        };
        self.generation = committed.generation;
        self.bundle_digest = Some(committed.bundle_digest.clone());
        self.bundle_path = Some(committed.bundle_path.clone());
        self.applied_at = Some(committed.applied_at.clone());
        self.node = Some(committed.node.clone());
        self.slot = Some(committed.slot);
        self.maps = committed
            .maps
            .iter()
            .map(|(name, map)| (name.clone(), MapStatus { kind: map.kind.clone(), entries: map.entries, max_entries: map.max_entries }))
            .collect();
        self.endpoints = committed
            .endpoints
            .iter()
            .map(|(name, endpoint)| {
                (
                    name.clone(),
                    EndpointStatus {
                        identity: endpoint.identity,
                        addresses: endpoint.addresses.clone(),
                        instance: endpoint.instance.clone(),
                        interface: endpoint.attachment.as_ref().map(|attachment| attachment.interface.clone()),
                        attached: endpoint.attachment.is_some(),
                    },
                )
            })
            .collect();
        let mut interfaces: Vec<String> =
            committed.endpoints.values().filter_map(|endpoint| endpoint.attachment.as_ref().map(|attachment| attachment.interface.clone())).collect();
        interfaces.sort();
        interfaces.dedup();
        self.interfaces = interfaces;
    }

    /// A few lines for people.
    pub fn human(&self) -> String {
        let mut out = String::new();
        let or_none = |value: &Option<String>| value.clone().unwrap_or_else(|| "none".to_owned());
        out.push_str(&format!("generation: {}\n", self.generation));
        out.push_str(&format!("bundle: {}\n", or_none(&self.bundle_digest)));
        out.push_str(&format!("applied at: {}\n", or_none(&self.applied_at)));
        out.push_str(&format!("node: {}\n", or_none(&self.node)));
        for (name, map) in &self.maps {
            out.push_str(&format!("map {name}: {} entries ({}, max {})\n", map.entries, map.kind, map.max_entries));
        }
        for (name, endpoint) in &self.endpoints {
            let place = match &endpoint.interface {
                Some(interface) => format!("attached to {interface}"),
                None => "waiting for its interface".to_owned(),
            };
            out.push_str(&format!("endpoint {name}: identity {}, {place}\n", endpoint.identity));
        }
        out.push_str(&format!("applies: {}, failures: {}\n", self.applies, self.failures));
        match &self.last_error {
            Some(error) => out.push_str(&format!("last error ({}, {}): {}\n", error.kind, error.at, error.message)),
            None => out.push_str("last error: none\n"),
        }
        out
    }
}
