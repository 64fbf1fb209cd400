//! The one place the plugin contract in `wit/` becomes Rust.
//!
//! Every other module uses these generated types; nothing else calls
//! `bindgen!`, so there is exactly one copy of the contract in the host.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "plugin",
});

pub use exports::watcher::rollback::inverter::{ExecutedAction, InverseAction, InvertError, PluginMetadata};
pub use watcher::rollback::log::Level;

/// The contract package this host was built against (`wit/rollback.wit`).
pub const CONTRACT_PACKAGE: &str = "watcher:rollback";
/// The contract version this host was built against.
pub const CONTRACT_VERSION: &str = "0.1.0";
