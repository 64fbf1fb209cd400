//! The sandbox: hostile guests are stopped by the CPU deadline and the memory
//! cap, broken output is refused, and the host process goes on serving.

use rollback_host::plugins::{Compile, Executed, Limits, LoadedPlugin, PluginError, Runtime};
use rollback_tests::{plugin, run_cli, test_plugin};
use serde_json::{json, Value};

/// The same limits on each compiler: Cranelift's code and Winch's (the
/// code a tiered plugin runs until its optimized code is ready).
fn compilers(limits: Limits) -> Vec<Runtime> {
    [Compile::Optimized, Compile::Baseline]
        .into_iter()
        .map(|compile| Runtime::new(Limits { compile, ..limits.clone() }).unwrap())
        .collect()
}

fn load(runtime: &Runtime, path: std::path::PathBuf) -> LoadedPlugin {
    let bytes = std::fs::read(&path).unwrap();
    runtime.load(&bytes, &path.display().to_string()).expect("test guest loads")
}

fn invert(p: &LoadedPlugin, params: Value) -> Result<Vec<rollback_host::plugins::Inverse>, PluginError> {
    let empty = json!({});
    p.invert(Executed {
        action_uuid: "7c0e6f4c-6f5e-4a53-8a4c-3c5c1b8f9e01",
        action_type: &p.metadata().action_type,
        input_parameters: &params,
        pre_state: &empty,
        result: &empty,
    })
}

fn misbehave(runtime: &Runtime, mode: &str) -> PluginError {
    let p = load(runtime, test_plugin("test_misbehave"));
    invert(&p, json!({"mode": mode})).expect_err(mode)
}

#[test]
fn endless_loop_is_stopped_by_the_deadline_and_the_runtime_goes_on() {
    for runtime in compilers(Limits::default()) {
        let spin = load(&runtime, test_plugin("test_spin_forever"));
        for _ in 0..2 {
            match invert(&spin, json!({})) {
                Err(PluginError::Deadline { plugin, deadline_ms }) => {
                    assert_eq!(plugin, "test_spin_forever");
                    assert_eq!(deadline_ms, 100);
                }
                other => panic!("expected a deadline error, got {other:?}"),
            }
        }
        let nop = load(&runtime, plugin("nop"));
        assert_eq!(invert(&nop, json!({"message": "after"})).unwrap(), vec![]);
    }
}

#[test]
fn deadline_is_configurable() {
    for runtime in compilers(Limits { deadline_ms: 20, ..Limits::default() }) {
        let spin = load(&runtime, test_plugin("test_spin_forever"));
        let err = invert(&spin, json!({})).unwrap_err();
        assert_eq!(err.to_string(), "plugin `test_spin_forever` exceeded its CPU deadline of 20 ms");
    }
}

#[test]
fn memory_bomb_is_stopped_by_the_cap_and_the_runtime_goes_on() {
    for runtime in compilers(Limits::default()) {
        let bomb = load(&runtime, test_plugin("test_grow_memory"));
        match invert(&bomb, json!({})) {
            Err(PluginError::MemoryLimit { plugin, limit_bytes }) => {
                assert_eq!(plugin, "test_grow_memory");
                // Its memory at rest (a MiB or two) plus the 16 MiB a call may use.
                assert_eq!(limit_bytes, bomb.memory_cap());
                assert!(((17 << 20)..=(20 << 20)).contains(&limit_bytes), "{limit_bytes}");
            }
            other => panic!("expected a memory-limit error, got {other:?}"),
        }
        let nop = load(&runtime, plugin("nop"));
        assert_eq!(invert(&nop, json!({"message": null})).unwrap(), vec![]);
    }
}

#[test]
fn initial_memory_above_the_ceiling_is_refused_at_load() {
    for runtime in compilers(Limits { memory_ceiling_mib: 1, ..Limits::default() }) {
        let bytes = std::fs::read(plugin("nop")).unwrap();
        let err = runtime.load(&bytes, "nop.wasm").unwrap_err();
        assert!(matches!(err, PluginError::MemoryLimit { limit_bytes: 1_048_576, .. }), "{err}");
    }
}

#[test]
fn a_plugins_memory_cap_is_its_memory_at_rest_plus_the_allowance_within_the_ceiling() {
    for runtime in compilers(Limits { memory_mib: 4, ..Limits::default() }) {
        let nop = load(&runtime, plugin("nop"));
        assert!(((5 << 20)..=(8 << 20)).contains(&nop.memory_cap()), "{}", nop.memory_cap());
    }
    for runtime in compilers(Limits { memory_mib: 64, memory_ceiling_mib: 20, ..Limits::default() }) {
        let bomb = load(&runtime, test_plugin("test_grow_memory"));
        assert_eq!(bomb.memory_cap(), 20 << 20, "the ceiling bounds the cap");
        let err = invert(&bomb, json!({})).unwrap_err();
        assert!(
            matches!(err, PluginError::MemoryLimit { limit_bytes, .. } if limit_bytes == 20 << 20),
            "{err}"
        );
    }
}

