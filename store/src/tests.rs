//! Store tests: what is acknowledged survives a reopen; refused writes leave
//! nothing; concurrent read-modify-writes lose nothing; bad opens are refused.

use super::*;
use crate::sled_store::{SCHEMA_KEY, SORT_INDEX_KEY};
use chrono::Utc;
use serde_json::json;

fn plan(audit: Option<Uuid>) -> ActionPlan {
    ActionPlan {
        audit_uuid: audit,
        efficacy_indicators: vec![json!({"name": "n", "description": "d", "unit": "%", "value": 1})],
        hostname: Some("host".into()),
        ..ActionPlan::new(Uuid::new_v4(), "manual", PlanState::Recommended, Utc::now())
    }
}

fn action(plan: Uuid, parents: Vec<Uuid>) -> Action {
    Action::new(
        Uuid::new_v4(),
        plan,
        "nop",
        json!({"message": "hi"}).as_object().unwrap().clone(),
        parents,
        Utc::now(),
    )
}

/// Opens a store just closed in this process. sled's own background
/// thread may hold the directory's lock for a moment after the last
/// handle is dropped, so a `Locked` is retried for up to two seconds.
fn reopen(path: &std::path::Path) -> Result<Store, StoreError> {
    reopen_with(path, Compression::None)
}

/// [`reopen`], asking for `compression`.
fn reopen_with(path: &std::path::Path, compression: Compression) -> Result<Store, StoreError> {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        match Store::open_with(path, compression) {
            Err(StoreError::Locked { .. }) if std::time::Instant::now() < until => {
                std::thread::sleep(std::time::Duration::from_millis(20))
            }
            other => return other,
        }
    }
}

/// Stores a plan with `n` chained actions; returns what was stored.
fn create(store: &Store, audit: Option<Uuid>, n: usize) -> (ActionPlan, Vec<Action>) {
    let p = plan(audit);
    let mut actions: Vec<Action> = Vec::new();
    for _ in 0..n {
        let parents = actions.last().map(|a| vec![a.uuid]).unwrap_or_default();
        actions.push(action(p.uuid, parents));
    }
    store
        .write(move |txn| {
            let (mut p, mut actions) = (p.clone(), actions.clone());
            p.id = txn.next_id()?;
            txn.insert_plan(p.clone())?;
            for a in &mut actions {
                a.id = txn.next_id()?;
                txn.insert_action(a.clone())?;
            }
            Ok::<_, StoreError>((p, actions))
        })
        .unwrap()
}

#[test]
fn records_and_indexes_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let audit = Uuid::new_v4();
    let (p, actions) = create(&store, Some(audit), 3);
    let (other, _) = create(&store, None, 1);
    assert_eq!(store.plan(p.uuid).unwrap().unwrap(), p);
    assert_eq!(store.actions_of(p.uuid).unwrap(), actions);
    assert_eq!(store.plans_of_audit(audit).unwrap(), vec![p.clone()]);
    assert_eq!(store.plans().unwrap().iter().map(|x| x.uuid).collect::<Vec<_>>(), vec![p.uuid, other.uuid]);
    assert!(store.plan(Uuid::new_v4()).unwrap().is_none());
}

#[test]
fn acknowledged_writes_survive_a_reopen_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let (p, actions) = {
        let store = Store::open(dir.path()).unwrap();
        create(&store, Some(Uuid::new_v4()), 4)
    };
    let store = reopen(dir.path()).unwrap();
    assert_eq!(store.plan(p.uuid).unwrap().unwrap(), p);
    assert_eq!(store.actions_of(p.uuid).unwrap(), actions);
    let (q, _) = create(&store, None, 1);
    assert!(q.id > p.id, "ids keep increasing across restarts");
}

/// sled refuses a store opened with a compression setting other than the
/// one it was created with: whatever is asked, a store opens as it was made,
/// and its records read back either way.
#[test]
fn a_store_keeps_the_compression_it_was_created_with() {
    for (made, asked) in [(Compression::Zstd, Compression::None), (Compression::None, Compression::Zstd)] {
        let dir = tempfile::tempdir().unwrap();
        let (p, actions) = {
            let store = Store::open_with(dir.path(), made).unwrap();
            assert_eq!(store.compression(), Some(made));
            create(&store, None, 3)
        };
        let store = reopen_with(dir.path(), asked).unwrap();
        assert_eq!(store.compression(), Some(made));
        assert_eq!(store.plan(p.uuid).unwrap().unwrap(), p);
        assert_eq!(store.actions_of(p.uuid).unwrap(), actions);
    }
}

