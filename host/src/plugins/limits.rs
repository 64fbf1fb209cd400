//! The sandbox's bounds: CPU deadline, memory cap, output size, pool size.
//!
//! Defaults are the ones docs/design.md promises ("Sandbox and limits"). Every knob is a CLI flag with an environment
//! variable, so operators can tune them without a rebuild.

use std::time::Duration;

/// Default: CPU deadline per call, in milliseconds.
pub const DEADLINE_MS: u64 = 100;
/// Default: Memory a call may use beyond the plugin's memory at rest, in MiB.
pub const MEMORY_MIB: usize = 16;
/// Default: Most linear memory of one plugin instance, at rest and in use, in MiB.
pub const MEMORY_CEILING_MIB: usize = 256;
/// Default: Most inverse actions one `invert` call may return (a plan's
/// own bound is `lifecycle::MAX_PLAN_ACTIONS`).
pub const MAX_INVERSE_ACTIONS: usize = 1000;
/// Default: Most output per call, in KiB.
pub const MAX_OUTPUT_KIB: usize = 1024;
/// Default: Concurrent plugin calls (pooled instance slots).
pub const POOL_SIZE: u32 = 64;
/// Default: Most wall-clock time one compile of a component may take, in
/// milliseconds (a Python component takes about 2 s with Winch and 9 s
/// with Cranelift here; a JavaScript one 13 s with Cranelift).
pub const COMPILE_TIMEOUT_MS: u64 = 60_000;
/// Default: Most memory one compile of a component may use, in MiB
/// (Cranelift takes about 1 GiB for a JavaScript component).
pub const COMPILE_MEMORY_MIB: usize = 2048;

/// How much one plugin call may consume. Shared by every plugin.
#[derive(Debug, Clone, clap::Args)]
pub struct Limits {
    /// CPU deadline for one plugin call, in milliseconds. A call still
    /// running after this is interrupted and reported.
    #[arg(
        long = "plugin-deadline-ms",
        env = "ROLLBACK_PLUGIN_DEADLINE_MS",
        default_value_t = DEADLINE_MS
    )]
    pub deadline_ms: u64,

    /// Linear memory a plugin call may use beyond what the plugin's
    /// instance holds at rest (its initial memories: about 1 MiB for a Rust
    /// plugin, 12 MiB for a Python one), in MiB. A plugin's cap is the two
    /// together, within --plugin-memory-ceiling-mib.
    #[arg(
        long = "plugin-memory-mib",
        env = "ROLLBACK_PLUGIN_MEMORY_MIB",
        default_value_t = MEMORY_MIB
    )]
    pub memory_mib: usize,

    /// Most linear memory of one plugin instance, at rest and in use, in
    /// MiB. A component whose memory at rest exceeds it is refused at load.
    #[arg(
        long = "plugin-memory-ceiling-mib",
        env = "ROLLBACK_PLUGIN_MEMORY_CEILING_MIB",
        default_value_t = MEMORY_CEILING_MIB
    )]
    pub memory_ceiling_mib: usize,

    /// Most inverse actions one `invert` call may return.
    #[arg(
        long = "plugin-max-actions",
        env = "ROLLBACK_PLUGIN_MAX_ACTIONS",
        default_value_t = MAX_INVERSE_ACTIONS
    )]
    pub max_inverse_actions: usize,

    /// Most bytes of text one call may return, in KiB.
    #[arg(
        long = "plugin-max-output-kib",
        env = "ROLLBACK_PLUGIN_MAX_OUTPUT_KIB",
        default_value_t = MAX_OUTPUT_KIB
    )]
    pub max_output_kib: usize,

    /// Plugin calls that may run at once (pooled instance slots). A call
    /// beyond this fails with an instantiation error rather than waiting.
    #[arg(
        long = "plugin-pool-size",
        env = "ROLLBACK_PLUGIN_POOL_SIZE",
        default_value_t = POOL_SIZE
    )]
    pub pool_size: u32,

    /// How plugins are compiled. `tiered`: a plugin with no optimized code
    /// in the compile cache starts at once on wasmtime's baseline compiler
    /// (Winch), and Cranelift's optimized code, compiled in the background
    /// and then cached, replaces it within seconds; `optimized`: Cranelift
    /// before first use (slower cold starts and uploads); `baseline`: Winch
    /// only (fastest to load, slower calls).
    #[arg(long = "plugin-compile", env = "ROLLBACK_PLUGIN_COMPILE", value_enum, default_value_t = Compile::Tiered)]
    pub compile: Compile,

    /// Most wall-clock time one compile of a component may take, in
    /// milliseconds. A component that cannot compile within it is refused
    /// (an upload with 400 and the reason).
    #[arg(
        long = "plugin-compile-timeout-ms",
        env = "ROLLBACK_PLUGIN_COMPILE_TIMEOUT_MS",
        default_value_t = COMPILE_TIMEOUT_MS
    )]
    pub compile_timeout_ms: u64,

    /// Most memory one compile of a component may use, in MiB (the compile
    /// runs in a worker process limited to it). A component that cannot
    /// compile within it is refused.
    #[arg(
        long = "plugin-compile-memory-mib",
        env = "ROLLBACK_PLUGIN_COMPILE_MEMORY_MIB",
        default_value_t = COMPILE_MEMORY_MIB
    )]
    pub compile_memory_mib: usize,
}

