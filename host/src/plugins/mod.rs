//! The plugin runtime: loads inverter components and calls them in a sandbox.
//!
//! One [`Runtime`] owns the wasmtime `Engine` (pooling allocator, epoch
//! interruption) and a `Linker` that provides the contract's only import,
//! `log`. [`Runtime::load`] checks a component's shape, pre-instantiates it
//! once and asks it for its metadata; the resulting [`LoadedPlugin`] then
//! runs every call in a fresh `Store` with a CPU deadline and a memory cap.
//! Nothing a plugin does can panic the host: every failure is a
//! [`PluginError`] that names the plugin and the cause.

mod batch;
mod bindings;
// The one module allowed `unsafe`: deserializing compiled components; its
// safety contract is in its module docs.
#[allow(unsafe_code)]
mod cache;
mod call;
mod compile;
mod epoch;
mod error;
mod limits;
mod output;
mod registry;
mod shape;
mod tiers;

pub use bindings::{CONTRACT_PACKAGE, CONTRACT_VERSION};
pub use compile::{worker_main as compile_worker_main, Compiler};
pub use error::PluginError;
pub use limits::{Compile, Limits};
pub use output::{valid_action_type, Inverse, Metadata};
pub use registry::{validator_for, Active, Registry, RegistryError, Snapshot, Source};

use crate::action_types::Validator;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use wasmtime::component::Linker;
use wasmtime::{Enabled, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// The largest linear memory a wasm32 module can declare (4 GiB).
const WASM32_MAX_MEMORY: usize = 1 << 32;
/// Bytes of each table slot kept resident between instances (a plugin's
/// tables are small: function references of one component).
const TABLE_KEEP_RESIDENT: usize = 64 << 10;
/// Bytes of each memory slot kept resident between instances (what a
/// plugin usually touches: its 1 MiB stack and a small heap). Pages beyond
/// are returned to the system, so idle slots hold at most this much each
/// (64 slots: 128 MiB) whatever a memory-hungry plugin touched.
const KEEP_RESIDENT: usize = 2 << 20;
/// Bytes of each memory slot kept resident where PAGEMAP_SCAN is missing
/// (wasmtime then zeroes them with memset after every instance).
const KEEP_RESIDENT_WITHOUT_PAGEMAP: usize = 64 << 10;

/// How much of a plugin's refusal message is kept.
const MAX_REFUSAL_BYTES: usize = 4096;

/// The shared machinery every plugin runs on. Cheap to clone.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Shared>,
}

struct Shared {
    /// Cranelift's engine (Winch's with [`Compile::Baseline`]).
    optimized: tiers::Tier,
    /// Winch's engine, with [`Compile::Tiered`]: code for plugins whose
    /// optimized code is not cached yet (see the `tiers` module).
    baseline: Option<tiers::Tier>,
    /// Where plugins on baseline code are queued for optimized code.
    optimizer: Option<std::sync::Mutex<std::sync::mpsc::Sender<tiers::Job>>>,
    limits: Limits,
    cache: Option<cache::Cache>,
    /// One compile at a time (uploads and directory scans alike): a burst
    /// of uploads queues instead of taking every core and its memory.
    compiling: std::sync::Mutex<()>,
    /// The executable compiles run in, within the limits' bounds (see the
    /// `compile` module); unset: in this process, unbounded.
    worker: std::sync::OnceLock<std::path::PathBuf>,
}

/// The largest component loaded, from an upload or the plugins directory
/// (32 MiB: a Python inverter built by componentize-py, CPython inside, is
/// about 18 MiB; a JavaScript one by componentize-js about 12 MiB; a Rust
/// one 100-300 KiB).
pub const MAX_COMPONENT_BYTES: usize = 32 << 20;

/// One action of an executed plan, as handed to [`LoadedPlugin::invert`].
#[derive(Debug, Clone, Copy)]
pub struct Executed<'a> {
    /// The action's uuid.
    pub action_uuid: &'a str,
    /// Its action type.
    pub action_type: &'a str,
    /// Its `input_parameters` object.
    pub input_parameters: &'a serde_json::Value,
    /// Its recorded `pre_state` object.
    pub pre_state: &'a serde_json::Value,
    /// Its recorded `result` object.
    pub result: &'a serde_json::Value,
}

