//! Tiered compilation: a plugin runs at once on baseline code, and
//! optimized code takes its place when it is ready.
//!
//! Cranelift (optimizing) needs about 75 ms of CPU per built-in plugin, so
//! a start with an empty compile cache spent most of its time compiling.
//! Winch, wasmtime's baseline compiler (single pass, tier 1 on x86_64),
//! compiles the same component several times faster into code that runs
//! a plugin call in about 1.6× the time. With [`super::Compile::Tiered`] a
//! plugin that has no optimized code in the cache is compiled by Winch,
//! checked and served at once, and queued here; one background thread
//! compiles it with Cranelift (the optimized engine's compile is not
//! parallel then, so this thread takes one core and the other stays free
//! for requests), caches the artifact and swaps it into the plugin's
//! [`Slot`]. Every clone of the [`super::LoadedPlugin`] (registry
//! snapshots included) sees the swap at its next call; a call in progress
//! finishes on the code it started with. The next start finds the
//! optimized artifact in the cache and never runs Winch.
//!
//! Both engines have the same limits, pooling allocator and epoch deadline;
//! the baseline one uses signal-based traps, which Winch requires (the
//! optimized one checks bounds in code, see [`super::Runtime`]). A failed
//! optimized compile (it should not fail: the same bytes passed every
//! check) is logged and the plugin keeps its baseline code.

use super::bindings::{PluginCorePre, BATCH_FUNCTION};
use super::call::CallState;
use super::shape::Shape;
use super::{PluginError, Shared};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, RwLock, Weak};
use wasmtime::component::{Component, ComponentExportIndex, Linker};
use wasmtime::Engine;

/// One engine with the linker made for it.
pub(crate) struct Tier {
    pub(crate) engine: Engine,
    pub(crate) linker: Linker<CallState>,
    /// The compiler that made the engine's code, and whether it compiles
    /// functions in parallel (a compile worker builds the same engine).
    pub(crate) compiler: super::Compiler,
    pub(crate) parallel: bool,
}

/// A plugin's compiled code, pre-instantiated on the engine that made it.
pub(crate) struct Code {
    pub(crate) engine: Engine,
    pub(crate) pre: PluginCorePre<CallState>,
    /// Its `invert-batch` function, when the component exports one.
    pub(crate) batch: Option<ComponentExportIndex>,
    /// Made by the optimizing compiler.
    pub(crate) optimized: bool,
}

impl Code {
    /// Checks `component`'s shape and pre-instantiates it on `tier`.
    pub(crate) fn prepare(
        tier: &Tier,
        component: &Component,
        optimized: bool,
    ) -> Result<(Code, Shape), PluginError> {
        let mismatch = |e: wasmtime::Error| PluginError::SignatureMismatch(format!("{e:?}"));
        let shape = super::shape::check(&tier.engine, component)?;
        let pre = tier.linker.instantiate_pre(component).map_err(mismatch)?;
        let pre = PluginCorePre::new(pre).map_err(mismatch)?;
        let batch = match &shape.batch {
            Some(name) => {
                let function = component
                    .get_export_index(None, name.as_str())
                    .and_then(|interface| component.get_export_index(Some(&interface), BATCH_FUNCTION))
                    .ok_or_else(|| {
                        PluginError::SignatureMismatch(format!("`{name}` does not export `{BATCH_FUNCTION}`"))
                    })?;
                Some(function)
            }
            None => None,
        };
        Ok((Code { engine: tier.engine.clone(), pre, batch, optimized }, shape))
    }
}

/// The code every clone of one loaded plugin runs; replaced once, when
/// the optimized code is ready.
pub(crate) type Slot = Arc<RwLock<Arc<Code>>>;

/// The code in `slot` now.
pub(crate) fn current(slot: &Slot) -> Arc<Code> {
    slot.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
}

/// A plugin waiting for its optimized code.
pub(crate) struct Job {
    pub(crate) bytes: Vec<u8>,
    pub(crate) sha256: String,
    pub(crate) plugin: String,
    pub(crate) slot: Weak<RwLock<Arc<Code>>>,
}

/// Starts the background thread; it exits when the runtime is dropped.
pub(crate) fn start_optimizer(shared: Weak<Shared>) -> std::io::Result<Sender<Job>> {
    let (tx, rx) = channel::<Job>();
    std::thread::Builder::new().name("plugin-optimize".into()).spawn(move || {
        while let Ok(job) = rx.recv() {
            // A plugin replaced or removed meanwhile needs nothing.
            if job.slot.strong_count() == 0 {
                continue;
            }
            let Some(shared) = shared.upgrade() else { return };
            let started = std::time::Instant::now();
            match shared.optimized_code(&job.bytes, &job.sha256) {
                Ok(code) => {
                    if let Some(slot) = job.slot.upgrade() {
                        *slot.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(code);
                        tracing::info!(
                            action_type = %job.plugin,
                            sha256 = %job.sha256,
                            millis = started.elapsed().as_millis() as u64,
                            "plugin optimized code swapped in"
                        );
                    }
                }
                Err(e) => {
                    tracing::warn!(action_type = %job.plugin, "optimized compile failed: {e}; the plugin keeps its baseline code")
                }
            }
        }
    })?;
    Ok(tx)
}

impl Shared {
    /// Cranelift's code for a component that already passed every check on
    /// the baseline engine, cached once made.
    fn optimized_code(&self, bytes: &[u8], sha256: &str) -> Result<Code, PluginError> {
        let tier = &self.optimized;
        let cached = self.cache.as_ref().and_then(|cache| cache.lookup(&tier.engine, sha256));
        let (component, artifact) = match cached {
            Some(c) => (c, None),
            None => self.compile(tier, bytes).map(|(c, a)| (c, Some(a)))?,
        };
        let (code, _) = Code::prepare(tier, &component, true)?;
        if let (Some(cache), Some(artifact)) = (&self.cache, artifact) {
            cache.store(sha256, &artifact);
        }
        Ok(code)
    }

    /// Compiles `bytes` for `tier`: in a worker within the limits' bounds
    /// when the runtime has one (see the `compile` module), else here.
    /// Returns the component and its artifact (for the cache).
    pub(crate) fn compile(&self, tier: &Tier, bytes: &[u8]) -> Result<(Component, Vec<u8>), PluginError> {
        match self.worker.get() {
            Some(exe) => {
                let bounds = self.limits.compile_bounds();
                let artifact = super::compile::in_worker(exe, tier.compiler, tier.parallel, bytes, bounds)?;
                Ok((super::cache::deserialize_own(&tier.engine, &artifact)?, artifact))
            }
            None => super::compile::in_process(&tier.engine, bytes),
        }
    }
}
