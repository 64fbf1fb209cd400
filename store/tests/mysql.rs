//! The MySQL backend against a real MariaDB (`scripts/mariadb.sh start`;
//! `make test-mysql` runs these with `--ignored`): every test gets a new
//! database; several `Store`s on one database stand for several processes.

use chrono::Utc;
use rollback_store::{
    Action, ActionPlan, ActionSortKey, MysqlOptions, PlanSortKey, PlanState, Store, StoreError,
};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use uuid::Uuid;

const NEEDS: &str = "needs ROLLBACK_TEST_MYSQL and ROLLBACK_STORE_PASSWORD (scripts/mariadb.sh start)";

/// `mysql://USER@HOST:PORT` of the test server, and its password.
fn server() -> (String, String) {
    let url = std::env::var("ROLLBACK_TEST_MYSQL").expect(NEEDS);
    let password = std::env::var("ROLLBACK_STORE_PASSWORD").expect(NEEDS);
    (url.trim_end_matches('/').to_string(), password)
}

/// A new, empty database; its options.
fn database() -> MysqlOptions {
    let (url, password) = server();
    let name = format!("rbtest_{}", Uuid::new_v4().simple());
    let opts =
        mysql::OptsBuilder::from_opts(mysql::Opts::from_url(&url).unwrap()).pass(Some(password.clone()));
    let mut conn = mysql::Conn::new(opts).unwrap();
    mysql::prelude::Queryable::query_drop(&mut conn, format!("CREATE DATABASE {name}")).unwrap();
    MysqlOptions::new(&format!("{url}/{name}"), Some(password)).unwrap()
}

/// A root-ish connection to the test database of `options`, for reaching
/// under the store (killing its connections, changing its schema version).
fn admin(options: &MysqlOptions) -> mysql::Conn {
    let opts = mysql::OptsBuilder::from_opts(mysql::Opts::from_url(&options.url).unwrap())
        .pass(options.password.clone());
    mysql::Conn::new(opts).unwrap()
}

fn plan(audit: Option<Uuid>) -> ActionPlan {
    ActionPlan {
        audit_uuid: audit,
        ..ActionPlan::new(Uuid::new_v4(), "manual", PlanState::Recommended, Utc::now())
    }
}

