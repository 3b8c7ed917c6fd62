//! The apply pipeline, restart adoption and endpoint attachment. Everything here runs on
//! one OS thread (it inherits the network namespace of the thread that started the agent).
//!
//! Apply:
//! 1. read and verify the bundle (digests, format version, sizes, structure);
//! 2. check it against the datapath contract and the node's limits;
//! 3. load an instance of the object for every endpoint whose object or constants changed
//!    (programs verified and pinned, nothing attached);
//! 4. build every inner map of the new generation to the side and put it in the spare slot
//!    of each instance's outer maps (packets never read the spare slot);
//! 5. record the new generation as pending in the state file;
//! 6. flip: one write of the shared selector switches every endpoint of the node;
//! 7. wait one RCU grace period, after which no packet uses the old slot;
//! 8. commit the state file, replace programs of upgraded endpoints on their pinned links,
//!    attach new endpoints, detach removed ones, and release the old slot's maps.
//!
//! Any failure before step 6 removes what step 3 loaded and leaves the live generation
//! untouched; it is returned to the caller and recorded as the last error.
//!
//! Before step 3 the apply writes a journal to the state directory and updates it at each
//! stage ([`ApplyStage`]). An agent that finds a journal at start was killed in the middle of
//! an apply: it adopts whatever generation the selector makes live (the old one before the
//! flip; after it, the new one, whose switch it then finishes), removes the instances and
//! spare-slot maps the interrupted apply built, and says what happened in the last error.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use polc_ebpf::bundle::{Bundle, read_bundle};
use polc_ebpf::object;

use crate::contract::{self, Limits, OuterRole, Plan, endpoint_key};
use crate::fault::{ApplyStage, FaultPlan, kill_this_process};
use crate::interfaces;
use crate::kernel::{InnerMap, KernelError, LinkState, NodeKernel, ensure_bpffs};
use crate::metrics::Metrics;
use crate::protocol::ApplyReport;
use crate::state::{ApplyJournal, Attachment, EndpointRecord, ErrorRecord, GenerationRecord, MapRecord, PersistedState, STATE_FORMAT, StateError, StateStore};
use crate::status::Status;
use crate::time::now_rfc3339;

/// How the agent runs.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// The agent's bpffs (mounted there when it is not one yet).
    pub bpffs: PathBuf,
    /// The state directory (state file, interface mapping file).
    pub state: PathBuf,
    /// The control socket.
    pub socket: PathBuf,
    /// Bundles dropped (renamed) into this directory are applied.
    pub watch: Option<PathBuf>,
    /// Loopback address of the metrics endpoint.
    pub metrics: Option<SocketAddr>,
    /// The node section to use (default: the bundle's only node).
    pub node: Option<String>,
    pub limits: Limits,
    /// How often endpoints without an interface are looked for again.
    pub rescan_interval: Duration,
    /// How often the watch directory is read.
    pub watch_interval: Duration,
    /// Testing hook: SIGKILL this process at a stage of an apply (`POLC_AGENT_FAULT`).
    pub fault: Option<FaultPlan>,
}

impl AgentConfig {
    /// A configuration with the default limits and intervals.
    pub fn new(bpffs: &Path, state: &Path, socket: &Path) -> AgentConfig {
        AgentConfig {
            bpffs: bpffs.to_path_buf(),
            state: state.to_path_buf(),
            socket: socket.to_path_buf(),
            watch: None,
            metrics: None,
            node: None,
            limits: Limits::default(),
            rescan_interval: Duration::from_secs(2),
            watch_interval: Duration::from_secs(1),
            fault: None,
        }
    }
}

/// State shared with the socket server and the metrics endpoint.
#[derive(Debug)]
pub struct Shared {
    status: Mutex<Status>,
    pub metrics: Metrics,
}

impl Shared {
    pub fn new(kernel: NodeKernel) -> Shared {
        Shared { status: Mutex::new(Status { started_at: now_rfc3339(), ..Status::default() }), metrics: Metrics::new(kernel) }
    }

