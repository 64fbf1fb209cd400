//! `POST /v1/action_plans/{uuid}/rollback` over HTTP: the cloud comes back,
//! every refusal has its status and message, exactly one of simultaneous
//! requests wins, and a rollback can itself be rolled back.

use rollback_tests::plans::{act, maintenance, DB1, WEB1, WEB2};
use rollback_tests::{plugins_dir_with, Server};
use serde_json::{json, Value};
use std::time::Duration;

/// A server with every built-in inverter (plus `guests`) and fast sleeps.
fn server(guests: &[&str], extra: &[&str]) -> (Server, tempfile::TempDir) {
    let dir = plugins_dir_with(guests);
    let mut args = vec!["--sleep-scale", "0.001", "--plugins-dir", dir.path().to_str().unwrap()];
    args.extend_from_slice(extra);
    (Server::start(&args), dir)
}

fn wait_for(s: &Server, plan: &str, states: &[&str]) -> Value {
    s.wait_for_plan(plan, states)
}

/// Creates, starts and waits for a plan; returns its uuid.
fn executed(s: &Server, actions: Vec<Value>) -> String {
    let plan = s.create_plan(json!({"actions": actions}))["uuid"].as_str().unwrap().to_string();
    assert_eq!(s.call("POST", &format!("/v1/action_plans/{plan}/start"), &[], None).status, 200);
    wait_for(s, &plan, &["SUCCEEDED", "FAILED", "CANCELLED"]);
    plan
}

fn rollback(s: &Server, plan: &str, body: Option<Value>) -> rollback_tests::Resp {
    match body {
        Some(b) => s.send_json("POST", &format!("/v1/action_plans/{plan}/rollback"), &b),
        None => s.call(
            "POST",
            &format!("/v1/action_plans/{plan}/rollback"),
            &[("OpenStack-API-Version", "infra-optim 1.5")],
            None,
        ),
    }
}

fn cloud(s: &Server) -> Value {
    s.get15("/v1/cloud", &[]).json()
}

#[test]
fn rolling_back_and_running_the_rollback_restores_the_cloud() {
    let (s, _d) = server(&[], &[]);
    let before = cloud(&s);
    let plan = executed(&s, maintenance());
    assert_ne!(cloud(&s), before);
    let r = rollback(&s, &plan, None);
    assert_eq!(r.status, 200, "{}", r.body);
    let rb = r.json();
    assert_eq!(rb["state"], "RECOMMENDED");
    assert_eq!(rb["rollback_of"], plan);
    assert_eq!(rb["strategy_name"], "rollback");
    assert_eq!(rb["not_inverted"], json!([]));
    assert_eq!(rb["dry_run"], false);
    let types: Vec<&str> =
        rb["actions"].as_array().unwrap().iter().map(|a| a["action_type"].as_str().unwrap()).collect();
    assert_eq!(
        types.len(),
        7,
        "{types:?}: nop and sleep invert to nothing, the seven others to one action each"
    );
    assert!(types.contains(&"start"), "stop is undone by start: {types:?}");
    let original = s.get15(&format!("/v1/action_plans/{plan}"), &[]).json();
    assert_eq!(original["rolled_back_by"], rb["uuid"]);

    let rb_uuid = rb["uuid"].as_str().unwrap();
    assert_eq!(s.call("POST", &format!("/v1/action_plans/{rb_uuid}/start"), &[], None).status, 200);
    let done = wait_for(&s, rb_uuid, &["SUCCEEDED", "FAILED"]);
    assert_eq!(done["state"], "SUCCEEDED", "{done}");
    assert_eq!(done["status_message"], Value::Null, "nothing skipped");
    assert_eq!(cloud(&s), before);
}

#[test]
fn the_inverse_order_reenables_the_host_before_instances_move_back() {
    let (s, _d) = server(&[], &[]);
    let plan = executed(&s, maintenance()[..4].to_vec());
    let rb = rollback(&s, &plan, None).json();
    let a = rb["actions"].as_array().unwrap();
    let by_type = |t: &str, state: &str| {
        a.iter().find(|x| x["action_type"] == t && x["input_parameters"]["state"] == state).unwrap()["uuid"]
            .clone()
    };
    let power_on = by_type("change_node_power_state", "on");
    let enable = by_type("change_nova_service_state", "enabled");
    for m in a.iter().filter(|x| x["action_type"] == "migrate") {
        let parents = m["parents"].as_array().unwrap();
        assert!(parents.contains(&power_on) && parents.contains(&enable), "{m}");
        assert_eq!(m["input_parameters"]["destination_node"], "compute-1");
        assert_eq!(
            m["expected_state"]["host"], m["input_parameters"]["source_node"],
            "it expects the instance where the migrate left it"
        );
    }
}

