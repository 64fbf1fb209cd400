//! Fail-stop over HTTP, in-process with fault injection: once a commit
//! fails to reach the disk, the write is not acknowledged (503), no later
//! write or read is, `/healthz` answers 503, and the service's stop signal fires
//! (the binary then stops serving and exits non-zero).

use axum::body::Body;
use axum::http::{Request, StatusCode};
use rollback_host::api::{router, Bounds};
use rollback_host::auth::Access;
use rollback_host::server::{self, Config, StoreAt};
use rollback_host::service::Options;
use rollback_store::StoreError;
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
    let rt = tokio::runtime::Runtime::new().unwrap();
    let service = rt.block_on(server::start(Config::new(StoreAt::Dir(dir.path().into())))).unwrap().service;
    let app = router(service.clone(), Access::open(), &Bounds::default());
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

/// The simulated cloud's change and the action's result are one
/// transaction: a failure after the change is staged leaves neither, so
/// the cloud never holds a change that no rollback knows about. After a
/// restart, rolling the plan back and running the rollback leaves the
/// cloud exactly as it was before the plan.
#[test]
fn a_failure_between_a_cloud_change_and_its_record_leaves_neither() {
    let scenario = fail::FailScenario::setup();
    let dir = rollback_tests::tmpfs_dir();
    let plugins = rollback_tests::plugins_dir_with(&[]);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let serve = |dir: &std::path::Path| {
        let config = Config {
            plugins_dir: Some(plugins.path().into()),
            options: Options { sleep_scale: 0.0, ..Options::default() },
            ..Config::new(StoreAt::Dir(dir.into()))
        };
        rt.block_on(server::start(config)).unwrap().service
    };
    let service = serve(dir.path());
    let app = router(service.clone(), Access::open(), &Bounds::default());
    let (_, before) = call(&app, &rt, "GET", "/v1/cloud", "");

    let plan = r#"{"actions": [
        {"action_type": "change_nova_service_state",
         "input_parameters": {"resource_id": "compute-1", "state": "disabled", "disabled_reason": "x"}},
        {"action_type": "change_nova_service_state", "parents": [0],
         "input_parameters": {"resource_id": "compute-2", "state": "disabled", "disabled_reason": "x"}}]}"#;
    let (_, created) = call(&app, &rt, "POST", "/v1/action_plans", plan);
    let uuid =
        serde_json::from_str::<serde_json::Value>(&created).unwrap()["uuid"].as_str().unwrap().to_string();
    // The first action's change succeeds; the second fails after staging.
    fail::cfg("simulated::changed", "1*off->return").unwrap();
    assert_eq!(call(&app, &rt, "POST", &format!("/v1/action_plans/{uuid}/start"), "").0, StatusCode::OK);
    let settled = wait_settled(&app, &rt, &uuid);
    fail::remove("simulated::changed");
    assert_eq!(settled["state"], "FAILED", "{settled}");
    let (_, actions) = call(&app, &rt, "GET", &format!("/v1/actions/detail?action_plan_uuid={uuid}"), "");
    let actions: serde_json::Value = serde_json::from_str(&actions).unwrap();
    let states: Vec<&str> =
        actions["actions"].as_array().unwrap().iter().map(|a| a["state"].as_str().unwrap()).collect();
    assert_eq!(states, ["SUCCEEDED", "FAILED"]);
    let (_, cloud) = call(&app, &rt, "GET", "/v1/cloud", "");
    let cloud: serde_json::Value = serde_json::from_str(&cloud).unwrap();
    assert_eq!(cloud["compute_services"]["compute-1"]["state"], "disabled", "the recorded change is there");
    assert_eq!(cloud["compute_services"]["compute-2"]["state"], "enabled", "the unrecorded one is not");

    // Restart, roll back, run the rollback: the cloud is as before the plan.
    drop(app);
    drop(service);
    let service = serve(dir.path());
    let app = router(service, Access::open(), &Bounds::default());
    let (status, body) =
        call(&app, &rt, "POST", &format!("/v1/action_plans/{uuid}/rollback"), r#"{"auto_start": true}"#);
    assert_eq!(status, StatusCode::OK, "{body}");
    let rollback =
        serde_json::from_str::<serde_json::Value>(&body).unwrap()["uuid"].as_str().unwrap().to_string();
    assert_eq!(wait_settled(&app, &rt, &rollback)["state"], "SUCCEEDED");
    assert_eq!(call(&app, &rt, "GET", "/v1/cloud", "").1, before);
    scenario.teardown();
}

fn wait_settled(app: &axum::Router, rt: &tokio::runtime::Runtime, plan: &str) -> serde_json::Value {
    let until = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, body) = call(app, rt, "GET", &format!("/v1/action_plans/{plan}"), "");
        let p: serde_json::Value = serde_json::from_str(&body).unwrap();
        if matches!(p["state"].as_str(), Some("SUCCEEDED" | "FAILED" | "CANCELLED")) {
            return p;
        }
        assert!(std::time::Instant::now() < until, "{p}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