    pub fn status(&self) -> MutexGuard<'_, Status> {
        self.status.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Why an apply was refused or failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplyFailure {
    /// `bundle`, `contract`, `kernel` or `state`.
    pub kind: &'static str,
    pub message: String,
}

impl ApplyFailure {
    fn new(kind: &'static str, error: &(dyn std::error::Error + 'static)) -> ApplyFailure {
        ApplyFailure { kind, message: crate::describe_error(error) }
    }
}

/// Why the agent could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(transparent)]
    Kernel(#[from] KernelError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error("the agent's engine thread stopped while starting")]
    EngineStopped,
}

/// What staging built: kept alive until the flip is over.
#[derive(Default)]
struct Staged {
    /// Instances loaded for this apply, removed again if it fails.
    fresh_instances: Vec<(String, String)>,
    inner_maps: BTreeMap<String, InnerMap>,
    /// Maps copied from the active slot of instances that leave (they stay alive here).
    copies: Vec<InnerMap>,
    /// One (endpoint, instance) whose spare slot was written, for the grace-period write.
    grace: Option<(String, String, OuterRole, String)>,
    entries: u64,
}

/// An apply's journal and the fault-injection hook: every stage the apply reaches is written
/// to the journal before anything of the next stage happens.
struct Progress {
    store: StateStore,
    journal: ApplyJournal,
    /// The stage at which this apply kills the process, if the fault plan names this apply.
    kill_at: Option<ApplyStage>,
}

impl Progress {
    /// Records `stage` in the journal, then kills the process if the fault plan says so.
    fn reach(&mut self, stage: ApplyStage) {
        self.record(stage);
        if self.kill_at == Some(stage) {
            kill_this_process();
        }
    }

    /// Records `stage` in the journal. The first write was synced; these need only survive
    /// the process, and a failure leaves the previous stage, which recovery handles alike.
    fn record(&mut self, stage: ApplyStage) {
        self.journal.stage = stage.name().to_owned();
        let _ = self.store.save_journal(&self.journal, false);
    }

    /// Called after each record written into the new generation's maps: kills the process
    /// half-way through the first map when the fault plan names [`ApplyStage::Building`].
    fn record_written(&self, written: usize, of: u64) {
        if self.kill_at == Some(ApplyStage::Building) && written as u64 == of.div_ceil(2) {
            kill_this_process();
        }
    }
}

/// The agent's engine: the state, the kernel pins and the status it publishes.
pub struct Engine {
    config: AgentConfig,
    kernel: NodeKernel,
    store: StateStore,
    state: PersistedState,
    shared: Arc<Shared>,
    /// Apply requests this process has taken, for the fault plan.
    applies_started: u64,
}

impl Engine {
    /// Mounts the bpffs if needed, reads the state, and adopts what is live: a generation
    /// flipped before a crash is committed, one that was not is discarded, and endpoints
    /// are (re)attached. The live generation is not rewritten.
    pub fn start(config: AgentConfig, shared: Arc<Shared>) -> Result<Engine, StartError> {
        ensure_bpffs(&config.bpffs)?;
        let store = StateStore::open(&config.state)?;
        let state = store.load()?;
        let mut engine = Engine { kernel: NodeKernel::new(&config.bpffs), config, store, state, shared, applies_started: 0 };
        engine.adopt()?;
        Ok(engine)
    }

    pub fn kernel(&self) -> &NodeKernel {
        &self.kernel
    }

