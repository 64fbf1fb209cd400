//! The applier over HTTP: plans run against the simulated cloud, record
//! each action's pre-state and result, respect DAG order, cancel children of
//! failed parents, stop on CANCELLING, and survive a hard kill as documented.

use rollback_tests::{Resp, Server};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const WEB1: &str = "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a01";
const WEB2: &str = "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a02";
const DB1: &str = "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a03";
const BATCH1: &str = "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a04";
const VOL: &str = "8a2b3c4d-1111-4a22-9b33-5c6d7e8f9a01";

/// A server with fast sleeps.
fn server() -> Server {
    Server::start(&["--sleep-scale", "0.001"])
}

fn act(ty: &str, params: Value, parents: &[usize]) -> Value {
    json!({"action_type": ty, "input_parameters": params, "parents": parents})
}

/// Creates and starts a plan; returns its uuid.
fn run(s: &Server, actions: Vec<Value>) -> String {
    let plan = s.create_plan(json!({"actions": actions}));
    let uuid = plan["uuid"].as_str().unwrap().to_string();
    let r = s.call("POST", &format!("/v1/action_plans/{uuid}/start"), &[], None);
    assert_eq!(r.status, 200, "{}", r.body);
    uuid
}

fn wait_for(s: &Server, plan: &str, states: &[&str]) -> Value {
    s.wait_for_plan(plan, states)
}

fn actions(s: &Server, plan: &str) -> Vec<Value> {
    s.get15(&format!("/v1/actions/detail?action_plan_uuid={plan}"), &[]).json()["actions"]
        .as_array()
        .unwrap()
        .clone()
}

fn cloud(s: &Server) -> Value {
    s.get15("/v1/cloud", &[]).json()
}

#[test]
fn every_builtin_action_type_runs_and_records_pre_state_and_result() {
    let s = server();
    let plan = run(
        &s,
        vec![
            act(
                "migrate",
                json!({"resource_id": WEB1, "migration_type": "live", "source_node": "compute-1", "destination_node": "compute-3"}),
                &[],
            ),
            act(
                "migrate",
                json!({"resource_id": WEB2, "migration_type": "cold", "source_node": "compute-1", "destination_node": null}),
                &[],
            ),
            act(
                "change_nova_service_state",
                json!({"resource_id": "compute-1", "state": "disabled", "disabled_reason": "maintenance"}),
                &[0, 1],
            ),
            act("change_node_power_state", json!({"resource_id": "compute-1", "state": "off"}), &[2]),
            act("resize", json!({"resource_id": DB1, "flavor": "m1.medium"}), &[]),
            act(
                "volume_migrate",
                json!({"resource_id": VOL, "migration_type": "migrate", "destination_node": "storage-1@lvm#pool-b"}),
                &[],
            ),
            act("stop", json!({"resource_id": DB1}), &[4]),
            act("start", json!({"resource_id": BATCH1}), &[]),
            act("nop", json!({"message": "done"}), &[3]),
            act("sleep", json!({"duration": 2}), &[8]),
        ],
    );
    let p = wait_for(&s, &plan, &["SUCCEEDED", "FAILED"]);
    assert_eq!(p["state"], "SUCCEEDED", "{p}\n{:#?}", actions(&s, &plan));
    assert_eq!(p["status_message"], Value::Null);
    assert!(p["finished_at"].is_string());
    let a = actions(&s, &plan);
    assert!(
        a.iter().all(|a| a["state"] == "SUCCEEDED" && a["pre_state"].is_object() && a["result"].is_object()),
        "{a:#?}"
    );
    assert_eq!(a[0]["pre_state"], json!({"host": "compute-1"}));
    assert_eq!(a[0]["result"]["host"], "compute-3");
    assert_eq!(a[1]["result"]["host"], "compute-2", "the scheduler's pick is recorded");
    assert_eq!(a[2]["pre_state"], json!({"state": "enabled", "disabled_reason": null}));
    assert_eq!(a[3]["pre_state"], json!({"power": "on"}));
    assert_eq!(a[4]["pre_state"]["flavor"], "m1.large");
    assert_eq!(a[5]["pre_state"], json!({"pool": "storage-1@lvm#pool-a", "type": "ssd"}));
    assert_eq!(a[6]["result"]["status"], "SHUTOFF");
    assert_eq!(a[9]["result"]["duration"], 2.0);

    let c = cloud(&s);
    assert_eq!(c["instances"][WEB1]["host"], "compute-3");
    assert_eq!(c["instances"][WEB2]["host"], "compute-2");
    assert_eq!(
        c["compute_services"]["compute-1"],
        json!({"state": "disabled", "disabled_reason": "maintenance"})
    );
    assert_eq!(c["nodes"]["compute-1"]["power"], "off");
    assert_eq!(c["instances"][DB1]["flavor"], "m1.medium");
    assert_eq!(c["instances"][DB1]["status"], "SHUTOFF");
    assert_eq!(c["instances"][BATCH1]["status"], "ACTIVE");
    assert_eq!(c["volumes"][VOL]["pool"], "storage-1@lvm#pool-b");
}

