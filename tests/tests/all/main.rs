//! The black-box test binary: one module per feature, each starting the real
//! `rollback-host` (CLI or server) or its plugin runtime.

mod components;
mod plugin_check;
mod sandbox;
mod serve;