    fn adopt(&mut self) -> Result<(), StartError> {
        let journal = match self.store.load_journal() {
            Ok(journal) => journal,
            Err(error) => {
                // An apply was interrupted, but what it was is lost: the cleanup below does
                // not need the journal, only the message does.
                let message = format!("an interrupted apply left a journal that cannot be read: {}", crate::describe_error(&error));
                self.record_error("state", message, None);
                let _ = self.store.remove_journal();
                None
            }
        };
        let selector = self.kernel.read_selector()?;
        let mut removed_instances = 0usize;
        if let Some(pending) = self.state.pending.take() {
            let committed_slot = self.state.committed.as_ref().map(|committed| committed.slot);
            if selector == Some(pending.slot) && committed_slot != Some(pending.slot) {
                // The flip happened before the agent stopped: that generation is live.
                let previous = self.state.committed.replace(pending);
                self.state.applies += 1;
                self.save_state();
                self.finish_switch(previous.as_ref(), None);
            } else {
                removed_instances += self.discard_instances_of(&pending);
            }
        }
        // The agent stopped after recording a flip and before releasing the old generation.
        if self.state.committed.as_ref().is_some_and(|committed| !committed.released && selector == Some(committed.slot)) {
            self.finish_switch(None, None);
        }
        let flip_happened = journal.as_ref().is_some_and(|journal| {
            self.state
                .committed
                .as_ref()
                .is_some_and(|committed| committed.bundle_digest == journal.bundle_digest && committed.generation > journal.live_generation)
        });

        let committed = self.state.committed.clone();
        if let Some(committed) = &committed {
            if selector != Some(committed.slot) {
                self.record_error(
                    "state",
                    format!(
                        "the live generation selector is {} but the state file says generation {} is in slot {}",
                        selector.map_or_else(|| "missing".to_owned(), |slot| slot.to_string()),
                        committed.generation,
                        committed.slot
                    ),
                    None,
                );
            } else {
                self.shared.status().adopted = true;
            }
        }
        // Instances no generation uses are leftovers of an apply that stopped half-way.
        let referenced: BTreeSet<(String, String)> =
            committed.iter().flat_map(|committed| committed.endpoints.iter().map(|(name, endpoint)| (endpoint_key(name), endpoint.instance.clone()))).collect();
        for (endpoint, instance) in self.kernel.instances() {
            if !referenced.contains(&(endpoint.clone(), instance.clone())) && self.kernel.remove_instance(&endpoint, &instance).is_ok() {
                removed_instances += 1;
            }
        }
        // Maps an apply that never flipped put in the spare slots of live instances. Once a
        // generation is live and released, its spare slots hold only placeholders, so this
        // needs no journal and changes nothing after a clean stop.
        let mut removed_maps = 0usize;
        if let Some(committed) = committed.as_ref().filter(|committed| committed.released && selector == Some(committed.slot)) {
            removed_maps = self.clear_spare_slots(committed);
        }

        if let Some(journal) = journal {
            let stage = match (flip_happened, ApplyStage::from_name(&journal.stage)) {
                (true, Some(stage)) if !stage.after_flip() => ApplyStage::Flipped.name().to_owned(),
                _ => journal.stage.clone(),
            };
            let mut message = format!("apply of bundle {} interrupted at {stage} by an agent restart; ", journal.bundle_digest);
            match (&committed, flip_happened) {
                (Some(committed), true) => {
                    message.push_str(&format!("its flip had happened, so generation {} is live and its switch was finished", committed.generation))
                }
                (Some(committed), false) => message.push_str(&format!("generation {} kept live", committed.generation)),
                (None, _) => message.push_str("no generation was live and none is"),
            }
            if removed_instances + removed_maps > 0 {
                message.push_str(&format!("; removed {removed_instances} instance(s) and {removed_maps} map(s) left behind"));
            }
            if !flip_happened {
                self.state.failures += 1;
            }
            self.record_error("interrupted", message, Some(Path::new(&journal.bundle_path)));
            if let Err(error) = self.store.remove_journal() {
                self.record_error("state", crate::describe_error(&error), None);
            }
        }
        self.save_state();
        self.rescan();
        self.publish();
        Ok(())
    }

