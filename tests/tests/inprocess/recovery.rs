//! Recovery at start: a plan the last process left PENDING is resumed by
//! `server::start` and runs to its end.

use rollback_tests::plans::WEB1;
use serde_json::json;
use std::time::{Duration, Instant};

#[test]
fn recovery_resumes_a_plan_left_pending() {
    use rollback_store::{Action, ActionPlan, PlanState, Store, StoreError};

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let now = chrono::Utc::now();
    let plan_uuid = uuid::Uuid::new_v4();
    store
        .write(move |txn| {
            txn.insert_plan(ActionPlan {
                id: txn.next_id()?,
                ..ActionPlan::new(plan_uuid, "manual", PlanState::Pending, now)
            })?;
            txn.insert_action(Action {
                id: txn.next_id()?,
                ..Action::new(
                    uuid::Uuid::new_v4(),
                    plan_uuid,
                    "stop",
                    json!({"resource_id": WEB1}).as_object().unwrap().clone(),
                    vec![],
                    now,
                )
            })
        })
        .map_err(|e: StoreError| e)
        .unwrap();

    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let running = super::in_process::simulated(&rt, &store, None);
    assert_eq!(running.recovery.resumed, vec![plan_uuid]);
    assert!(running.recovery.interrupted.is_empty());
    rt.block_on(async {
        let until = Instant::now() + Duration::from_secs(30);
        while store.plan(plan_uuid).unwrap().unwrap().state != PlanState::Succeeded {
            assert!(Instant::now() < until, "the resumed plan did not finish");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    let cloud = running.service.cloud.as_ref().expect("the simulated cloud is the driver");
    assert_eq!(cloud.get().unwrap()["instances"][WEB1]["status"], "SHUTOFF");
}
