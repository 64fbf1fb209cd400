//! The one place the plugin contract in `wit/` becomes Rust.
//!
//! Every other module uses these generated types; nothing else calls
//! `bindgen!`, so there is exactly one copy of the contract in the host.
//! The bindings are of the `plugin-core` world (what every 0.1.x plugin
//! exports); the optional `batch-inverter` export, new in 0.1.1, is looked
//! up per component (see `shape` and `call`) with the types named here.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin-core",
});

pub use exports::watcher::rollback::inverter::{ExecutedAction, InverseAction, InvertError, PluginMetadata};
pub use watcher::rollback::log::Level;

/// The contract package this host was built against (`wit/rollback.wit`).
pub const CONTRACT_PACKAGE: &str = "watcher:rollback";
/// The contract version this host was built against.
pub const CONTRACT_VERSION: &str = "0.1.1";

/// The optional interface that inverts many actions in one call.
pub const BATCH_INTERFACE: &str = "batch-inverter";
/// Its one function.
pub const BATCH_FUNCTION: &str = "invert-batch";

/// `invert-batch`'s parameters, as wasmtime lowers them.
pub type BatchParams<'a> = (&'a [ExecutedAction],);
/// `invert-batch`'s results, as wasmtime lifts them.
pub type BatchResults = (Vec<Result<Vec<InverseAction>, InvertError>>,);
