//! rollback-host: undo OpenStack Watcher action plans.
//!
//! A request travels down the modules in this order: [`api`] (axum, Watcher
//! v1 shapes; HTTP only) → [`plans`] (the plan domain: lifecycle, creation,
//! the one transition table) → [`rollback`] planner → [`plugins`]
//! (sandboxed Wasm inverters) → [`applier`] → [`cloud`] drivers, all over
//! the `rollback-store` crate. [`auth`] says who is calling and what the
//! policy lets them do. [`action_types`] says what each built-in
//! action type's parameters mean and which schema checks them. [`service`]
//! wires the parts together once; [`server`] starts it from a
//! configuration and serves it. The binary in `main.rs` is only the CLI
//! edge: it turns flags into a [`server::Config`]. See `docs/architecture.md`.

#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod action_types;
pub mod api;
pub mod applier;
pub mod auth;
pub mod cloud;
pub mod graph;
pub mod lifecycle;
pub mod metrics;
pub mod openstack_api;
pub mod plans;
pub mod plugins;
pub mod rollback;
pub mod server;
pub mod service;
