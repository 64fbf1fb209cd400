//! The in-process tests: one binary, a module per feature, each using the
//! host's library directly — the service started through `server::start`
//! (`in_process`), the plugin runtime, the store — where a property or a
//! fault is checked below the HTTP surface (generated plans, sandbox
//! limits, batches, listing orders against the store, the OpenStack driver
//! against its double).

mod api_fuzz;
mod applier_bounds;
mod batch;
mod import;
mod in_process;
mod listing;
mod openstack;
mod recovery;
mod registry;
mod rollback_props;
mod routes;
mod sandbox;
