//! The rollback planner (issue 13, P3): a dry-run rollback of an executed
//! plan of n `migrate` actions (a chain, each moved back and forth between
//! two hosts), planned in-process through `Plans::rollback` as the endpoint
//! does it: the plan and its actions read from a store, one `invert` per
//! action in a fresh sandboxed instance, the inverse DAG built and answered
//! (a dry run stores nothing, so each iteration plans the same rollback).
//! The cost per action should stay flat from 10 to 10,000. Run `make
//! plugins` first, then `cargo bench -p rollback-host --bench planner`;
//! figures in BENCHMARKS.md. `rollback_stored` plans and stores the same
//! rollbacks (each of a fresh original); the black-box figure is
//! `scripts/bench-execute.py --rollback`.

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use rollback_host::plugins::{Compile, Limits, Registry, Runtime};
use rollback_host::rollback::Options;
use rollback_host::server::{self, Config, StoreAt};
use rollback_host::service::{self, Service};
use rollback_store::{Action, ActionPlan, ActionState, PlanState, Store, StoreError};
use serde_json::json;
use uuid::Uuid;

/// The binary's allocator (`host/src/main.rs`), so that the figures are the
/// server's.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const ID: &str = "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a01";

/// A service over a fresh store (no plans yet).
fn service(registry: &Registry, rt: &tokio::runtime::Runtime) -> (tempfile::TempDir, Store, Service) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let options = service::Options { rollback_max_actions: 20_000, ..service::Options::default() };
    let config =
        Config { options, registry: Some(registry.clone()), ..Config::new(StoreAt::Open(store.clone())) };
    let service = rt.block_on(server::start(config)).unwrap().service;
    (dir, store, service)
}

/// Stores one SUCCEEDED plan of `n` executed migrations, finished now.
fn seed(store: &Store, n: usize) -> Uuid {
    let plan = Uuid::new_v4();
    let now = chrono::Utc::now();
    store
        .write(move |txn| {
            let mut p = ActionPlan::new(plan, "bench", PlanState::Succeeded, now);
            p.id = txn.next_id()?;
            p.finished_at = Some(now);
            txn.insert_plan(p)?;
            let mut parent: Option<Uuid> = None;
            for i in 0..n {
                let (from, to) = if i % 2 == 0 { ("compute-1", "compute-2") } else { ("compute-2", "compute-1") };
                let params = json!({"resource_id": ID, "migration_type": "live", "source_node": from, "destination_node": to});
                let uuid = Uuid::new_v4();
                let mut a = Action::new(uuid, plan, "migrate", params.as_object().unwrap().clone(), parent.into_iter().collect(), now);
                a.id = txn.next_id()?;
                a.state = ActionState::Succeeded;
                a.pre_state = Some(json!({"host": from}));
                a.result = Some(json!({"host": to}));
                txn.insert_action(a)?;
                parent = Some(uuid);
            }
            Ok::<_, StoreError>(())
        })
        .unwrap();
    plan
}

fn bench(c: &mut Criterion) {
    let plugins = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugins");
    let registry = Registry::new(
        Runtime::new(Limits { compile: Compile::Optimized, ..Limits::default() }).unwrap(),
        Default::default(),
    );
    registry.scan(&plugins);
    assert!(registry.snapshot().contains_key("migrate"), "{}: run `make plugins` first", plugins.display());
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();

    let mut g = c.benchmark_group("rollback_dry_run");
    g.sample_size(10);
    for n in [10usize, 100, 1_000, 10_000] {
        let (_dir, store, service) = service(&registry, &rt);
        let plan = seed(&store, n);
        let options = Options { dry_run: true, ..Options::default() };
        let planned = rt.block_on(service.plans.rollback(plan, options)).unwrap();
        assert_eq!(planned.actions.len(), n, "every migration has its inverse");
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| rt.block_on(service.plans.rollback(plan, options)).unwrap())
        });
    }
    g.finish();

    // The same rollback computed and stored (P3's figure): each iteration
    // rolls back a plan of its own, seeded outside the timing, in a store
    // on local disk (every write fsynced).
    let mut g = c.benchmark_group("rollback_stored");
    g.sample_size(10);
    for n in [1_000usize, 10_000] {
        let (_dir, store, service) = service(&registry, &rt);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, &n| {
            b.iter_batched(
                || seed(&store, n),
                |plan| {
                    let planned = rt.block_on(service.plans.rollback(plan, Options::default())).unwrap();
                    assert_eq!(planned.actions.len(), n);
                },
                BatchSize::PerIteration,
            )
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