#[test]
fn a_panic_traps_and_reports_the_panic_message() {
    for runtime in compilers(Limits::default()) {
        let err = misbehave(&runtime, "panic");
        assert!(matches!(err, PluginError::Trap { .. }), "{err}");
        assert!(err.to_string().contains("misbehave was asked to panic"), "{err}");
    }
}

#[test]
fn unbounded_recursion_traps_as_stack_exhaustion() {
    for runtime in compilers(Limits::default()) {
        let err = misbehave(&runtime, "deep_recursion");
        assert!(err.to_string().contains("call stack exhausted"), "{err}");
    }
}

#[test]
fn garbage_output_is_refused_with_the_reason() {
    for runtime in compilers(Limits::default()) {
        let err = misbehave(&runtime, "bad_json");
        assert!(matches!(err, PluginError::BadOutput { .. }), "{err}");
        assert!(err.to_string().contains("input parameters are not JSON"), "{err}");
        let err = misbehave(&runtime, "forward_dependency");
        assert!(err.to_string().contains("dependencies must point to earlier actions"), "{err}");
        let err = misbehave(&runtime, "too_many");
        assert!(matches!(err, PluginError::OutputTooLarge { .. }), "{err}");
    }
}

#[test]
fn log_flood_and_huge_log_lines_do_not_fail_the_call() {
    for runtime in compilers(Limits::default()) {
        let p = load(&runtime, test_plugin("test_misbehave"));
        assert_eq!(invert(&p, json!({"mode": "log_spam"})).unwrap(), vec![]);
        assert_eq!(invert(&p, json!({"mode": "huge_log_line"})).unwrap(), vec![]);
    }
}

#[test]
fn plugin_own_error_is_reported_with_its_kind() {
    for runtime in compilers(Limits::default()) {
        let nop = load(&runtime, plugin("nop"));
        let err = invert(&nop, json!({})).unwrap_err();
        assert_eq!(
            err.to_string(),
            "plugin `nop` refused to invert: invalid-input: input parameters lack `message`"
        );
    }
}

#[test]
fn concurrent_calls_are_isolated() {
    for runtime in compilers(Limits::default()) {
        let spin = load(&runtime, test_plugin("test_spin_forever"));
        let nop = load(&runtime, plugin("nop"));
        std::thread::scope(|s| {
            let spins: Vec<_> = (0..4).map(|_| s.spawn(|| invert(&spin, json!({})))).collect();
            let nops: Vec<_> = (0..4).map(|_| s.spawn(|| invert(&nop, json!({"message": "x"})))).collect();
            for h in spins {
                assert!(matches!(h.join().unwrap(), Err(PluginError::Deadline { .. })));
            }
            for h in nops {
                assert_eq!(h.join().unwrap().unwrap(), vec![]);
            }
        });
    }
}

#[test]
fn cli_process_survives_hostile_guests_and_exits_with_the_reason() {
    for (guest, reason) in [
        ("test_spin_forever", "exceeded its CPU deadline of 100 ms"),
        ("test_grow_memory", "exceeded its memory limit of "),
    ] {
        let path = test_plugin(guest);
        let out = run_cli(&["plugin", "invert", path.to_str().unwrap()], Some("{}"));
        assert_eq!(out.code, Some(1), "{guest}: a clean exit, not a signal: {out:?}");
        assert!(out.stderr.contains(reason), "{guest}: {}", out.stderr);
    }
}

/// The compile cache's tests compile before first use (tiered loading
/// has its own test below).
fn optimized() -> Limits {
    Limits { compile: Compile::Optimized, ..Limits::default() }
}

/// The compile cache's key (the service keeps its own in the store).
const KEY: [u8; 32] = [7; 32];

