//! Lists cut one page without loading every record: the default
//! (creation-order) list reads a bounded number of records whatever the
//! collection's size, and its pages follow each other exactly. In-process,
//! over a store on tmpfs.

use axum::body::Body;
use axum::http::Request;
use rollback_host::api::{router, Bounds};
use rollback_host::auth::Access;
use rollback_host::plugins::{Limits, Registry, Runtime};
use rollback_host::service::{Options, Service};
use rollback_store::{Action, ActionPlan, PlanState, Store, StoreError};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use tower::ServiceExt;
use uuid::Uuid;

fn get(app: &axum::Router, rt: &tokio::runtime::Runtime, uri: &str) -> Value {
    let req = Request::get(uri).header("host", "localhost").body(Body::empty()).unwrap();
    rt.block_on(async {
        let resp = app.clone().oneshot(req).await.unwrap();
        assert_eq!(resp.status(), 200, "{uri}");
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 24).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    })
}

#[test]
fn a_page_of_the_default_list_costs_the_page_not_the_collection() {
    let dir = rollback_tests::tmpfs_dir();
    let store = Store::open(dir.path()).unwrap();
    let n = 3000;
    let now = chrono::Utc::now();
    let plans: Vec<Uuid> = (0..n).map(|_| Uuid::new_v4()).collect();
    for chunk in plans.chunks(500) {
        let chunk = chunk.to_vec();
        store
            .write(move |txn| {
                for (i, p) in chunk.into_iter().enumerate() {
                    let state = if i % 10 == 0 { PlanState::Deleted } else { PlanState::Succeeded };
                    txn.insert_plan(ActionPlan {
                        id: txn.next_id()?,
                        ..ActionPlan::new(p, "test", state, now)
                    })?;
                    let params = json!({"message": "x"}).as_object().unwrap().clone();
                    let a = Action::new(Uuid::new_v4(), p, "nop", params, vec![], now);
                    txn.insert_action(Action { id: txn.next_id()?, ..a })?;
                }
                Ok::<_, StoreError>(())
            })
            .unwrap();
    }
    let registry = Registry::new(Runtime::new(Limits::default()).unwrap(), BTreeMap::new());
    let service = Service::new(store.clone(), registry, &Options::default());
    let app = router(service, Access::open(), &Bounds::default());
    let rt = tokio::runtime::Runtime::new().unwrap();

    for (uri, key) in
        [("/v1/action_plans?limit=50", "action_plans"), ("/v1/actions/detail?limit=50", "actions")]
    {
        let before = store.reads();
        let page = get(&app, &rt, uri);
        let reads = store.reads() - before;
        assert_eq!(page[key].as_array().unwrap().len(), 50);
        // 50 shown + the deleted ones skipped (1 in 10) + index entries.
        assert!(reads < 150, "{uri}: {reads} reads for a page of 50 out of {n}");
    }

    // Walk every page by `next`: each live plan exactly once, in creation order.
    let live: Vec<String> =
        plans.iter().enumerate().filter(|(i, _)| i % 500 % 10 != 0).map(|(_, p)| p.to_string()).collect();
    let mut seen = Vec::new();
    let mut uri = "/v1/action_plans?limit=400".to_string();
    loop {
        let page = get(&app, &rt, &uri);
        seen.extend(
            page["action_plans"].as_array().unwrap().iter().map(|p| p["uuid"].as_str().unwrap().to_string()),
        );
        match page["next"].as_str() {
            Some(next) => uri = next.trim_start_matches("http://localhost").to_string(),
            None => break,
        }
    }
    assert_eq!(seen, live);
    let desc = get(&app, &rt, "/v1/action_plans?limit=3&sort_dir=desc");
    let newest: Vec<&str> =
        desc["action_plans"].as_array().unwrap().iter().map(|p| p["uuid"].as_str().unwrap()).collect();
    assert_eq!(newest, live.iter().rev().take(3).map(String::as_str).collect::<Vec<_>>());
}
