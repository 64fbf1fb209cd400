//! One `invert` (issue 13, P1): the built-in `migrate` plugin called
//! through `LoadedPlugin::invert` (a fresh sandboxed instance per call, JSON
//! in and out, output checks), side by side with the same inverse written
//! in native Rust in the host (parse the records, build the inverse), and
//! on Winch's baseline code (what a tiered plugin runs first); and a
//! 100-action rollback's worth of migrations through
//! `LoadedPlugin::invert_many` (one fresh instance per batch of 64, as the
//! planner calls it) beside the native inverse of the same 100. Run
//! `make plugins` first (it builds `target/plugins/migrate.wasm`), then
//! `cargo bench -p rollback-host --bench invert`; figures in BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rollback_host::plugins::{Compile, Executed, Inverse, Limits, Runtime};
use serde_json::{json, Map, Value};

/// The binary's allocator (`host/src/main.rs`), so that the figures are the
/// server's.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

const ID: &str = "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a01";

/// The `migrate` inverse in native Rust, from the same JSON text the
/// plugin receives.
fn native_migrate(params: &str, pre: &str, result: &str) -> Vec<Inverse> {
    let p: Map<String, Value> = serde_json::from_str(params).unwrap();
    let pre: Map<String, Value> = serde_json::from_str(pre).unwrap();
    let res: Map<String, Value> = serde_json::from_str(result).unwrap();
    let s = |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_str).unwrap().to_string();
    let (id, was, now) = (s(&p, "resource_id"), s(&pre, "host"), s(&res, "host"));
    if was == now {
        return vec![];
    }
    let mut input = Map::new();
    input.insert("resource_id".into(), json!(id));
    input.insert("migration_type".into(), json!(s(&p, "migration_type")));
    input.insert("source_node".into(), json!(now));
    input.insert("destination_node".into(), json!(was));
    vec![Inverse {
        action_type: "migrate".into(),
        input_parameters: input,
        depends_on: vec![],
        description: format!("Migrate instance {id} back from {now} to {was}"),
        expected_state: res,
        before_dependents: false,
    }]
}

fn bench(c: &mut Criterion) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugins/migrate.wasm");
    let bytes =
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e} (run `make plugins` first)", path.display()));
    let on = |compile| Runtime::new(Limits { compile, ..Limits::default() }).unwrap();
    let plugin = on(Compile::Optimized).load(&bytes, "migrate.wasm").unwrap();
    // The code a tiered plugin runs until its optimized code is ready.
    let baseline = on(Compile::Baseline).load(&bytes, "migrate.wasm").unwrap();
    let params =
        json!({"resource_id": ID, "migration_type": "live", "source_node": "c1", "destination_node": null});
    let pre = json!({"host": "c1", "status": "ACTIVE"});
    let result = json!({"host": "c3", "status": "ACTIVE"});
    let action = Executed {
        action_uuid: "4cbc4ede-0d25-481b-b86e-998dbbd4f8bf",
        action_type: "migrate",
        input_parameters: &params,
        pre_state: &pre,
        result: &result,
    };
    let (pt, prt, rt) = (params.to_string(), pre.to_string(), result.to_string());
    assert_eq!(
        plugin.invert(action).unwrap(),
        native_migrate(&pt, &prt, &rt),
        "both compute the same inverse"
    );
    assert_eq!(baseline.invert(action).unwrap(), plugin.invert(action).unwrap());

    let mut g = c.benchmark_group("invert_migrate");
    g.bench_function("wasm_fresh_instance", |b| b.iter(|| plugin.invert(action).unwrap()));
    g.bench_function("wasm_fresh_instance_baseline_code", |b| b.iter(|| baseline.invert(action).unwrap()));
    g.bench_function("native", |b| b.iter(|| native_migrate(&pt, &prt, &rt)));
    g.finish();

    // A 100-action plan: every migration its own instance and hosts.
    let records: Vec<(String, Value, Value, Value)> = (0..100)
        .map(|i| {
            let (from, to) = (format!("compute-{}", i % 7), format!("compute-{}", (i + 1) % 7));
            (
                format!("4cbc4ede-0d25-481b-b86e-{i:012}"),
                json!({"resource_id": format!("6f1c0c4e-4d1b-4a43-9e2a-{i:012}"), "migration_type": "live", "source_node": from, "destination_node": null}),
                json!({"host": from, "status": "ACTIVE"}),
                json!({"host": to, "status": "ACTIVE"}),
            )
        })
        .collect();
    let executed: Vec<Executed<'_>> = records
        .iter()
        .map(|(uuid, params, pre, result)| Executed {
            action_uuid: uuid,
            action_type: "migrate",
            input_parameters: params,
            pre_state: pre,
            result,
        })
        .collect();
    let texts: Vec<(String, String, String)> =
        records.iter().map(|(_, p, pre, r)| (p.to_string(), pre.to_string(), r.to_string())).collect();
    let many = |p: &rollback_host::plugins::LoadedPlugin| {
        let mut out = Vec::with_capacity(executed.len());
        p.invert_many(&executed, &mut out, || true).unwrap();
        out
    };
    let native_all = || texts.iter().map(|(p, pre, r)| native_migrate(p, pre, r)).collect::<Vec<_>>();
    assert_eq!(many(&plugin), native_all(), "the batch computes the same inverses");
    let mut g = c.benchmark_group("invert_migrate_100_actions");
    g.throughput(Throughput::Elements(executed.len() as u64));
    g.bench_function("wasm_batched", |b| b.iter(|| many(&plugin)));
    g.bench_function("wasm_batched_baseline_code", |b| b.iter(|| many(&baseline)));
    g.bench_function("wasm_fresh_instance_each", |b| {
        b.iter(|| executed.iter().map(|&a| plugin.invert(a).unwrap()).collect::<Vec<_>>())
    });
    g.bench_function("native", |b| b.iter(native_all));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