    /// Puts placeholders in the spare slots of `committed`'s instances that hold maps of a
    /// generation that never went live; returns how many maps were taken out.
    fn clear_spare_slots(&self, committed: &GenerationRecord) -> usize {
        let spare = 1 - committed.slot.min(1);
        let mut placeholders = Vec::new();
        for (name, endpoint) in &committed.endpoints {
            let key = endpoint_key(name);
            for role in OuterRole::ALL {
                let built = self.kernel.slot_map_info(&key, &endpoint.instance, role, spare).ok().flatten().is_some_and(|(_, max_entries)| max_entries != 1);
                if built && let Ok(placeholder) = InnerMap::placeholder(role) {
                    placeholders.push((key.clone(), endpoint.instance.clone(), placeholder));
                }
            }
        }
        let jobs: Vec<(&str, &str, u32, &InnerMap)> =
            placeholders.iter().map(|(key, instance, placeholder)| (key.as_str(), instance.as_str(), spare, placeholder)).collect();
        match self.kernel.set_slots(&jobs) {
            Ok(()) => jobs.len(),
            Err(_) => 0,
        }
    }

    /// Removes the instances a never-flipped generation loaded that the committed one does
    /// not use; returns how many were there.
    fn discard_instances_of(&mut self, pending: &GenerationRecord) -> usize {
        let mut removed = 0;
        let pinned = self.kernel.instances();
        for (name, endpoint) in &pending.endpoints {
            let used = self
                .state
                .committed
                .as_ref()
                .and_then(|committed| committed.endpoints.get(name))
                .is_some_and(|committed| committed.instance == endpoint.instance);
            let key = endpoint_key(name);
            if !used && pinned.contains(&(key.clone(), endpoint.instance.clone())) && self.kernel.remove_instance(&key, &endpoint.instance).is_ok() {
                removed += 1;
            }
        }
        removed
    }

    fn save_state(&mut self) {
        if let Err(error) = self.store.save(&self.state) {
            let message = crate::describe_error(&error);
            self.state.last_error = Some(ErrorRecord { kind: "state".to_owned(), message, at: now_rfc3339(), bundle: None });
        }
    }

    fn record_error(&mut self, kind: &str, message: String, bundle: Option<&Path>) {
        self.state.last_error = Some(ErrorRecord { kind: kind.to_owned(), message, at: now_rfc3339(), bundle: bundle.map(|path| path.display().to_string()) });
    }

    /// Publishes the state to the status and the metrics.
    fn publish(&self) {
        let mut status = self.shared.status();
        status.refresh_from(&self.state);
        let entries: BTreeMap<String, u64> =
            self.state.committed.as_ref().map(|committed| committed.maps.iter().map(|(name, map)| (name.clone(), map.entries)).collect()).unwrap_or_default();
        self.shared.metrics.set_generation(status.generation, &entries);
    }

    /// Applies the bundle at `path`; `received` is when the request arrived.
    pub fn apply(&mut self, path: &Path, received: Instant) -> Result<ApplyReport, ApplyFailure> {
        self.shared.status().applying = true;
        self.applies_started += 1;
        let result = self.apply_bundle(path, received);
        // The apply is over, whichever way: what it did is in the state file now.
        if let Err(error) = self.store.remove_journal() {
            self.record_error("state", crate::describe_error(&error), None);
            self.save_state();
        }
        match &result {
            Ok(report) if !report.unchanged => {
                self.shared.metrics.record_apply(report.request_to_flip_us as f64 / 1e6);
            }
            Ok(_) => {}
            Err(failure) => {
                self.state.failures += 1;
                self.record_error(failure.kind, failure.message.clone(), Some(path));
                self.save_state();
                self.shared.metrics.record_failure(failure.kind);
            }
        }
        self.publish();
        self.shared.status().applying = false;
        result
    }