#[test]
fn dry_run_answers_the_same_plan_and_stores_nothing() {
    let (s, _d) = server(&[], &[]);
    let plan = executed(&s, maintenance());
    let plans_before = s.get15("/v1/action_plans", &[]).json();
    let dry = rollback(&s, &plan, Some(json!({"dry_run": true}))).json();
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["actions"].as_array().unwrap().len(), 7);
    assert_eq!(s.get15("/v1/action_plans", &[]).json(), plans_before);
    assert_eq!(s.get15(&format!("/v1/action_plans/{}", dry["uuid"].as_str().unwrap()), &[]).status, 404);
    assert_eq!(rollback(&s, &plan, None).status, 200, "a dry run does not use up the rollback");
}

#[test]
fn refusals_have_their_status_and_message() {
    let (s, _d) = server(&[], &[]);
    let unknown = "4cbc4ede-0d25-481b-b86e-998dbbd4f8bf";
    let r = rollback(&s, unknown, None);
    assert_eq!((r.status, r.fault()), (404, format!("ActionPlan {unknown} could not be found.")));
    let r = rollback(&s, "not-a-uuid", None);
    assert_eq!(r.status, 400);
    assert!(r.fault().contains("Expected a UUID"));

    let fresh = s.create_plan(json!({"actions": [act("nop", json!({"message": "x"}), &[])]}))["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let r = rollback(&s, &fresh, None);
    assert_eq!(r.status, 400);
    assert_eq!(r.fault(), format!("Action plan {fresh} is RECOMMENDED; only SUCCEEDED, FAILED or CANCELLED plans can be rolled back."));

    let r = rollback(&s, &fresh, Some(json!({"dry_run": "yes"})));
    assert_eq!(r.status, 400, "{}", r.body);
    let r = rollback(&s, &fresh, Some(json!({"sideways": true})));
    assert!(r.status == 400 && r.fault().contains("unknown field"), "{}", r.body);

    let plan = executed(&s, maintenance());
    let first = rollback(&s, &plan, None).json();
    let r = rollback(&s, &plan, None);
    assert_eq!(r.status, 400);
    assert_eq!(
        r.fault(),
        format!(
            "Action plan {plan} was already rolled back by action plan {}.",
            first["uuid"].as_str().unwrap()
        )
    );

    assert_eq!(s.call("DELETE", &format!("/v1/action_plans/{fresh}"), &[], None).status, 204);
    assert_eq!(rollback(&s, &fresh, None).status, 404, "a deleted plan is unknown");
}

#[test]
fn a_plan_finished_outside_the_window_is_refused_with_its_age() {
    let (s, _d) = server(&[], &["--rollback-window", "0"]);
    let plan = executed(&s, vec![act("nop", json!({"message": "x"}), &[])]);
    std::thread::sleep(Duration::from_millis(1100));
    let r = rollback(&s, &plan, None);
    assert_eq!(r.status, 400);
    let f = r.fault();
    // The age is whole seconds since it finished: at least the 1.1 s slept.
    let age: u64 = f
        .split("finished ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no age in: {f}"));
    assert!((1..60).contains(&age), "{f}");
    assert!(
        f.contains(&format!("Action plan {plan} finished {age} s ago"))
            && f.contains("within 0 s of finishing"),
        "{f}"
    );
}