/// A component that passed every load-time check, ready to be called.
#[derive(Clone)]
pub struct LoadedPlugin {
    /// Keeps the engines (and the optimizing thread) alive while any
    /// plugin of theirs is.
    _runtime: Runtime,
    /// Its own limits: the runtime's, with its memory cap.
    limits: Limits,
    code: tiers::Slot,
    metadata: Metadata,
    validator: Validator,
    sha256: String,
    size: usize,
    contract_version: String,
}

impl Runtime {
    /// Builds the engine (pooling allocator sized from `limits`, epoch
    /// interruption) and starts the epoch ticker thread.
    pub fn new(limits: Limits) -> Result<Self, PluginError> {
        Self::build(limits, None)
    }

    /// Like [`Runtime::new`], caching compiled components in `dir` so that
    /// later starts skip compilation. `key` authenticates the cache's files
    /// (keep it out of `dir`; the service keeps it in its store); see the
    /// `cache` module for the rules.
    pub fn with_cache(limits: Limits, dir: &std::path::Path, key: [u8; 32]) -> Result<Self, PluginError> {
        Self::build(limits, Some((dir, key)))
    }

    /// Removes compile-cache entries of components other than `keep`
    /// (their sha256 digests). Returns how many were removed.
    pub fn evict_cache_except(&self, keep: &std::collections::HashSet<String>) -> usize {
        self.inner.cache.as_ref().map_or(0, |c| c.evict_except(keep))
    }

