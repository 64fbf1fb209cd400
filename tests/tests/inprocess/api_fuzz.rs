//! Property: whatever the body, path or query, the API answers with a
//! status below 500 and, for errors, Watcher's error body. Runs the router
//! in-process over a temporary store.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use proptest::prelude::*;
use rollback_host::api::{router, Bounds};
use rollback_host::auth::Access;
use rollback_host::plugins::{Limits, Registry, Runtime};
use rollback_store::Store;
use std::collections::BTreeMap;
use tower::ServiceExt;

fn app(store: Store, rt: &tokio::runtime::Runtime) -> axum::Router {
    // One empty registry (one engine) serves every case.
    static REGISTRY: std::sync::OnceLock<Registry> = std::sync::OnceLock::new();
    let registry =
        REGISTRY.get_or_init(|| Registry::new(Runtime::new(Limits::default()).unwrap(), BTreeMap::new()));
    router(
        super::in_process::simulated(rt, &store, Some(registry)).service,
        Access::open(),
        &Bounds::default(),
    )
}

fn call(
    app: &axum::Router,
    rt: &tokio::runtime::Runtime,
    method: &str,
    uri: &str,
    body: Vec<u8>,
) -> (StatusCode, Vec<u8>) {
    let req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .header("host", "localhost")
        .header("OpenStack-API-Version", "infra-optim 1.5")
        .body(Body::from(body))
        .unwrap();
    rt.block_on(async {
        let resp = app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 22).await.unwrap();
        (status, bytes.to_vec())
    })
}

fn assert_watcher_error(status: StatusCode, body: &[u8]) {
    assert!(status.as_u16() < 500, "server error {status}: {}", String::from_utf8_lossy(body));
    if !status.is_success() {
        let v: serde_json::Value = serde_json::from_slice(body).expect("error body is JSON");
        let inner = v["error_message"].as_str().expect("error_message is a string");
        let inner: serde_json::Value = serde_json::from_str(inner).expect("error_message holds JSON");
        assert!(inner["faultstring"].is_string());
    }
}

/// Arbitrary JSON, biased towards the shapes the API expects.
fn json_value() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(serde_json::Value::from),
        "[a-zA-Z_/0-9-]{0,12}".prop_map(serde_json::Value::from),
        prop_oneof![
            Just("nop"),
            Just("sleep"),
            Just("migrate"),
            Just("/state"),
            Just("replace"),
            Just("PENDING")
        ]
        .prop_map(serde_json::Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("actions".to_string()),
                    Just("action_type".to_string()),
                    Just("input_parameters".to_string()),
                    Just("parents".to_string()),
                    Just("op".to_string()),
                    Just("path".to_string()),
                    Just("value".to_string()),
                    Just("message".to_string()),
                    Just("duration".to_string()),
                    "[a-z_]{1,8}",
                ],
                inner,
                0..5,
            )
            .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, .. ProptestConfig::default() })]

    #[test]
    fn no_body_makes_the_api_fail_on_its_side(body in json_value(), raw in prop::collection::vec(any::<u8>(), 0..64), pick in 0usize..4) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let app = app(store, &rt);
        let (s, b) = call(&app, &rt, "POST", "/v1/action_plans", body.to_string().into_bytes());
        assert_watcher_error(s, &b);
        let (s, b) = call(&app, &rt, "POST", "/v1/action_plans", raw.clone());
        assert_watcher_error(s, &b);
        // A real plan, then arbitrary patches on it and on one of its actions.
        let plan = serde_json::json!({"actions": [{"action_type": "nop", "input_parameters": {"message": "x"}}]});
        let (s, b) = call(&app, &rt, "POST", "/v1/action_plans", plan.to_string().into_bytes());
        prop_assert_eq!(s, StatusCode::CREATED);
        let created: serde_json::Value = serde_json::from_slice(&b).unwrap();
        let targets = [
            format!("/v1/action_plans/{}", created["uuid"].as_str().unwrap()),
            format!("/v1/actions/{}", created["actions"][0]["uuid"].as_str().unwrap()),
        ];
        let (s, b) = call(&app, &rt, "PATCH", &targets[pick % 2], body.to_string().into_bytes());
        assert_watcher_error(s, &b);
        let (s, b) = call(&app, &rt, "PATCH", &targets[pick % 2], raw);
        assert_watcher_error(s, &b);
    }

    #[test]
    fn no_path_or_query_makes_the_api_fail_on_its_side(seg in "[a-zA-Z0-9%._~-]{0,40}", q in "[a-z_=&0-9%-]{0,40}") {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let app = app(store, &rt);
        for path in [
            format!("/v1/action_plans/{seg}?{q}"),
            format!("/v1/action_plans?{q}"),
            format!("/v1/actions/{seg}"),
            format!("/v1/actions/detail?{q}"),
            format!("/v1/action_plans/{seg}/start"),
        ] {
            for method in ["GET", "POST", "DELETE"] {
                let (s, b) = call(&app, &rt, method, &path, Vec::new());
                assert_watcher_error(s, &b);
            }
        }
    }
}
