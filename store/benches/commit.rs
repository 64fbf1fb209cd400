//! Durable write throughput through the group-commit committer: W writer
//! threads each store plans of one plan record plus 10 actions (about a
//! dozen keys with their index entries), each write acknowledged only after
//! flush + fsync. Run with `make bench` (or `cargo bench -p rollback-store`).

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rollback_store::{Action, ActionPlan, PlanState, Store, StoreError};
use serde_json::json;
use std::time::{Duration, Instant};
use uuid::Uuid;

fn plan_with_actions(store: &Store) {
    let now = chrono::Utc::now();
    store
        .write(move |txn| {
            let plan = ActionPlan {
                id: txn.next_id()?,
                audit_uuid: Some(Uuid::new_v4()),
                ..ActionPlan::new(Uuid::new_v4(), "bench", PlanState::Recommended, now)
            };
            txn.insert_plan(plan.clone())?;
            for _ in 0..10 {
                txn.insert_action(Action {
                    id: txn.next_id()?,
                    ..Action::new(
                        Uuid::new_v4(),
                        plan.uuid,
                        "nop",
                        json!({"message": "bench"}).as_object().unwrap().clone(),
                        vec![],
                        now,
                    )
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
