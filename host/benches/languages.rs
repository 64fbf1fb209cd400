//! Inverters in other languages (issue 25): every component in
//! `target/plugin-bench/` (built by scripts/bench-languages.py: the
//! `set_metadata` inverter of tests/system/foreign/ in Python and in
//! JavaScript, and the Rust `migrate` built-in for comparison) loaded from
//! a cold compile cache and again warm, then `invert` on a fresh instance
//! per call and `invert_many` of 64 actions (one instance), each timed
//! call by call: p50 and p99; and the resident memory one live instance
//! costs (32 held at once after one `invert` each). A harness of its own
//! (criterion reports means, not tails); figures in BENCHMARKS.md.
//! `BENCH_LOOP=N` runs only N single calls per component after its load
//! (for a profile of the call alone: `perf record -D <ms after the load>`).

use rollback_host::plugins::{Compile, Executed, Limits, LoadedPlugin, Runtime};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn timed(n: usize, mut f: impl FnMut()) -> (Duration, Duration) {
    let mut t: Vec<Duration> = (0..n)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed()
        })
        .collect();
    t.sort();
    (percentile(&t, 0.5), percentile(&t, 0.99))
}

/// One action of the plugin's type.
fn records(ty: &str, i: usize) -> (String, Value, Value, Value) {
    let uuid = format!("4cbc4ede-0d25-481b-b86e-{i:012}");
    match ty {
        "migrate" => (
            uuid,
            json!({"resource_id": format!("6f1c0c4e-4d1b-4a43-9e2a-{i:012}"), "migration_type": "live", "source_node": "c1", "destination_node": null}),
            json!({"host": "c1", "status": "ACTIVE"}),
            json!({"host": "c3", "status": "ACTIVE"}),
        ),
        _ => (
            uuid,
            json!({"resource_id": format!("vm-{i}"), "key": "owner", "value": "qa", "previous": "ops"}),
            json!({}),
            json!({"owner": "qa"}),
        ),
    }
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugin-bench");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/bench-languages.py first)", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    // BENCH_ONLY=python: only the components whose name holds it (for a profile).
    if let Ok(only) = std::env::var("BENCH_ONLY") {
        files.retain(|p| p.to_string_lossy().contains(&only));
    }
    files.sort();
    println!("| component | size | load, cold cache (Cranelift) | load, warm cache | memory at rest | invert, fresh instance p50 / p99 | batch of 64 p50 / p99 | RSS per live instance |");
    println!("|---|---|---|---|---|---|---|---|");
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let cache = tempfile::tempdir().unwrap();
        let limits = Limits { compile: Compile::Tiered, ..Limits::default() };
        let (cold, warm, plugin) = {
            // Tiered with a cache: the first load compiles (Winch now,
            // Cranelift in the background, cached); a new runtime on the
            // same cache loads the optimized code.
            let optimized = Limits { compile: Compile::Optimized, ..limits.clone() };
            let rt = Runtime::with_cache(optimized.clone(), cache.path(), [7; 32]).unwrap();
            let s = Instant::now();
            rt.load(&bytes, "bench").unwrap();
            let cold = s.elapsed();
            let rt = Runtime::with_cache(optimized, cache.path(), [7; 32]).unwrap();
            let s = Instant::now();
            let plugin: LoadedPlugin = rt.load(&bytes, "bench").unwrap();
            (cold, s.elapsed(), plugin)
        };
        let ty = plugin.metadata().action_type.clone();
        let recs: Vec<_> = (0..64).map(|i| records(&ty, i)).collect();
        let actions: Vec<Executed<'_>> = recs
            .iter()
            .map(|(u, p, pre, r)| Executed {
                action_uuid: u,
                action_type: &ty,
                input_parameters: p,
                pre_state: pre,
                result: r,
            })
            .collect();
        assert_eq!(plugin.invert(actions[0]).unwrap().len(), 1, "{}: one inverse", path.display());
        if let Ok(n) = std::env::var("BENCH_LOOP") {
            eprintln!("LOOP START");
            let n: usize = n.parse().unwrap();
            let (p50, p99) = timed(n, || {
                plugin.invert(actions[0]).unwrap();
            });
            eprintln!("LOOP {} {}", ms(p50), ms(p99));
            continue;
        }
        let (p50, p99) = timed(500, || {
            plugin.invert(actions[0]).unwrap();
        });
        let (b50, b99) = timed(100, || {
            let mut out = Vec::with_capacity(64);
            plugin.invert_many(&actions, &mut out, || true).unwrap();
            assert_eq!(out.len(), 64);
        });
        let per_instance = plugin.resident_bytes_per_instance(actions[0], 32).unwrap();
        println!(
            "| {} | {:.1} MB | {} | {} | {} MiB | {} / {} | {} / {} | {:.2} MiB |",
            path.file_name().unwrap().to_string_lossy(),
            bytes.len() as f64 / 1e6,
            ms(cold),
            ms(warm),
            (plugin.memory_cap() >> 20).saturating_sub(limits.memory_mib),
            ms(p50),
            ms(p99),
            ms(b50),
            ms(b99),
            per_instance as f64 / (1 << 20) as f64,
        );
    }
}