#[test]
fn skipped_actions_are_reported_and_the_plan_still_succeeds() {
    let s = server();
    let plan = run(
        &s,
        vec![
            act("stop", json!({"resource_id": BATCH1}), &[]),
            act(
                "migrate",
                json!({"resource_id": "00000000-0000-4000-8000-000000000000", "migration_type": "live", "source_node": "compute-1"}),
                &[],
            ),
            act(
                "migrate",
                json!({"resource_id": DB1, "migration_type": "live", "source_node": "compute-1"}),
                &[],
            ),
            act("nop", json!({"message": "after a skip"}), &[0]),
        ],
    );
    let p = wait_for(&s, &plan, &["SUCCEEDED", "FAILED"]);
    assert_eq!(p["state"], "SUCCEEDED");
    assert_eq!(p["status_message"], "One or more actions were skipped.");
    let a = actions(&s, &plan);
    assert_eq!(a[0]["state"], "SKIPPED");
    assert_eq!(a[0]["status_message"], format!("Instance {BATCH1} is already SHUTOFF."));
    assert_eq!(a[1]["state"], "SKIPPED");
    assert!(a[1]["status_message"].as_str().unwrap().contains("not found"));
    assert_eq!(a[2]["state"], "SKIPPED");
    assert!(a[2]["status_message"].as_str().unwrap().contains("not on source_node compute-1"));
    assert_eq!(a[3]["state"], "SUCCEEDED", "a skipped parent does not block its child");
}

#[test]
fn a_failed_action_fails_the_plan_and_cancels_its_descendants_only() {
    let s = server();
    let plan = run(
        &s,
        vec![
            act(
                "migrate",
                json!({"resource_id": WEB1, "migration_type": "live", "source_node": "compute-1", "destination_node": "compute-4"}),
                &[],
            ),
            act("nop", json!({"message": "child"}), &[0]),
            act("nop", json!({"message": "grandchild"}), &[1]),
            act("resize", json!({"resource_id": DB1, "flavor": "m1.small"}), &[]),
        ],
    );
    let p = wait_for(&s, &plan, &["SUCCEEDED", "FAILED"]);
    assert_eq!(p["state"], "FAILED");
    let a = actions(&s, &plan);
    let msg = p["status_message"].as_str().unwrap();
    assert!(
        msg.contains(a[0]["uuid"].as_str().unwrap())
            && msg.contains("Destination host compute-4 is disabled."),
        "{msg}"
    );
    assert_eq!(a[0]["state"], "FAILED");
    assert_eq!(a[0]["pre_state"]["host"], "compute-1", "the pre-state of a failed action is still recorded");
    assert_eq!(a[1]["state"], "CANCELLED");
    assert!(a[1]["status_message"].as_str().unwrap().contains("is FAILED"), "{}", a[1]);
    assert_eq!(a[2]["state"], "CANCELLED");
    assert_eq!(a[3]["state"], "SUCCEEDED", "an independent branch completes");
    assert_eq!(cloud(&s)["instances"][WEB1]["host"], "compute-1", "the failed migrate moved nothing");
}

