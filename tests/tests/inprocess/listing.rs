//! Lists cut one page without loading every record: a list in any sort
//! order reads a bounded number of records whatever the collection's size,
//! its pages follow each other exactly, and every order read from the sort
//! index is the order a full sort gives. In-process, over a store on tmpfs.

use axum::body::Body;
use axum::http::Request;
use rollback_host::api::{router, Bounds};
use rollback_host::auth::Access;
use rollback_store::{Action, ActionPlan, PlanState, Store, StoreError};
use serde_json::{json, Value};
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
fn a_page_in_any_order_costs_the_page_not_the_collection() {
    let dir = rollback_tests::tmpfs_dir();
    let store = Store::open(dir.path()).unwrap();
    let n = 3000;
    let now = chrono::Utc::now();
    let plans: Vec<Uuid> = (0..n).map(|_| Uuid::new_v4()).collect();
    for chunk in plans.chunks(500) {
        let chunk = chunk.to_vec();
        store
            .write(move |txn| {
                for (i, p) in chunk.clone().into_iter().enumerate() {
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
    let rt = tokio::runtime::Runtime::new().unwrap();
    let service = super::in_process::simulated(&rt, &store, None).service;
    let app = router(service, Access::open(), &Bounds::default());

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

/// Walks every page of `uri` (limit 7) by `next`; returns the uuids.
fn walk(app: &axum::Router, rt: &tokio::runtime::Runtime, uri: &str, key: &str) -> Vec<String> {
    let mut seen = Vec::new();
    let mut uri = uri.to_string();
    loop {
        let page = get(app, rt, &uri);
        seen.extend(page[key].as_array().unwrap().iter().map(|p| p["uuid"].as_str().unwrap().to_string()));
        match page["next"].as_str() {
            Some(next) => uri = next.trim_start_matches("http://localhost").to_string(),
            None => return seen,
        }
    }
}

/// For every key in `keys`, both directions: walking `list` unfiltered
/// (pages from the sort index) gives what walking it with `filter` (records
/// sorted in memory) gives, `len` records long. `list` is (path, the
/// answer's array key, the filter query).
fn same_as_full_sort(
    app: &axum::Router,
    rt: &tokio::runtime::Runtime,
    keys: &[&str],
    (path, key, filter): (&str, &str, String),
    len: usize,
) {
    for sort_key in keys {
        for dir in ["asc", "desc"] {
            let q = format!("sort_key={sort_key}&sort_dir={dir}&limit=7");
            let indexed = walk(app, rt, &format!("{path}?{q}"), key);
            let sorted = walk(app, rt, &format!("{path}?{q}&{filter}"), key);
            assert_eq!(indexed, sorted, "{key} by {sort_key} {dir}");
            assert_eq!(indexed.len(), len, "{key} by {sort_key} {dir}: the ones not deleted");
        }
    }
}

/// Every sort key, both directions: the pages read from the sort index
/// (no filter) are exactly the pages of a full sort (the same records
/// reached through the audit or plan filter, which sorts in memory) —
/// after updates have moved records around in the index.
#[test]
fn every_sort_order_from_the_index_matches_a_full_sort() {
    let dir = rollback_tests::tmpfs_dir();
    let store = Store::open(dir.path()).unwrap();
    let (audit, holder) = (Uuid::new_v4(), Uuid::new_v4());
    let base = chrono::Utc::now();
    let states = [PlanState::Recommended, PlanState::Succeeded, PlanState::Failed, PlanState::Deleted];
    let texts = [None, Some(""), Some("b"), Some("a\u{0}x"), Some("a")];
    let plans: Vec<Uuid> = (0..60).map(|_| Uuid::new_v4()).collect();
    let ps = plans.clone();
    store
        .write(move |txn| {
            let mut h = ActionPlan::new(holder, "test", PlanState::Succeeded, base);
            h.audit_uuid = Some(audit);
            h.id = txn.next_id()?;
            txn.insert_plan(h)?;
            for (i, p) in ps.iter().enumerate() {
                let mut plan = ActionPlan::new(*p, ["manual", "rollback"][i % 2], states[i % 4], base);
                plan.id = txn.next_id()?;
                plan.audit_uuid = Some(audit);
                plan.hostname = texts[i % 5].map(str::to_string);
                plan.status_message = texts[(i / 3) % 5].map(str::to_string);
                plan.created_at = base + chrono::Duration::seconds((i as i64 * 7) % 11);
                txn.insert_plan(plan)?;
                let params = json!({"message": "x"}).as_object().unwrap().clone();
                let mut a =
                    Action::new(Uuid::new_v4(), holder, ["nop", "sleep"][i % 2], params, vec![], base);
                a.id = txn.next_id()?;
                a.description = texts[(i + 1) % 5].unwrap_or("").to_string();
                a.status_message = texts[i % 5].map(str::to_string);
                txn.insert_action(a)?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app =
        router(super::in_process::simulated(&rt, &store, None).service, Access::open(), &Bounds::default());
    // Every order compared twice: first built from the records on its first
    // list, then kept up to date by the updates below.
    let compare = |live_plans: usize| {
        let plans = ("/v1/action_plans", "action_plans", format!("audit_uuid={audit}"));
        let keys: Vec<&str> = rollback_store::PlanSortKey::ALL.iter().map(|k| k.name()).collect();
        same_as_full_sort(&app, &rt, &keys, plans, live_plans);
        let actions = ("/v1/actions/detail", "actions", format!("action_plan_uuid={holder}"));
        let keys: Vec<&str> = rollback_store::ActionSortKey::ALL.iter().map(|k| k.name()).collect();
        same_as_full_sort(&app, &rt, &keys, actions, 60);
    };
    compare(46); // 60 plans, 15 deleted, and the holder
                 // Updates move records in the indexes (state, messages, timestamps, links).
    let ps = plans.clone();
    store
        .write(move |txn| {
            for (i, p) in ps.iter().enumerate().filter(|(i, _)| i % 3 == 0) {
                let mut plan = txn.plan_required(*p)?;
                plan.state = PlanState::Ongoing;
                plan.updated_at = Some(base + chrono::Duration::seconds(i as i64 % 4));
                plan.rolled_back_by = (i % 2 == 0).then(Uuid::new_v4);
                txn.update_plan(plan.clone())?;
                plan.status_message = Some(format!("again {i}"));
                txn.update_plan(plan)?;
            }
            for a in txn.actions_of(holder)?.into_iter().step_by(4) {
                txn.update_action(Action { status_message: Some("z".into()), updated_at: Some(base), ..a })?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    compare(51); // 5 of the deleted are ONGOING now
}
