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

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use polc_ebpf::bundle::{Bundle, read_bundle};
use polc_ebpf::object;

use crate::contract::{self, Limits, OuterRole, Plan, endpoint_key};
use crate::interfaces;
use crate::kernel::{InnerMap, KernelError, LinkState, NodeKernel, ensure_bpffs};
use crate::metrics::Metrics;
use crate::protocol::ApplyReport;
use crate::state::{Attachment, EndpointRecord, ErrorRecord, GenerationRecord, MapRecord, PersistedState, StateError, StateStore};
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

/// The agent's engine: the state, the kernel pins and the status it publishes.
pub struct Engine {
    config: AgentConfig,
    kernel: NodeKernel,
    store: StateStore,
    state: PersistedState,
    shared: Arc<Shared>,
}

impl Engine {
    /// Mounts the bpffs if needed, reads the state, and adopts what is live: a generation
    /// flipped before a crash is committed, one that was not is discarded, and endpoints
    /// are (re)attached. The live generation is not rewritten.
    pub fn start(config: AgentConfig, shared: Arc<Shared>) -> Result<Engine, StartError> {
        ensure_bpffs(&config.bpffs)?;
        let store = StateStore::open(&config.state)?;
        let state = store.load()?;
        let mut engine = Engine { kernel: NodeKernel::new(&config.bpffs), config, store, state, shared };
        engine.adopt()?;
        Ok(engine)
    }

    pub fn kernel(&self) -> &NodeKernel {
        &self.kernel
    }

    fn adopt(&mut self) -> Result<(), StartError> {
        let selector = self.kernel.read_selector()?;
        if let Some(pending) = self.state.pending.take() {
            let committed_slot = self.state.committed.as_ref().map(|committed| committed.slot);
            if selector == Some(pending.slot) && committed_slot != Some(pending.slot) {
                // The flip happened before the agent stopped: that generation is live.
                let previous = self.state.committed.replace(pending);
                self.state.applies += 1;
                self.save_state();
                self.finish_switch(previous.as_ref());
            } else {
                self.discard_instances_of(&pending);
            }
        }
        if let Some(committed) = self.state.committed.clone() {
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
            // Instances no generation uses are leftovers of an apply that stopped half-way.
            let referenced: BTreeSet<(String, String)> =
                committed.endpoints.iter().map(|(name, endpoint)| (endpoint_key(name), endpoint.instance.clone())).collect();
            for (endpoint, instance) in self.kernel.instances() {
                if !referenced.contains(&(endpoint.clone(), instance.clone())) {
                    let _ = self.kernel.remove_instance(&endpoint, &instance);
                }
            }
        }
        self.save_state();
        self.rescan();
        self.publish();
        Ok(())
    }

    /// Removes the instances a never-flipped generation loaded that the committed one does
    /// not use.
    fn discard_instances_of(&mut self, pending: &GenerationRecord) {
        for (name, endpoint) in &pending.endpoints {
            let used = self
                .state
                .committed
                .as_ref()
                .and_then(|committed| committed.endpoints.get(name))
                .is_some_and(|committed| committed.instance == endpoint.instance);
            if !used {
                let _ = self.kernel.remove_instance(&endpoint_key(name), &endpoint.instance);
            }
        }
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
        let result = self.apply_bundle(path, received);
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
        let mut staged = Staged::default();
        if let Err(failure) = self.stage(&bundle, &plan, active, spare, &mut staged) {
            self.abort(&staged);
            return Err(failure);
        }
        let staged_at = received.elapsed();

        let record = self.new_record(&plan, path, spare);
        self.state.pending = Some(record.clone());
        if let Err(error) = self.store.save(&self.state) {
            self.state.pending = None;
            self.abort(&staged);
            return Err(ApplyFailure::new("state", &error));
        }

        // The flip.
        if let Err(error) = self.kernel.write_selector(spare) {
            self.state.pending = None;
            self.save_state();
            self.abort(&staged);
            return Err(ApplyFailure::new("kernel", &error));
        }
        let request_to_flip = received.elapsed();

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
        self.finish_switch(previous.as_ref());
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
    fn stage(&self, bundle: &Bundle, plan: &Plan, active: Option<u32>, spare: u32, staged: &mut Staged) -> Result<(), ApplyFailure> {
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

        for (name, section) in &plan.maps {
            let Some(role) = OuterRole::ALL.into_iter().find(|role| role.layout() == (section.kind, section.key_size, section.value_size)) else {
                continue;
            };
            let records = bundle
                .blob(&section.digest)
                .ok_or_else(|| ApplyFailure { kind: "bundle", message: format!("blob `{}` is missing from the bundle", section.digest) })?;
            staged.inner_maps.insert(name.clone(), InnerMap::build(role, section, records).map_err(kernel_failure)?);
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

    /// Undoes step 3 after a failure before the flip.
    fn abort(&self, staged: &Staged) {
        for (endpoint, instance) in &staged.fresh_instances {
            let _ = self.kernel.remove_instance(endpoint, instance);
        }
    }

    /// Step 8, after the flip and the grace period (or, after a restart, for a flip the
    /// previous agent did not finish): links, leftovers, and the old slot's maps.
    fn finish_switch(&mut self, previous: Option<&GenerationRecord>) {
        let Some(current) = self.state.committed.clone() else {
            return;
        };
        // Programs of upgraded endpoints are replaced on their links, new endpoints attached.
        self.rescan();
        let current = self.state.committed.clone().unwrap_or(current);
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
                let reused = previous.and_then(|previous| previous.endpoints.get(name)).is_some_and(|old| old.instance == record.instance);
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
