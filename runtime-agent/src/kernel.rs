//! The node's datapath in the kernel, kept on the agent's bpffs so that it outlives the agent.
//!
//! Layout of the bpffs (`--bpffs DIR`):
//!
//! ```text
//! DIR/polc_generation, polc_counters, polc_drops, polc_ct     shared by every instance
//! DIR/endpoints/<endpoint>/<instance>/polc_policy             generation outer maps
//! DIR/endpoints/<endpoint>/<instance>/polc_policy_hash
//! DIR/endpoints/<endpoint>/<instance>/polc_ipcache
//! DIR/endpoints/<endpoint>/<instance>/polc_ipcache_hash
//! DIR/endpoints/<endpoint>/<instance>/polc_ingress            loaded programs
//! DIR/endpoints/<endpoint>/<instance>/polc_egress
//! DIR/links/<endpoint>/polc_ingress, polc_egress              tcx links
//! ```
//!
//! An *instance* is the object loaded once with one endpoint's constants. Every instance is
//! loaded with the shared maps pinned by path, so all of them read one generation selector
//! (`polc_generation[0]`): writing it is the single step that switches the whole node.
//! A packet reads the selector once and then only the inner maps in that slot of its
//! instance's outer maps (see `backends/ebpf/bpf/polc_policy.bpf.c`).
//!
//! The programs attach to the endpoint's host-side interface, where directions are
//! swapped: `polc_ingress` (traffic to the endpoint) on tcx egress, `polc_egress` on tcx
//! ingress. Links are pinned, so the datapath keeps running when the agent stops, and a
//! program upgrade replaces the program of the pinned link atomically.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use aya::maps::lpm_trie::{Key, LpmTrie};
use aya::maps::{Array, ArrayOfMaps, HashMap as BpfHashMap, Map, MapData, MapError, PerCpuArray};
use aya::pin::PinError;
use aya::programs::links::{FdLink, LinkError, PinnedLink};
use aya::programs::tc::{SchedClassifierLink, TcAttachOptions};
use aya::programs::{LinkOrder, ProgramError, SchedClassifier, TcAttachType};
use aya::{EbpfError, EbpfLoader};
use polc_ebpf::bundle::{Constant, MapSection};
use polc_ebpf::layout::COUNTER_SIZE;
use polc_ebpf::{Direction, Reason, object};

use crate::contract::OuterRole;

/// `statfs` type of a bpffs.
pub const BPF_FS_MAGIC: u64 = 0xcafe_4a11;

/// Maps every instance shares, pinned at the bpffs root.
pub const SHARED_MAPS: [&str; 4] = [object::GENERATION_SELECTOR_MAP, object::COUNTERS_MAP, object::DROP_EVENTS_MAP, object::CONNTRACK_MAP];

/// Each program and the tcx hook it uses on the endpoint's host-side interface.
pub const HOST_SIDE_HOOKS: [(&str, TcAttachType); 2] = [(object::INGRESS_PROGRAM, TcAttachType::Egress), (object::EGRESS_PROGRAM, TcAttachType::Ingress)];

pub type PolicyTrieMap = LpmTrie<MapData, [u8; 8], [u8; 12]>;
pub type PolicyHashMap = BpfHashMap<MapData, [u8; 12], [u8; 12]>;
pub type IpcacheTrieMap = LpmTrie<MapData, [u8; 20], [u8; 24]>;
pub type IpcacheHashMap = BpfHashMap<MapData, [u8; 24], [u8; 24]>;