/// A `conf` whose compression setting is neither true nor false is refused
/// with an error naming the file, before sled reads anything.
#[test]
fn a_damaged_compression_setting_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("conf"), b"segment_size: 524288\nuse_compression: maybe\n\0\0\0\0")
        .unwrap();
    match Store::open(dir.path()) {
        Err(StoreError::Corrupt { key, reason }) => {
            assert!(key.ends_with("conf"), "{key}");
            assert!(reason.contains("maybe"), "{reason}");
        }
        Err(other) => panic!("refused for another reason: {other}"),
        Ok(_) => panic!("opened a store with a damaged conf"),
    }
}

/// A compressed store takes less disk for the same (compressible) records.
#[test]
fn a_compressed_store_is_smaller() {
    let size = |compression| {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_with(dir.path(), compression).unwrap();
        for _ in 0..200 {
            create(&store, None, 5);
        }
        store.size_on_disk().unwrap()
    };
    let (plain, zstd) = (size(Compression::None), size(Compression::Zstd));
    assert!(zstd * 4 < plain * 3, "zstd {zstd} bytes, plain {plain} bytes");
}

#[test]
fn a_refused_write_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let p = plan(None);
    let uuid = p.uuid;
    let r: Result<(), StoreError> = store.write(move |txn| {
        txn.insert_plan(p.clone())?;
        Err(StoreError::Engine("refused by the caller".into()))
    });
    assert!(r.is_err());
    assert!(store.plan(uuid).unwrap().is_none());
}

#[test]
fn duplicate_uuids_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (p, _) = create(&store, None, 0);
    let again = p.clone();
    let err = store.write(move |txn| txn.insert_plan(again.clone())).unwrap_err();
    assert!(matches!(err, StoreError::Exists { kind: "ActionPlan", .. }), "{err}");
}

/// The sled store checks a new record's uuid as it applies the write (no
/// read of its own while staging): a stored uuid still fails the whole
/// write alone, and the store goes on taking writes.
#[test]
fn a_stored_uuid_inserted_again_fails_its_write_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (p, actions) = create(&store, None, 2);
    let (stored, newcomer) = (actions[1].clone(), plan(None));
    let newcomer_uuid = newcomer.uuid;
    let err = store
        .write(move |txn| {
            let mut fresh = newcomer.clone();
            fresh.id = txn.next_id()?;
            txn.insert_plan(fresh)?;
            let mut again = stored.clone();
            again.description = "overwritten".into();
            txn.insert_action(again)
        })
        .unwrap_err();
    assert!(matches!(err, StoreError::Exists { kind: "Action", uuid } if uuid == actions[1].uuid), "{err}");
    assert!(store.plan(newcomer_uuid).unwrap().is_none(), "nothing of the refused write is stored");
    assert_eq!(store.action(actions[1].uuid).unwrap().unwrap().description, actions[1].description);
    let listed: Vec<Uuid> = store
        .actions_page(ActionSortKey::Id, None, false, 10, |_| true)
        .unwrap()
        .iter()
        .map(|a| a.uuid)
        .collect();
    assert_eq!(listed, actions.iter().map(|a| a.uuid).collect::<Vec<_>>(), "listed once, as stored");
    let again = p.clone();
    let err = store.write(move |txn| txn.insert_plan(again.clone())).unwrap_err();
    assert!(matches!(err, StoreError::Exists { kind: "ActionPlan", .. }), "{err}");
    store.health().unwrap();
    let (later, _) = create(&store, None, 1);
    assert_eq!(store.actions_of(later.uuid).unwrap().len(), 1, "the store takes writes after a refusal");
    assert_eq!(store.actions_of(p.uuid).unwrap().len(), 2);
}

