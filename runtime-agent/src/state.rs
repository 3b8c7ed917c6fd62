//! The agent's state file (`STATE_DIR/state.json`): the committed generation, a pending one
//! (written before the flip, so that a restarted agent knows what a flip it did not see
//! the end of was about), the last error and counts. Written atomically: a temporary file
//! in the same directory, synced, renamed over the old one, and the directory synced.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The state file's name inside the state directory.
pub const STATE_FILE: &str = "state.json";
/// The apply journal's name inside the state directory: present while an apply runs.
pub const JOURNAL_FILE: &str = "apply-journal.json";
/// The state file format this build writes and reads.
pub const STATE_FORMAT: u64 = 1;

/// Everything the agent keeps across restarts.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersistedState {
    pub format: u64,
    /// The generation packets use (as far as this file knows; the pinned selector decides).
    pub committed: Option<GenerationRecord>,
    /// A generation built to the side whose flip may or may not have happened.
    pub pending: Option<GenerationRecord>,
    pub last_error: Option<ErrorRecord>,
    /// Successful applies over the agent's life on this node.
    pub applies: u64,
    /// Refused or failed applies over the agent's life on this node.
    pub failures: u64,
}

/// One generation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationRecord {
    /// Counts successful applies on this node, from 1.
    pub generation: u64,
    /// The selector value that makes this generation live.
    pub slot: u32,
    pub bundle_digest: String,
    pub bundle_path: String,
    pub applied_at: String,
    pub node: String,
    pub endpoints: BTreeMap<String, EndpointRecord>,
    pub maps: BTreeMap<String, MapRecord>,
    /// The previous generation's inner maps have been released from the other slot.
    pub released: bool,
}

/// One endpoint of a generation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointRecord {
    pub identity: u32,
    pub addresses: Vec<String>,
    /// The instance (object + constants) that guards the endpoint.
    pub instance: String,
    /// Generation outer map → bundle map name.
    pub bindings: BTreeMap<String, String>,
    pub attachment: Option<Attachment>,
}

/// Where an endpoint's programs are attached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attachment {
    pub interface: String,
    pub ifindex: u32,
}

/// One map of a generation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MapRecord {
    #[serde(rename = "type")]
    pub kind: String,
    pub entries: u64,
    pub max_entries: u32,
}

/// The last failure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorRecord {
    /// What failed: `bundle`, `contract`, `kernel`, `state`, `attach`, or `interrupted` (an
    /// apply stopped by the agent's death, found by the next agent).
    pub kind: String,
    pub message: String,
    pub at: String,
    /// The bundle being applied, when the failure was an apply.
    pub bundle: Option<String>,
}

/// The apply journal (`STATE_DIR/apply-journal.json`): written, and synced, before an apply
/// touches the kernel, updated as it passes each stage, and removed when it is over. A
/// journal found at start means the previous agent stopped in the middle of an apply.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApplyJournal {
    pub format: u64,
    pub bundle_digest: String,
    pub bundle_path: String,
    pub started_at: String,
    /// The generation live when the apply started (0: none) and its slot.
    pub live_generation: u64,
    pub live_slot: Option<u32>,
    /// The slot the apply builds the new generation in.
    pub target_slot: u32,
    /// The last stage the apply reached (see `fault::ApplyStage`).
    pub stage: String,
}

/// A failure reading or writing the state file.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the state file `{path}` is not valid: {detail}")]
    Invalid { path: PathBuf, detail: String },
    #[error("the state file `{path}` has format {found}; this build reads format {STATE_FORMAT}")]
    UnsupportedFormat { path: PathBuf, found: u64 },
}

/// The state directory.
#[derive(Clone, Debug)]
pub struct StateStore {
    directory: PathBuf,
}

impl StateStore {
    /// Uses `directory`, creating it (mode 0700) when missing.
    pub fn open(directory: &Path) -> Result<StateStore, StateError> {
        std::fs::create_dir_all(directory).map_err(|source| StateError::Io { action: "create directory", path: directory.to_path_buf(), source })?;
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(directory, std::fs::Permissions::from_mode(0o700));
        Ok(StateStore { directory: directory.to_path_buf() })
    }

    pub fn directory(&self) -> &Path {
        &self.directory
    }

    pub fn path(&self) -> PathBuf {
        self.directory.join(STATE_FILE)
    }

