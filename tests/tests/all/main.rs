//! The black-box test binary: one module per feature, each starting the real
//! `rollback-host` (CLI or server) or its plugin runtime.

mod api_actions;
mod api_errors;
mod api_fuzz;
mod api_plans;
mod applier;
mod applier_bounds;
mod auth;
mod batch;
mod bounds;
mod browser;
mod cli_client;
mod components;
mod config;
mod fail_stop;
mod graph;
mod in_process;
mod keystone;
mod listing;
mod metrics;
mod openapi;
mod openstack;
mod plugin_check;
mod plugins_api;
mod request_ids;
mod rollback;
mod rollback_props;
mod sandbox;
mod serve;
mod watcherclient;
