//! Durable write throughput through the group-commit committer: W writer
//! threads each store plans of one plan record plus 10 actions (about a
//! dozen keys with their index entries), each write acknowledged only after
//! flush + fsync. Run with `make bench` (or `cargo bench -p rollback-store`).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rollback_store::{Action, ActionPlan, ActionState, PlanState, Store, StoreError};
use serde_json::json;
use std::time::{Duration, Instant};
use uuid::Uuid;

fn plan_with_actions(store: &Store) {
    let now = chrono::Utc::now();
    store
        .write(move |txn| {
            let plan = ActionPlan {
                id: txn.next_id()?,
                uuid: Uuid::new_v4(),
                audit_uuid: Some(Uuid::new_v4()),
                strategy_name: "bench".into(),
                state: PlanState::Recommended,
                status_message: None,
                global_efficacy: vec![],
                efficacy_indicators: vec![],
                created_at: now,
                updated_at: None,
                deleted_at: None,
                hostname: None,
                rollback_of: None,
                rolled_back_by: None,
                finished_at: None,
            };
            txn.insert_plan(plan.clone())?;
            for _ in 0..10 {
                txn.insert_action(Action {
                    id: txn.next_id()?,
                    uuid: Uuid::new_v4(),
                    action_plan_uuid: plan.uuid,
                    action_type: "nop".into(),
                    input_parameters: json!({"message": "bench"}).as_object().unwrap().clone(),
                    parents: vec![],
                    state: ActionState::Pending,
                    description: String::new(),
                    status_message: None,
                    created_at: now,
                    updated_at: None,
                    deleted_at: None,
                    pre_state: None,
                    result: None,
                    expected_state: None,
                })?;
            }
            Ok::<_, StoreError>(())
        })
        .expect("durable write");
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("durable_plan_writes");
    group.throughput(Throughput::Elements(1)).sample_size(10).measurement_time(Duration::from_secs(10));
    for writers in [1usize, 8, 32] {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        group.bench_function(format!("{writers}_writers"), |b| {
            b.iter_custom(|iters| {
                let per = iters.div_ceil(writers as u64);
                let start = Instant::now();
                std::thread::scope(|s| {
                    for _ in 0..writers {
                        let store = store.clone();
                        s.spawn(move || (0..per).for_each(|_| plan_with_actions(&store)));
                    }
                });
                // Report time per write actually done.
                start.elapsed().mul_f64(iters as f64 / (per * writers as u64) as f64)
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
