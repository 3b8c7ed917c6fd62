//! The datapath in the running kernel: load the object with aya, install generations, run
//! crafted packets with BPF_PROG_TEST_RUN, attach with tcx, read counters, drop events and
//! verdict events.
//!
//! Generation switch (see MAPS.md, "Generations"): the outer ARRAY_OF_MAPS `polc_policy`
//! (or `polc_policy_hash` in the HASH lookup mode), `polc_ipcache` (and `polc_ipcache_hash` in
//! the `ipcache_host_hash` mode) have two slots; `polc_generation[0]` names the active one. A packet reads
//! the selector once and then only uses that slot's inner maps. [`Datapath::install`] fills
//! fresh inner maps off-line, puts them in the spare slot, flips the selector with one
//! 4-byte write, and then waits for an RCU grace period (an outer-map update, which makes
//! the kernel call `synchronize_rcu`) so that no packet still uses the old slot when the
//! next install overwrites it. The maps of the active generation are never written.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use aya::maps::lpm_trie::{Key, LpmTrie};
use aya::maps::{Array, ArrayOfMaps, MapData, MapError, PerCpuArray, RingBuf};
use aya::programs::tc::{SchedClassifierLinkId, TcAttachOptions};
use aya::programs::{LinkOrder, ProgramError, SchedClassifier, TcAttachType, TestRun, TestRunOptions};
use aya::{Ebpf, EbpfError, EbpfLoader};

use crate::config::DatapathConfig;
use crate::image::{IpcacheImage, PolicyMapImage};
use crate::layout::{COUNTER_SIZE, Direction, IPCACHE_KEY_SIZE, IPCACHE_VALUE_SIZE, POLICY_KEY_SIZE, POLICY_VALUE_SIZE};
use crate::object;
use crate::verdict::{DropEvent, MatchKind, Reason, Verdict, VerdictEvent};

/// Size of the context buffer given to BPF_PROG_TEST_RUN: at least `sizeof(struct __sk_buff)`
/// (192 bytes in the 6.x UAPI); the kernel accepts a larger, zero-tailed buffer.
const SKB_CONTEXT_SIZE: usize = 256;
const SKB_MARK_OFFSET: usize = 8;
const SKB_CB_OFFSET: usize = 48;
/// tc verdicts.
pub const TC_ACT_OK: u32 = 0;
pub const TC_ACT_SHOT: u32 = 2;

/// A failure talking to the kernel.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    #[error("the datapath maps are little-endian and this host is big-endian")]
    BigEndianHost,
    #[error("cannot load the datapath object: {0}")]
    Load(#[from] EbpfError),
    #[error("the datapath object has no program `{0}`")]
    MissingProgram(&'static str),
    #[error("the datapath object has no map `{0}`")]
    MissingMap(&'static str),
    #[error("program `{name}`: {source}")]
    Program {
        name: &'static str,
        #[source]
        source: ProgramError,
    },
    #[error("map `{name}`: {source}")]
    Map {
        name: &'static str,
        #[source]
        source: MapError,
    },
    #[error("the ipcache image is for cluster `{image}` but the datapath is configured for cluster `{configured}`")]
    ClusterMismatch { image: u16, configured: u16 },
    #[error("the frame is {0} bytes; BPF_PROG_TEST_RUN needs at least an Ethernet header (14 bytes)")]
    FrameTooShort(usize),
}

fn map_error(name: &'static str) -> impl FnOnce(MapError) -> KernelError {
    move |source| KernelError::Map { name, source }
}

fn program_error(name: &'static str) -> impl FnOnce(ProgramError) -> KernelError {
    move |source| KernelError::Program { name, source }
}

/// The program name for `direction`.
pub fn program_name(direction: Direction) -> &'static str {
    match direction {
        Direction::Ingress => object::INGRESS_PROGRAM,
        Direction::Egress => object::EGRESS_PROGRAM,
    }
}

type PolicyInnerMap = LpmTrie<MapData, [u8; POLICY_KEY_SIZE - 4], [u8; POLICY_VALUE_SIZE]>;
type PolicyHashInnerMap = aya::maps::HashMap<MapData, [u8; POLICY_KEY_SIZE], [u8; POLICY_VALUE_SIZE]>;
type IpcacheInnerMap = LpmTrie<MapData, [u8; IPCACHE_KEY_SIZE - 4], [u8; IPCACHE_VALUE_SIZE]>;
type IpcacheHashInnerMap = aya::maps::HashMap<MapData, [u8; IPCACHE_KEY_SIZE], [u8; IPCACHE_VALUE_SIZE]>;

/// What an install did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenerationSwitch {
    /// Counts installs on this datapath, starting at 1.
    pub generation: u64,
    /// The slot that is now active.
    pub slot: u32,
    /// The slot that was active before, if any.
    pub previous_slot: Option<u32>,
}

