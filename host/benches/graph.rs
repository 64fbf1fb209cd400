//! Drawing a plan (`GET /v1/action_plans/{uuid}/graph`): SVG layout time by
//! number of actions, with layout-rs's crossing optimiser on and off, and
//! the DOT text for comparison. Run with `cargo bench -p rollback-host
//! --bench graph`; figures in BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rollback_host::graph::{dot, svg_with, Picture};
use rollback_store::{Action, ActionPlan, PlanState};
use serde_json::json;
use std::time::Duration;
use uuid::Uuid;

/// A plan of `n` actions, each depending on up to two earlier ones (a
/// deterministic pseudo-random DAG), and its inverse of `n` actions.
fn plans(n: usize) -> (ActionPlan, Vec<Action>, ActionPlan, Vec<Action>) {
    let now = chrono::Utc::now();
    let plan = ActionPlan::new(Uuid::new_v4(), "bench", PlanState::Succeeded, now);
    let inv_plan = ActionPlan::new(Uuid::new_v4(), "rollback", PlanState::Recommended, now);
    let mut seed = 7u64;
    let mut next = |m: usize| {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (seed >> 33) as usize % m
    };
    let params = |i: usize| json!({"resource_id": format!("instance-{i}")}).as_object().unwrap().clone();
    let mut actions: Vec<Action> = Vec::new();
    for i in 0..n {
        let parents = if i == 0 { vec![] } else { vec![actions[next(i)].uuid, actions[next(i)].uuid] };
        let mut parents = parents;
        parents.dedup();
        let mut a = Action::new(Uuid::new_v4(), plan.uuid, "migrate", params(i), parents, now);
        a.state = rollback_store::ActionState::Succeeded;
        actions.push(a);
    }
    let inverse: Vec<Action> = actions
        .iter()
        .rev()
        .map(|a| Action {
            inverse_of: Some(a.uuid),
            ..Action::new(Uuid::new_v4(), inv_plan.uuid, "migrate", a.input_parameters.clone(), vec![], now)
        })
        .collect();
    (plan, actions, inv_plan, inverse)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("graph");
    g.sample_size(10).measurement_time(Duration::from_secs(5));
    for n in [4usize, 15, 30, 60, 100, 200, 400] {
        let (plan, actions, inv_plan, inverse) = plans(n / 2);
        let picture =
            Picture { original: (&plan, &actions), inverse: Some((&inv_plan, &inverse)), dry_run: false };
        if n <= 60 {
            g.bench_with_input(BenchmarkId::new("svg_optimized", n), &picture, |b, p| {
                b.iter(|| svg_with(p, true).unwrap())
            });
        }
        g.bench_with_input(BenchmarkId::new("svg_plain", n), &picture, |b, p| {
            b.iter(|| svg_with(p, false).unwrap())
        });
        g.bench_with_input(BenchmarkId::new("dot", n), &picture, |b, p| b.iter(|| dot(p)));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
