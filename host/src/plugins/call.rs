//! One call into a plugin: a fresh `Store` with limits, instantiation from
//! the cached `InstancePre`, the call, and the translation of whatever went
//! wrong (deadline, memory, trap) into a [`PluginError`].

use super::bindings::{self, Level};
use super::error::PluginError;
use super::limits::{Limits, MemoryLimiter, MAX_LOG_LINES_PER_CALL, MAX_LOG_LINE_BYTES};
use wasmtime::{Engine, Store, Trap};

/// The host-side state of one call: who is calling (for log lines) and the
/// limiter that enforces the memory cap.
pub(crate) struct CallState {
    plugin: String,
    limiter: MemoryLimiter,
    log_lines: u32,
    dropped_log_lines: u32,
    last_error_line: Option<String>,
}

impl CallState {
    fn new(plugin: &str, limits: &Limits) -> Self {
        CallState {
            plugin: plugin.to_string(),
            limiter: MemoryLimiter::new(limits.memory_bytes()),
            log_lines: 0,
            dropped_log_lines: 0,
            last_error_line: None,
        }
    }
}

impl Drop for CallState {
    fn drop(&mut self) {
        if self.dropped_log_lines > 0 {
            tracing::warn!(
                plugin = %self.plugin,
                dropped = self.dropped_log_lines,
                "plugin wrote more than {MAX_LOG_LINES_PER_CALL} log lines in one call; the rest were dropped"
            );
        }
    }
}

impl bindings::watcher::rollback::log::Host for CallState {
    fn log(&mut self, level: Level, message: String) {
        if self.log_lines >= MAX_LOG_LINES_PER_CALL {
            self.dropped_log_lines += 1;
            return;
        }
        self.log_lines += 1;
        let message = super::output::cut(&message, MAX_LOG_LINE_BYTES);
        let plugin = self.plugin.as_str();
        match level {
            Level::Trace => tracing::trace!(plugin, "{message}"),
            Level::Debug => tracing::debug!(plugin, "{message}"),
            Level::Info => tracing::info!(plugin, "{message}"),
            Level::Warn => tracing::warn!(plugin, "{message}"),
            Level::Error => {
                tracing::error!(plugin, "{message}");
                self.last_error_line = Some(message);
            }
        }
    }
}

impl bindings::watcher::rollback::types::Host for CallState {}

/// The instance's linear memory so far (see [`MemoryLimiter::used_bytes`]).
pub(crate) fn memory_in_use(store: &Store<CallState>) -> usize {
    store.data().limiter.used_bytes()
}

/// Adds the contract's imports to a linker.
pub(crate) fn add_imports(linker: &mut wasmtime::component::Linker<CallState>) -> wasmtime::Result<()> {
    bindings::PluginCore::add_to_linker::<_, wasmtime::component::HasSelf<_>>(linker, |s| s)
}

/// Runs `f` against a fresh instance made by `instantiate` (the generated
/// bindings' `PluginCorePre::instantiate`, or the raw `InstancePre`'s for
/// exports outside them), within `limits`.
pub(crate) fn with_instance<I, R>(
    engine: &Engine,
    limits: &Limits,
    plugin: &str,
    instantiate: impl FnOnce(&mut Store<CallState>) -> wasmtime::Result<I>,
    f: impl FnOnce(&I, &mut Store<CallState>) -> wasmtime::Result<R>,
) -> Result<R, PluginError> {
    held(engine, limits, plugin, instantiate, f).map(|(_, _, answer)| answer)
}

/// [`with_instance`], keeping the instance and its store alive for the
/// caller (to measure what live instances hold).
pub(crate) fn held<I, R>(
    engine: &Engine,
    limits: &Limits,
    plugin: &str,
    instantiate: impl FnOnce(&mut Store<CallState>) -> wasmtime::Result<I>,
    f: impl FnOnce(&I, &mut Store<CallState>) -> wasmtime::Result<R>,
) -> Result<(Store<CallState>, I, R), PluginError> {
    let mut store = Store::new(engine, CallState::new(plugin, limits));
    store.limiter(|s| &mut s.limiter);
    store.set_epoch_deadline(limits.deadline_ticks());
    store.epoch_deadline_trap();
    store.set_hostcall_fuel(limits.hostcall_fuel());

    // Instantiation (start functions included) has a deadline of its own;
    // the call then gets a whole one, not what instantiating left of it (a
    // language runtime's instance takes a few hundred microseconds).
    let instance = match instantiate(&mut store) {
        Ok(i) => i,
        Err(e) => return Err(classify(e, &store, limits, true)),
    };
    store.set_epoch_deadline(limits.deadline_ticks());
    match f(&instance, &mut store) {
        Ok(answer) => Ok((store, instance, answer)),
        Err(e) => Err(classify(e, &store, limits, false)),
    }
}

/// `invert-batch` of a fresh instance: each action's answer, in order.
pub(crate) fn invert_batch(
    engine: &Engine,
    pre: &bindings::PluginCorePre<CallState>,
    batch: &wasmtime::component::ComponentExportIndex,
    limits: &Limits,
    plugin: &str,
    actions: &[bindings::ExecutedAction],
) -> Result<bindings::BatchResults, PluginError> {
    with_instance(
        engine,
        limits,
        plugin,
        |store| pre.instance_pre().instantiate(store),
        |instance, store| batch_func(instance, &mut *store, batch)?.call(store, (actions,)),
    )
}

/// An instance's `invert-batch`, type-checked against the contract.
pub(crate) fn batch_func<'a>(
    instance: &wasmtime::component::Instance,
    store: &mut Store<CallState>,
    batch: &wasmtime::component::ComponentExportIndex,
) -> wasmtime::Result<wasmtime::component::TypedFunc<bindings::BatchParams<'a>, bindings::BatchResults>> {
    instance.get_typed_func::<bindings::BatchParams<'a>, bindings::BatchResults>(store, batch)
}

/// Turns a wasmtime error into the precise [`PluginError`].
fn classify(
    err: wasmtime::Error,
    store: &Store<CallState>,
    limits: &Limits,
    instantiating: bool,
) -> PluginError {
    let state = store.data();
    let plugin = state.plugin.clone();
    if state.limiter.hit {
        return PluginError::MemoryLimit { plugin, limit_bytes: limits.memory_bytes() };
    }
    match err.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => PluginError::Deadline { plugin, deadline_ms: limits.deadline_ms },
        Some(trap) => {
            let cause = match &state.last_error_line {
                Some(line) => format!("{trap}; its last error log line: {line}"),
                None => trap.to_string(),
            };
            PluginError::Trap { plugin, cause }
        }
        None if instantiating => PluginError::Instantiate { plugin, cause: format!("{err:?}") },
        None => PluginError::Trap { plugin, cause: format!("{err:?}") },
    }
}