/// A job that reads a record and stages its change (a rollback marking
/// its original, an action's state move) reads the store once, not again
/// for the change's before-image.
#[test]
fn a_record_read_and_changed_in_one_write_is_read_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (p, actions) = create(&store, None, 1);
    let (plan_uuid, action_uuid) = (p.uuid, actions[0].uuid);
    let before = store.reads();
    store
        .write(move |txn| {
            let mut plan = txn.plan_required(plan_uuid)?;
            plan.state = PlanState::Ongoing;
            txn.update_plan(plan)?;
            let mut action = txn.action(action_uuid)?.unwrap();
            action.state = ActionState::Ongoing;
            txn.update_action(action)?;
            assert_eq!(txn.plan(plan_uuid)?.unwrap().state, PlanState::Ongoing, "the staged change wins");
            Ok::<_, StoreError>(())
        })
        .unwrap();
    assert_eq!(store.reads() - before, 2, "one read of each record");
    assert_eq!(store.plan(plan_uuid).unwrap().unwrap().state, PlanState::Ongoing);
    assert_eq!(store.action(action_uuid).unwrap().unwrap().state, ActionState::Ongoing);
}

#[test]
fn an_action_needs_its_plan() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let orphan = action(Uuid::new_v4(), vec![]);
    let err = store.write(move |txn| txn.insert_action(orphan.clone())).unwrap_err();
    assert!(matches!(err, StoreError::NotFound { kind: "ActionPlan", .. }), "{err}");
}

#[test]
fn concurrent_read_modify_writes_lose_nothing_and_failures_stay_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (p, _) = create(&store, None, 0);
    std::thread::scope(|s| {
        for i in 0..32 {
            let store = store.clone();
            s.spawn(move || {
                let r = store.write(move |txn| {
                    let mut plan = txn.plan_required(p.uuid)?;
                    if i == 7 {
                        return Err(StoreError::Engine("job 7 fails".into()));
                    }
                    let m = plan.status_message.take().unwrap_or_default();
                    plan.status_message = Some(format!("{m}{i},"));
                    txn.update_plan(plan)
                });
                assert_eq!(r.is_err(), i == 7);
            });
        }
    });
    let msg = store.plan(p.uuid).unwrap().unwrap().status_message.unwrap();
    let mut seen: Vec<u32> = msg.trim_end_matches(',').split(',').map(|x| x.parse().unwrap()).collect();
    seen.sort();
    assert_eq!(seen, (0..32).filter(|i| *i != 7).collect::<Vec<_>>());
}

/// Holds the committer in a job while `appends` threads queue a
/// read-modify-write of `plan` each ([`append`]) and `also` runs, so that
/// their writes are taken as one batch.
fn queued_behind_a_busy_committer(store: &Store, plan: Uuid, appends: u32, also: impl FnOnce()) {
    let (busy_tx, busy_rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        let held = store.clone();
        s.spawn(move || {
            held.write(move |_| {
                let _ = busy_tx.send(());
                std::thread::sleep(std::time::Duration::from_millis(800));
                Ok::<_, StoreError>(())
            })
            .unwrap()
        });
        busy_rx.recv().unwrap();
        for i in 0..appends {
            let store = store.clone();
            s.spawn(move || append(&store, plan, i).unwrap());
        }
        also();
    });
}

/// Appends `i` to the plan's status message (a read-modify-write).
fn append(store: &Store, plan: Uuid, i: u32) -> Result<(), StoreError> {
    store.write(move |txn| {
        let mut p = txn.plan_required(plan)?;
        let m = p.status_message.take().unwrap_or_default();
        p.status_message = Some(format!("{m}{i},"));
        txn.update_plan(p)
    })
}

fn appended(store: &Store, plan: Uuid) -> Vec<u32> {
    let msg = store.plan(plan).unwrap().unwrap().status_message.unwrap_or_default();
    let mut seen: Vec<u32> = msg.split(',').filter(|x| !x.is_empty()).map(|x| x.parse().unwrap()).collect();
    seen.sort();
    seen
}

/// Writes queued together are staged one over the other and applied in
/// one transaction (sled writes its log out twice per transaction): each
/// job still sees what the ones before it staged, so no update is lost.
#[test]
fn a_group_commit_is_one_transaction_and_each_job_sees_the_ones_before() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (p, _) = create(&store, None, 0);
    let before = store.sled().inner.tables.applied();
    queued_behind_a_busy_committer(&store, p.uuid, 16, || {});
    assert_eq!(appended(&store, p.uuid), (0..16).collect::<Vec<_>>(), "no update lost");
    let transactions = store.sled().inner.tables.applied() - before;
    assert!(transactions < 16, "16 queued writes took {transactions} transactions");
}