/// One BPF_PROG_TEST_RUN result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestRunVerdict {
    /// The tc return code: [`TC_ACT_OK`] or [`TC_ACT_SHOT`].
    pub return_code: u32,
    /// `skb->mark` after the program.
    pub mark: u32,
    /// The recorded verdict (present when the datapath runs with `record_verdict`).
    pub verdict: Option<Verdict>,
    /// The generation slot the packet used (with `record_verdict`).
    pub slot: Option<u32>,
}

/// Packets and bytes of one counter, summed over CPUs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counter {
    pub packets: u64,
    pub bytes: u64,
}

/// A loaded datapath: both programs verified, maps created, no generation installed until
/// [`Datapath::install`] (packets are dropped with `drop-no-generation` until then).
pub struct Datapath {
    ebpf: Ebpf,
    config: DatapathConfig,
    // Taken out of `ebpf` at load, so that installing (behind the lock) does not need
    // `&mut self` and test runs can go on in other threads meanwhile.
    generations: Mutex<GenerationMaps>,
    links: Vec<(Direction, SchedClassifierLinkId)>,
}

/// A generation's policy map, in the form the configuration selects.
enum InnerPolicy {
    Trie(PolicyInnerMap),
    Hash(PolicyHashInnerMap),
}

impl GenerationMaps {
    fn set_policy(&mut self, slot: u32, policy: &InnerPolicy) -> Result<(), KernelError> {
        match policy {
            InnerPolicy::Trie(map) => self.policy_outer.set(slot, map, 0).map_err(map_error(object::POLICY_GENERATIONS_MAP)),
            InnerPolicy::Hash(map) => self.policy_hash_outer.set(slot, map, 0).map_err(map_error(object::POLICY_HASH_GENERATIONS_MAP)),
        }
    }
}

/// The generation maps and what is installed in them.
struct GenerationMaps {
    policy_outer: ArrayOfMaps<MapData, PolicyInnerMap>,
    policy_hash_outer: ArrayOfMaps<MapData, PolicyHashInnerMap>,
    ipcache_outer: ArrayOfMaps<MapData, IpcacheInnerMap>,
    ipcache_hash_outer: ArrayOfMaps<MapData, IpcacheHashInnerMap>,
    selector: Array<MapData, u32>,
    active_slot: Option<u32>,
    generation: u64,
}

impl std::fmt::Debug for Datapath {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Datapath")
            .field("config", &self.config)
            .field("active_slot", &self.active_slot())
            .field("generation", &self.generation())
            .finish_non_exhaustive()
    }
}

impl Datapath {
    /// Loads the committed object with `config` patched into `.rodata` and loads both programs.
    pub fn load(config: &DatapathConfig) -> Result<Datapath, KernelError> {
        if cfg!(target_endian = "big") {
            return Err(KernelError::BigEndianHost);
        }
        let globals = config.globals();
        let mut loader = EbpfLoader::new();
        for (name, bytes) in &globals {
            loader.override_global(name, bytes.as_slice(), true);
        }
        let mut ebpf = loader.load(object::POLICY_OBJECT)?;
        for name in [object::INGRESS_PROGRAM, object::EGRESS_PROGRAM] {
            let program: &mut SchedClassifier = ebpf.program_mut(name).ok_or(KernelError::MissingProgram(name))?.try_into().map_err(program_error(name))?;
            program.load().map_err(program_error(name))?;
        }
        let mut take = |name: &'static str| ebpf.take_map(name).ok_or(KernelError::MissingMap(name));
        let policy_outer = take(object::POLICY_GENERATIONS_MAP)?;
        let policy_hash_outer = take(object::POLICY_HASH_GENERATIONS_MAP)?;
        let ipcache_outer = take(object::IPCACHE_GENERATIONS_MAP)?;
        let ipcache_hash_outer = take(object::IPCACHE_HASH_GENERATIONS_MAP)?;
        let selector = take(object::GENERATION_SELECTOR_MAP)?;
        let generations = GenerationMaps {
            policy_outer: ArrayOfMaps::try_from(policy_outer).map_err(map_error(object::POLICY_GENERATIONS_MAP))?,
            policy_hash_outer: ArrayOfMaps::try_from(policy_hash_outer).map_err(map_error(object::POLICY_HASH_GENERATIONS_MAP))?,
            ipcache_outer: ArrayOfMaps::try_from(ipcache_outer).map_err(map_error(object::IPCACHE_GENERATIONS_MAP))?,
            ipcache_hash_outer: ArrayOfMaps::try_from(ipcache_hash_outer).map_err(map_error(object::IPCACHE_HASH_GENERATIONS_MAP))?,
            selector: Array::try_from(selector).map_err(map_error(object::GENERATION_SELECTOR_MAP))?,
            active_slot: None,
            generation: 0,
        };
        Ok(Datapath { ebpf, config: *config, generations: Mutex::new(generations), links: Vec::new() })
    }

