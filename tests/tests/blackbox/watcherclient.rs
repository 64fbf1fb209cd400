//! The real python-watcherclient (and the `openstack optimize` plugin)
//! against a running server, with no Keystone. The Makefile's test target
//! installs them into `target/venv` (see `scripts/client-venv.sh`).

use rollback_tests::{repo_root, Server};
use serde_json::{json, Value};
use std::process::Command;

fn venv_bin(name: &str) -> std::path::PathBuf {
    let p = repo_root().join("target/venv/bin").join(name);
    assert!(p.exists(), "{} is missing: run `make test` (it runs scripts/client-venv.sh)", p.display());
    p
}

/// Runs a client command; returns (exit code, stdout, stderr).
fn run(bin: &str, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(venv_bin(bin));
    cmd.args(args);
    for (k, _) in std::env::vars() {
        if k.starts_with("OS_") {
            cmd.env_remove(k);
        }
    }
    let out = cmd.output().expect("run the client");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn watcher(s: &Server, args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["--os-endpoint-override", s.base.as_str()];
    all.extend_from_slice(args);
    run("watcher", &all)
}

fn watcher_json(s: &Server, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend_from_slice(&["-f", "json"]);
    let (code, out, err) = watcher(s, &all);
    assert_eq!(code, 0, "watcher {args:?}: {err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("watcher {args:?} printed no JSON ({e}): {out}"))
}

fn plan(s: &Server) -> String {
    let p = s.create_plan(json!({
        "audit_uuid": "7d100b05-0a86-491f-98a7-f93da19b272a",
        "global_efficacy": [{"name": "released_nodes", "description": "nodes freed", "unit": "%", "value": 20}],
        "efficacy_indicators": [{"name": "migrations", "description": "count", "unit": null, "value": 2}],
        "actions": [
            {"action_type": "nop", "input_parameters": {"message": "hi"}},
            {"action_type": "sleep", "input_parameters": {"duration": 60}, "parents": [0]},
        ]
    }));
    p["uuid"].as_str().unwrap().to_string()
}

fn state_of(s: &Server, plan: &str) -> (u16, Value) {
    let r = s.get15(&format!("/v1/action_plans/{plan}"), &[]);
    let state = if r.status == 200 { r.json()["state"].clone() } else { Value::Null };
    (r.status, state)
}

#[test]
fn watcher_cli_lists_shows_starts_cancels_and_deletes() {
    let s = Server::start(&[]);
    let (p1, p2, p3) = (plan(&s), plan(&s), plan(&s));

    let list = watcher_json(&s, &["actionplan", "list"]);
    let uuids: Vec<&str> = list.as_array().unwrap().iter().map(|r| r["UUID"].as_str().unwrap()).collect();
    assert_eq!(uuids, vec![p1.as_str(), p2.as_str(), p3.as_str()]);
    assert_eq!(list[0]["Global efficacy"][0]["value"], 20, "{list}");

    let detail = watcher_json(&s, &["actionplan", "list", "--detail"]);
    assert_eq!(detail[0]["Strategy"], "manual");

    let shown = watcher_json(&s, &["actionplan", "show", &p1]);
    assert_eq!(shown["State"], "RECOMMENDED");
    assert_eq!(shown["Audit"], "7d100b05-0a86-491f-98a7-f93da19b272a");

    let started = watcher_json(&s, &["actionplan", "start", &p1]);
    assert_eq!(started["State"], "PENDING");
    let (status, state) = state_of(&s, &p1);
    assert!(status == 200 && (state == "PENDING" || state == "ONGOING"), "{state}");

    // The applier has picked it up by now: cancelling an ONGOING plan asks
    // for CANCELLING (the client chooses by the state it reads).
    let cancelled = watcher_json(&s, &["actionplan", "cancel", &p1]);
    assert!(cancelled["State"] == "CANCELLING" || cancelled["State"] == "CANCELLED", "{cancelled}");
    assert_eq!(watcher_json(&s, &["actionplan", "cancel", &p2])["State"], "CANCELLED");
    assert_eq!(state_of(&s, &p2), (200, json!("CANCELLED")));

    let (code, _, err) = watcher(&s, &["actionplan", "delete", &p2]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(state_of(&s, &p2).0, 404);

    let actions = watcher_json(&s, &["action", "list", "--action-plan", &p3]);
    assert_eq!(actions.as_array().unwrap().len(), 2);
    assert_eq!(actions[1]["Action"], "sleep");
    let first = actions[0]["UUID"].as_str().unwrap();
    assert_eq!(actions[1]["Parents"], json!([first]));

    let limited = watcher_json(&s, &["actionplan", "list", "--limit", "1"]);
    assert_eq!(limited.as_array().unwrap().len(), 1);
}

#[test]
fn watcher_cli_shows_our_error_messages() {
    let s = Server::start(&[]);
    let p = plan(&s);
    watcher_json(&s, &["actionplan", "cancel", &p]);
    let (code, _, err) = watcher(&s, &["actionplan", "start", &p]);
    assert_ne!(code, 0);
    assert!(err.contains("Couldn't start when state is 'CANCELLED'. (HTTP 400)"), "{err}");
    let unknown = "4cbc4ede-0d25-481b-b86e-998dbbd4f8bf";
    let (code, _, err) = watcher(&s, &["actionplan", "show", unknown]);
    assert_ne!(code, 0);
    assert!(err.contains(&format!("ActionPlan {unknown} could not be found. (HTTP 404)")), "{err}");
}

#[test]
fn openstack_optimize_plugin_lists_plans() {
    let s = Server::start(&[]);
    let p = plan(&s);
    let (code, out, err) = run(
        "openstack",
        &["--os-auth-type", "none", "--os-endpoint", &s.base, "optimize", "actionplan", "list", "-f", "json"],
    );
    assert_eq!(code, 0, "{err}");
    let list: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(list[0]["UUID"], p);
    assert_eq!(list[0]["State"], "RECOMMENDED");
}
