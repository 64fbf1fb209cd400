//! `rollback-host plugin check`: accepts a good component with its metadata,
//! refuses every kind of bad file with the precise reason and exit code 1.

use super::components;
use rollback_tests::{plugin, run_cli, test_plugin};
use sha2::{Digest, Sha256};
use std::path::Path;

fn check(path: &Path) -> rollback_tests::Output {
    run_cli(&["plugin", "check", path.to_str().unwrap()], None)
}

/// Writes `bytes` to a temporary `.wasm` file and checks it.
fn check_bytes(bytes: &[u8]) -> rollback_tests::Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("candidate.wasm");
    std::fs::write(&path, bytes).unwrap();
    check(&path)
}

fn assert_refused(out: &rollback_tests::Output, reason: &str) {
    assert_eq!(out.code, Some(1), "expected a refusal: {out:?}");
    assert!(out.stderr.contains("refused:"), "{out:?}");
    assert!(out.stderr.contains(reason), "expected {reason:?} in: {}", out.stderr);
    assert!(out.stdout.is_empty(), "nothing on stdout when refused: {out:?}");
}

#[test]
fn accepts_the_nop_plugin_and_prints_its_metadata() {
    let path = plugin("nop");
    let out = check(&path);
    assert_eq!(out.code, Some(0), "{out:?}");
    let bytes = std::fs::read(&path).unwrap();
    let sha = hex::encode(Sha256::digest(&bytes));
    assert!(out.stdout.contains("action type:       nop\n"), "{}", out.stdout);
    assert!(out.stdout.contains("contract:          watcher:rollback@0.1.1\n"), "{}", out.stdout);
    assert!(out.stdout.contains("invert-batch:      yes\n"), "{}", out.stdout);
    assert!(out.stdout.contains(&format!("sha256:            {sha}\n")), "{}", out.stdout);
    assert!(out.stdout.contains(&format!("size:              {} bytes\n", bytes.len())), "{}", out.stdout);
    assert!(out.stdout.contains("\"required\": [\n    \"message\"\n  ]"), "{}", out.stdout);
}

#[test]
fn json_report_carries_the_same_facts() {
    let path = plugin("nop");
    let out = run_cli(&["plugin", "check", "--json", path.to_str().unwrap()], None);
    assert_eq!(out.code, Some(0), "{out:?}");
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["action_type"], "nop");
    assert_eq!(v["size"], std::fs::metadata(&path).unwrap().len());
    assert_eq!(v["parameters_schema"]["additionalProperties"], false);
    assert_eq!(v["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(v["invert_batch"], true);
    let core = run_cli(&["plugin", "check", "--json", test_plugin("test_core_only").to_str().unwrap()], None);
    let v: serde_json::Value = serde_json::from_str(&core.stdout).unwrap();
    assert_eq!(
        (&v["contract_version"], &v["invert_batch"]),
        (&serde_json::json!("0.1.1"), &serde_json::json!(false))
    );
}

#[test]
fn refuses_a_file_that_is_not_wasm() {
    assert_refused(&check_bytes(b"#!/bin/sh\necho hello\n"), "not a WebAssembly file");
    assert_refused(&check_bytes(b""), "not a WebAssembly file");
}

#[test]
fn refuses_a_core_module() {
    let out = check_bytes(&components::wat("(module (func (export \"invert\")))"));
    assert_refused(&out, "core WebAssembly module, not a component");
}

#[test]
fn refuses_a_wasi_import_and_names_it() {
    let out = check_bytes(&components::wasi_import());
    assert_refused(&out, "forbidden import `wasi:cli/environment@0.2.0`");
}

#[test]
fn refuses_a_component_without_the_inverter_export() {
    let out = check_bytes(&components::wrong_export());
    assert_refused(&out, "missing export `watcher:rollback/inverter@0.1.1` (the component exports: hello)");
}

#[test]
fn refuses_an_inverter_whose_functions_do_not_match() {
    let out = check_bytes(&components::inverter_with_wrong_signature("watcher:rollback/inverter@0.1.0"));
    assert_refused(&out, "do not match the contract");
}

#[test]
fn refuses_an_incompatible_contract_version_naming_both() {
    let out = check_bytes(&components::inverter_with_wrong_signature("watcher:rollback/inverter@0.2.0"));
    assert_refused(&out, "built against watcher:rollback@0.2.0, this host supports watcher:rollback@0.1.x");
    let out = check_bytes(&components::log_import_at("1.0.0"));
    assert_refused(&out, "built against watcher:rollback@1.0.0");
}

#[test]
fn truncated_component_is_invalid_not_a_crash() {
    let bytes = std::fs::read(plugin("nop")).unwrap();
    let out = check_bytes(&bytes[..bytes.len() / 2]);
    assert_refused(&out, "invalid component");
}

#[test]
fn missing_file_is_an_error_with_the_path() {
    let out = run_cli(&["plugin", "check", "/nonexistent/p.wasm"], None);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("/nonexistent/p.wasm"), "{}", out.stderr);
}

/// The built nop component, re-labelled as built against `version` of the
/// contract (every `@0.1.1` in it rewritten; same length, so still valid).
fn nop_built_against(version: &str) -> Vec<u8> {
    assert_eq!(version.len(), 5);
    let bytes = std::fs::read(plugin("nop")).unwrap();
    let (from, to) = (b"@0.1.1".as_slice(), format!("@{version}").into_bytes());
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    let mut replaced = 0;
    while i < bytes.len() {
        if bytes[i..].starts_with(from) {
            out.extend_from_slice(&to);
            i += from.len();
            replaced += 1;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    assert!(replaced > 0, "the component names its contract version");
    out
}

#[test]
fn a_component_built_against_a_compatible_0_1_x_is_accepted_and_runs() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nop-0.1.7.wasm");
    std::fs::write(&path, nop_built_against("0.1.7")).unwrap();
    let out = check(&path);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("contract:          watcher:rollback@0.1.7\n"), "{}", out.stdout);
    let out = run_cli(
        &["plugin", "invert", path.to_str().unwrap()],
        Some(r#"{"input_parameters": {"message": "x"}}"#),
    );
    assert_eq!((out.code, out.stdout.trim()), (Some(0), "[]"), "{out:?}");
}

#[test]
fn a_component_built_against_another_minor_is_refused_naming_both_versions() {
    let out = check_bytes(&nop_built_against("0.2.0"));
    assert_refused(&out, "built against watcher:rollback@0.2.0, this host supports watcher:rollback@0.1.x");
}

#[test]
fn refuses_a_component_that_cannot_compile_within_the_time_or_memory_bound() {
    let path = plugin("nop");
    let path = path.to_str().unwrap();
    let slow = run_cli(&["plugin", "check", "--plugin-compile-timeout-ms", "1", path], None);
    assert_refused(&slow, "compiling took longer than 1 ms (--plugin-compile-timeout-ms)");
    let big = run_cli(&["plugin", "check", "--plugin-compile-memory-mib", "2", path], None);
    assert_refused(&big, "compiling needed more than 2 MiB of memory (--plugin-compile-memory-mib)");
    let enough = run_cli(&["plugin", "check", "--plugin-compile-memory-mib", "256", path], None);
    assert_eq!(enough.code, Some(0), "{enough:?}");
}