    /// Reads the state; a missing file is an empty state.
    pub fn load(&self) -> Result<PersistedState, StateError> {
        let path = self.path();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                return Ok(PersistedState { format: STATE_FORMAT, ..PersistedState::default() });
            }
            Err(source) => return Err(StateError::Io { action: "read", path, source }),
        };
        let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|error| StateError::Invalid { path: path.clone(), detail: error.to_string() })?;
        let format = value.get("format").and_then(serde_json::Value::as_u64).unwrap_or(0);
        if format != STATE_FORMAT {
            return Err(StateError::UnsupportedFormat { path, found: format });
        }
        serde_json::from_value(value).map_err(|error| StateError::Invalid { path, detail: error.to_string() })
    }

    /// Writes the state atomically (temporary file, sync, rename, directory sync).
    pub fn save(&self, state: &PersistedState) -> Result<(), StateError> {
        self.write_atomically(STATE_FILE, state, true)
    }

    pub fn journal_path(&self) -> PathBuf {
        self.directory.join(JOURNAL_FILE)
    }

    /// The apply journal a previous agent left, if any.
    pub fn load_journal(&self) -> Result<Option<ApplyJournal>, StateError> {
        let path = self.journal_path();
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(StateError::Io { action: "read", path, source }),
        };
        let journal: ApplyJournal = serde_json::from_slice(&bytes).map_err(|error| StateError::Invalid { path: path.clone(), detail: error.to_string() })?;
        if journal.format != STATE_FORMAT {
            return Err(StateError::UnsupportedFormat { path, found: journal.format });
        }
        Ok(Some(journal))
    }

    /// Writes the apply journal atomically. `durable` also syncs it to disk (the first write
    /// of an apply); later stage updates only need to survive the process, not the machine,
    /// and a rename is atomic either way.
    pub fn save_journal(&self, journal: &ApplyJournal, durable: bool) -> Result<(), StateError> {
        self.write_atomically(JOURNAL_FILE, journal, durable)
    }

    /// Removes the apply journal (the apply is over).
    pub fn remove_journal(&self) -> Result<(), StateError> {
        let path = self.journal_path();
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(StateError::Io { action: "remove", path, source }),
        }
    }

    /// Writes `value` as canonical JSON to `name`: a temporary file, renamed over the old one;
    /// with `durable`, the file and the directory are synced too.
    fn write_atomically(&self, name: &str, value: &impl Serialize, durable: bool) -> Result<(), StateError> {
        let path = self.directory.join(name);
        let value = serde_json::to_value(value).map_err(|error| StateError::Invalid { path: path.clone(), detail: error.to_string() })?;
        let text = polc_ebpf::bundle::canonical_json(&value).map_err(|error| StateError::Invalid { path: path.clone(), detail: error.to_string() })?;
        let temporary = self.directory.join(format!(".{name}.tmp-{}", std::process::id()));
        let io = |action: &'static str, path: &Path| {
            let path = path.to_path_buf();
            move |source| StateError::Io { action, path, source }
        };
        {
            let mut file = File::create(&temporary).map_err(io("create", &temporary))?;
            file.write_all(text.as_bytes()).map_err(io("write", &temporary))?;
            if durable {
                file.sync_all().map_err(io("sync", &temporary))?;
            }
        }
        std::fs::rename(&temporary, &path).map_err(io("rename into", &path))?;
        if durable {
            File::open(&self.directory).and_then(|directory| directory.sync_all()).map_err(io("sync directory", &self.directory))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PersistedState {
        let mut endpoints = BTreeMap::new();
        endpoints.insert(
            "default/web".to_owned(),
            EndpointRecord {
                identity: 7,
                addresses: vec!["10.0.0.2".to_owned()],
                instance: "0123456789abcdef".to_owned(),
                bindings: BTreeMap::from([("polc_ipcache".to_owned(), "ipcache".to_owned())]),
                attachment: Some(Attachment { interface: "lxc1".to_owned(), ifindex: 12 }),
            },
        );
        PersistedState {
            format: STATE_FORMAT,
            committed: Some(GenerationRecord {
                generation: 3,
                slot: 1,
                bundle_digest: "sha256:00".to_owned(),
                bundle_path: "/b".to_owned(),
                applied_at: "2026-11-22T12:04:05.006Z".to_owned(),
                node: "node-a".to_owned(),
                endpoints,
                maps: BTreeMap::new(),
                released: true,
            }),
            pending: None,
            last_error: None,
            applies: 3,
            failures: 1,
        }
    }

    #[test]
    fn state_round_trips_and_leaves_no_temporary_file() {
        let directory = tempfile::tempdir().unwrap();
        let store = StateStore::open(&directory.path().join("state")).unwrap();
        assert_eq!(store.load().unwrap().committed, None);
        store.save(&sample()).unwrap();
        assert_eq!(store.load().unwrap(), sample());
        let names: Vec<String> = std::fs::read_dir(store.directory()).unwrap().map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert_eq!(names, vec![STATE_FILE.to_owned()]);
    }

    #[test]
    fn the_apply_journal_round_trips_and_is_removed() {
        let directory = tempfile::tempdir().unwrap();
        let store = StateStore::open(directory.path()).unwrap();
        assert_eq!(store.load_journal().unwrap(), None);
        let journal = ApplyJournal {
            format: STATE_FORMAT,
            bundle_digest: "sha256:01".to_owned(),
            bundle_path: "/b".to_owned(),
            started_at: "2026-11-22T12:04:05.006Z".to_owned(),
            live_generation: 2,
            live_slot: Some(0),
            target_slot: 1,
            stage: "staged".to_owned(),
        };
        store.save_journal(&journal, true).unwrap();
        store.save_journal(&ApplyJournal { stage: "recorded".to_owned(), ..journal.clone() }, false).unwrap();
        assert_eq!(store.load_journal().unwrap().map(|journal| journal.stage), Some("recorded".to_owned()));
        store.remove_journal().unwrap();
        store.remove_journal().unwrap();
        assert_eq!(store.load_journal().unwrap(), None);
        std::fs::write(store.journal_path(), b"{").unwrap();
        assert!(matches!(store.load_journal(), Err(StateError::Invalid { .. })));
    }

    #[test]
    fn state_files_of_another_format_or_damaged_are_refused() {
        let directory = tempfile::tempdir().unwrap();
        let store = StateStore::open(directory.path()).unwrap();
        std::fs::write(store.path(), b"{\"format\": 9}").unwrap();
        assert!(matches!(store.load(), Err(StateError::UnsupportedFormat { found: 9, .. })));
        std::fs::write(store.path(), b"{\"format\": 1, \"committed\": ").unwrap();
        assert!(matches!(store.load(), Err(StateError::Invalid { .. })));
    }
}
