//! Batched inversion (`invert-batch`, contract 0.1.1): the actions of one
//! request inverted in few calls answer exactly what one call per action
//! answers, on both compilers; a batch that traps, runs out of time or
//! memory, or answers the wrong number of results falls back to one call per
//! action, so failures still name the action; a plugin without the export
//! (built against 0.1.0) is called once per action.

use rollback_host::plugins::{Compile, Executed, Inverse, Limits, LoadedPlugin, PluginError, Runtime};
use rollback_tests::{plugin, test_plugin};
use serde_json::{json, Value};

fn compilers() -> Vec<Runtime> {
    [Compile::Optimized, Compile::Baseline]
        .into_iter()
        .map(|compile| Runtime::new(Limits { compile, ..Limits::default() }).unwrap())
        .collect()
}

fn load(runtime: &Runtime, path: std::path::PathBuf) -> LoadedPlugin {
    let bytes = std::fs::read(&path).unwrap();
    runtime.load(&bytes, &path.display().to_string()).expect("guest loads")
}

/// One executed action's records, owned.
struct Record {
    uuid: String,
    params: Value,
    pre: Value,
    result: Value,
}

impl Record {
    fn executed<'a>(&'a self, action_type: &'a str) -> Executed<'a> {
        Executed {
            action_uuid: &self.uuid,
            action_type,
            input_parameters: &self.params,
            pre_state: &self.pre,
            result: &self.result,
        }
    }
}

fn records(params: impl IntoIterator<Item = Value>) -> Vec<Record> {
    params
        .into_iter()
        .enumerate()
        .map(|(i, params)| Record {
            uuid: format!("00000000-0000-4000-8000-{i:012}"),
            params,
            pre: json!({}),
            result: json!({}),
        })
        .collect()
}

/// `n` live migrations back and forth, each with its own pre-state and result.
fn migrations(n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let (from, to) = (format!("compute-{}", i % 7), format!("compute-{}", (i + 1) % 7));
            Record {
                uuid: format!("00000000-0000-4000-8000-{i:012}"),
                params: json!({"resource_id": format!("6f1c0c4e-4d1b-4a43-9e2a-{i:012}"), "migration_type": "live", "source_node": from, "destination_node": null}),
                pre: json!({"host": from, "status": "ACTIVE"}),
                result: json!({"host": to, "status": "ACTIVE"}),
            }
        })
        .collect()
}

fn many(p: &LoadedPlugin, recs: &[Record]) -> (Vec<Vec<Inverse>>, Result<(), PluginError>) {
    let ty = p.metadata().action_type.clone();
    let executed: Vec<Executed<'_>> = recs.iter().map(|r| r.executed(&ty)).collect();
    let mut out = Vec::new();
    let result = p.invert_many(&executed, &mut out, || true);
    (out, result)
}

fn one_by_one(p: &LoadedPlugin, recs: &[Record]) -> Vec<Vec<Inverse>> {
    let ty = p.metadata().action_type.clone();
    recs.iter().map(|r| p.invert(r.executed(&ty)).unwrap()).collect()
}

#[test]
fn a_batch_answers_what_one_call_per_action_answers() {
    for runtime in compilers() {
        let migrate = load(&runtime, plugin("migrate"));
        assert!(migrate.batched(), "the SDK exports invert-batch");
        // 150 actions: two full batches of 64 and a short one.
        let recs = migrations(150);
        let (out, result) = many(&migrate, &recs);
        result.unwrap();
        assert_eq!(out.len(), 150);
        assert_eq!(out, one_by_one(&migrate, &recs));
        assert_eq!(out[149][0].input_parameters["source_node"], "compute-3", "answers stay in order");
    }
}

#[test]
fn a_batch_that_traps_or_answers_short_falls_back_to_one_call_per_action() {
    for runtime in compilers() {
        let p = load(&runtime, test_plugin("test_misbehave"));
        for mode in ["batch_trap", "batch_short"] {
            let recs = records((0..5).map(|i| json!({"mode": if i == 2 { mode } else { "fine" }})));
            let (out, result) = many(&p, &recs);
            result.unwrap_or_else(|e| panic!("{mode}: {e}"));
            assert_eq!(out, one_by_one(&p, &recs), "{mode}");
            assert_eq!(out[2][0].input_parameters["message"], "inverted alone", "{mode}");
            assert_eq!(out[4][0].input_parameters["message"], "fine", "{mode}");
        }
    }
}

