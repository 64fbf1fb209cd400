//! The rollback-host plugin SDK: write an inverter as one small `impl`.
//!
//! A plugin undoes one Watcher action type. Implement [`Inverter`] and call
//! [`export_inverter!`]; the SDK turns the contract's JSON text into
//! [`serde_json`] values, your errors into the contract's `invert-error`, and
//! panics into a logged message before the (sandboxed) instance traps.
//!
//! ```ignore
//! use rollback_plugin_sdk::{export_inverter, json, Error, Executed, Inverse, Inverter, Metadata};
//!
//! struct Stop;
//!
//! impl Inverter for Stop {
//!     fn metadata() -> Metadata {
//!         Metadata::new("stop", env!("CARGO_PKG_VERSION"), "restart a stopped instance", json!({
//!             "type": "object",
//!             "properties": {"resource_id": {"type": "string"}},
//!             "required": ["resource_id"],
//!             "additionalProperties": false,
//!         }))
//!     }
//!
//!     fn invert(action: &Executed) -> Result<Vec<Inverse>, Error> {
//!         let id = action.param_str("resource_id")?;
//!         Ok(vec![Inverse::new("start", json!({"resource_id": id}))])
//!     }
//! }
//!
//! export_inverter!(Stop);
//! ```
//!
//! The logic is plain Rust: unit-test it natively with `cargo test` by
//! calling `Stop::invert(&Executed::new(...))`.

#![deny(missing_docs)]

// The generated bindings name this crate by its path, also from inside it.
extern crate self as rollback_plugin_sdk;

pub use serde_json::{self, json, Map, Value};

/// The JSON Schema `pattern` of a uuid (Watcher's), for `resource_id`s in
/// parameter schemas: `{"type": "string", "pattern": UUID_PATTERN}`.
pub const UUID_PATTERN: &str =
    "^([a-fA-F0-9]){8}-([a-fA-F0-9]){4}-([a-fA-F0-9]){4}-([a-fA-F0-9]){4}-([a-fA-F0-9]){12}$";

mod action;
mod error;
pub mod log;

pub use action::{Executed, Inverse, Metadata};
pub use error::Error;

/// Bindings generated from `wit/`: the one copy of the contract on the guest
/// side. Plugins do not use these directly.
#[doc(hidden)]
#[allow(missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "plugin",
        pub_export_macro: true,
        export_macro_name: "__export_plugin_world",
        default_bindings_module: "rollback_plugin_sdk::bindings",
        runtime_path: "rollback_plugin_sdk::__wit_bindgen::rt",
    });
}

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

/// What a plugin implements: its metadata and the inversion itself.
pub trait Inverter {
    /// Describes the plugin. Called once when the host loads it.
    fn metadata() -> Metadata;

    /// Turns one executed action into the actions that undo it. Return an
    /// empty list when there is nothing to undo.
    fn invert(action: &Executed) -> Result<Vec<Inverse>, Error>;
}

/// Exports a type implementing [`Inverter`] as the component's `inverter`
/// and `batch-inverter` (the latter calls [`Inverter::invert`] once per
/// action). Use it once per plugin crate.
#[macro_export]
macro_rules! export_inverter {
    ($ty:ty) => {
        #[doc(hidden)]
        pub struct __RollbackPluginExport;

        impl $crate::bindings::exports::watcher::rollback::inverter::Guest for __RollbackPluginExport {
            fn metadata() -> $crate::bindings::exports::watcher::rollback::inverter::PluginMetadata {
                $crate::__private::metadata::<$ty>()
            }

            fn invert(
                action: $crate::bindings::exports::watcher::rollback::inverter::ExecutedAction,
            ) -> ::core::result::Result<
                $crate::__private::Vec<$crate::bindings::exports::watcher::rollback::inverter::InverseAction>,
                $crate::bindings::exports::watcher::rollback::inverter::InvertError,
            > {
                $crate::__private::invert::<$ty>(action)
            }
        }

        impl $crate::bindings::exports::watcher::rollback::batch_inverter::Guest for __RollbackPluginExport {
            fn invert_batch(
                actions: $crate::__private::Vec<
                    $crate::bindings::exports::watcher::rollback::inverter::ExecutedAction,
                >,
            ) -> $crate::__private::Vec<
                ::core::result::Result<
                    $crate::__private::Vec<
                        $crate::bindings::exports::watcher::rollback::inverter::InverseAction,
                    >,
                    $crate::bindings::exports::watcher::rollback::inverter::InvertError,
                >,
            > {
                $crate::__private::invert_batch::<$ty>(actions)
            }
        }

        // Component exports exist only in the wasm build; natively (unit
        // tests) their names would not even link.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
    $crate::bindings::__export_plugin_world!(__RollbackPluginExport with_types_in $crate::bindings);
        };
    };
}

/// Glue called by [`export_inverter!`]; not part of the public API.
#[doc(hidden)]
pub mod __private {
    use super::bindings::exports::watcher::rollback::inverter as wit;
    use super::{Executed, Inverter};
    pub use std::vec::Vec;

    /// Route panics to the host's log so that the trap that follows comes
    /// with its reason.
    fn install_panic_hook() {
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            std::panic::set_hook(Box::new(|info| crate::log::error(&format!("panic: {info}"))));
        });
    }

    pub fn metadata<T: Inverter>() -> wit::PluginMetadata {
        install_panic_hook();
        T::metadata().into_wit()
    }

    pub fn invert<T: Inverter>(
        raw: wit::ExecutedAction,
    ) -> Result<Vec<wit::InverseAction>, wit::InvertError> {
        install_panic_hook();
        let action = Executed::from_wit(raw).map_err(crate::Error::into_wit)?;
        T::invert(&action)
            .map(|list| list.into_iter().map(crate::Inverse::into_wit).collect())
            .map_err(crate::Error::into_wit)
    }

    /// `invert` for each action, in order: the contract's `invert-batch`,
    /// so a batch answers exactly what the single calls would.
    pub fn invert_batch<T: Inverter>(
        raw: Vec<wit::ExecutedAction>,
    ) -> Vec<Result<Vec<wit::InverseAction>, wit::InvertError>> {
        raw.into_iter().map(invert::<T>).collect()
    }
}
