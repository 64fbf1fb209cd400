//! The black-box tests: one binary, a module per feature, each starting the
//! real `rollback-host` binary (server or CLI) and talking to it over HTTP or
//! its command line only — nothing here imports the host's code.

mod api_actions;
mod api_errors;
mod api_plans;
mod applier;
mod auth;
mod bounds;
mod browser;
mod cli_client;
mod components;
mod config;
mod fail_stop;
mod graph;
mod instances;
mod keystone;
mod metrics;
mod openapi;
mod plugin_check;
mod plugins_api;
mod request_ids;
mod rollback;
mod serve;
mod watcherclient;