    fn apply_bundle(&mut self, path: &Path, received: Instant) -> Result<ApplyReport, ApplyFailure> {
        let bundle = read_bundle(path).map_err(|error| ApplyFailure::new("bundle", &error))?;
        let plan = contract::plan(&bundle, self.config.node.as_deref(), &self.config.limits).map_err(|error| ApplyFailure::new("contract", &error))?;
        if let Some(committed) = &self.state.committed
            && committed.bundle_digest == plan.bundle_digest.to_string()
            && committed.node == plan.node
            && self.kernel.read_selector().ok().flatten() == Some(committed.slot)
        {
            return Ok(ApplyReport {
                generation: committed.generation,
                bundle_digest: committed.bundle_digest.clone(),
                slot: committed.slot,
                unchanged: true,
                verified_us: received.elapsed().as_micros() as u64,
                staged_us: 0,
                request_to_flip_us: 0,
                total_us: received.elapsed().as_micros() as u64,
                entries: 0,
            });
        }
        let verified = received.elapsed();
        let kernel_failure = |error: KernelError| ApplyFailure::new("kernel", &error);
        let active = self.kernel.read_selector().map_err(kernel_failure)?;
        let spare = match active {
            Some(1) => 0,
            _ => 1,
        };
        let journal = ApplyJournal {
            format: STATE_FORMAT,
            bundle_digest: plan.bundle_digest.to_string(),
            bundle_path: path.display().to_string(),
            started_at: now_rfc3339(),
            live_generation: self.state.committed.as_ref().map_or(0, |committed| committed.generation),
            live_slot: active,
            target_slot: spare,
            stage: ApplyStage::Verified.name().to_owned(),
        };
        self.store.save_journal(&journal, true).map_err(|error| ApplyFailure::new("state", &error))?;
        let kill_at = self.config.fault.filter(|fault| fault.apply == self.applies_started).map(|fault| fault.stage);
        let mut progress = Progress { store: self.store.clone(), journal, kill_at };
        progress.reach(ApplyStage::Verified);

        let mut staged = Staged::default();
        if let Err(failure) = self.stage(&bundle, &plan, active, spare, &mut staged, &mut progress) {
            self.abort(&staged);
            return Err(failure);
        }
        let staged_at = received.elapsed();
        progress.reach(ApplyStage::Staged);

        let record = self.new_record(&plan, path, spare);
        self.state.pending = Some(record.clone());
        if let Err(error) = self.store.save(&self.state) {
            self.state.pending = None;
            self.abort(&staged);
            return Err(ApplyFailure::new("state", &error));
        }
        progress.reach(ApplyStage::Recorded);

        // The flip.
        if let Err(error) = self.kernel.write_selector(spare) {
            self.state.pending = None;
            self.save_state();
            self.abort(&staged);
            return Err(ApplyFailure::new("kernel", &error));
        }
        let request_to_flip = received.elapsed();
        progress.reach(ApplyStage::Flipped);

        // Grace period: rewriting a slot that already holds the same map changes nothing
        // for packets, and the kernel returns only once every program that could have read
        // the old selector value has finished.
        if let Some((endpoint, instance, _, map)) = &staged.grace
            && let Some(inner) = staged.inner_maps.get(map).or(staged.copies.first())
        {
            let _ = self.kernel.set_slot(endpoint, instance, spare, inner);
        }

        let previous = self.state.committed.replace(record);
        self.state.pending = None;
        self.state.applies += 1;
        self.save_state();
        self.finish_switch(previous.as_ref(), Some(&mut progress));
        self.publish();
        let committed = self.state.committed.as_ref();
        Ok(ApplyReport {
            generation: committed.map_or(0, |committed| committed.generation),
            bundle_digest: plan.bundle_digest.to_string(),
            slot: spare,
            unchanged: false,
            verified_us: verified.as_micros() as u64,
            staged_us: staged_at.as_micros() as u64,
            request_to_flip_us: request_to_flip.as_micros() as u64,
            total_us: received.elapsed().as_micros() as u64,
            entries: staged.entries,
        })
    }

