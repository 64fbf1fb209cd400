//! The applier's guarantees that do not depend on a cloud: a driver that
//! panics ends its action FAILED and the plan settles (never stuck
//! ONGOING); the cost of executing a plan, in store reads, is a constant
//! per action however large the plan. In-process, over a store on tmpfs.

use rollback_host::action_types::Operation;
use rollback_host::applier::Applier;
use rollback_host::cloud::{Applied, CloudDriver, DriverError, Prepared};
use rollback_host::plugins::{Limits, Registry, Runtime};
use rollback_store::{Action, ActionPlan, ActionState, PlanState, Store, StoreError};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Stores a plan in `state` whose actions are `(type, parameters, parent
/// indices)`; returns its uuid and its actions' uuids.
fn store_plan(store: &Store, state: PlanState, actions: Vec<(&str, Value, Vec<usize>)>) -> (Uuid, Vec<Uuid>) {
    let now = chrono::Utc::now();
    let plan = Uuid::new_v4();
    let uuids: Vec<Uuid> = actions.iter().map(|_| Uuid::new_v4()).collect();
    let records: Vec<Action> = actions
        .into_iter()
        .zip(&uuids)
        .map(|((t, p, ps), u)| {
            Action::new(
                *u,
                plan,
                t,
                p.as_object().unwrap().clone(),
                ps.iter().map(|&i| uuids[i]).collect(),
                now,
            )
        })
        .collect();
    store
        .write(move |txn| {
            txn.insert_plan(ActionPlan { id: txn.next_id()?, ..ActionPlan::new(plan, "test", state, now) })?;
            for a in records.clone() {
                txn.insert_action(Action { id: txn.next_id()?, ..a })?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    (plan, uuids)
}

/// Polls until the plan ends; returns how many reads the polling made.
fn wait_for_end(store: &Store, plan: Uuid, limit: Duration) -> u64 {
    let until = Instant::now() + limit;
    let mut polls = 0;
    loop {
        polls += 1;
        let p = store.plan(plan).unwrap().unwrap();
        if matches!(p.state, PlanState::Succeeded | PlanState::Failed | PlanState::Cancelled) {
            return polls;
        }
        assert!(Instant::now() < until, "plan {plan} is still {}", p.state);
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A driver that panics in `prepare` or `apply` when the action's
/// parameters say so, and otherwise succeeds without touching anything.
struct Panicking;

impl CloudDriver for Panicking {
    fn prepare(&self, action: &Action) -> Result<Prepared, DriverError> {
        if action.input_parameters.get("panic_in") == Some(&json!("prepare")) {
            panic!("boom in prepare");
        }
        Ok(Prepared::Run {
            pre_state: json!({}),
            note: None,
            operation: Operation::Custom(action.action_type.clone()),
        })
    }

    fn apply(&self, action: &Action, _: &Value, _: &Operation) -> Result<Applied, DriverError> {
        if action.input_parameters.get("panic_in") == Some(&json!("apply")) {
            panic!("boom in apply");
        }
        Ok(Applied::Done(json!({"done": true})))
    }
}

#[test]
fn a_panicking_driver_fails_its_action_and_the_plan_still_settles() {
    let dir = rollback_tests::tmpfs_dir();
    let store = Store::open(dir.path()).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let applier = Applier::new(
        store.clone(),
        Arc::new(Panicking),
        4,
        8,
        rollback_host::service::DEFAULT_PLAN_LEASE,
        None,
    );
    for stage in ["prepare", "apply"] {
        // 0 panics; 1 depends on 0; 2 is independent and succeeds.
        let (plan, ids) = store_plan(
            &store,
            PlanState::Pending,
            vec![
                ("custom", json!({"panic_in": stage}), vec![]),
                ("custom", json!({}), vec![0]),
                ("custom", json!({}), vec![]),
            ],
        );
        rt.block_on(async { applier.launch(plan) });
        wait_for_end(&store, plan, Duration::from_secs(30));
        let p = store.plan(plan).unwrap().unwrap();
        assert_eq!(p.state, PlanState::Failed, "{stage}: {p:?}");
        let message = p.status_message.unwrap_or_default();
        assert!(
            message.contains(&ids[0].to_string()) && message.contains(&format!("boom in {stage}")),
            "{message}"
        );
        let a: Vec<Action> = ids.iter().map(|u| store.action(*u).unwrap().unwrap()).collect();
        assert_eq!(a[0].state, ActionState::Failed, "{stage}");
        assert!(a[0].status_message.as_deref().unwrap_or("").contains("panic"), "{:?}", a[0].status_message);
        assert_eq!(a[1].state, ActionState::Cancelled, "{stage}: its child never runs");
        assert_eq!(a[2].state, ActionState::Succeeded, "{stage}: the independent branch still runs");
        while applier.is_running(plan) {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

/// Executes an N-action plan through the service as the binary wires it
/// and returns the store reads it cost (polling excluded).
fn reads_to_execute(actions: Vec<(&'static str, Value, Vec<usize>)>) -> (u64, Duration) {
    let dir = rollback_tests::tmpfs_dir();
    let store = Store::open(dir.path()).unwrap();
    let n = actions.len();
    let (plan, _) = store_plan(&store, PlanState::Recommended, actions);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let service = super::in_process::simulated(&rt, &store, None).service;
    let before = store.reads();
    let started = Instant::now();
    rt.block_on(service.plans.start(plan)).unwrap();
    let polls = wait_for_end(&store, plan, Duration::from_secs(600));
    let took = started.elapsed();
    let reads = store.reads() - before - polls;
    let p = store.plan(plan).unwrap().unwrap();
    assert_eq!(p.state, PlanState::Succeeded, "{p:?}");
    assert_eq!(
        store.actions_of(plan).unwrap().iter().filter(|a| a.state == ActionState::Succeeded).count(),
        n
    );
    (reads, took)
}

/// Reads per action a run may cost: the plan's actions once (index entry
/// and record), then one read in each of the action's two writes.
const READS_PER_ACTION: u64 = 6;

#[test]
fn executing_10000_actions_costs_a_constant_number_of_store_reads_per_action() {
    const N: usize = 10_000;
    let wide: Vec<_> = (0..N).map(|i| ("nop", json!({"message": format!("n{i}")}), vec![])).collect();
    let deep: Vec<_> = (0..N)
        .map(|i| {
            let parents = if i == 0 { vec![] } else { vec![i - 1] };
            match i % 2 {
                0 => ("nop", json!({"message": null}), parents),
                _ => ("sleep", json!({"duration": 0}), parents),
            }
        })
        .collect();
    for (shape, actions) in [("wide", wide), ("deep", deep)] {
        let (reads, took) = reads_to_execute(actions);
        eprintln!(
            "{shape}: {N} actions, {reads} store reads ({:.2} per action), {took:?}",
            reads as f64 / N as f64
        );
        assert!(reads <= READS_PER_ACTION * N as u64 + 10, "{shape}: {reads} reads for {N} actions");
    }
}

/// A driver acting on a cloud outside the store, which can look at a
/// resource after a restart: the action's parameters say what it will see.
struct Observing;

impl CloudDriver for Observing {
    fn prepare(&self, action: &Action) -> Result<Prepared, DriverError> {
        Ok(Prepared::Run {
            pre_state: json!({}),
            note: None,
            operation: Operation::Custom(action.action_type.clone()),
        })
    }

    fn apply(&self, _: &Action, _: &Value, _: &Operation) -> Result<Applied, DriverError> {
        Ok(Applied::Done(json!({})))
    }

    fn observe(&self, action: &Action) -> rollback_host::cloud::Observed {
        use rollback_host::cloud::Observed;
        match action.input_parameters.get("message").and_then(Value::as_str) {
            Some("happened") => Observed::Happened(json!({"observed": true})),
            Some("nothing") => Observed::NotHappened,
            _ => Observed::Unknown("the resource API did not answer".into()),
        }
    }
}

/// A restart reconciles interrupted actions by observing them: one that
/// happened is SUCCEEDED with the observed result (so a rollback inverts
/// it), one that did not FAILED, and one nobody can tell about FAILED and
/// listed as unknown in the rollback's answer.
#[test]
fn a_restart_reconciles_interrupted_actions_by_observing_them() {
    let dir = rollback_tests::tmpfs_dir();
    let store = Store::open(dir.path()).unwrap();
    let (plan, ids) = store_plan(
        &store,
        PlanState::Ongoing,
        vec![
            ("nop", json!({"message": "happened"}), vec![]),
            ("nop", json!({"message": "nothing"}), vec![]),
            ("nop", json!({"message": "no idea"}), vec![]),
            ("nop", json!({"message": "later"}), vec![0]),
        ],
    );
    let running = ids[..3].to_vec();
    store
        .write(move |txn| {
            for &u in &running {
                let a = txn.action(u)?.unwrap();
                txn.update_action(Action { state: ActionState::Ongoing, pre_state: Some(json!({})), ..a })?;
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let applier = Applier::new(
        store.clone(),
        Arc::new(Observing),
        4,
        8,
        rollback_host::service::DEFAULT_PLAN_LEASE,
        None,
    );
    let report = rt.block_on(async { rollback_host::applier::recover(&applier) }).unwrap();
    assert_eq!(report.interrupted, [plan]);
    let a: Vec<Action> = ids.iter().map(|u| store.action(*u).unwrap().unwrap()).collect();
    let states: Vec<_> = a.iter().map(|a| a.state).collect();
    assert_eq!(
        states,
        [ActionState::Succeeded, ActionState::Failed, ActionState::Failed, ActionState::Cancelled]
    );
    assert_eq!(a[0].result, Some(json!({"observed": true})));

    let registry = Registry::new(Runtime::new(Limits::default()).unwrap(), Default::default());
    registry.scan(&rollback_tests::repo_root().join("target/plugins"));
    let planner = rollback_host::rollback::Planner {
        store: &store,
        plugins: &registry.snapshot(),
        limits: rollback_host::rollback::RollbackLimits::default(),
    };
    let options = rollback_host::rollback::Options { dry_run: true, ..Default::default() };
    let planned = planner.rollback(plan, options).unwrap();
    assert_eq!(planned.unknown.len(), 1, "{:?}", planned.unknown);
    assert_eq!(planned.unknown[0].0, ids[2]);
    assert!(planned.unknown[0].2.contains("did not answer"), "{}", planned.unknown[0].2);
}