#[test]
fn a_compile_cache_hit_behaves_exactly_like_a_miss() {
    let cache = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(plugin("migrate")).unwrap();
    let action = json!({"resource_id": "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a01", "migration_type": "live", "source_node": "c1"});
    let (pre, res) = (json!({"host": "c1"}), json!({"host": "c2"}));
    let run = |p: &LoadedPlugin| {
        p.invert(Executed {
            action_uuid: "u",
            action_type: "migrate",
            input_parameters: &action,
            pre_state: &pre,
            result: &res,
        })
        .unwrap()
    };

    let miss =
        Runtime::with_cache(optimized(), cache.path(), KEY).unwrap().load(&bytes, "migrate.wasm").unwrap();
    let entries: Vec<_> = std::fs::read_dir(cache.path()).unwrap().map(|e| e.unwrap().path()).collect();
    assert_eq!(entries.len(), 1, "one compiled entry: {entries:?}");
    let entry = entries[0].clone();
    assert!(entry.file_name().unwrap().to_str().unwrap().starts_with(miss.sha256()));
    let written = std::fs::metadata(&entry).unwrap().modified().unwrap();

    std::thread::sleep(std::time::Duration::from_millis(20));
    let hit =
        Runtime::with_cache(optimized(), cache.path(), KEY).unwrap().load(&bytes, "migrate.wasm").unwrap();
    assert_eq!(
        std::fs::metadata(&entry).unwrap().modified().unwrap(),
        written,
        "a hit does not rewrite the entry"
    );
    assert_eq!(hit.metadata(), miss.metadata());
    assert_eq!(hit.sha256(), miss.sha256());
    assert_eq!(run(&hit), run(&miss));

    // A damaged entry is a miss: recompiled, rewritten, same behaviour.
    std::fs::write(&entry, b"not a compiled component").unwrap();
    let again =
        Runtime::with_cache(optimized(), cache.path(), KEY).unwrap().load(&bytes, "migrate.wasm").unwrap();
    assert_eq!(run(&again), run(&miss));
    assert!(std::fs::metadata(&entry).unwrap().len() > 1000, "the entry was rewritten");
}

#[test]
fn a_plugin_whose_schema_does_not_compile_is_refused_at_load_with_the_reason() {
    for runtime in compilers(Limits::default()) {
        let bytes = std::fs::read(test_plugin("test_bad_schema")).unwrap();
        let err = runtime.load(&bytes, "test_bad_schema.wasm").unwrap_err();
        assert!(matches!(err, PluginError::BadMetadata { .. }), "{err:?}");
        let msg = err.to_string();
        assert!(msg.contains("parameters schema") && msg.contains("no-such-type"), "{msg}");
    }
}

/// One plugin's compiled artifact planted under another's name, or a file
/// written without the key, is never run: the component is compiled from
/// its own bytes and keeps its own metadata.
#[test]
fn a_planted_compile_cache_entry_is_not_run() {
    let cache = tempfile::tempdir().unwrap();
    let (a, b) = (std::fs::read(plugin("nop")).unwrap(), std::fs::read(plugin("stop")).unwrap());
    let runtime = Runtime::with_cache(optimized(), cache.path(), KEY).unwrap();
    let (pa, pb) = (runtime.load(&a, "nop.wasm").unwrap(), runtime.load(&b, "stop.wasm").unwrap());
    let entry = |sha: &str| {
        std::fs::read_dir(cache.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with(sha))
            .unwrap()
    };
    // A's entry copied over B's.
    std::fs::copy(entry(pa.sha256()), entry(pb.sha256())).unwrap();
    let fresh = Runtime::with_cache(optimized(), cache.path(), KEY).unwrap();
    let loaded = fresh.load(&b, "stop.wasm").unwrap();
    assert_eq!(loaded.metadata().action_type, "stop", "B runs B's code");
    assert_eq!(loaded.metadata(), pb.metadata());

    // A valid artifact of A, tagged with another key, under B's name.
    let other = tempfile::tempdir().unwrap();
    let foreign = Runtime::with_cache(optimized(), other.path(), [9; 32]).unwrap();
    let pa2 = foreign.load(&a, "nop.wasm").unwrap();
    let planted = std::fs::read_dir(other.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.file_name().unwrap().to_str().unwrap().starts_with(pa2.sha256()));
    std::fs::copy(planted.unwrap(), entry(pb.sha256())).unwrap();
    let loaded = Runtime::with_cache(optimized(), cache.path(), KEY).unwrap().load(&b, "stop.wasm").unwrap();
    assert_eq!(loaded.metadata().action_type, "stop");
}

#[test]
fn a_compile_cache_others_can_write_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let cache = tempfile::tempdir().unwrap();
    std::fs::set_permissions(cache.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let err = Runtime::with_cache(optimized(), cache.path(), KEY).err().expect("refused").to_string();
    assert!(err.contains("world-writable"), "{err}");
}