#[test]
fn a_failed_plan_rolls_back_what_succeeded() {
    let (s, _d) = server(&[], &[]);
    let before = cloud(&s);
    let plan = executed(
        &s,
        vec![
            act("resize", json!({"resource_id": DB1, "flavor": "m1.small"}), &[]),
            act(
                "migrate",
                json!({"resource_id": WEB1, "migration_type": "live", "source_node": "compute-1", "destination_node": "compute-4"}),
                &[],
            ),
        ],
    );
    assert_eq!(s.get15(&format!("/v1/action_plans/{plan}"), &[]).json()["state"], "FAILED");
    let rb = rollback(&s, &plan, Some(json!({"auto_start": true}))).json();
    let types: Vec<&Value> = rb["actions"].as_array().unwrap().iter().map(|a| &a["action_type"]).collect();
    assert_eq!(types, [&json!("resize")], "the failed migrate changed nothing and is not inverted");
    wait_for(&s, rb["uuid"].as_str().unwrap(), &["SUCCEEDED"]);
    assert_eq!(cloud(&s), before);
}

#[test]
fn missing_inverters_are_listed_unless_allow_partial() {
    // Only the nop inverter is loaded: stop and resize have none.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(rollback_tests::plugin("nop"), dir.path().join("nop.wasm")).unwrap();
    let s = Server::start(&["--sleep-scale", "0.001", "--plugins-dir", dir.path().to_str().unwrap()]);
    let plan = executed(
        &s,
        vec![
            act("nop", json!({"message": "x"}), &[]),
            act("stop", json!({"resource_id": WEB1}), &[]),
            act("resize", json!({"resource_id": DB1, "flavor": "m1.small"}), &[]),
        ],
    );
    let r = rollback(&s, &plan, None);
    assert_eq!(r.status, 400);
    let f = r.fault();
    assert!(f.contains("No inverter plugin is loaded for action type(s): resize, stop"), "{f}");
    let r = rollback(&s, &plan, Some(json!({"allow_partial": true})));
    assert_eq!(r.status, 200, "{}", r.body);
    let rb = r.json();
    let skipped: Vec<&Value> =
        rb["not_inverted"].as_array().unwrap().iter().map(|x| &x["action_type"]).collect();
    assert_eq!(skipped, [&json!("stop"), &json!("resize")]);
    assert_eq!(rb["actions"], json!([]));
}

#[test]
fn a_failing_plugin_is_a_422_naming_action_plugin_and_cause_and_stores_nothing() {
    let (s, _d) = server(&["test_misbehave", "test_spin_forever"], &[]);
    for (ty, params, cause) in [
        ("test_misbehave", json!({"mode": "panic"}), "misbehave was asked to panic"),
        ("test_misbehave", json!({"mode": "other"}), "refused to invert: not-invertible"),
        ("test_misbehave", json!({"mode": "bad_json"}), "input parameters are not JSON"),
        ("test_spin_forever", json!({}), "exceeded its CPU deadline of 100 ms"),
    ] {
        let plan = executed(&s, vec![act(ty, params, &[])]);
        let action = s.get15(&format!("/v1/actions?action_plan_uuid={plan}"), &[]).json()["actions"][0]
            ["uuid"]
            .as_str()
            .unwrap()
            .to_string();
        let r = rollback(&s, &plan, None);
        assert_eq!(r.status, 422, "{ty}: {}", r.body);
        let f = r.fault();
        assert!(f.contains(&action) && f.contains(&format!("plugin `{ty}`")) && f.contains(cause), "{f}");
        assert_eq!(s.get15(&format!("/v1/action_plans/{plan}"), &[]).json()["rolled_back_by"], Value::Null);
    }
    assert_eq!(s.get_json("/healthz")["status"], "ok", "the server survived every hostile plugin");
}