    fn new_record(&self, plan: &Plan, path: &Path, slot: u32) -> GenerationRecord {
        let committed = self.state.committed.as_ref();
        let endpoints = plan
            .endpoints
            .iter()
            .map(|endpoint| {
                let attachment = committed.and_then(|committed| committed.endpoints.get(&endpoint.name)).and_then(|record| record.attachment.clone());
                (
                    endpoint.name.clone(),
                    EndpointRecord {
                        identity: endpoint.identity,
                        addresses: endpoint.addresses.iter().map(IpAddr::to_string).collect(),
                        instance: endpoint.instance.clone(),
                        bindings: endpoint.bindings.iter().map(|(role, map)| (role.outer_map().to_owned(), map.clone())).collect(),
                        attachment,
                    },
                )
            })
            .collect();
        let maps = plan
            .maps
            .values()
            .map(|map| (map.name.clone(), MapRecord { kind: map.kind.name().to_owned(), entries: map.entries, max_entries: map.max_entries }))
            .collect();
        GenerationRecord {
            generation: committed.map_or(0, |committed| committed.generation) + 1,
            slot,
            bundle_digest: plan.bundle_digest.to_string(),
            bundle_path: path.display().to_string(),
            applied_at: now_rfc3339(),
            node: plan.node.clone(),
            endpoints,
            maps,
            released: false,
        }
    }