#[test]
fn a_failure_inside_a_batch_names_its_action_by_position() {
    for runtime in compilers() {
        let p = load(&runtime, test_plugin("test_misbehave"));
        // A refusal is the plugin's answer for that action: the ones before it stand.
        let recs = records([json!({"mode": "fine"}), json!({"mode": "fine"}), json!({"mode": "other"})]);
        let (out, result) = many(&p, &recs);
        assert_eq!(out.len(), 2);
        assert!(matches!(result, Err(PluginError::Refused { kind: "not-invertible", .. })), "{result:?}");
        // A panic sinks the batch; one call per action finds which.
        let recs = records([json!({"mode": "fine"}), json!({"mode": "panic"}), json!({"mode": "fine"})]);
        let (out, result) = many(&p, &recs);
        assert_eq!(out.len(), 1);
        let err = result.unwrap_err().to_string();
        assert!(err.contains("misbehave was asked to panic"), "{err}");
        // Broken output for one action.
        let recs = records([json!({"mode": "fine"}), json!({"mode": "bad_json"})]);
        let (out, result) = many(&p, &recs);
        assert_eq!(out.len(), 1);
        assert!(matches!(result, Err(PluginError::BadOutput { .. })), "{result:?}");
    }
}

#[test]
fn deadline_and_memory_cap_stop_a_batch_like_a_single_call() {
    for runtime in compilers() {
        let spin = load(&runtime, test_plugin("test_spin_forever"));
        let (out, result) = many(&spin, &records((0..3).map(|_| json!({}))));
        assert!(out.is_empty());
        assert!(matches!(result, Err(PluginError::Deadline { deadline_ms: 100, .. })), "{result:?}");
        let bomb = load(&runtime, test_plugin("test_grow_memory"));
        let (out, result) = many(&bomb, &records((0..3).map(|_| json!({}))));
        assert!(out.is_empty());
        assert!(matches!(result, Err(PluginError::MemoryLimit { .. })), "{result:?}");
        // The runtime goes on.
        let migrate = load(&runtime, plugin("migrate"));
        assert_eq!(many(&migrate, &migrations(3)).0.len(), 3);
    }
}

#[test]
fn a_plugin_without_invert_batch_is_called_once_per_action() {
    for runtime in compilers() {
        let p = load(&runtime, test_plugin("test_core_only"));
        assert_eq!(p.contract_version(), "0.1.1");
        assert!(!p.batched());
        let recs = records((0..70).map(|_| json!({})));
        let (out, result) = many(&p, &recs);
        result.unwrap();
        assert_eq!(out.len(), 70);
        for (r, list) in recs.iter().zip(&out) {
            assert_eq!(list[0].input_parameters["message"], format!("undo {}", r.uuid));
        }
    }
}

#[test]
fn go_on_stops_between_calls() {
    let runtime = Runtime::new(Limits::default()).unwrap();
    let migrate = load(&runtime, plugin("migrate"));
    let recs = migrations(100);
    let executed: Vec<Executed<'_>> = recs.iter().map(|r| r.executed("migrate")).collect();
    let mut out = Vec::new();
    let mut calls = 0;
    migrate
        .invert_many(&executed, &mut out, || {
            calls += 1;
            calls == 1
        })
        .unwrap();
    assert_eq!(out.len(), 64, "one batch, then asked to stop");
}

#[test]
fn go_on_stops_between_single_calls_too() {
    let runtime = Runtime::new(Limits::default()).unwrap();
    let p = load(&runtime, test_plugin("test_core_only"));
    let recs = records((0..10).map(|_| json!({})));
    let executed: Vec<Executed<'_>> = recs.iter().map(|r| r.executed("test_core_only")).collect();
    let mut out = Vec::new();
    let mut calls = 0;
    p.invert_many(&executed, &mut out, || {
        calls += 1;
        calls <= 3
    })
    .unwrap();
    assert_eq!(out.len(), 3, "asked before every call");
}