#[test]
fn a_failing_action_among_many_of_its_type_is_named_as_when_inverted_alone() {
    let (s, _d) = server(&["test_misbehave", "test_core_only"], &[]);
    // Batches that trap or answer short fall back to one call per action.
    let modes = ["fine", "batch_trap", "fine", "batch_short", "fine"];
    let plan = executed(&s, modes.iter().map(|m| act("test_misbehave", json!({"mode": m}), &[])).collect());
    let r = rollback(&s, &plan, Some(json!({"dry_run": true})));
    assert_eq!(r.status, 200, "{}", r.body);
    let mut messages: Vec<String> = r.json()["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["input_parameters"]["message"].as_str().unwrap().to_string())
        .collect();
    messages.sort();
    assert_eq!(messages, ["fine", "fine", "fine", "inverted alone", "inverted alone"]);
    // A panic in the fourth of six: the 422 names the fourth action.
    let modes = ["fine", "fine", "fine", "panic", "fine", "fine"];
    let plan = executed(&s, modes.iter().map(|m| act("test_misbehave", json!({"mode": m}), &[])).collect());
    let actions =
        s.get15(&format!("/v1/actions/detail?action_plan_uuid={plan}"), &[]).json()["actions"].clone();
    let panicked = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["input_parameters"]["mode"] == "panic")
        .map(|a| a["uuid"].as_str().unwrap().to_string())
        .unwrap();
    let r = rollback(&s, &plan, None);
    assert_eq!(r.status, 422, "{}", r.body);
    let f = r.fault();
    assert!(f.contains(&format!("Cannot invert action {panicked}")) && f.contains("asked to panic"), "{f}");
    // A plugin built without invert-batch (the 0.1.0 world) still inverts each action.
    let plan = executed(&s, (0..3).map(|_| act("test_core_only", json!({}), &[])).collect());
    let r = rollback(&s, &plan, None);
    assert_eq!(r.status, 200, "{}", r.body);
    let rb = r.json();
    let mut undone: Vec<String> = rb["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["input_parameters"]["message"].as_str().unwrap().trim_start_matches("undo ").to_string())
        .collect();
    let mut originals: Vec<String> = s.get15(&format!("/v1/actions?action_plan_uuid={plan}"), &[]).json()
        ["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["uuid"].as_str().unwrap().to_string())
        .collect();
    undone.sort();
    originals.sort();
    assert_eq!(undone, originals);
}

#[test]
fn of_simultaneous_requests_exactly_one_wins() {
    let (s, _d) = server(&[], &[]);
    let plan = executed(&s, maintenance());
    let answers: Vec<rollback_tests::Resp> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8).map(|_| scope.spawn(|| rollback(&s, &plan, None))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let winners: Vec<&rollback_tests::Resp> = answers.iter().filter(|r| r.status == 200).collect();
    assert_eq!(winners.len(), 1, "{:?}", answers.iter().map(|r| r.status).collect::<Vec<_>>());
    let winner = winners[0].json()["uuid"].as_str().unwrap().to_string();
    for r in answers.iter().filter(|r| r.status != 200) {
        assert_eq!(r.status, 400);
        assert!(r.fault().contains(&format!("already rolled back by action plan {winner}")), "{}", r.fault());
    }
    let rollbacks = s.get15("/v1/action_plans/detail", &[]).json()["action_plans"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["rollback_of"] == plan)
        .count();
    assert_eq!(rollbacks, 1, "exactly one rollback plan was stored");
}

#[test]
fn a_rollback_can_be_rolled_back_to_redo_the_plan() {
    let (s, _d) = server(&[], &[]);
    let plan = executed(&s, maintenance());
    let after_plan = cloud(&s);
    let rb = rollback(&s, &plan, Some(json!({"auto_start": true}))).json();
    assert_eq!(rb["state"], "PENDING");
    let rb_uuid = rb["uuid"].as_str().unwrap().to_string();
    wait_for(&s, &rb_uuid, &["SUCCEEDED"]);
    let redo = rollback(&s, &rb_uuid, Some(json!({"auto_start": true})));
    assert_eq!(redo.status, 200, "{}", redo.body);
    let redo = redo.json();
    assert_eq!(redo["rollback_of"], rb_uuid.as_str());
    assert_eq!(wait_for(&s, redo["uuid"].as_str().unwrap(), &["SUCCEEDED", "FAILED"])["state"], "SUCCEEDED");
    assert_eq!(cloud(&s), after_plan, "the redo re-applies the original plan's effects");
}

#[test]
fn drifted_resources_are_skipped_and_the_rest_is_restored() {
    let (s, _d) = server(&[], &[]);
    let before = cloud(&s);
    let plan = executed(&s, maintenance());
    // Drift: someone moves web-2 away from compute-3 and re-enables compute-1.
    let mut c = cloud(&s);
    c["instances"][WEB2]["host"] = json!("compute-2");
    c["compute_services"]["compute-1"] = json!({"state": "enabled", "disabled_reason": null});
    assert_eq!(s.send_json("PUT", "/v1/cloud", &c).status, 200);
    let rb = rollback(&s, &plan, Some(json!({"auto_start": true}))).json();
    let done = wait_for(&s, rb["uuid"].as_str().unwrap(), &["SUCCEEDED", "FAILED"]);
    assert_eq!(done["status_message"], "One or more actions were skipped.", "{done}");
    let actions =
        s.get15(&format!("/v1/actions/detail?action_plan_uuid={}", rb["uuid"].as_str().unwrap()), &[]).json();
    let skipped: Vec<&Value> =
        actions["actions"].as_array().unwrap().iter().filter(|a| a["state"] == "SKIPPED").collect();
    assert_eq!(skipped.len(), 2, "{actions:#}");
    assert!(skipped.iter().all(|a| a["status_message"].as_str().unwrap().len() > 10));
    let after = cloud(&s);
    assert_eq!(after["instances"][WEB2]["host"], "compute-2", "the drifted instance was not touched");
    assert_eq!(after["instances"][WEB1], before["instances"][WEB1], "the rest came back");
    assert_eq!(after["volumes"], before["volumes"]);
    assert_eq!(after["nodes"], before["nodes"]);
}

/// A rollback plan that never ran gives its original back when it is
/// deleted or cancelled, so a stray request cannot block the real rollback.
#[test]
fn an_unstarted_rollback_plan_once_dropped_releases_its_original() {
    let (s, _dir) = server(&[], &[]);
    let plan = executed(&s, vec![act("nop", json!({"message": "x"}), &[])]);
    let linked = |s: &Server| s.get_json(&format!("/v1/action_plans/{plan}"))["rolled_back_by"].clone();

    let stray = rollback(&s, &plan, None).json()["uuid"].as_str().unwrap().to_string();
    assert_eq!(linked(&s), json!(stray));
    assert_eq!(rollback(&s, &plan, None).status, 400, "already rolled back");
    let del = s.call("DELETE", &format!("/v1/action_plans/{stray}"), &[], None);
    assert_eq!(del.status, 204, "{}", del.body);
    assert_eq!(linked(&s), Value::Null);

    let second = rollback(&s, &plan, None).json()["uuid"].as_str().unwrap().to_string();
    assert_eq!(linked(&s), json!(second));
    let patch = json!([{"op": "replace", "path": "/state", "value": "CANCELLED"}]);
    let cancel = s.send_json("PATCH", &format!("/v1/action_plans/{second}"), &patch);
    assert_eq!(cancel.status, 200, "{}", cancel.body);
    assert_eq!(linked(&s), Value::Null);

    // One that ran keeps the link, deleted or not.
    let third =
        rollback(&s, &plan, Some(json!({"auto_start": true}))).json()["uuid"].as_str().unwrap().to_string();
    wait_for(&s, &third, &["SUCCEEDED"]);
    assert_eq!(s.call("DELETE", &format!("/v1/action_plans/{third}"), &[], None).status, 204);
    assert_eq!(linked(&s), json!(third));
    assert_eq!(rollback(&s, &plan, None).status, 400);
}

/// The rollback's power-on showed the node's uuid in progress and on the
/// page: inverses on the original's resource keep its `resource_name`.
#[test]
fn inverses_keep_the_originals_resource_name() {
    let (s, _dir) = server(&[], &[]);
    let plan = executed(
        &s,
        vec![
            act(
                "change_node_power_state",
                json!({"resource_id": "compute-4", "resource_name": "spare", "state": "on"}),
                &[],
            ),
            act(
                "migrate",
                json!({"resource_id": WEB1, "resource_name": "web-1", "migration_type": "live", "source_node": "compute-1", "destination_node": "compute-2"}),
                &[],
            ),
        ],
    );
    let r = rollback(&s, &plan, Some(json!({"dry_run": true})));
    assert_eq!(r.status, 200, "{}", r.body);
    let names: Vec<(String, Value)> = r.json()["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (a["action_type"].as_str().unwrap().to_string(), a["input_parameters"]["resource_name"].clone())
        })
        .collect();
    assert!(names.contains(&("change_node_power_state".into(), json!("spare"))), "{names:?}");
    assert!(names.contains(&("migrate".into(), json!("web-1"))), "{names:?}");
}