    /// Steps 3 and 4: instances loaded, inner maps built, spare slots filled.
    fn stage(&self, bundle: &Bundle, plan: &Plan, active: Option<u32>, spare: u32, staged: &mut Staged, progress: &mut Progress) -> Result<(), ApplyFailure> {
        let kernel_failure = |error: KernelError| ApplyFailure::new("kernel", &error);
        let committed = self.state.committed.as_ref();
        let committed_endpoint = |name: &str| committed.and_then(|committed| committed.endpoints.get(name));

        for endpoint in &plan.endpoints {
            let reuse = committed_endpoint(&endpoint.name).is_some_and(|record| record.instance == endpoint.instance)
                && self.kernel.instance_exists(&endpoint.key, &endpoint.instance);
            if reuse {
                continue;
            }
            // A directory left by an apply that stopped half-way is not trusted.
            self.kernel.remove_instance(&endpoint.key, &endpoint.instance).map_err(kernel_failure)?;
            staged.fresh_instances.push((endpoint.key.clone(), endpoint.instance.clone()));
            let bytes = bundle
                .blob(&endpoint.object.digest)
                .ok_or_else(|| ApplyFailure { kind: "bundle", message: format!("blob `{}` is missing from the bundle", endpoint.object.digest) })?;
            self.kernel.load_instance(&endpoint.key, &endpoint.instance, &endpoint.object.name, bytes, &endpoint.object.constants).map_err(kernel_failure)?;
        }
        progress.reach(ApplyStage::Loaded);

        progress.record(ApplyStage::Building);
        for (name, section) in &plan.maps {
            let Some(role) = OuterRole::ALL.into_iter().find(|role| role.layout() == (section.kind, section.key_size, section.value_size)) else {
                continue;
            };
            let records = bundle
                .blob(&section.digest)
                .ok_or_else(|| ApplyFailure { kind: "bundle", message: format!("blob `{}` is missing from the bundle", section.digest) })?;
            let progress = &*progress;
            let inner =
                InnerMap::build_observed(role, section, records, &mut |written| progress.record_written(written, section.entries)).map_err(kernel_failure)?;
            staged.inner_maps.insert(name.clone(), inner);
            staged.entries += section.entries;
        }

        let mut jobs = Vec::new();
        for endpoint in &plan.endpoints {
            for (role, map) in &endpoint.bindings {
                let inner = staged.inner_maps.get(map).ok_or_else(|| ApplyFailure {
                    kind: "contract",
                    message: format!("endpoint `{}` binds map `{map}`, which was not built", endpoint.name),
                })?;
                jobs.push((endpoint.key.as_str(), endpoint.instance.as_str(), spare, inner));
                staged.grace = Some((endpoint.key.clone(), endpoint.instance.clone(), *role, map.clone()));
            }
        }
        self.kernel.set_slots(&jobs).map_err(kernel_failure)?;
        drop(jobs);

        // Instances that stay attached until just after the flip (replaced by an upgrade, or
        // of an endpoint that leaves) read the spare slot too: give them the new
        // generation's maps when the new bindings cover what they read, else a copy of the
        // live generation's, so that no packet ever sees a mix or an empty slot.
        let Some(committed) = committed else {
            return Ok(());
        };
        let planned: BTreeMap<&str, &contract::EndpointPlan> = plan.endpoints.iter().map(|endpoint| (endpoint.name.as_str(), endpoint)).collect();
        for (name, record) in &committed.endpoints {
            let key = endpoint_key(name);
            let successor = planned.get(name.as_str());
            if successor.is_some_and(|successor| successor.instance == record.instance) || !self.kernel.instance_exists(&key, &record.instance) {
                continue;
            }
            let roles: Vec<OuterRole> = record.bindings.keys().filter_map(|outer| OuterRole::from_outer_map(outer)).collect();
            let covered = successor.is_some_and(|successor| roles.iter().all(|role| successor.bindings.contains_key(role)));
            for role in roles {
                match (covered, successor) {
                    (true, Some(successor)) => {
                        let map = successor.bindings.get(&role).and_then(|map| staged.inner_maps.get(map));
                        if let Some(inner) = map {
                            self.kernel.set_slot(&key, &record.instance, spare, inner).map_err(kernel_failure)?;
                        }
                    }
                    _ => {
                        let live = match active {
                            Some(slot) => self.kernel.get_slot(&key, &record.instance, role, slot).map_err(kernel_failure)?,
                            None => None,
                        };
                        if let Some(inner) = live {
                            self.kernel.set_slot(&key, &record.instance, spare, &inner).map_err(kernel_failure)?;
                            staged.copies.push(inner);
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Undoes steps 3 and 4 after a failure before the flip: the instances loaded for this
    /// apply, and the maps it put in the spare slots of live instances.
    fn abort(&self, staged: &Staged) {
        for (endpoint, instance) in &staged.fresh_instances {
            let _ = self.kernel.remove_instance(endpoint, instance);
        }
        if let Some(committed) = &self.state.committed {
            self.clear_spare_slots(committed);
        }
    }

    /// Step 8, after the flip and the grace period (or, after a restart, for a flip the
    /// previous agent did not finish): links, leftovers, and the old slot's maps. Without
    /// `previous` (it was lost with a killed agent), every filled old slot is released.
    fn finish_switch(&mut self, previous: Option<&GenerationRecord>, mut progress: Option<&mut Progress>) {
        let Some(current) = self.state.committed.clone() else {
            return;
        };
        // Programs of upgraded endpoints are replaced on their links, new endpoints attached.
        self.rescan();
        let current = self.state.committed.clone().unwrap_or(current);
        if let Some(progress) = progress.as_deref_mut() {
            progress.reach(ApplyStage::Upgraded);
        }
        if let Some(previous) = previous {
            for (name, record) in &previous.endpoints {
                let key = endpoint_key(name);
                match current.endpoints.get(name) {
                    None => {
                        let _ = self.kernel.detach(&key);
                        let _ = self.kernel.remove_instance(&key, &record.instance);
                    }
                    Some(successor) if successor.instance != record.instance => {
                        let linked = [object::INGRESS_PROGRAM, object::EGRESS_PROGRAM]
                            .iter()
                            .all(|program| self.kernel.link_state(&key, &successor.instance, program).is_ok_and(|state| state != LinkState::Stale));
                        if linked {
                            let _ = self.kernel.remove_instance(&key, &record.instance);
                        }
                    }
                    Some(_) => {}
                }
            }
        }
        if !current.released {
            let old_slot = 1 - current.slot.min(1);
            let mut releases = Vec::new();
            for (name, record) in &current.endpoints {
                let reused = previous.is_none_or(|previous| previous.endpoints.get(name).is_some_and(|old| old.instance == record.instance));
                if !reused {
                    continue;
                }
                let key = endpoint_key(name);
                for role in OuterRole::ALL {
                    let filled = self.kernel.get_slot(&key, &record.instance, role, old_slot).ok().flatten().is_some();
                    if filled && let Ok(placeholder) = InnerMap::placeholder(role) {
                        releases.push((key.clone(), record.instance.clone(), placeholder));
                    }
                }
            }
            let jobs: Vec<(&str, &str, u32, &InnerMap)> =
                releases.iter().map(|(key, instance, placeholder)| (key.as_str(), instance.as_str(), old_slot, placeholder)).collect();
            match progress {
                // A fault plan that stops the release half-way: one map first, then the stop.
                Some(progress) if progress.kill_at == Some(ApplyStage::Releasing) && !jobs.is_empty() => {
                    let (key, instance, slot, placeholder) = jobs[0];
                    let _ = self.kernel.set_slot(key, instance, slot, placeholder);
                    progress.reach(ApplyStage::Releasing);
                }
                Some(progress) => progress.record(ApplyStage::Releasing),
                None => {}
            }
            let _ = self.kernel.set_slots(&jobs);
            if let Some(committed) = self.state.committed.as_mut() {
                committed.released = true;
            }
            self.save_state();
        }
    }

    /// Attaches endpoints whose interface has appeared, re-attaches those whose interface
    /// changed, replaces stale programs, and detaches those whose interface went away.
    pub fn rescan(&mut self) {
        let Some(mut committed) = self.state.committed.clone() else {
            return;
        };
        let mapping = match interfaces::read_mapping(&self.config.state) {
            Ok(mapping) => mapping,
            Err(message) => {
                self.record_error("attach", message, None);
                BTreeMap::new()
            }
        };
        let routes = interfaces::current_routes();
        let mut changed = false;
        let mut errors = Vec::new();
        for (name, endpoint) in committed.endpoints.iter_mut() {
            let key = endpoint_key(name);
            let addresses: Vec<IpAddr> = endpoint.addresses.iter().filter_map(|address| address.parse().ok()).collect();
            let wanted = interfaces::find_interface(&mapping, name, &addresses, &routes);
            let wanted_index = wanted.as_deref().and_then(interfaces::interface_index);
            if let Some(attachment) = &endpoint.attachment {
                let still_there = wanted.as_deref() == Some(attachment.interface.as_str()) && wanted_index == Some(attachment.ifindex);
                if !still_there {
                    // The interface moved or went away: its links are dead or wrong.
                    let _ = self.kernel.detach(&key);
                    endpoint.attachment = None;
                    changed = true;
                }
            }
            let (Some(interface), Some(ifindex)) = (wanted, wanted_index) else {
                continue;
            };
            let up_to_date = endpoint.attachment.is_some()
                && [object::INGRESS_PROGRAM, object::EGRESS_PROGRAM]
                    .iter()
                    .all(|program| self.kernel.link_state(&key, &endpoint.instance, program).is_ok_and(|state| state == LinkState::Current));
            if up_to_date {
                continue;
            }
            match self.kernel.attach(&key, &endpoint.instance, &interface) {
                Ok(()) => {
                    endpoint.attachment = Some(Attachment { interface, ifindex });
                    changed = true;
                }
                Err(error) => errors.push(format!("cannot attach endpoint `{name}` to `{interface}`: {}", crate::describe_error(&error))),
            }
        }
        if changed {
            self.state.committed = Some(committed);
        }
        if let Some(message) = errors.into_iter().next()
            && self.state.last_error.as_ref().is_none_or(|last| last.message != message)
        {
            self.record_error("attach", message, None);
            changed = true;
        }
        if changed {
            self.save_state();
            self.publish();
        }
    }
}