    fn build(limits: Limits, cache_dir: Option<(&std::path::Path, [u8; 32])>) -> Result<Self, PluginError> {
        let config_err = |e: wasmtime::Error| PluginError::Config(format!("{e:?}"));
        let mut pool = PoolingAllocationConfig::default();
        let slots = limits.pool_size.max(1);
        pool.total_component_instances(slots)
            .total_core_instances(slots.saturating_mul(limits::MAX_CORE_INSTANCES as u32))
            .total_memories(slots.saturating_mul(limits::MAX_MEMORIES as u32))
            .total_tables(slots.saturating_mul(limits::MAX_TABLES as u32))
            // Slots may hold any wasm32 memory: the per-store limiter is the one
            // place the memory cap is enforced, so that every overrun, initial
            // size included, is reported as `PluginError::MemoryLimit`.
            .max_memory_size(WASM32_MAX_MEMORY)
            // Reset a slot's memory in place when an instance ends (only the
            // pages it dirtied, found with Linux's PAGEMAP_SCAN, back to their
            // initial contents) instead of unmapping it: the next instance
            // in that slot takes no page faults and no TLB shootdown (up to
            // KEEP_RESIDENT; the rest is decommitted). Without
            // PAGEMAP_SCAN (Linux < 6.7) wasmtime memsets the kept bytes
            // blindly, so only a little is kept there.
            .pagemap_scan(Enabled::Auto)
            .linear_memory_keep_resident(if PoolingAllocationConfig::is_pagemap_scan_available() {
                KEEP_RESIDENT.min(limits.memory_bytes())
            } else {
                KEEP_RESIDENT_WITHOUT_PAGEMAP
            })
            .table_keep_resident(TABLE_KEEP_RESIDENT);

        // Engine settings: see `compile::config`.
        let engine_for = |compiler: compile::Compiler, parallel: bool| -> Result<tiers::Tier, PluginError> {
            let mut config = compile::config(compiler, parallel);
            config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool.clone()));
            let engine = Engine::new(&config).map_err(config_err)?;
            epoch::start_ticker(&engine)
                .map_err(|e| PluginError::Config(format!("cannot start the epoch thread: {e}")))?;
            let mut linker = Linker::new(&engine);
            call::add_imports(&mut linker).map_err(config_err)?;
            Ok(tiers::Tier { engine, linker, compiler, parallel })
        };
        use compile::Compiler::{Baseline, Optimized};
        let (optimized, baseline) = match limits.compile {
            // The optimized compile runs in the background, on one core.
            Compile::Tiered => (engine_for(Optimized, false)?, Some(engine_for(Baseline, true)?)),
            Compile::Optimized => (engine_for(Optimized, true)?, None),
            Compile::Baseline => (engine_for(Baseline, true)?, None),
        };
        let cache = match cache_dir {
            Some((dir, key)) => Some(
                cache::Cache::open(dir, &optimized.engine, key)
                    .map_err(|e| PluginError::Config(format!("compile cache {}: {e}", dir.display())))?,
            ),
            None => None,
        };
        let tiered = baseline.is_some();
        let mut started: Result<(), std::io::Error> = Ok(());
        let inner = Arc::new_cyclic(|weak| {
            let optimizer = if tiered {
                match tiers::start_optimizer(weak.clone()) {
                    Ok(tx) => Some(std::sync::Mutex::new(tx)),
                    Err(e) => {
                        started = Err(e);
                        None
                    }
                }
            } else {
                None
            };
            Shared {
                optimized,
                baseline,
                optimizer,
                limits,
                cache,
                compiling: std::sync::Mutex::new(()),
                worker: std::sync::OnceLock::new(),
            }
        });
        started.map_err(|e| PluginError::Config(format!("cannot start the optimizing thread: {e}")))?;
        Ok(Runtime { inner })
    }

    /// Compiles every component from now on in a worker process started
    /// from `exe` (this service's own executable, which answers `plugin
    /// compile-worker`), within the limits' compile timeout and memory; see
    /// the `compile` module. Without it compiles run in this process,
    /// unbounded. Set once; later calls change nothing.
    pub fn compile_in_workers(&self, exe: std::path::PathBuf) {
        let _ = self.inner.worker.set(exe);
    }

    /// Checks and prepares a component. `origin` (a file name, "upload", ...)
    /// only labels errors and log lines until the plugin names itself.
    pub fn load(&self, bytes: &[u8], origin: &str) -> Result<LoadedPlugin, PluginError> {
        if bytes.len() > MAX_COMPONENT_BYTES {
            return Err(PluginError::TooLarge { size: bytes.len(), max: MAX_COMPONENT_BYTES });
        }
        if wasmparser::Parser::is_core_wasm(bytes) {
            return Err(PluginError::CoreModule);
        }
        if !wasmparser::Parser::is_component(bytes) {
            return Err(PluginError::NotWasm);
        }
        let shared = &self.inner;
        let sha256 = hex::encode(Sha256::digest(bytes));
        // Optimized code from the cache when there is some; else, when
        // tiered, Winch's now and Cranelift's later; else compiled now.
        // Only compiling takes the lock: loads from the cache (a start's
        // plugins) run side by side.
        let cached = match (&shared.baseline, &shared.cache) {
            (Some(_), Some(cache)) => cache.lookup(&shared.optimized.engine, &sha256),
            _ => None,
        };
        let compiling = cached
            .is_none()
            .then(|| shared.compiling.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
        let (tier, component, artifact) = match (cached, &shared.baseline, &shared.cache) {
            (Some(component), _, _) => (&shared.optimized, component, None),
            (None, Some(baseline), cache) => {
                if cache.is_some() {
                    crate::metrics::METRICS.compile_cache(false);
                }
                (baseline, shared.compile(baseline, bytes)?.0, None)
            }
            (None, None, Some(cache)) => match cache.lookup(&shared.optimized.engine, &sha256) {
                Some(component) => (&shared.optimized, component, None),
                None => {
                    crate::metrics::METRICS.compile_cache(false);
                    let (component, artifact) = shared.compile(&shared.optimized, bytes)?;
                    (&shared.optimized, component, Some(artifact))
                }
            },
            (None, None, None) => (&shared.optimized, shared.compile(&shared.optimized, bytes)?.0, None),
        };
        drop(compiling);
        let on_baseline = shared.baseline.as_ref().is_some_and(|b| std::ptr::eq(b, tier));
        let optimized = !on_baseline && shared.limits.compile != Compile::Baseline;
        let (code, shape) = tiers::Code::prepare(tier, &component, optimized)?;

        // The metadata, from an instance that also proves `invert-batch`
        // (when exported) has the contract's signature.
        // Its memory at rest (the initial memories, measured right after
        // instantiation, under the ceiling) sets the plugin's memory cap.
        let mut at_rest = 0;
        let raw = call::with_instance(
            &tier.engine,
            &shared.limits.at_load(),
            origin,
            |store| code.pre.instance_pre().instantiate(store),
            |instance, store| {
                at_rest = call::memory_in_use(store);
                if let Some(batch) = &code.batch {
                    if let Err(e) = call::batch_func(instance, store, batch) {
                        return Ok(Err(format!("`{}`: {e:?}", bindings::BATCH_FUNCTION)));
                    }
                }
                let plugin = bindings::PluginCore::new(&mut *store, instance)?;
                plugin.watcher_rollback_inverter().call_metadata(store).map(Ok)
            },
        )?
        .map_err(PluginError::SignatureMismatch)?;
        let limits = shared.limits.for_plugin(at_rest);
        let metadata = output::check_metadata(origin, raw, &limits)?;
        let validator =
            Validator::compile(&metadata.action_type, &metadata.parameters_schema).map_err(|e| {
                PluginError::BadMetadata {
                    plugin: origin.to_string(),
                    reason: format!("parameters schema: {e}"),
                }
            })?;
        // Every check passed: only now may the artifact be cached.
        if let (Some(cache), Some(artifact)) = (&shared.cache, artifact) {
            cache.store(&sha256, &artifact);
        }
        let code: tiers::Slot = Arc::new(std::sync::RwLock::new(Arc::new(code)));
        if on_baseline {
            if let Some(optimizer) = &shared.optimizer {
                let job = tiers::Job {
                    bytes: bytes.to_vec(),
                    sha256: sha256.clone(),
                    plugin: metadata.action_type.clone(),
                    slot: Arc::downgrade(&code),
                };
                let queued = optimizer.lock().map(|tx| tx.send(job).is_ok()).unwrap_or(false);
                if !queued {
                    tracing::warn!(action_type = %metadata.action_type, "the optimizing thread is gone; the plugin stays on baseline code");
                }
            }
        }
        Ok(LoadedPlugin {
            _runtime: self.clone(),
            limits,
            code,
            metadata,
            validator,
            sha256,
            size: bytes.len(),
            contract_version: shape.version,
        })
    }
}

