//! Why a plugin was refused at load, or why one call into it failed.

/// Everything that can go wrong loading or calling a plugin. Each variant's
/// message names the culprit so that operators can act on it.
#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// Bigger than any plugin may be.
    #[error("the component is {size} bytes; plugins may be at most {max} bytes")]
    TooLarge {
        /// Its size.
        size: usize,
        /// The cap ([`super::MAX_COMPONENT_BYTES`]).
        max: usize,
    },

    /// The bytes are not WebAssembly at all.
    #[error("not a WebAssembly file (no `\\0asm` header)")]
    NotWasm,

    /// A core module, not a component.
    #[error(
        "this is a core WebAssembly module, not a component; build the plugin with \
         wasm-component-ld (see docs/writing-an-inverter.md, \"Building outside this repository\")"
    )]
    CoreModule,

    /// wasmtime could not compile or validate the component.
    #[error("invalid component: {0}")]
    Invalid(String),

    /// The component imports something outside the contract (e.g. WASI).
    #[error(
        "forbidden import `{name}`: plugins may import only `{allowed}` \
         (a wasip1/wasip2 build pulls in WASI; build for wasm32-unknown-unknown)"
    )]
    ForbiddenImport {
        /// The import's full name, e.g. `wasi:cli/environment@0.2.0`.
        name: String,
        /// The import the contract allows.
        allowed: String,
    },

    /// Compiling the component would take more time or memory than the
    /// operator allows (`--plugin-compile-timeout-ms`,
    /// `--plugin-compile-memory-mib`).
    #[error("the component cannot be compiled within bounds: {0}")]
    CompileBounds(String),

    /// The component does not export the contract's `inverter` interface.
    #[error("missing export `{expected}` (the component exports: {found})")]
    MissingExport {
        /// The export the contract requires.
        expected: String,
        /// What the component exports instead, comma separated.
        found: String,
    },

    /// Built against a contract version this host does not speak.
    #[error(
        "incompatible contract: the component was built against {found}, \
         this host supports {supported}"
    )]
    IncompatibleContract {
        /// The version the component names.
        found: String,
        /// What this host accepts.
        supported: String,
    },

    /// The names match but the types do not.
    #[error("exports or imports do not match the contract: {0}")]
    SignatureMismatch(String),

    /// The plugin's `metadata()` answer is unusable.
    #[error("plugin `{plugin}` returned invalid metadata: {reason}")]
    BadMetadata {
        /// The plugin (action type, or file when unknown).
        plugin: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The call ran past its CPU deadline.
    #[error("plugin `{plugin}` exceeded its CPU deadline of {deadline_ms} ms")]
    Deadline {
        /// The plugin's action type.
        plugin: String,
        /// The deadline in force.
        deadline_ms: u64,
    },

    /// The call tried to use more memory than allowed.
    #[error("plugin `{plugin}` exceeded its memory limit of {limit_bytes} bytes")]
    MemoryLimit {
        /// The plugin's action type.
        plugin: String,
        /// The limit in force.
        limit_bytes: usize,
    },

    /// The guest trapped (a panic, `unreachable`, out-of-bounds access, ...).
    #[error("plugin `{plugin}` trapped: {cause}")]
    Trap {
        /// The plugin's action type.
        plugin: String,
        /// The trap, with the guest's last error log line when it logged one.
        cause: String,
    },

    /// The guest returned more than the host accepts.
    #[error("plugin `{plugin}` returned too much output: {reason}")]
    OutputTooLarge {
        /// The plugin's action type.
        plugin: String,
        /// Which bound was crossed.
        reason: String,
    },

    /// The guest returned output that breaks the contract (bad JSON, a
    /// dependency index that points forward, ...).
    #[error("plugin `{plugin}` returned invalid output: {reason}")]
    BadOutput {
        /// The plugin's action type.
        plugin: String,
        /// What is wrong with it.
        reason: String,
    },

    /// The plugin answered `invert` with its own error: the action cannot
    /// be inverted as given.
    #[error("plugin `{plugin}` refused to invert: {kind}: {message}")]
    Refused {
        /// The plugin's action type.
        plugin: String,
        /// `invalid-input`, `not-invertible` or `internal`.
        kind: &'static str,
        /// The plugin's message.
        message: String,
    },

    /// A fresh instance could not be created (e.g. every pooled slot is in
    /// use); retrying later may succeed.
    #[error("plugin `{plugin}` could not be instantiated: {cause}")]
    Instantiate {
        /// The plugin's action type.
        plugin: String,
        /// wasmtime's reason (e.g. the instance pool is exhausted).
        cause: String,
    },

    /// The host's own configuration is unusable (e.g. pool sizes).
    #[error("plugin runtime configuration: {0}")]
    Config(String),
}

impl PluginError {
    /// For a call the sandbox stopped or whose output it rejected, the
    /// cause as a metrics label (`deadline`, `memory`, `trap`,
    /// `instantiate`, `output`); `None` for a refusal the plugin chose
    /// and for load-time errors.
    pub fn sandbox_cause(&self) -> Option<&'static str> {
        match self {
            PluginError::Deadline { .. } => Some("deadline"),
            PluginError::MemoryLimit { .. } => Some("memory"),
            PluginError::Trap { .. } => Some("trap"),
            PluginError::Instantiate { .. } => Some("instantiate"),
            PluginError::OutputTooLarge { .. } | PluginError::BadOutput { .. } => Some("output"),
            _ => None,
        }
    }
}