/// A group is applied in parts once its writes pass the limit of one
/// transaction; the jobs staged after a part see it in sled, and nothing
/// is lost.
#[test]
fn a_group_past_its_write_limit_is_applied_in_parts_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (p, _) = create(&store, None, 0);
    // Three writes per action (record, list entry, sort entry): the two
    // big plans pass the limit together.
    let n = crate::group::MAX_GROUP_WRITES / 5;
    let big: Vec<(ActionPlan, Vec<Action>)> = (0..2)
        .map(|_| {
            let plan = plan(None);
            let actions = (0..n).map(|_| action(plan.uuid, vec![])).collect();
            (plan, actions)
        })
        .collect();
    let (queued_tx, queued_rx) = std::sync::mpsc::channel();
    let before = store.sled().inner.tables.applied();
    queued_behind_a_busy_committer(&store, p.uuid, 0, || {
        std::thread::scope(|s| {
            for (plan, actions) in big.clone() {
                let (store, queued) = (store.clone(), queued_tx.clone());
                s.spawn(move || {
                    let _ = queued.send(());
                    store
                        .write(move |txn| {
                            let mut plan = plan.clone();
                            plan.id = txn.next_id()?;
                            txn.insert_plan(plan)?;
                            for a in &actions {
                                txn.insert_action(Action { id: txn.next_id()?, ..a.clone() })?;
                            }
                            Ok::<_, StoreError>(())
                        })
                        .unwrap()
                });
            }
            queued_rx.recv().unwrap();
            queued_rx.recv().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(200));
            for i in 0..8 {
                let store = store.clone();
                s.spawn(move || append(&store, p.uuid, i).unwrap());
            }
        })
    });
    assert_eq!(appended(&store, p.uuid), (0..8).collect::<Vec<_>>(), "no update lost");
    for (plan, actions) in &big {
        let listed: Vec<Uuid> = store.actions_of(plan.uuid).unwrap().iter().map(|a| a.uuid).collect();
        assert_eq!(listed, actions.iter().map(|a| a.uuid).collect::<Vec<_>>());
    }
    let transactions = store.sled().inner.tables.applied() - before;
    assert_eq!(transactions, 2, "the big plans' part, then the rest of the group");
}

/// A group whose transaction is refused (one job inserts a stored uuid)
/// runs again job by job: the refused job fails alone, the others land.
#[test]
fn a_stored_uuid_in_a_group_commit_fails_its_own_job_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (p, _) = create(&store, None, 0);
    let (stored, _) = create(&store, None, 0);
    let before = store.sled().inner.tables.applied();
    queued_behind_a_busy_committer(&store, p.uuid, 8, || {
        let again = stored.clone();
        let err = store.write(move |txn| txn.insert_plan(again.clone())).unwrap_err();
        assert!(matches!(err, StoreError::Exists { kind: "ActionPlan", .. }), "{err}");
    });
    assert_eq!(appended(&store, p.uuid), (0..8).collect::<Vec<_>>());
    assert_eq!(store.plan(stored.uuid).unwrap().unwrap().id, stored.id, "the stored plan is untouched");
    let transactions = store.sled().inner.tables.applied() - before;
    assert!(transactions > 9, "the refused group ran again job by job: {transactions} transactions");
    store.health().unwrap();
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store.sled().inner.tables.meta.insert(SCHEMA_KEY, &(SCHEMA_VERSION + 1).to_be_bytes()).unwrap();
    }
    let err = reopen(dir.path()).err().expect("refused");
    assert!(
        matches!(err, StoreError::SchemaTooNew { found, supported } if found == SCHEMA_VERSION + 1 && supported == SCHEMA_VERSION),
        "{err}"
    );
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Store::open(dir.path()).unwrap();
    let err = Store::open(dir.path()).err().expect("refused");
    assert!(matches!(err, StoreError::Locked { .. }), "{err}");
    assert!(err.to_string().contains("in use by another process"));
}

#[test]
fn documents_are_written_with_records_and_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        assert!(store.document("cloud").unwrap().is_none());
        store
            .write(|txn| {
                txn.put_document("cloud", json!({"hosts": ["c1"]}));
                assert_eq!(
                    txn.document("cloud")?.unwrap(),
                    json!({"hosts": ["c1"]}),
                    "a txn reads its own writes"
                );
                Ok::<_, StoreError>(())
            })
            .unwrap();
        let refused: Result<(), StoreError> = store.write(|txn| {
            txn.put_document("cloud", json!({"hosts": []}));
            Err(StoreError::Engine("no".into()))
        });
        assert!(refused.is_err());
    }
    let store = reopen(dir.path()).unwrap();
    assert_eq!(store.document("cloud").unwrap().unwrap(), json!({"hosts": ["c1"]}));
}

