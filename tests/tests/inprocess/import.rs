//! `plan import`'s refusals that need no Watcher: a service with no cloud
//! session, and a Watcher that cannot be reached. Nothing is stored. (The
//! refusals a live Watcher gives — not RECOMMENDED, imported already,
//! started in Watcher — are run against Watcher 9 by
//! `tests/system/openstack-story.py`.)

use crate::rollback_props::{registry, tokio};
use rollback_host::openstack_api::{CloudConfig, Session, SessionOptions};
use rollback_host::plans::PlanError;
use rollback_store::Store;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

#[test]
fn an_import_without_a_cloud_session_is_refused_with_the_reason() {
    let dir = rollback_tests::tmpfs_dir();
    let store = Store::open(dir.path()).unwrap();
    let service = super::in_process::simulated(tokio(), &store, Some(registry())).service;
    let uuid = Uuid::new_v4();
    let e = tokio().block_on(service.plans.import(service.watcher.clone(), uuid)).unwrap_err();
    assert!(matches!(e, PlanError::Import(_)), "{e:?}");
    assert!(e.to_string().contains("start it with --driver openstack"), "{e}");
    assert!(store.plan(uuid).unwrap().is_none());
}

#[test]
fn an_unreachable_watcher_is_refused_and_nothing_is_stored() {
    let dir = rollback_tests::tmpfs_dir();
    let store = Store::open(dir.path()).unwrap();
    let service = super::in_process::simulated(tokio(), &store, Some(registry())).service;
    // Keystone on a port nothing listens on: the catalog, and so Watcher,
    // cannot be reached.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let yaml = format!(
        "clouds:\n  dead:\n    auth:\n      auth_url: http://127.0.0.1:{port}/v3\n      username: u\n      password: p\n      project_name: p\n      user_domain_name: Default\n      project_domain_name: Default\n"
    );
    let config = CloudConfig::from_clouds_yaml(&yaml, "dead", "clouds.yaml").unwrap();
    let options = SessionOptions { retries: 0, timeout: Duration::from_secs(2), ..SessionOptions::default() };
    let session = Arc::new(Session::new(config, options).unwrap());
    let uuid = Uuid::new_v4();
    // The test keeps the last reference: a blocking client is not dropped on
    // the runtime.
    let e = tokio().block_on(service.plans.import(Some(session.clone()), uuid)).unwrap_err();
    assert!(matches!(e, PlanError::Import(_)), "{e:?}");
    assert!(e.to_string().starts_with("Watcher:"), "{e}");
    assert!(store.plan(uuid).unwrap().is_none());
}