    pub fn config(&self) -> &DatapathConfig {
        &self.config
    }

    fn lock_generations(&self) -> MutexGuard<'_, GenerationMaps> {
        // A panic while installing leaves the maps consistent (the selector flips last).
        self.generations.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The active generation slot, if a generation is installed.
    pub fn active_slot(&self) -> Option<u32> {
        self.lock_generations().active_slot
    }

    /// How many generations were installed.
    pub fn generation(&self) -> u64 {
        self.lock_generations().generation
    }

    fn program(&self, name: &'static str) -> Result<&SchedClassifier, KernelError> {
        self.ebpf.program(name).ok_or(KernelError::MissingProgram(name))?.try_into().map_err(program_error(name))
    }

    fn program_mut(&mut self, name: &'static str) -> Result<&mut SchedClassifier, KernelError> {
        self.ebpf.program_mut(name).ok_or(KernelError::MissingProgram(name))?.try_into().map_err(program_error(name))
    }

    /// Creates and fills the inner maps of a generation (not yet visible to packets): the
    /// policy map, the ipcache trie and, in the `ipcache_host_hash` mode, the host HASH.
    fn fill_inner_maps(
        &self,
        policy: &PolicyMapImage,
        ipcache: &IpcacheImage,
    ) -> Result<(InnerPolicy, IpcacheInnerMap, Option<IpcacheHashInnerMap>), KernelError> {
        let inner_policy = if self.config.policy_map_hash {
            let name = object::POLICY_HASH_GENERATIONS_MAP;
            let mut policy_map: PolicyHashInnerMap =
                aya::maps::HashMap::create(policy.hash_map_max_entries(), object::INNER_MAP_FLAGS).map_err(map_error(name))?;
            for (key, value) in policy.hash_map_entries() {
                policy_map.insert(key, value, 0).map_err(map_error(name))?;
            }
            InnerPolicy::Hash(policy_map)
        } else {
            let name = object::POLICY_GENERATIONS_MAP;
            let mut policy_map: PolicyInnerMap = LpmTrie::create(policy.max_entries(), object::INNER_MAP_FLAGS).map_err(map_error(name))?;
            for (key, value) in policy.entries() {
                let (prefix_len, data) = split_key::<POLICY_KEY_SIZE, { POLICY_KEY_SIZE - 4 }>(key);
                policy_map.insert(&Key::new(prefix_len, data), value, 0).map_err(map_error(name))?;
            }
            InnerPolicy::Trie(policy_map)
        };
        let name = object::IPCACHE_GENERATIONS_MAP;
        let mut ipcache_map: IpcacheInnerMap = LpmTrie::create(ipcache.max_entries(), object::INNER_MAP_FLAGS).map_err(map_error(name))?;
        // With the host HASH, the trie is only read after a miss there, when no host entry
        // exists for the address; its answer is then the same without the host entries, and
        // the smaller trie is quicker to walk.
        let trie_entries: Vec<_> = if self.config.ipcache_host_hash { ipcache.prefix_entries() } else { ipcache.entries().to_vec() };
        for (key, value) in &trie_entries {
            let (prefix_len, data) = split_key::<IPCACHE_KEY_SIZE, { IPCACHE_KEY_SIZE - 4 }>(key);
            ipcache_map.insert(&Key::new(prefix_len, data), value, 0).map_err(map_error(name))?;
        }
        let ipcache_hosts = if self.config.ipcache_host_hash {
            let name = object::IPCACHE_HASH_GENERATIONS_MAP;
            let mut hosts: IpcacheHashInnerMap =
                aya::maps::HashMap::create(ipcache.host_hash_max_entries(), object::INNER_MAP_FLAGS).map_err(map_error(name))?;
            for (key, value) in ipcache.host_entries() {
                hosts.insert(key, value, 0).map_err(map_error(name))?;
            }
            Some(hosts)
        } else {
            None
        };
        Ok((inner_policy, ipcache_map, ipcache_hosts))
    }