#[test]
fn blobs_are_stored_replaced_and_removed_durably() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path()).unwrap();
        store
            .write(|txn| {
                txn.put_blob("plugin/a", vec![1, 2, 3]);
                txn.put_blob("plugin/b", vec![4]);
                Ok::<_, StoreError>(())
            })
            .unwrap();
        store
            .write(|txn| {
                txn.put_blob("plugin/a", vec![9]);
                txn.delete_blob("plugin/b");
                Ok::<_, StoreError>(())
            })
            .unwrap();
    }
    let store = reopen(dir.path()).unwrap();
    assert_eq!(store.blobs("plugin/").unwrap(), vec![("plugin/a".to_string(), vec![9])]);
    assert!(store.blobs("other/").unwrap().is_empty());
}

#[test]
fn pages_come_from_the_order_index_without_reading_every_record() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let made: Vec<ActionPlan> = (0..200).map(|_| create(&store, None, 1).0).collect();
    let before = store.reads();
    let page = store.plans_page(PlanSortKey::Id, None, false, 10, |_| true).unwrap();
    assert_eq!(page, made[..10]);
    assert!(store.reads() - before <= 20, "{} reads for a 10-plan page", store.reads() - before);
    let next = store.plans_page(PlanSortKey::Id, Some(page[9].uuid), false, 10, |_| true).unwrap();
    assert_eq!(next, made[10..20]);
    let newest = store.plans_page(PlanSortKey::Id, None, true, 3, |_| true).unwrap();
    assert_eq!(newest.iter().map(|p| p.uuid).collect::<Vec<_>>(), [199, 198, 197].map(|i| made[i].uuid));
    let before_that = store.plans_page(PlanSortKey::Id, Some(made[5].uuid), true, 10, |_| true).unwrap();
    assert_eq!(before_that.len(), 5);
    let wanted = [3, 50, 120, 199].map(|i| made[i].uuid);
    let some = store.plans_page(PlanSortKey::Id, None, false, 3, |p| wanted.contains(&p.uuid)).unwrap();
    assert_eq!(some.iter().map(|p| p.uuid).collect::<Vec<_>>(), wanted[..3]);
    let actions = store.actions_page(ActionSortKey::Id, None, false, 5, |_| true).unwrap();
    assert_eq!(
        actions.iter().map(|a| a.action_plan_uuid).collect::<Vec<_>>(),
        made[..5].iter().map(|p| p.uuid).collect::<Vec<_>>()
    );
}

#[test]
fn a_store_from_before_the_order_index_gets_it_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let made: Vec<ActionPlan> = {
        let store = Store::open(dir.path()).unwrap();
        let made = (0..5).map(|_| create(&store, None, 2).0).collect();
        // As an older build left it: records, no order index.
        store.sled().inner.tables.plan_sort.clear().unwrap();
        store.sled().inner.tables.action_sort.clear().unwrap();
        store.sled().inner.tables.meta.remove(SORT_INDEX_KEY).unwrap();
        made
    };
    let store = reopen(dir.path()).unwrap();
    assert_eq!(store.plans_page(PlanSortKey::Id, None, false, 100, |_| true).unwrap(), made);
    assert_eq!(store.actions_page(ActionSortKey::Id, None, false, 100, |_| true).unwrap().len(), 10);
}

/// Sort entries are written outside the records' transaction (before it,
/// and removals after it), so a crash can leave an entry whose record has
/// another key, or no record: readers skip such entries.
#[test]
fn stale_sort_entries_are_skipped_not_listed() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let made: Vec<ActionPlan> = (0..4).map(|_| create(&store, None, 0).0).collect();
    let state = PlanSortKey::State.field();
    // Kept from here on: a crash after this can leave stale entries in it.
    assert_eq!(store.plans_page(PlanSortKey::State, None, false, 100, |_| true).unwrap(), made);
    let t = &store.sled().inner.tables;
    // An entry from an update that never committed: plan 0 as if FAILED.
    let mut failed = made[0].clone();
    failed.state = PlanState::Failed;
    t.plan_sort.insert(sort::plan_key(&failed, state), made[0].uuid.as_bytes()).unwrap();
    // An entry whose record never committed.
    let ghost = ActionPlan { id: 999_999, ..plan(None) };
    t.plan_sort.insert(sort::plan_key(&ghost, state), ghost.uuid.as_bytes()).unwrap();
    let listed = store.plans_page(PlanSortKey::State, None, false, 100, |_| true).unwrap();
    assert_eq!(listed, made, "each plan once, at its real key");
}