/// A failure in the kernel or on the bpffs.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("cannot mount a bpffs at `{path}`: {source}")]
    Mount {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot {action} `{path}`: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot load object `{object}`: {source}")]
    Load {
        object: String,
        #[source]
        source: Box<EbpfError>,
    },
    #[error("object `{object}` has no classifier program `{program}`")]
    MissingProgram { object: String, program: &'static str },
    #[error("the kernel refused program `{program}` of object `{object}`: {source}")]
    Verifier {
        object: String,
        program: &'static str,
        #[source]
        source: Box<ProgramError>,
    },
    #[error("program `{path}`: {source}")]
    Program {
        path: PathBuf,
        #[source]
        source: Box<ProgramError>,
    },
    #[error("map `{name}`: {source}")]
    Map {
        name: String,
        #[source]
        source: Box<MapError>,
    },
    #[error("cannot create map `{name}` ({max_entries} entries): {source}")]
    CreateMap {
        name: String,
        max_entries: u32,
        #[source]
        source: Box<MapError>,
    },
    #[error("cannot write record {index} of map `{name}`: {source}")]
    Fill {
        name: String,
        index: usize,
        #[source]
        source: Box<MapError>,
    },
    #[error("link `{path}`: {source}")]
    Link {
        path: PathBuf,
        #[source]
        source: Box<LinkError>,
    },
    #[error("cannot pin `{path}`: {source}")]
    Pin {
        path: PathBuf,
        #[source]
        source: Box<PinError>,
    },
    #[error("outer map `{outer}` cannot hold map `{map}`")]
    RoleMismatch { outer: &'static str, map: String },
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> KernelError {
    let path = path.to_path_buf();
    move |source| KernelError::Io { action, path, source }
}

fn map_error(name: &Path) -> impl FnOnce(MapError) -> KernelError {
    let name = name.display().to_string();
    move |source| KernelError::Map { name, source: Box::new(source) }
}

/// Whether `path` is on a bpffs.
pub fn is_bpffs(path: &Path) -> bool {
    rustix::fs::statfs(path).is_ok_and(|stat| stat.f_type as u64 == BPF_FS_MAGIC)
}

/// Makes `path` a bpffs owned by the agent: creates the directory and mounts a bpffs there
/// (mode 0700) unless one is mounted already. Returns whether it mounted one.
pub fn ensure_bpffs(path: &Path) -> Result<bool, KernelError> {
    std::fs::create_dir_all(path).map_err(io_error("create directory", path))?;
    if is_bpffs(path) {
        return Ok(false);
    }
    rustix::mount::mount("bpf", path, "bpf", rustix::mount::MountFlags::empty(), c"mode=0700")
        .map_err(|error| KernelError::Mount { path: path.to_path_buf(), source: error.into() })?;
    Ok(true)
}

/// An inner map of one generation, created and filled off-line.
pub enum InnerMap {
    Policy(PolicyTrieMap),
    PolicyHash(PolicyHashMap),
    Ipcache(IpcacheTrieMap),
    /// The HASH of the ipcache's host entries, same key and value bytes as the trie's.
    IpcacheHash(IpcacheHashMap),
}

impl InnerMap {
    /// An empty map of `role`'s layout (it stands in a released slot).
    pub fn placeholder(role: OuterRole) -> Result<InnerMap, KernelError> {
        let create_error = |source| KernelError::CreateMap { name: format!("{}.placeholder", role.outer_map()), max_entries: 1, source: Box::new(source) };
        Ok(match role {
            OuterRole::Policy => InnerMap::Policy(LpmTrie::create(1, object::INNER_MAP_FLAGS).map_err(create_error)?),
            OuterRole::PolicyHash => InnerMap::PolicyHash(BpfHashMap::create(1, object::INNER_MAP_FLAGS).map_err(create_error)?),
            OuterRole::Ipcache => InnerMap::Ipcache(LpmTrie::create(1, object::INNER_MAP_FLAGS).map_err(create_error)?),
            OuterRole::IpcacheHash => InnerMap::IpcacheHash(BpfHashMap::create(1, object::INNER_MAP_FLAGS).map_err(create_error)?),
        })
    }

    /// Creates the inner map for `section` (whose layout the contract has checked against
    /// `role`) and writes every record.
    pub fn build(role: OuterRole, section: &MapSection, records: &[u8]) -> Result<InnerMap, KernelError> {
        InnerMap::build_observed(role, section, records, &mut |_| {})
    }

    /// [`InnerMap::build`], calling `written(n)` after the `n`th record is written (the
    /// fault-injection hook stops an apply half-way through a map this way).
    pub fn build_observed(role: OuterRole, section: &MapSection, records: &[u8], written: &mut dyn FnMut(usize)) -> Result<InnerMap, KernelError> {
        let create_error = |source| KernelError::CreateMap { name: section.name.clone(), max_entries: section.max_entries, source: Box::new(source) };
        let fill_error = |index: usize| {
            let name = section.name.clone();
            move |source| KernelError::Fill { name, index, source: Box::new(source) }
        };
        let record_size = section.record_size() as usize;
        let mismatch = || KernelError::RoleMismatch { outer: role.outer_map(), map: section.name.clone() };
        if (section.kind, section.key_size, section.value_size) != role.layout() || record_size == 0 {
            return Err(mismatch());
        }
        let records = records.chunks_exact(record_size);
        Ok(match role {
            OuterRole::Policy => {
                let mut map: PolicyTrieMap = LpmTrie::create(section.max_entries, object::INNER_MAP_FLAGS).map_err(create_error)?;
                for (index, record) in records.enumerate() {
                    let (key, value) = lpm_record::<8, 12>(record).ok_or_else(mismatch)?;
                    map.insert(&key, value, 0).map_err(fill_error(index))?;
                    written(index + 1);
                }
                InnerMap::Policy(map)
            }
            OuterRole::PolicyHash => {
                let mut map: PolicyHashMap = BpfHashMap::create(section.max_entries, object::INNER_MAP_FLAGS).map_err(create_error)?;
                for (index, record) in records.enumerate() {
                    let (key, value) = split_record::<12, 12>(record).ok_or_else(mismatch)?;
                    map.insert(key, value, 0).map_err(fill_error(index))?;
                    written(index + 1);
                }
                InnerMap::PolicyHash(map)
            }
            OuterRole::Ipcache => {
                let mut map: IpcacheTrieMap = LpmTrie::create(section.max_entries, object::INNER_MAP_FLAGS).map_err(create_error)?;
                for (index, record) in records.enumerate() {
                    let (key, value) = lpm_record::<20, 24>(record).ok_or_else(mismatch)?;
                    map.insert(&key, value, 0).map_err(fill_error(index))?;
                    written(index + 1);
                }
                InnerMap::Ipcache(map)
            }
            OuterRole::IpcacheHash => {
                let mut map: IpcacheHashMap = BpfHashMap::create(section.max_entries, object::INNER_MAP_FLAGS).map_err(create_error)?;
                for (index, record) in records.enumerate() {
                    let (key, value) = split_record::<24, 24>(record).ok_or_else(mismatch)?;
                    map.insert(key, value, 0).map_err(fill_error(index))?;
                    written(index + 1);
                }
                InnerMap::IpcacheHash(map)
            }
        })
    }

    pub fn role(&self) -> OuterRole {
        match self {
            InnerMap::Policy(_) => OuterRole::Policy,
            InnerMap::PolicyHash(_) => OuterRole::PolicyHash,
            InnerMap::Ipcache(_) => OuterRole::Ipcache,
            InnerMap::IpcacheHash(_) => OuterRole::IpcacheHash,
        }
    }
}

fn split_record<const KEY: usize, const VALUE: usize>(record: &[u8]) -> Option<([u8; KEY], [u8; VALUE])> {
    let key: [u8; KEY] = record.get(..KEY)?.try_into().ok()?;
    let value: [u8; VALUE] = record.get(KEY..KEY + VALUE)?.try_into().ok()?;
    Some((key, value))
}

/// An LPM trie record: the 4-byte prefix length, `DATA` bytes of key data, the value.
fn lpm_record<const DATA: usize, const VALUE: usize>(record: &[u8]) -> Option<(Key<[u8; DATA]>, [u8; VALUE])> {
    let prefix_len = u32::from_le_bytes(record.get(..4)?.try_into().ok()?);
    let data: [u8; DATA] = record.get(4..4 + DATA)?.try_into().ok()?;
    let value: [u8; VALUE] = record.get(4 + DATA..4 + DATA + VALUE)?.try_into().ok()?;
    Some((Key::new(prefix_len, data), value))
}

/// Packets and bytes of one verdict counter, summed over CPUs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counter {
    pub packets: u64,
    pub bytes: u64,
}

/// Every verdict counter by (reason, direction).
pub type Counters = BTreeMap<(Reason, Direction), Counter>;

/// How an endpoint's link stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkState {
    /// No link is pinned.
    Missing,
    /// The pinned link runs the instance's program.
    Current,
    /// The pinned link runs another program.
    Stale,
}

/// The pins of the node's datapath under the agent's bpffs.
#[derive(Clone, Debug)]
pub struct NodeKernel {
    root: PathBuf,
}

impl NodeKernel {
    pub fn new(root: &Path) -> NodeKernel {
        NodeKernel { root: root.to_path_buf() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn shared_map_pin(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn instance_directory(&self, endpoint: &str, instance: &str) -> PathBuf {
        self.root.join("endpoints").join(endpoint).join(instance)
    }

    pub fn outer_map_pin(&self, endpoint: &str, instance: &str, role: OuterRole) -> PathBuf {
        self.instance_directory(endpoint, instance).join(role.outer_map())
    }

    pub fn program_pin(&self, endpoint: &str, instance: &str, program: &str) -> PathBuf {
        self.instance_directory(endpoint, instance).join(program)
    }

    pub fn link_pin(&self, endpoint: &str, program: &str) -> PathBuf {
        self.root.join("links").join(endpoint).join(program)
    }

    /// The generation selector's value, or `None` before any instance was loaded.
    pub fn read_selector(&self) -> Result<Option<u32>, KernelError> {
        let path = self.shared_map_pin(object::GENERATION_SELECTOR_MAP);
        if !path.exists() {
            return Ok(None);
        }
        let selector = self.selector(&path)?;
        selector.get(&0, 0).map(Some).map_err(map_error(&path))
    }

    fn selector(&self, path: &Path) -> Result<Array<MapData, u32>, KernelError> {
        let data = MapData::from_pin(path).map_err(map_error(path))?;
        let map = Map::from_map_data(data).map_err(map_error(path))?;
        Array::try_from(map).map_err(map_error(path))
    }

    /// The flip: one 4-byte write of the selector.
    pub fn write_selector(&self, slot: u32) -> Result<(), KernelError> {
        let path = self.shared_map_pin(object::GENERATION_SELECTOR_MAP);
        let mut selector = self.selector(&path)?;
        selector.set(0, slot, 0).map_err(map_error(&path))
    }

    /// Whether the instance's programs and outer maps are all pinned.
    pub fn instance_exists(&self, endpoint: &str, instance: &str) -> bool {
        let programs = [object::INGRESS_PROGRAM, object::EGRESS_PROGRAM].iter().all(|program| self.program_pin(endpoint, instance, program).exists());
        programs && OuterRole::ALL.iter().all(|role| self.outer_map_pin(endpoint, instance, *role).exists())
    }

    /// Loads `bytes` with `constants` as instance `instance` of `endpoint`: the shared maps
    /// are reused (or created) by pin, the outer maps are created and pinned in the
    /// instance's directory, both programs are verified and pinned. Nothing is attached.
    pub fn load_instance(
        &self,
        endpoint: &str,
        instance: &str,
        object_name: &str,
        bytes: &[u8],
        constants: &BTreeMap<String, Constant>,
    ) -> Result<(), KernelError> {
        let directory = self.instance_directory(endpoint, instance);
        std::fs::create_dir_all(&directory).map_err(io_error("create directory", &directory))?;
        let constant_bytes: Vec<(&str, Vec<u8>)> = constants.iter().map(|(name, constant)| (name.as_str(), constant.bytes())).collect();
        let shared_pins: Vec<(&str, PathBuf)> = SHARED_MAPS.iter().map(|name| (*name, self.shared_map_pin(name))).collect();
        let outer_pins: Vec<(&str, PathBuf)> = OuterRole::ALL.iter().map(|role| (role.outer_map(), self.outer_map_pin(endpoint, instance, *role))).collect();
        let mut loader = EbpfLoader::new();
        for (name, value) in &constant_bytes {
            loader.override_global(name, value.as_slice(), true);
        }
        for (name, path) in shared_pins.iter().chain(outer_pins.iter()) {
            loader.map_pin_path(name, path.as_path());
        }
        let mut ebpf = loader.load(bytes).map_err(|source| KernelError::Load { object: object_name.to_owned(), source: Box::new(source) })?;
        for program_name in [object::INGRESS_PROGRAM, object::EGRESS_PROGRAM] {
            let missing = || KernelError::MissingProgram { object: object_name.to_owned(), program: program_name };
            let program: &mut SchedClassifier = ebpf.program_mut(program_name).ok_or_else(missing)?.try_into().map_err(|_| missing())?;
            program.load().map_err(|source| KernelError::Verifier { object: object_name.to_owned(), program: program_name, source: Box::new(source) })?;
            let pin = self.program_pin(endpoint, instance, program_name);
            program.pin(&pin).map_err(|source| KernelError::Pin { path: pin.clone(), source: Box::new(source) })?;
        }
        Ok(())
    }

    /// Removes an instance's pins (its programs and maps go once nothing else holds them).
    pub fn remove_instance(&self, endpoint: &str, instance: &str) -> Result<(), KernelError> {
        let directory = self.instance_directory(endpoint, instance);
        match std::fs::remove_dir_all(&directory) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(io_error("remove", &directory)(error)),
        }
        let parent = self.root.join("endpoints").join(endpoint);
        if std::fs::read_dir(&parent).is_ok_and(|mut entries| entries.next().is_none()) {
            let _ = std::fs::remove_dir(&parent);
        }
        Ok(())
    }

    /// Every (endpoint, instance) pinned on the bpffs, sorted.
    pub fn instances(&self) -> Vec<(String, String)> {
        let mut found = Vec::new();
        let Ok(endpoints) = std::fs::read_dir(self.root.join("endpoints")) else {
            return found;
        };
        for endpoint in endpoints.flatten() {
            let endpoint_name = endpoint.file_name().to_string_lossy().into_owned();
            if let Ok(instances) = std::fs::read_dir(endpoint.path()) {
                for instance in instances.flatten() {
                    found.push((endpoint_name.clone(), instance.file_name().to_string_lossy().into_owned()));
                }
            }
        }
        found.sort();
        found
    }

    /// Endpoints with pinned links, sorted.
    pub fn linked_endpoints(&self) -> Vec<String> {
        let mut found: Vec<String> = std::fs::read_dir(self.root.join("links"))
            .map(|entries| entries.flatten().map(|entry| entry.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        found.sort();
        found
    }

    /// Puts `inner` in `slot` of the instance's outer map for its role. The kernel returns
    /// only after an RCU grace period.
    pub fn set_slot(&self, endpoint: &str, instance: &str, slot: u32, inner: &InnerMap) -> Result<(), KernelError> {
        let path = self.outer_map_pin(endpoint, instance, inner.role());
        let data = MapData::from_pin(&path).map_err(map_error(&path))?;
        let map = Map::from_map_data(data).map_err(map_error(&path))?;
        match inner {
            InnerMap::Policy(inner) => {
                let mut outer: ArrayOfMaps<MapData, PolicyTrieMap> = ArrayOfMaps::try_from(map).map_err(map_error(&path))?;
                outer.set(slot, inner, 0).map_err(map_error(&path))
            }
            InnerMap::PolicyHash(inner) => {
                let mut outer: ArrayOfMaps<MapData, PolicyHashMap> = ArrayOfMaps::try_from(map).map_err(map_error(&path))?;
                outer.set(slot, inner, 0).map_err(map_error(&path))
            }
            InnerMap::Ipcache(inner) => {
                let mut outer: ArrayOfMaps<MapData, IpcacheTrieMap> = ArrayOfMaps::try_from(map).map_err(map_error(&path))?;
                outer.set(slot, inner, 0).map_err(map_error(&path))
            }
            InnerMap::IpcacheHash(inner) => {
                let mut outer: ArrayOfMaps<MapData, IpcacheHashMap> = ArrayOfMaps::try_from(map).map_err(map_error(&path))?;
                outer.set(slot, inner, 0).map_err(map_error(&path))
            }
        }
    }

    /// Does every (endpoint, instance, slot, inner map) write of `jobs`, several at a time:
    /// each outer-map write waits for an RCU grace period, and concurrent writers share them.
    pub fn set_slots(&self, jobs: &[(&str, &str, u32, &InnerMap)]) -> Result<(), KernelError> {
        const WRITERS: usize = 8;
        if jobs.len() <= 1 {
            return jobs.iter().try_for_each(|(endpoint, instance, slot, inner)| self.set_slot(endpoint, instance, *slot, inner));
        }
        let chunk = jobs.len().div_ceil(WRITERS);
        std::thread::scope(|scope| {
            let writers: Vec<_> = jobs
                .chunks(chunk)
                .map(|part| scope.spawn(move || part.iter().try_for_each(|(endpoint, instance, slot, inner)| self.set_slot(endpoint, instance, *slot, inner))))
                .collect();
            let mut result = Ok(());
            for writer in writers {
                if let Ok(Err(error)) = writer.join()
                    && result.is_ok()
                {
                    result = Err(error);
                }
            }
            result
        })
    }

    /// The inner map in `slot` of the instance's outer map for `role`, if the slot is filled.
    pub fn get_slot(&self, endpoint: &str, instance: &str, role: OuterRole, slot: u32) -> Result<Option<InnerMap>, KernelError> {
        let path = self.outer_map_pin(endpoint, instance, role);
        let data = MapData::from_pin(&path).map_err(map_error(&path))?;
        let map = Map::from_map_data(data).map_err(map_error(&path))?;
        let found = match role {
            OuterRole::Policy => {
                let outer: ArrayOfMaps<MapData, PolicyTrieMap> = ArrayOfMaps::try_from(map).map_err(map_error(&path))?;
                outer.get(&slot, 0).map(InnerMap::Policy)
            }
            OuterRole::PolicyHash => {
                let outer: ArrayOfMaps<MapData, PolicyHashMap> = ArrayOfMaps::try_from(map).map_err(map_error(&path))?;
                outer.get(&slot, 0).map(InnerMap::PolicyHash)
            }
            OuterRole::Ipcache => {
                let outer: ArrayOfMaps<MapData, IpcacheTrieMap> = ArrayOfMaps::try_from(map).map_err(map_error(&path))?;
                outer.get(&slot, 0).map(InnerMap::Ipcache)
            }
            OuterRole::IpcacheHash => {
                let outer: ArrayOfMaps<MapData, IpcacheHashMap> = ArrayOfMaps::try_from(map).map_err(map_error(&path))?;
                outer.get(&slot, 0).map(InnerMap::IpcacheHash)
            }
        };
        match found {
            Ok(inner) => Ok(Some(inner)),
            Err(MapError::KeyNotFound) => Ok(None),
            Err(error) => Err(map_error(&path)(error)),
        }
    }

    /// The kernel id and max entries of the inner map in `slot` of the instance's outer map
    /// for `role`, if the slot is filled. A placeholder has max entries 1.
    pub fn slot_map_info(&self, endpoint: &str, instance: &str, role: OuterRole, slot: u32) -> Result<Option<(u32, u32)>, KernelError> {
        let path = self.outer_map_pin(endpoint, instance, role);
        let data = MapData::from_pin(&path).map_err(map_error(&path))?;
        let map = Map::from_map_data(data).map_err(map_error(&path))?;
        let outer: ArrayOfMaps<MapData, MapData> = ArrayOfMaps::try_from(map).map_err(map_error(&path))?;
        match outer.get(&slot, 0) {
            Ok(inner) => {
                let info = inner.info().map_err(map_error(&path))?;
                Ok(Some((info.id(), info.max_entries())))
            }
            Err(MapError::KeyNotFound) => Ok(None),
            Err(error) => Err(map_error(&path)(error)),
        }
    }

    /// How the link of `program` for `endpoint` stands against the instance's program.
    pub fn link_state(&self, endpoint: &str, instance: &str, program: &str) -> Result<LinkState, KernelError> {
        let link_pin = self.link_pin(endpoint, program);
        let pinned = match PinnedLink::from_pin(&link_pin) {
            Ok(pinned) => pinned,
            Err(LinkError::SyscallError(error)) if error.io_error.kind() == std::io::ErrorKind::NotFound => return Ok(LinkState::Missing),
            Err(source) => return Err(KernelError::Link { path: link_pin, source: Box::new(source) }),
        };
        let link = FdLink::from(pinned);
        let running = link.info().map_err(|source| KernelError::Link { path: link_pin.clone(), source: Box::new(source) })?;
        let program_pin = self.program_pin(endpoint, instance, program);
        let wanted = SchedClassifier::from_pin(&program_pin)
            .and_then(|program| program.info())
            .map_err(|source| KernelError::Program { path: program_pin, source: Box::new(source) })?;
        Ok(if running.program_id() == wanted.id() { LinkState::Current } else { LinkState::Stale })
    }

    /// Makes both links of `endpoint` run the instance's programs: an existing pinned link
    /// gets the program replaced atomically (BPF_LINK_UPDATE); otherwise a tcx link is
    /// created on `interface` (a name in this thread's network namespace) and pinned.
    pub fn attach(&self, endpoint: &str, instance: &str, interface: &str) -> Result<(), KernelError> {
        for (program_name, hook) in HOST_SIDE_HOOKS {
            let program_pin = self.program_pin(endpoint, instance, program_name);
            let program_error = |path: &Path| {
                let path = path.to_path_buf();
                move |source| KernelError::Program { path, source: Box::new(source) }
            };
            let mut program = SchedClassifier::from_pin(&program_pin).map_err(program_error(&program_pin))?;
            let link_pin = self.link_pin(endpoint, program_name);
            if let Some(parent) = link_pin.parent() {
                std::fs::create_dir_all(parent).map_err(io_error("create directory", parent))?;
            }
            let link_error = |path: &Path| {
                let path = path.to_path_buf();
                move |source| KernelError::Link { path, source: Box::new(source) }
            };
            match PinnedLink::from_pin(&link_pin) {
                Ok(pinned) => {
                    let fd_link = FdLink::from(pinned);
                    let running = fd_link.info().map_err(link_error(&link_pin))?.program_id();
                    let wanted = program.info().map_err(program_error(&program_pin))?.id();
                    if running == wanted {
                        continue;
                    }
                    let link = SchedClassifierLink::try_from(fd_link).map_err(link_error(&link_pin))?;
                    let id = program.attach_to_link(link).map_err(program_error(&program_pin))?;
                    // The pin keeps the link; closing this descriptor changes nothing.
                    drop(program.take_link(id).map_err(program_error(&program_pin))?);
                }
                Err(LinkError::SyscallError(error)) if error.io_error.kind() == std::io::ErrorKind::NotFound => {
                    let id =
                        program.attach_with_options(interface, hook, TcAttachOptions::TcxOrder(LinkOrder::default())).map_err(program_error(&program_pin))?;
                    let link = program.take_link(id).map_err(program_error(&program_pin))?;
                    let fd_link = FdLink::try_from(link).map_err(link_error(&link_pin))?;
                    fd_link.pin(&link_pin).map_err(|source| KernelError::Pin { path: link_pin.clone(), source: Box::new(source) })?;
                }
                Err(source) => return Err(KernelError::Link { path: link_pin, source: Box::new(source) }),
            }
        }
        Ok(())
    }

    /// Removes the endpoint's link pins: the kernel detaches the programs.
    pub fn detach(&self, endpoint: &str) -> Result<(), KernelError> {
        let directory = self.root.join("links").join(endpoint);
        match std::fs::remove_dir_all(&directory) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(io_error("remove", &directory)(error)),
        }
    }

    /// The datapath's verdict counters, summed over CPUs; `None` before the first load.
    pub fn counters(&self) -> Result<Option<Counters>, KernelError> {
        let path = self.shared_map_pin(object::COUNTERS_MAP);
        if !path.exists() {
            return Ok(None);
        }
        let data = MapData::from_pin(&path).map_err(map_error(&path))?;
        let map = Map::from_map_data(data).map_err(map_error(&path))?;
        let counters: PerCpuArray<MapData, [u8; COUNTER_SIZE]> = PerCpuArray::try_from(map).map_err(map_error(&path))?;
        let mut totals = BTreeMap::new();
        for reason in Reason::ALL {
            for direction in Direction::ALL {
                let values = counters.get(&reason.counter_index(direction), 0).map_err(map_error(&path))?;
                let mut total = Counter::default();
                for value in values.iter() {
                    let mut packets = [0u8; 8];
                    let mut bytes = [0u8; 8];
                    packets.copy_from_slice(&value[0..8]);
                    bytes.copy_from_slice(&value[8..16]);
                    total.packets += u64::from_le_bytes(packets);
                    total.bytes += u64::from_le_bytes(bytes);
                }
                totals.insert((reason, direction), total);
            }
        }
        Ok(Some(totals))
    }
}