impl LoadedPlugin {
    /// What the plugin says about itself (checked at load).
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Its memory cap in bytes: its memory at rest plus the per-call
    /// allowance, within the ceiling (see [`Limits`]).
    pub fn memory_cap(&self) -> usize {
        self.limits.memory_bytes()
    }

    /// Its parameters schema, compiled (at load).
    pub fn validator(&self) -> &Validator {
        &self.validator
    }

    /// Whether it runs optimized (Cranelift) code now; with
    /// [`Compile::Tiered`] a plugin loaded without cached code runs
    /// baseline (Winch) code until its optimized code is swapped in.
    pub fn optimized(&self) -> bool {
        tiers::current(&self.code).optimized
    }

    /// Waits up to `timeout` for [`LoadedPlugin::optimized`]; returns it.
    pub fn wait_optimized(&self, timeout: std::time::Duration) -> bool {
        let until = std::time::Instant::now() + timeout;
        while !self.optimized() {
            if std::time::Instant::now() >= until {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        true
    }

    /// Whether it exports `invert-batch` (contract 0.1.1), so that
    /// [`LoadedPlugin::invert_many`] hands it many actions per call.
    pub fn batched(&self) -> bool {
        tiers::current(&self.code).batch.is_some()
    }

    /// Hex sha256 of the component's bytes.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Size of the component in bytes.
    pub fn size(&self) -> usize {
        self.size
    }

    /// The contract version the component was built against.
    pub fn contract_version(&self) -> &str {
        &self.contract_version
    }

    /// Asks the plugin for the inverse of one executed action. Runs in a fresh
    /// sandboxed instance; blocks the calling thread for at most the deadline
    /// (plus instantiation), so call it from a blocking-friendly thread.
    pub fn invert(&self, action: Executed<'_>) -> Result<Vec<Inverse>, PluginError> {
        self.invert_one(&action.to_wit())
    }

    /// [`LoadedPlugin::invert`] of the contract's record, timed.
    fn invert_one(&self, arg: &bindings::ExecutedAction) -> Result<Vec<Inverse>, PluginError> {
        let started = std::time::Instant::now();
        let answer = self.invert_timed(arg);
        let trap = answer.as_ref().err().and_then(PluginError::sandbox_cause);
        crate::metrics::METRICS.invert(&self.metadata.action_type, started.elapsed().as_secs_f64(), trap);
        answer
    }

    fn invert_timed(&self, arg: &bindings::ExecutedAction) -> Result<Vec<Inverse>, PluginError> {
        let plugin = self.metadata.action_type.as_str();
        let code = tiers::current(&self.code);
        let answer = call::with_instance(
            &code.engine,
            &self.limits,
            plugin,
            |store| code.pre.instantiate(store),
            |p, store| p.watcher_rollback_inverter().call_invert(store, arg),
        )?;
        self.checked(answer)
    }

    /// What one live instance of this plugin costs the process in resident
    /// memory, measured: `n` fresh instances each run `invert` on `action`
    /// and are kept alive together; the process's resident set (Linux's
    /// VmRSS) grows by the returned bytes per instance (0 where the OS does
    /// not say). `n` must be within the pool size. For benchmarks.
    pub fn resident_bytes_per_instance(&self, action: Executed<'_>, n: usize) -> Result<usize, PluginError> {
        let plugin = self.metadata.action_type.as_str();
        let arg = action.to_wit();
        let code = tiers::current(&self.code);
        let before = resident_bytes();
        let mut live = Vec::with_capacity(n);
        for _ in 0..n {
            live.push(call::held(
                &code.engine,
                &self.limits,
                plugin,
                |store| code.pre.instantiate(store),
                |p, store| p.watcher_rollback_inverter().call_invert(store, &arg),
            )?);
        }
        let after = resident_bytes();
        drop(live);
        Ok(after.saturating_sub(before) / n.max(1))
    }

    /// A plugin's answer for one action, checked: its inverses, or its
    /// refusal as an error.
    fn checked(
        &self,
        answer: Result<Vec<bindings::InverseAction>, bindings::InvertError>,
    ) -> Result<Vec<Inverse>, PluginError> {
        let limits = &self.limits;
        let plugin = self.metadata.action_type.as_str();
        match answer {
            Ok(raw) => output::check_inverses(plugin, raw, limits),
            Err(e) => {
                let (kind, message) = match e {
                    bindings::InvertError::InvalidInput(m) => ("invalid-input", m),
                    bindings::InvertError::NotInvertible(m) => ("not-invertible", m),
                    bindings::InvertError::Internal(m) => ("internal", m),
                };
                let message = output::cut(&message, MAX_REFUSAL_BYTES.min(limits.max_output_bytes()));
                Err(PluginError::Refused { plugin: plugin.to_string(), kind, message })
            }
        }
    }
}

/// This process's resident set in bytes (VmRSS; 0 where unknown).
fn resident_bytes() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        .map_or(0, |kib| kib * 1024)
}

impl Executed<'_> {
    /// The contract's record: every JSON value as text (written straight
    /// into a `String`: a `Value`'s `Display` goes through `fmt` and costs
    /// several times more).
    fn to_wit(self) -> bindings::ExecutedAction {
        let text = |v: &serde_json::Value| serde_json::to_string(v).expect("a JSON value serializes");
        bindings::ExecutedAction {
            action_uuid: self.action_uuid.to_string(),
            action_type: self.action_type.to_string(),
            input_parameters: text(self.input_parameters),
            pre_state: text(self.pre_state),
            result: text(self.result),
        }
    }
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("action_type", &self.metadata.action_type)
            .field("sha256", &self.sha256)
            .field("size", &self.size)
            .finish()
    }
}