/// A write whose closure panics fails alone; the committer goes on.
#[test]
fn a_panicking_write_fails_alone_and_the_store_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let err = store.write(|_txn| -> Result<(), StoreError> { panic!("boom in a job") }).unwrap_err();
    assert!(matches!(&err, StoreError::JobPanicked(m) if m.contains("boom in a job")), "{err}");
    let (p, _) = create(&store, None, 2);
    assert_eq!(store.plan(p.uuid).unwrap().unwrap(), p);
    store.health().unwrap();
}

/// The entries a write adds to the sort trees.
fn sort_entries(store: &Store) -> (usize, usize) {
    (store.sled().inner.tables.plan_sort.len(), store.sled().inner.tables.action_sort.len())
}

/// A write pays one sort-index entry per order in use: creation order from
/// the start, another order only from the first list that asks for it
/// (which builds it from the records once). Guards the store's write
/// throughput, which an entry per sortable field cut to less than half.
#[test]
fn a_write_indexes_only_the_orders_in_use() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let first: Vec<ActionPlan> = (0..3).map(|_| create(&store, None, 2).0).collect();
    assert_eq!(sort_entries(&store), (3, 6), "creation order only");

    // The first list by state builds that order, for the plans only.
    let by_state = store.plans_page(PlanSortKey::State, None, false, 100, |_| true).unwrap();
    assert_eq!(by_state, first);
    assert_eq!(sort_entries(&store), (6, 6));
    let (p, _) = create(&store, None, 1);
    assert_eq!(sort_entries(&store), (8, 7), "a new plan: creation order and state");

    // Kept up to date by later writes: a plan moved by an update is listed
    // at its new place, once.
    let moved = first[0].uuid;
    store
        .write(move |txn| {
            let mut plan = txn.plan_required(moved)?;
            plan.state = PlanState::Succeeded;
            txn.update_plan(plan)
        })
        .unwrap();
    let before = store.reads();
    let listed: Vec<Uuid> = store
        .plans_page(PlanSortKey::State, None, false, 100, |_| true)
        .unwrap()
        .iter()
        .map(|p| p.uuid)
        .collect();
    assert_eq!(listed, vec![first[1].uuid, first[2].uuid, p.uuid, moved], "RECOMMENDED before SUCCEEDED");
    assert!(store.reads() - before <= 10, "a kept order is not rebuilt: {} reads", store.reads() - before);
    assert_eq!(sort_entries(&store), (8, 7), "the old entry went out as the new one came in");

    // Still kept after a reopen, without a rebuild.
    drop(store);
    let store = reopen(dir.path()).unwrap();
    let before = store.reads();
    assert_eq!(store.plans_page(PlanSortKey::State, None, false, 2, |_| true).unwrap().len(), 2);
    assert!(store.reads() - before <= 4, "{} reads after a reopen", store.reads() - before);
    assert_eq!(store.actions_page(ActionSortKey::Description, None, true, 100, |_| true).unwrap().len(), 7);
    assert_eq!(sort_entries(&store), (8, 14));
}

/// A build a crash cut short leaves entries but no mark: the next build
/// clears them and starts again, and every record is listed once.
#[test]
fn an_order_whose_build_was_cut_short_is_built_again_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let made: Vec<ActionPlan> = (0..5).map(|_| create(&store, None, 0).0).collect();
    let hostname = PlanSortKey::Hostname.field();
    let t = &store.sled().inner.tables;
    let mut moved = made[2].clone();
    moved.hostname = Some("elsewhere".into());
    t.plan_sort.insert(sort::plan_key(&made[0], hostname), made[0].uuid.as_bytes()).unwrap();
    t.plan_sort.insert(sort::plan_key(&moved, hostname), moved.uuid.as_bytes()).unwrap();
    assert!(!t.keeps(false, hostname));
    assert_eq!(store.plans_page(PlanSortKey::Hostname, None, false, 100, |_| true).unwrap(), made);
    assert_eq!(sort_entries(&store).0, 10, "five in creation order, five by hostname, no leftovers");
}