#[test]
fn dag_order_holds_under_concurrency() {
    // One instance hops compute-1 → 2 → 3 → 1 (each hop's source is the
    // previous destination, so any reordering SKIPs a hop), beside three
    // independent branches that run concurrently with it.
    let s = Server::start(&["--sleep-scale", "0.01", "--applier-concurrency", "4"]);
    let hop = |src: &str, dst: &str| json!({"resource_id": WEB1, "migration_type": "live", "source_node": src, "destination_node": dst});
    let plan = run(
        &s,
        vec![
            act("migrate", hop("compute-1", "compute-2"), &[]),
            act("sleep", json!({"duration": 5}), &[0]),
            act("migrate", hop("compute-2", "compute-3"), &[1]),
            act("migrate", hop("compute-3", "compute-1"), &[2]),
            act("sleep", json!({"duration": 3}), &[]),
            act("resize", json!({"resource_id": DB1, "flavor": "m1.small"}), &[4]),
            act("stop", json!({"resource_id": WEB2}), &[]),
            act("start", json!({"resource_id": WEB2}), &[6]),
            act("nop", json!({"message": "join"}), &[3, 5, 7]),
        ],
    );
    let p = wait_for(&s, &plan, &["SUCCEEDED", "FAILED"]);
    let a = actions(&s, &plan);
    assert_eq!(p["state"], "SUCCEEDED", "{p}\n{a:#?}");
    assert_eq!(
        p["status_message"],
        Value::Null,
        "nothing was skipped: every hop found the instance where its parent left it"
    );
    assert_eq!(cloud(&s)["instances"][WEB1]["host"], "compute-1");
    let hosts: Vec<&Value> =
        a[..4].iter().filter(|x| x["action_type"] == "migrate").map(|x| &x["pre_state"]["host"]).collect();
    assert_eq!(hosts, ["compute-1", "compute-2", "compute-3"]);
}

fn patch_state(s: &Server, plan: &str, state: &str) -> Resp {
    s.send_json(
        "PATCH",
        &format!("/v1/action_plans/{plan}"),
        &json!([{"op": "replace", "path": "/state", "value": state}]),
    )
}