/// Which of wasmtime's compilers make a plugin's code (see
/// [`Limits::compile`] and the `tiers` module).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Compile {
    /// Baseline (Winch) first when nothing is cached, optimized (Cranelift) swapped in later.
    #[default]
    Tiered,
    /// Cranelift only.
    Optimized,
    /// Winch only.
    Baseline,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            deadline_ms: DEADLINE_MS,
            memory_mib: MEMORY_MIB,
            memory_ceiling_mib: MEMORY_CEILING_MIB,
            max_inverse_actions: MAX_INVERSE_ACTIONS,
            max_output_kib: MAX_OUTPUT_KIB,
            pool_size: POOL_SIZE,
            compile: Compile::default(),
            compile_timeout_ms: COMPILE_TIMEOUT_MS,
            compile_memory_mib: COMPILE_MEMORY_MIB,
        }
    }
}

/// How often the background thread advances the engine's epoch. A call's
/// deadline is a whole number of ticks, so it is enforced to within a tick.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Log lines one call may write before further lines are dropped (and the
/// drop is counted in one final line).
pub const MAX_LOG_LINES_PER_CALL: u32 = 64;

/// Longest guest log line kept, in bytes; longer lines are cut.
pub const MAX_LOG_LINE_BYTES: usize = 4096;

impl Limits {
    /// The memory cap in bytes: with a runtime's limits, what a call may
    /// use beyond the memory at rest; with a loaded plugin's
    /// ([`Limits::for_plugin`]), its whole cap.
    pub fn memory_bytes(&self) -> usize {
        self.memory_mib.saturating_mul(1024 * 1024)
    }

    /// The ceiling in bytes.
    pub fn memory_ceiling_bytes(&self) -> usize {
        self.memory_ceiling_mib.max(1).saturating_mul(1024 * 1024)
    }

    /// The limits a load's first instance runs under: the memory cap is the
    /// ceiling (the memory at rest is not known yet).
    pub(crate) fn at_load(&self) -> Limits {
        Limits { memory_mib: self.memory_ceiling_mib.max(1), ..self.clone() }
    }

    /// A plugin's own limits: its memory cap is its memory at rest (rounded
    /// up to whole MiB) plus the per-call allowance, within the ceiling.
    pub(crate) fn for_plugin(&self, at_rest_bytes: usize) -> Limits {
        let at_rest_mib = at_rest_bytes.div_ceil(1024 * 1024);
        let cap = at_rest_mib.saturating_add(self.memory_mib).min(self.memory_ceiling_mib.max(1));
        Limits { memory_mib: cap, ..self.clone() }
    }

    /// The bounds a compile in a worker runs within.
    pub(crate) fn compile_bounds(&self) -> super::compile::Bounds {
        super::compile::Bounds {
            timeout: Duration::from_millis(self.compile_timeout_ms.max(1)),
            memory_mib: self.compile_memory_mib.max(1),
        }
    }

    /// The output cap in bytes.
    pub fn max_output_bytes(&self) -> usize {
        self.max_output_kib.saturating_mul(1024)
    }

    /// The most bytes wasmtime lifts out of the guest in one call (its
    /// result, or one `log` line): twice the output cap plus 64 KiB for the
    /// records' own fields. Without it wasmtime lifts up to 128 MiB per call
    /// before the output cap is checked (inverses sharing one large string
    /// are lifted once each). A batch past it is redone one call per action.
    pub fn hostcall_fuel(&self) -> usize {
        self.max_output_bytes().saturating_mul(2).saturating_add(64 << 10)
    }

    /// The deadline as a number of epoch ticks (at least one).
    pub fn deadline_ticks(&self) -> u64 {
        let tick = EPOCH_TICK.as_millis() as u64;
        self.deadline_ms.div_ceil(tick).max(1)
    }
}

/// Per-store limiter: caps the *total* linear memory of one plugin instance
/// (all its memories together) and remembers whether it refused anything,
/// so that the resulting trap is reported as a limit, not as a crash.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    limit_bytes: usize,
    used_bytes: usize,
    /// Set when a memory or table growth was refused.
    pub(crate) hit: bool,
}

impl MemoryLimiter {
    pub(crate) fn new(limit_bytes: usize) -> Self {
        MemoryLimiter { limit_bytes, used_bytes: 0, hit: false }
    }

    /// Linear memory of the instance so far (its initial memories right
    /// after instantiation).
    pub(crate) fn used_bytes(&self) -> usize {
        self.used_bytes
    }
}

/// Most table elements an instance may have; tables hold function
/// references, and a Rust guest needs a few hundred at most.
const MAX_TABLE_ELEMENTS: usize = 100_000;

impl wasmtime::ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let grow_by = desired.saturating_sub(current);
        let total = self.used_bytes.saturating_add(grow_by);
        let ok = total <= self.limit_bytes;
        if ok {
            self.used_bytes = total;
        } else {
            self.hit = true;
        }
        Ok(ok)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let ok = desired <= MAX_TABLE_ELEMENTS;
        self.hit |= !ok;
        Ok(ok)
    }

    fn instances(&self) -> usize {
        MAX_CORE_INSTANCES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }
}

/// Core instances one plugin may create (a Rust guest built by
/// wasm-component-ld has two or three; a componentize-py one 38: CPython's
/// libraries are linked dynamically, one core instance each).
pub(crate) const MAX_CORE_INSTANCES: usize = 64;
/// Linear memories one plugin instance may create.
pub(crate) const MAX_MEMORIES: usize = 4;
/// Tables one plugin instance may create.
pub(crate) const MAX_TABLES: usize = 8;