/// A store written when every order was kept (schema 1) keeps them all,
/// complete, with no rebuild, and is marked schema 2 (a build that keeps
/// every order would list a schema-2 store's unkept orders short).
#[test]
fn a_store_that_kept_every_order_keeps_them_without_a_rebuild() {
    let dir = tempfile::tempdir().unwrap();
    let made: Vec<ActionPlan> = {
        let store = Store::open(dir.path()).unwrap();
        let made: Vec<ActionPlan> = (0..4).map(|_| create(&store, None, 1).0).collect();
        // As schema 1 left it: every order's entries, and `sort_index` 1.
        for f in 0..PlanSortKey::ALL.len() {
            store.sled().inner.tables.build_order(false, f).unwrap();
        }
        for f in 0..ActionSortKey::ALL.len() {
            store.sled().inner.tables.build_order(true, f).unwrap();
        }
        let meta = &store.sled().inner.tables.meta;
        meta.remove(b"sort_orders/plans").unwrap();
        meta.remove(b"sort_orders/actions").unwrap();
        meta.insert(SORT_INDEX_KEY, &[1u8][..]).unwrap();
        meta.insert(SCHEMA_KEY, &1u32.to_be_bytes()).unwrap();
        store.sled().inner.db.flush().unwrap();
        made
    };
    let store = reopen(dir.path()).unwrap();
    for (f, name) in PlanSortKey::ALL.iter().enumerate() {
        assert!(store.sled().inner.tables.keeps(false, f), "{name}");
    }
    let before = store.reads();
    let mut newest_first = made.clone();
    newest_first.reverse();
    assert_eq!(store.plans_page(PlanSortKey::CreatedAt, None, true, 100, |_| true).unwrap(), newest_first);
    assert!(store.reads() - before <= 10, "no rebuild: {} reads", store.reads() - before);
    let schema = store.sled().inner.tables.meta.get(SCHEMA_KEY).unwrap().unwrap();
    assert_eq!(schema.as_ref(), &SCHEMA_VERSION.to_be_bytes());
    let (p, _) = create(&store, None, 0);
    assert_eq!(
        store.plans_page(PlanSortKey::Hostname, Some(made[3].uuid), false, 5, |_| true).unwrap(),
        vec![p]
    );
}

/// An order of a large table is built a step at a time, with writes
/// landing between the steps: records the build has passed are kept up to
/// date by those writes, the others are read as they are when reached, and
/// in the end every record is listed once, at its real place.
#[test]
fn writes_between_the_steps_of_a_build_are_not_lost() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let made: Vec<ActionPlan> = (0..30).map(|_| create(&store, None, 0).0).collect();
    let state = PlanSortKey::State.field();
    let t = store.sled().inner.tables.clone();
    assert_eq!(t.build_order_step(false, state, 7).unwrap(), (7, false));
    assert!(!t.keeps(false, state), "not kept before its last step");

    // Every third plan changes state; five plans are added.
    let changed: Vec<Uuid> = made.iter().step_by(3).map(|p| p.uuid).collect();
    store
        .write(move |txn| {
            for &u in &changed {
                let mut p = txn.plan_required(u)?;
                p.state = PlanState::Cancelled;
                txn.update_plan(p)?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    for _ in 0..5 {
        create(&store, None, 0);
    }
    assert_eq!(t.build_order_step(false, state, 7).unwrap(), (7, false));
    create(&store, None, 0);
    let mut steps = 0;
    while !t.build_order_step(false, state, 7).unwrap().1 {
        steps += 1;
    }
    assert!(steps >= 2, "{steps}");
    assert!(t.keeps(false, state));

    let mut expected = store.plans().unwrap();
    expected.sort_by(|a, b| (a.state.as_str(), a.id).cmp(&(b.state.as_str(), b.id)));
    assert_eq!(store.plans_page(PlanSortKey::State, None, false, 100, |_| true).unwrap(), expected);
    let entries = t.plan_sort.scan_prefix([state as u8]).count();
    assert_eq!(entries, 36, "one entry per plan: none lost, none left over");
}

/// Regression: outside systemd the data directory was 0755 (and `db`
/// 0644), readable by every user; it holds the plans, the uploaded plugins
/// and the compile cache's HMAC key.
#[cfg(unix)]
#[test]
fn the_data_directory_is_private_to_the_service_user() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    for existing in [false, true] {
        let dir = parent.path().join(if existing { "existing" } else { "new" });
        if existing {
            std::fs::create_dir(&dir).unwrap();
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let store = Store::open(&dir).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "existing: {existing}");
        drop(store);
    }
}

/// Actions added to a stored plan by a later write join its list (one key
/// per plan since schema 3): none of the first write's is lost.
#[test]
fn actions_added_to_a_stored_plan_are_listed_with_the_first_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (p, mut actions) = create(&store, None, 3);
    let more = store
        .write(move |txn| {
            let mut a = action(p.uuid, vec![]);
            a.id = txn.next_id()?;
            txn.insert_action(a.clone())?;
            assert_eq!(txn.actions_of(p.uuid)?.len(), 4, "a transaction sees its own");
            Ok::<_, StoreError>(a)
        })
        .unwrap();
    actions.push(more);
    assert_eq!(store.actions_of(p.uuid).unwrap(), actions);
    drop(store);
    assert_eq!(reopen(dir.path()).unwrap().actions_of(p.uuid).unwrap(), actions);
}