fn create(store: &Store, audit: Option<Uuid>, n: usize) -> (ActionPlan, Vec<Action>) {
    let p = plan(audit);
    let actions: Vec<Action> = (0..n)
        .map(|i| {
            let params = json!({"i": i}).as_object().unwrap().clone();
            Action::new(Uuid::new_v4(), p.uuid, "nop", params, vec![], Utc::now())
        })
        .collect();
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
#[ignore = "needs MariaDB: scripts/mariadb.sh"]
fn records_documents_and_blobs_round_trip() {
    let options = database();
    let store = Store::connect(&options).unwrap();
    assert_eq!(store.backend(), "mysql");
    let audit = Uuid::new_v4();
    let (p, actions) = create(&store, Some(audit), 3);
    assert_eq!(store.plan(p.uuid).unwrap().unwrap(), p);
    assert_eq!(store.actions_of(p.uuid).unwrap(), actions);
    assert_eq!(store.action(actions[1].uuid).unwrap().unwrap(), actions[1]);
    assert_eq!(store.plans_of_audit(audit).unwrap(), vec![p.clone()]);
    assert_eq!(store.plans().unwrap(), vec![p.clone()]);

    // A blob of several chunks, a document; then the blob replaced by a
    // shorter one and another removed.
    let big: Vec<u8> = (0..2_500_000u32).map(|i| (i % 251) as u8).collect();
    let (b1, b2) = (big.clone(), b"small".to_vec());
    store
        .write(move |txn| {
            txn.put_blob("plugin/a", b1.clone());
            txn.put_blob("plugin/b", b2.clone());
            txn.put_blob("other/c", b"x".to_vec());
            txn.put_document("cloud", json!({"hosts": ["h1"]}));
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let blobs = store.blobs("plugin/").unwrap();
    assert_eq!(blobs.len(), 2);
    assert_eq!(blobs[0], ("plugin/a".to_string(), big));
    assert_eq!(store.document("cloud").unwrap(), Some(json!({"hosts": ["h1"]})));
    store
        .write(|txn| {
            txn.put_blob("plugin/a", b"shorter".to_vec());
            txn.delete_blob("plugin/b");
            Ok::<_, StoreError>(())
        })
        .unwrap();
    assert_eq!(store.blobs("plugin/").unwrap(), vec![("plugin/a".to_string(), b"shorter".to_vec())]);

    // What one process wrote, another reads (a second connection pool).
    let other = Store::connect(&options).unwrap();
    assert_eq!(other.plan(p.uuid).unwrap().unwrap(), p);
}

#[test]
#[ignore = "needs MariaDB: scripts/mariadb.sh"]
fn a_refused_write_stores_nothing_and_duplicates_are_refused() {
    let store = Store::connect(&database()).unwrap();
    let p = plan(None);
    let uuid = p.uuid;
    let r: Result<(), StoreError> = store.write(move |txn| {
        txn.insert_plan(ActionPlan { id: txn.next_id()?, ..p.clone() })?;
        Err(StoreError::Engine("refused by the caller".into()))
    });
    assert!(r.is_err());
    assert!(store.plan(uuid).unwrap().is_none());
    let (p, _) = create(&store, None, 0);
    let err = store.write(move |txn| txn.insert_plan(p.clone())).unwrap_err();
    assert!(matches!(err, StoreError::Exists { kind: "ActionPlan", .. }), "{err}");
}

/// Guards against a Galera lost update handing one id out twice: a new
/// record whose id is another record's is refused, and the other record
/// (its row and its place in the lists) is untouched.
#[test]
#[ignore = "needs MariaDB: scripts/mariadb.sh"]
fn a_new_record_with_another_records_id_is_refused_and_overwrites_nothing() {
    let store = Store::connect(&database()).unwrap();
    let (first, actions) = create(&store, None, 1);
    let second = ActionPlan { id: first.id, ..plan(None) };
    let staged = second.clone();
    let err = store.write(move |txn| txn.insert_plan(staged.clone())).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("id another record has"), "{err}");
    let action = Action {
        id: actions[0].id,
        ..Action::new(Uuid::new_v4(), first.uuid, "nop", Default::default(), vec![], Utc::now())
    };
    let staged = action.clone();
    let err = store.write(move |txn| txn.insert_action(staged.clone())).unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert_eq!(store.plan(first.uuid).unwrap().unwrap(), first);
    assert!(store.plan(second.uuid).unwrap().is_none());
    assert_eq!(store.actions_of(first.uuid).unwrap(), actions);
    assert!(store.action(action.uuid).unwrap().is_none());
    let listed = store.plans_page(PlanSortKey::Id, None, false, 10, |_| true).unwrap();
    assert_eq!(listed.iter().map(|p| p.uuid).collect::<Vec<_>>(), vec![first.uuid]);
}

/// A counter set back under the store (as a lost update across Galera
/// nodes once did) costs one more attempt, not a failed write: the write is
/// run again with its ids above the highest stored.
#[test]
#[ignore = "needs MariaDB: scripts/mariadb.sh"]
fn a_lock_row_counter_set_back_is_fenced_not_fatal() {
    let options = database();
    let store = Store::connect(&options).unwrap();
    let (first, first_actions) = create(&store, None, 2);
    mysql::prelude::Queryable::query_drop(
        &mut admin(&options),
        "UPDATE rollback_lock SET next_id = 1 WHERE id = 1",
    )
    .unwrap();
    let (second, second_actions) = create(&store, None, 2);
    let taken: Vec<u64> = std::iter::once(first.id).chain(first_actions.iter().map(|a| a.id)).collect();
    for id in std::iter::once(second.id).chain(second_actions.iter().map(|a| a.id)) {
        assert!(taken.iter().all(|t| id > *t), "id {id} not above the ones taken {taken:?}");
    }
    assert_eq!(store.plan(first.uuid).unwrap().unwrap(), first);
    assert_eq!(store.plan(second.uuid).unwrap().unwrap(), second);
    let listed = store.plans_page(PlanSortKey::Id, None, false, 10, |_| true).unwrap();
    assert_eq!(listed.iter().map(|p| p.uuid).collect::<Vec<_>>(), vec![first.uuid, second.uuid]);
}

/// Three "processes" (stores), eight threads each, incrementing one
/// counter with read-modify-writes: the writes are serialized across all of
/// them, so none is lost.
#[test]
#[ignore = "needs MariaDB: scripts/mariadb.sh"]
fn read_modify_writes_from_several_processes_lose_nothing() {
    let options = database();
    let stores: Vec<Store> = (0..3).map(|_| Store::connect(&options).unwrap()).collect();
    let threads: Vec<_> = (0..24)
        .map(|i| {
            let store = stores[i % 3].clone();
            std::thread::spawn(move || {
                for _ in 0..10 {
                    store
                        .write(|txn| {
                            let n = txn.document("counter")?.and_then(|v| v.as_u64()).unwrap_or(0);
                            txn.put_document("counter", json!(n + 1));
                            Ok::<_, StoreError>(())
                        })
                        .unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(stores[0].document("counter").unwrap(), Some(json!(240)));
}

/// 32 attempts over three stores to take the same one-time step (here:
/// mark a plan rolled back): exactly one succeeds.
#[test]
#[ignore = "needs MariaDB: scripts/mariadb.sh"]
fn a_one_time_step_taken_from_three_processes_at_once_is_taken_once() {
    let options = database();
    let stores: Vec<Store> = (0..3).map(|_| Store::connect(&options).unwrap()).collect();
    let (p, _) = create(&stores[0], None, 1);
    let barrier = Arc::new(std::sync::Barrier::new(32));
    let threads: Vec<_> = (0..32)
        .map(|i| {
            let (store, barrier, uuid) = (stores[i % 3].clone(), Arc::clone(&barrier), p.uuid);
            std::thread::spawn(move || {
                barrier.wait();
                store.write(move |txn| {
                    let mut plan = txn.plan_required(uuid)?;
                    if plan.rolled_back_by.is_some() {
                        return Err(StoreError::Engine("already rolled back".into()));
                    }
                    let mine = plan_for(txn)?;
                    plan.rolled_back_by = Some(mine);
                    txn.update_plan(plan)?;
                    Ok::<_, StoreError>(mine)
                })
            })
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let won: Vec<Uuid> = results.iter().filter_map(|r| r.as_ref().ok().copied()).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    assert_eq!(stores[1].plan(p.uuid).unwrap().unwrap().rolled_back_by, Some(won[0]));
    assert_eq!(stores[2].plans().unwrap().len(), 2, "one rollback plan stored");
}

fn plan_for(txn: &mut rollback_store::Txn<'_>) -> Result<Uuid, StoreError> {
    let p = ActionPlan { id: txn.next_id()?, ..plan(None) };
    let uuid = p.uuid;
    txn.insert_plan(p)?;
    Ok(uuid)
}

/// Every list order, both directions, with markers: the MySQL store pages
/// exactly as the sled store does over the same records.
#[test]
#[ignore = "needs MariaDB: scripts/mariadb.sh"]
fn pages_in_every_order_match_the_sled_store() {
    let dir = tempfile::tempdir().unwrap();
    let sled = Store::open(dir.path()).unwrap();
    let my = Store::connect(&database()).unwrap();
    let states = [PlanState::Recommended, PlanState::Ongoing, PlanState::Succeeded];
    let mut records = Vec::new();
    for i in 0..40u32 {
        let mut p = plan(if i % 3 == 0 { Some(Uuid::from_u128(i as u128 % 4)) } else { None });
        p.state = states[i as usize % 3];
        p.status_message = (i % 4 != 0).then(|| format!("m{}", i % 5));
        p.hostname = (i % 2 == 0).then(|| "h".repeat(1 + (i % 3) as usize));
        records.push(p);
    }
    // A status message longer than an index key may be.
    records[7].status_message = Some("x".repeat(5000));
    for store in [&sled, &my] {
        let records = records.clone();
        store
            .write(move |txn| {
                for p in &records {
                    txn.insert_plan(ActionPlan { id: txn.next_id()?, ..p.clone() })?;
                }
                Ok::<_, StoreError>(())
            })
            .unwrap();
    }
    let uuids = |v: Vec<ActionPlan>| v.into_iter().map(|p| p.uuid).collect::<Vec<_>>();
    for &key in PlanSortKey::ALL {
        for descending in [false, true] {
            let all_sled = uuids(sled.plans_page(key, None, descending, 100, |_| true).unwrap());
            let all_my = uuids(my.plans_page(key, None, descending, 100, |_| true).unwrap());
            assert_eq!(all_my, all_sled, "{key} descending={descending}");
            let marker = Some(all_sled[11]);
            let page_sled =
                uuids(sled.plans_page(key, marker, descending, 7, |p| p.hostname.is_some()).unwrap());
            let page_my = uuids(my.plans_page(key, marker, descending, 7, |p| p.hostname.is_some()).unwrap());
            assert_eq!(page_my, page_sled, "{key} descending={descending} after a marker");
        }
    }
    // A state change moves a plan in the state order.
    let moved = records[0].uuid;
    my.write(move |txn| {
        let mut p = txn.plan_required(moved)?;
        p.state = PlanState::Cancelled;
        txn.update_plan(p)
    })
    .unwrap();
    let by_state = my.plans_page(PlanSortKey::State, None, false, 100, |_| true).unwrap();
    assert_eq!(by_state.len(), 40);
    assert_eq!(by_state[0].uuid, moved, "CANCELLED sorts first");
    let err = my.actions_page(ActionSortKey::Id, Some(Uuid::new_v4()), false, 5, |_| true).unwrap_err();
    assert!(matches!(err, StoreError::NotFound { kind: "Action", .. }), "{err}");
}

#[test]
#[ignore = "needs MariaDB: scripts/mariadb.sh"]
fn a_newer_schema_is_refused_and_a_password_in_the_url_too() {
    let options = database();
    drop(Store::connect(&options).unwrap());
    mysql::prelude::Queryable::query_drop(
        &mut admin(&options),
        "UPDATE rollback_meta SET value = 99 WHERE name = 'schema_version'",
    )
    .unwrap();
    let err = Store::connect(&options).err().expect("refused");
    assert!(matches!(err, StoreError::SchemaTooNew { found: 99, .. }), "{err}");

    let err = MysqlOptions::new("mysql://u:secret@127.0.0.1/db", None).unwrap_err();
    assert!(err.to_string().contains("ROLLBACK_STORE_PASSWORD"), "{err}");
    assert!(!err.to_string().contains("secret"), "{err}");
}

/// A write whose connection is killed in the middle (as a database node
/// going away does) runs again on a new connection and lands once.
#[test]
#[ignore = "needs MariaDB: scripts/mariadb.sh"]
fn a_write_whose_connection_is_killed_is_run_again_and_lands_once() {
    let options = database();
    let store = Store::connect(&options).unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let (o, r) = (options.clone(), Arc::clone(&runs));
    let db = options.url.rsplit('/').next().unwrap().to_string();
    let out = store.write(move |txn| {
        if r.fetch_add(1, Ordering::SeqCst) == 0 {
            // Kill every connection of the store's database but this admin's.
            let mut admin = admin(&o);
            let ids: Vec<u64> = mysql::prelude::Queryable::exec(
                &mut admin,
                "SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()",
                (db.as_str(),),
            )
            .unwrap();
            for id in ids {
                let _ = mysql::prelude::Queryable::query_drop(&mut admin, format!("KILL CONNECTION {id}"));
            }
        }
        let n = txn.document("n")?.and_then(|v| v.as_u64()).unwrap_or(0);
        txn.put_document("n", json!(n + 1));
        Ok::<_, StoreError>(n + 1)
    });
    assert_eq!(out.unwrap(), 1);
    assert!(runs.load(Ordering::SeqCst) >= 2, "the write ran again");
    assert_eq!(store.document("n").unwrap(), Some(json!(1)), "and landed once");
}