    /// Installs a new generation: fills fresh inner maps, puts them in the spare slot, flips
    /// the selector, and waits until no packet uses the previous slot any more. Packets keep
    /// flowing (and test runs may go on in other threads) while this runs.
    pub fn install(&self, policy: &PolicyMapImage, ipcache: &IpcacheImage) -> Result<GenerationSwitch, KernelError> {
        if ipcache.cluster_id() != self.config.cluster_id {
            return Err(KernelError::ClusterMismatch { image: ipcache.cluster_id(), configured: self.config.cluster_id });
        }
        let (policy_map, ipcache_map, ipcache_hosts) = self.fill_inner_maps(policy, ipcache)?;
        let mut generations = self.lock_generations();
        let previous_slot = generations.active_slot;
        let slot = match previous_slot {
            Some(active) => (active + 1) % object::GENERATION_SLOTS,
            None => 0,
        };

        // The spare slot is not selected, so these writes are invisible to packets. Each
        // outer-map update returns only after an RCU grace period.
        generations.set_policy(slot, &policy_map)?;
        generations.ipcache_outer.set(slot, &ipcache_map, 0).map_err(map_error(object::IPCACHE_GENERATIONS_MAP))?;
        if let Some(hosts) = &ipcache_hosts {
            generations.ipcache_hash_outer.set(slot, hosts, 0).map_err(map_error(object::IPCACHE_HASH_GENERATIONS_MAP))?;
        }

        // The flip: one 4-byte array write.
        generations.selector.set(0, slot, 0).map_err(map_error(object::GENERATION_SELECTOR_MAP))?;

        // Grace period: re-storing the same inner map in the now active slot changes nothing
        // for packets, and the kernel waits for every running program before returning, so
        // no packet that read the old selector is still running when the next install
        // overwrites the old slot.
        generations.set_policy(slot, &policy_map)?;

        generations.active_slot = Some(slot);
        generations.generation += 1;
        Ok(GenerationSwitch { generation: generations.generation, slot, previous_slot })
    }

    /// Runs `frame` through the program for `direction` once.
    pub fn test_run(&self, direction: Direction, frame: &[u8]) -> Result<TestRunVerdict, KernelError> {
        if frame.len() < 14 {
            return Err(KernelError::FrameTooShort(frame.len()));
        }
        let name = program_name(direction);
        let program = self.program(name)?;
        let context_in = [0u8; SKB_CONTEXT_SIZE];
        let mut context_out = [0u8; SKB_CONTEXT_SIZE];
        let options =
            TestRunOptions { data_in: Some(frame), ctx_in: Some(&context_in), ctx_out: Some(&mut context_out), repeat: 1, ..TestRunOptions::default() };
        let result = program.test_run(options).map_err(program_error(name))?;
        let word = |offset: usize| u32::from_le_bytes([context_out[offset], context_out[offset + 1], context_out[offset + 2], context_out[offset + 3]]);
        let mark = word(SKB_MARK_OFFSET);
        let cb: Vec<u32> = (0..5).map(|index| word(SKB_CB_OFFSET + index * 4)).collect();
        let (verdict, slot) = if self.config.record_verdict {
            let reason = Reason::from_code(cb[0]);
            let match_kind = MatchKind::from_code(cb[3] & 0xff);
            match (reason, match_kind) {
                (Some(reason), Some(match_kind)) => (
                    Some(Verdict {
                        reason,
                        remote_identity: cb[1],
                        match_kind,
                        match_lpm_len: ((cb[3] >> 8) & 0xff) as u8,
                        policy_port: (cb[4] & 0xffff) as u16,
                        protocol: ((cb[4] >> 16) & 0xff) as u8,
                        family: (cb[4] >> 24) as u8,
                        mark,
                    }),
                    Some(cb[2]),
                ),
                _ => (None, Some(cb[2])),
            }
        } else {
            (None, None)
        };
        Ok(TestRunVerdict { return_code: result.return_value, mark, verdict, slot })
    }

    /// Runs `frame` `repeat` times in the kernel and returns the kernel's average time per run.
    pub fn time_per_packet(&self, direction: Direction, frame: &[u8], repeat: u32) -> Result<Duration, KernelError> {
        if frame.len() < 14 {
            return Err(KernelError::FrameTooShort(frame.len()));
        }
        let name = program_name(direction);
        let program = self.program(name)?;
        let options = TestRunOptions { data_in: Some(frame), repeat: repeat.max(1), ..TestRunOptions::default() };
        let result = program.test_run(options).map_err(program_error(name))?;
        Ok(result.duration)
    }

