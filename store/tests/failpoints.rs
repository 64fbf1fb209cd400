//! Fault injection (the `fail` crate; failpoints are compiled in for the
//! store's tests only). A process of its own: failpoints are global, and
//! no other test's store may meet them.

use chrono::Utc;
use rollback_store::{ActionPlan, PlanState, Store, StoreError};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use uuid::Uuid;

fn insert_plan(store: &Store) -> Result<ActionPlan, StoreError> {
    let p = ActionPlan::new(Uuid::new_v4(), "manual", PlanState::Recommended, Utc::now());
    store.write(move |txn| {
        let p = ActionPlan { id: txn.next_id()?, ..p.clone() };
        txn.insert_plan(p.clone())?;
        Ok::<_, StoreError>(p)
    })
}

/// A failed fsync: the waiting write is not acknowledged, every later
/// write is refused without running, and the store reports itself
/// unhealthy, and reads stop — even once the disk works again (fail-stop).
#[test]
fn a_failed_fsync_stops_every_later_write() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let before = insert_plan(&store).unwrap();
    store.health().unwrap();

    fail::cfg("store::sync", "return(EIO injected)").unwrap();
    let err = insert_plan(&store).unwrap_err();
    assert!(matches!(&err, StoreError::Poisoned(m) if m.contains("EIO injected")), "{err}");
    fail::remove("store::sync");

    let ran = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&ran);
    let later = store.write(move |_txn| {
        flag.store(true, Ordering::SeqCst);
        Ok::<_, StoreError>(())
    });
    assert!(matches!(later, Err(StoreError::Poisoned(_))), "{later:?}");
    assert!(!ran.load(Ordering::SeqCst), "a write after the failure must not run");
    assert!(matches!(store.health(), Err(StoreError::Poisoned(_))));
    assert!(matches!(store.plan(before.uuid), Err(StoreError::Poisoned(_))), "reads stop too");
    drop(store);
    // A restart finds what was acknowledged.
    let until = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let store = loop {
        match Store::open(dir.path()) {
            Err(StoreError::Locked { .. }) if std::time::Instant::now() < until => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            other => break other.unwrap(),
        }
    };
    assert_eq!(store.plan(before.uuid).unwrap().unwrap(), before, "what was acknowledged is there");
    scenario.teardown();
}