#[test]
fn only_entries_of_active_plugins_stay_in_the_compile_cache() {
    let cache = tempfile::tempdir().unwrap();
    let runtime = Runtime::with_cache(optimized(), cache.path(), KEY).unwrap();
    let nop = runtime.load(&std::fs::read(plugin("nop")).unwrap(), "nop.wasm").unwrap();
    runtime.load(&std::fs::read(plugin("stop")).unwrap(), "stop.wasm").unwrap();
    std::fs::write(cache.path().join(".leftover.1.tmp"), b"x").unwrap();
    let keep = std::iter::once(nop.sha256().to_string()).collect();
    assert_eq!(runtime.evict_cache_except(&keep), 2, "stop's entry and the temporary file");
    let left: Vec<String> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left.len(), 1);
    assert!(left[0].starts_with(nop.sha256()));
}

/// Tiered loading: a plugin with nothing cached answers at once on
/// baseline code, its optimized code is swapped in (and cached) in the
/// background with the same answers, and the next start loads the
/// optimized code straight from the cache.
#[test]
fn a_tiered_plugin_runs_baseline_code_until_optimized_code_with_the_same_answers_lands() {
    let cache = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(plugin("migrate")).unwrap();
    let action = json!({"resource_id": "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a01", "migration_type": "live", "source_node": "c1"});
    let (pre, res) = (json!({"host": "c1"}), json!({"host": "c2"}));
    let run = |p: &LoadedPlugin| {
        p.invert(Executed {
            action_uuid: "u",
            action_type: "migrate",
            input_parameters: &action,
            pre_state: &pre,
            result: &res,
        })
        .unwrap()
    };
    let tiered = Limits { compile: Compile::Tiered, ..Limits::default() };
    let runtime = Runtime::with_cache(tiered.clone(), cache.path(), KEY).unwrap();
    let first = runtime.load(&bytes, "migrate.wasm").unwrap();
    let clone = first.clone();
    assert!(!first.optimized(), "nothing was cached: baseline code first");
    let on_baseline = run(&first);
    assert!(clone.wait_optimized(std::time::Duration::from_secs(60)), "optimized code lands");
    assert!(first.optimized(), "every clone sees the swap");
    assert_eq!(run(&first), on_baseline);
    let entries = std::fs::read_dir(cache.path()).unwrap().count();
    assert_eq!(entries, 1, "the optimized code was cached");

    let next = Runtime::with_cache(tiered, cache.path(), KEY).unwrap().load(&bytes, "migrate.wasm").unwrap();
    assert!(next.optimized(), "a start with the cache filled runs optimized code at once");
    assert_eq!(run(&next), on_baseline);
}

#[test]
fn a_tiered_plugin_dropped_before_its_optimized_compile_leaves_nothing_cached() {
    let cache = tempfile::tempdir().unwrap();
    let tiered = Limits { compile: Compile::Tiered, ..Limits::default() };
    let runtime = Runtime::with_cache(tiered, cache.path(), KEY).unwrap();
    // The kept ones keep the optimizing thread busy (one optimized compile
    // each, in turn) while the others are loaded and dropped: with only one
    // kept, a loaded CI machine let the thread fall idle and take a job
    // before its plugin was dropped.
    let keep: Vec<_> =
        ["migrate", "resize", "volume_migrate", "change_node_power_state", "change_nova_service_state"]
            .iter()
            .map(|name| runtime.load(&std::fs::read(plugin(name)).unwrap(), "kept.wasm").unwrap())
            .collect();
    let dropped: Vec<String> = ["nop", "stop", "start"]
        .iter()
        .map(|name| {
            let p = runtime.load(&std::fs::read(plugin(name)).unwrap(), "x.wasm").unwrap();
            p.sha256().to_string()
        })
        .collect();
    for k in &keep {
        assert!(k.wait_optimized(std::time::Duration::from_secs(120)));
    }
    // Give the thread time to go through the queue.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let names: Vec<String> = std::fs::read_dir(cache.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names.len(), keep.len(), "only the plugins still loaded were compiled: {names:?}");
    for d in &dropped {
        assert!(!names.iter().any(|n| n.starts_with(d.as_str())), "{d} was dropped yet compiled: {names:?}");
    }
}

/// Regression: with no host-call fuel set, wasmtime lifted up to 128 MiB out
/// of a guest per call before the output cap was checked (31 inverses
/// sharing one 4 MiB string lifted 130 MB). Now a call lifts at most about
/// twice the output cap: a 1 MiB log line passes under the default cap and
/// fails the call, named, under a 64 KiB one.
#[test]
fn what_a_call_lifts_out_of_the_guest_is_bounded() {
    for runtime in compilers(Limits { max_output_kib: 64, ..Limits::default() }) {
        let p = load(&runtime, test_plugin("test_misbehave"));
        let err = invert(&p, json!({"mode": "huge_log_line"})).unwrap_err();
        assert!(err.to_string().contains("test_misbehave"), "{err}");
        assert_eq!(invert(&p, json!({"mode": "fine"})).unwrap().len(), 1, "the runtime goes on");
    }
}