    /// Attaches both programs to `interface` (a name in the calling thread's network
    /// namespace) with tcx links (kernel ≥ 6.6): ingress program on ingress, egress on egress.
    pub fn attach(&mut self, interface: &str) -> Result<(), KernelError> {
        for (direction, attach_type) in [(Direction::Ingress, TcAttachType::Ingress), (Direction::Egress, TcAttachType::Egress)] {
            let name = program_name(direction);
            let link = self
                .program_mut(name)?
                .attach_with_options(interface, attach_type, TcAttachOptions::TcxOrder(LinkOrder::default()))
                .map_err(program_error(name))?;
            self.links.push((direction, link));
        }
        Ok(())
    }

    /// Detaches every link made by [`Datapath::attach`].
    pub fn detach(&mut self) -> Result<(), KernelError> {
        let links = std::mem::take(&mut self.links);
        for (direction, link) in links {
            let name = program_name(direction);
            self.program_mut(name)?.detach(link).map_err(program_error(name))?;
        }
        Ok(())
    }

    /// Every verdict counter, summed over CPUs, by (reason, direction).
    pub fn counters(&self) -> Result<BTreeMap<(Reason, Direction), Counter>, KernelError> {
        let name = object::COUNTERS_MAP;
        let map = self.ebpf.map(name).ok_or(KernelError::MissingMap(name))?;
        let counters: PerCpuArray<&MapData, [u8; COUNTER_SIZE]> = PerCpuArray::try_from(map).map_err(map_error(name))?;
        let mut totals = BTreeMap::new();
        for reason in Reason::ALL {
            for direction in Direction::ALL {
                let values = counters.get(&reason.counter_index(direction), 0).map_err(map_error(name))?;
                let mut total = Counter::default();
                for value in values.iter() {
                    total.packets += u64::from_le_bytes(value[0..8].try_into().unwrap_or([0; 8]));
                    total.bytes += u64::from_le_bytes(value[8..16].try_into().unwrap_or([0; 8]));
                }
                totals.insert((reason, direction), total);
            }
        }
        Ok(totals)
    }

    /// Takes every record waiting in the `polc_drops` ring buffer, oldest first.
    fn drain_ring_records(&mut self) -> Result<Vec<Vec<u8>>, KernelError> {
        let name = object::DROP_EVENTS_MAP;
        let map = self.ebpf.map_mut(name).ok_or(KernelError::MissingMap(name))?;
        let mut ring: RingBuf<&mut MapData> = RingBuf::try_from(map).map_err(map_error(name))?;
        let mut records = Vec::new();
        while let Some(item) = ring.next() {
            records.push(item.to_vec());
        }
        Ok(records)
    }

    /// Takes every drop event waiting in the ring buffer, oldest first. In the
    /// `emit_verdict_events` mode these are the verdict events of dropped packets.
    pub fn drain_drop_events(&mut self) -> Result<Vec<DropEvent>, KernelError> {
        let records = self.drain_ring_records()?;
        Ok(records
            .iter()
            .filter_map(|record| match VerdictEvent::decode(record) {
                Some(verdict) => (!verdict.is_allowed()).then_some(verdict.event),
                None => DropEvent::decode(record),
            })
            .collect())
    }

    /// Takes every verdict event (the `emit_verdict_events` mode) waiting in the ring buffer,
    /// oldest first; other records are discarded.
    pub fn drain_verdict_events(&mut self) -> Result<Vec<VerdictEvent>, KernelError> {
        Ok(self.drain_ring_records()?.iter().filter_map(|record| VerdictEvent::decode(record)).collect())
    }
}

fn split_key<const KEY: usize, const DATA: usize>(key: &[u8; KEY]) -> (u32, [u8; DATA]) {
    let prefix_len = u32::from_le_bytes([key[0], key[1], key[2], key[3]]);
    let mut data = [0u8; DATA];
    data.copy_from_slice(&key[4..4 + DATA]);
    (prefix_len, data)
}

/// Whether this process may load BPF programs and change network namespaces (effective uid 0).
pub fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status.lines().find(|line| line.starts_with("Uid:")).and_then(|line| line.split_whitespace().nth(2).map(|effective| effective == "0"))
        })
        .unwrap_or(false)
}