fn wait_for_action(s: &Server, plan: &str, index: usize, state: &str) {
    let until = Instant::now() + Duration::from_secs(30);
    while actions(s, plan)[index]["state"] != state {
        assert!(Instant::now() < until, "action {index} never became {state}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn cancelling_lets_running_actions_finish_and_runs_nothing_new() {
    let s = Server::start(&["--sleep-scale", "1"]);
    let plan = run(
        &s,
        vec![act("sleep", json!({"duration": 1.5}), &[]), act("stop", json!({"resource_id": WEB1}), &[0])],
    );
    wait_for_action(&s, &plan, 0, "ONGOING");
    let r = patch_state(&s, &plan, "CANCELLING");
    assert_eq!(r.status, 200, "{}", r.body);
    let p = wait_for(&s, &plan, &["CANCELLED", "SUCCEEDED", "FAILED"]);
    assert_eq!(p["state"], "CANCELLED");
    let a = actions(&s, &plan);
    assert_eq!(a[0]["state"], "SUCCEEDED", "the running sleep finished");
    assert_eq!(a[1]["state"], "CANCELLED");
    assert_eq!(cloud(&s)["instances"][WEB1]["status"], "ACTIVE", "the stop never ran");
}

#[test]
fn a_plan_interrupted_by_a_kill_is_marked_failed_on_restart() {
    let s = Server::start(&["--sleep-scale", "1"]);
    let plan = run(
        &s,
        vec![
            act("change_nova_service_state", json!({"resource_id": "compute-2", "state": "disabled"}), &[]),
            act("sleep", json!({"duration": 60}), &[0]),
            act("stop", json!({"resource_id": WEB1}), &[1]),
        ],
    );
    wait_for_action(&s, &plan, 1, "ONGOING");
    let s = s.restart();
    let p = s.get15(&format!("/v1/action_plans/{plan}"), &[]).json();
    assert_eq!(p["state"], "FAILED");
    assert!(
        p["status_message"].as_str().unwrap().starts_with(
            "Interrupted: rollback-host stopped while this plan was running; 1 action(s) in progress"
        ),
        "{p}"
    );
    let a = actions(&s, &plan);
    assert_eq!(a[0]["state"], "SUCCEEDED", "what finished keeps its record");
    assert_eq!(a[0]["pre_state"]["state"], "enabled");
    assert_eq!(a[1]["state"], "FAILED");
    // The simulated cloud's change and record commit together: an action
    // still ONGOING changed nothing, and the reconciliation says so.
    assert!(a[1]["status_message"].as_str().unwrap().contains("observed that nothing changed"), "{}", a[1]);
    assert_eq!(a[2]["state"], "CANCELLED");
    assert_eq!(cloud(&s)["instances"][WEB1]["status"], "ACTIVE");
    assert_eq!(
        cloud(&s)["compute_services"]["compute-2"]["state"],
        "disabled",
        "the cloud change before the kill is durable"
    );
}

#[test]
fn patch_to_pending_runs_the_plan_like_start() {
    let s = server();
    let plan = s.create_plan(json!({"actions": [act("stop", json!({"resource_id": WEB1}), &[])]}));
    let uuid = plan["uuid"].as_str().unwrap();
    assert_eq!(patch_state(&s, uuid, "PENDING").status, 200);
    assert_eq!(wait_for(&s, uuid, &["SUCCEEDED", "FAILED"])["state"], "SUCCEEDED");
    assert_eq!(cloud(&s)["instances"][WEB1]["status"], "SHUTOFF");
}

#[test]
fn a_custom_action_type_runs_as_a_recorded_no_op() {
    let dir = rollback_tests::test_plugin("test_misbehave").parent().unwrap().to_path_buf();
    let s = Server::start(&["--sleep-scale", "0.001", "--plugins-dir", dir.to_str().unwrap()]);
    let before = cloud(&s);
    let plan = run(&s, vec![act("test_misbehave", json!({"mode": "none"}), &[])]);
    assert_eq!(wait_for(&s, &plan, &["SUCCEEDED", "FAILED"])["state"], "SUCCEEDED");
    let a = &actions(&s, &plan)[0];
    assert_eq!(a["state"], "SUCCEEDED");
    assert!(a["status_message"].as_str().unwrap().contains("no executor"), "{a}");
    assert_eq!(cloud(&s), before);
}

#[test]
fn the_cloud_can_be_replaced_and_bad_clouds_are_refused() {
    let s = server();
    let mut c = cloud(&s);
    c["compute_services"]["compute-9"] = json!({"state": "enabled"});
    let r = s.send_json("PUT", "/v1/cloud", &c);
    assert_eq!(r.status, 200, "{}", r.body);
    let stored = r.json();
    assert_eq!(stored["compute_services"]["compute-9"], json!({"state": "enabled", "disabled_reason": null}));
    assert_eq!(cloud(&s), stored);
    let c = stored;
    let mut bad = c.clone();
    bad["instances"][WEB1]["host"] = json!("nowhere");
    let r = s.send_json("PUT", "/v1/cloud", &bad);
    assert_eq!(r.status, 400);
    assert!(r.fault().contains("unknown host"), "{}", r.fault());
    let r = s.send_json("PUT", "/v1/cloud", &json!({"hosts": []}));
    assert_eq!(r.status, 400);
    assert!(r.fault().contains("unknown field"), "{}", r.fault());
    assert_eq!(cloud(&s), c, "refused clouds change nothing");
    let s = s.restart();
    assert_eq!(cloud(&s), c, "the cloud is durable");
}

#[test]
fn a_cloud_seed_file_is_used_on_first_start_only() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("seed.json");
    std::fs::write(&seed, json!({"compute_services": {"only-host": {"state": "enabled"}}}).to_string())
        .unwrap();
    let s = Server::start(&["--cloud-seed", seed.to_str().unwrap()]);
    assert_eq!(
        cloud(&s)["compute_services"],
        json!({"only-host": {"state": "enabled", "disabled_reason": null}})
    );
    std::fs::write(&seed, json!({"compute_services": {}}).to_string()).unwrap();
    let s = s.restart();
    assert!(cloud(&s)["compute_services"].get("only-host").is_some(), "a restart keeps the stored cloud");
    assert!(s.wait_for_log("--cloud-seed ignored"));
}
