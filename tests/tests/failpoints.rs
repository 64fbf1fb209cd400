//! Fail-stop over HTTP, in-process with fault injection: once a commit
//! fails to reach the disk, the write is not acknowledged (503), no later
//! write or read is, `/healthz` answers 503, and the service's stop signal fires
//! (the binary then stops serving and exits non-zero).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use rollback_host::api::{router, Bounds};
use rollback_host::auth::Access;
use rollback_host::plugins::{Limits, Registry, Runtime};
use rollback_host::service::{Options, Service};
use rollback_store::{Store, StoreError};
use std::collections::BTreeMap;
use std::time::Duration;
use tower::ServiceExt;

fn call(
    app: &axum::Router,
    rt: &tokio::runtime::Runtime,
    method: &str,
    uri: &str,
    body: &str,
) -> (StatusCode, String) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("host", "localhost")
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    rt.block_on(async {
        let resp = app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await.unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    })
}

#[test]
fn a_failed_fsync_is_never_acknowledged_and_stops_the_service() {
    let scenario = fail::FailScenario::setup();
    let dir = rollback_tests::tmpfs_dir();
    let store = Store::open(dir.path()).unwrap();
    let registry = Registry::new(Runtime::new(Limits::default()).unwrap(), BTreeMap::new());
    let service = Service::new(store, registry, &Options::default());
    let app = router(service.clone(), Access::open(), &Bounds::default());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let plan = r#"{"actions": [{"action_type": "nop", "input_parameters": {"message": "x"}}]}"#;

    assert_eq!(call(&app, &rt, "POST", "/v1/action_plans", plan).0, StatusCode::CREATED);
    assert_eq!(call(&app, &rt, "GET", "/healthz", "").0, StatusCode::OK);

    fail::cfg("store::sync", "return(EIO injected)").unwrap();
    let (status, body) = call(&app, &rt, "POST", "/v1/action_plans", plan);
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(body.contains("cannot make writes durable"), "{body}");
    fail::remove("store::sync");

    // The disk works again; the store still refuses (fail-stop).
    let (status, _) = call(&app, &rt, "POST", "/v1/action_plans", plan);
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, _) = call(&app, &rt, "GET", "/healthz", "");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let stopped =
        rt.block_on(async { tokio::time::timeout(Duration::from_secs(2), service.store_stopped()).await });
    assert!(matches!(stopped, Ok(StoreError::Poisoned(ref m)) if m.contains("EIO injected")), "{stopped:?}");
    // Reads stop too: the unacknowledged plan may be in memory, not on disk.
    let (status, _) = call(&app, &rt, "GET", "/v1/action_plans", "");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    scenario.teardown();
}