/// Puts a store back as schema 2 left it: the plan index as a key per
/// action (`plan_actions`, plan uuid ‖ action uuid), no lists.
fn as_schema_2(store: &Store) {
    let s = store.sled();
    let old = s.inner.db.open_tree("plan_actions").unwrap();
    for kv in s.inner.tables.action_lists.iter() {
        let (plan, list) = kv.unwrap();
        for action in list.chunks(16) {
            old.insert([plan.as_ref(), action].concat(), &[][..]).unwrap();
        }
        s.inner.tables.action_lists.remove(plan).unwrap();
    }
    s.inner.tables.meta.insert(SCHEMA_KEY, &2u32.to_be_bytes()).unwrap();
    s.inner.db.flush().unwrap();
}

/// A schema-2 store's plan index (a key per action) is moved into a list
/// per plan at open, and the old tree dropped; a move cut short after the
/// new version was recorded only drops the old tree.
#[test]
fn a_schema_2_plan_index_becomes_a_list_per_plan() {
    let dir = tempfile::tempdir().unwrap();
    let made: Vec<(ActionPlan, Vec<Action>)> = {
        let store = Store::open(dir.path()).unwrap();
        let made = vec![create(&store, None, 5), create(&store, None, 0), create(&store, None, 2)];
        as_schema_2(&store);
        assert!(store.actions_of(made[0].0.uuid).unwrap().is_empty(), "schema 2 has no lists");
        made
    };
    let store = reopen(dir.path()).unwrap();
    for (p, actions) in &made {
        assert_eq!(&store.actions_of(p.uuid).unwrap(), actions);
    }
    let names = store.sled().inner.db.tree_names();
    assert!(!names.iter().any(|n| n.as_ref() == b"plan_actions"), "the old index is dropped");
    let schema = store.sled().inner.tables.meta.get(SCHEMA_KEY).unwrap().unwrap();
    assert_eq!(schema.as_ref(), &SCHEMA_VERSION.to_be_bytes());

    // Cut short after the version: the lists stand, a stale old index goes.
    let stale = store.sled().inner.db.open_tree("plan_actions").unwrap();
    stale
        .insert([made[1].0.uuid.as_bytes().as_slice(), Uuid::new_v4().as_bytes()].concat(), &[][..])
        .unwrap();
    store.sled().inner.db.flush().unwrap();
    drop((stale, store));
    let store = reopen(dir.path()).unwrap();
    assert!(store.actions_of(made[1].0.uuid).unwrap().is_empty(), "not moved again");
    assert!(!store.sled().inner.db.tree_names().iter().any(|n| n.as_ref() == b"plan_actions"));
}

/// A plan's list that is not a whole number of uuids is refused as
/// corrupt, naming it, rather than read short.
#[test]
fn a_damaged_action_list_is_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (p, _) = create(&store, None, 2);
    store.sled().inner.tables.action_lists.insert(p.uuid.as_bytes(), &[7u8; 20][..]).unwrap();
    match store.actions_of(p.uuid) {
        Err(StoreError::Corrupt { key, reason }) => {
            assert_eq!(key, format!("action_lists/{}", p.uuid));
            assert!(reason.contains("20 bytes"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}
