//! rollback-host: undo OpenStack Watcher action plans.
//!
//! A request travels down the modules in this order: [`api`] (axum, Watcher
//! v1 shapes) → [`rollback`] planner → [`plugins`] (sandboxed Wasm inverters) →
//! [`applier`] → [`cloud`] drivers. The binary in `main.rs` is only the CLI
//! edge.

pub mod action_types;
pub mod api;
pub mod applier;
pub mod cloud;
pub mod plugins;
pub mod rollback;
