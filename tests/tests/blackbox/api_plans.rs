//! `/v1/action_plans` over HTTP: create, show, list and page, PATCH
//! transitions, start, soft delete, and durability across a hard restart.

use rollback_tests::Server;
use serde_json::{json, Value};

const AUDIT: &str = "7d100b05-0a86-491f-98a7-f93da19b272a";

fn two_actions() -> Value {
    json!({
        "audit_uuid": AUDIT,
        "strategy_name": "host_maintenance",
        "efficacy_indicators": [{"name": "migrations", "description": "count", "unit": null, "value": 1}],
        "actions": [
            {"action_type": "nop", "input_parameters": {"message": "first"}, "description": "say hi"},
            {"action_type": "sleep", "input_parameters": {"duration": 0.5}, "parents": [0]},
        ]
    })
}

fn uuid(v: &Value) -> String {
    v["uuid"].as_str().expect("uuid").to_string()
}

#[test]
fn create_answers_201_with_the_plan_its_actions_and_a_location() {
    let s = Server::start(&[]);
    let r = s.send_json("POST", "/v1/action_plans", &two_actions());
    assert_eq!(r.status, 201, "{}", r.body);
    let plan = r.json();
    assert_eq!(plan["state"], "RECOMMENDED");
    assert_eq!(plan["audit_uuid"], AUDIT);
    assert_eq!(plan["strategy_name"], "host_maintenance");
    assert_eq!(plan["rollback_of"], Value::Null);
    assert_eq!(plan["status_message"], Value::Null);
    let actions = plan["actions"].as_array().unwrap();
    assert_eq!(actions.len(), 2);
    assert_eq!(actions[1]["parents"], json!([actions[0]["uuid"]]));
    assert!(actions.iter().all(|a| a["state"] == "PENDING" && a["pre_state"].is_null()));
    assert_eq!(r.header("location").unwrap(), format!("{}/v1/action_plans/{}", s.base, uuid(&plan)));
    let shown = s.get15(&format!("/v1/action_plans/{}", uuid(&plan)), &[]).json();
    assert_eq!(shown["links"][0]["href"], format!("{}/v1/action_plans/{}", s.base, uuid(&plan)));
    assert_eq!(shown["links"][1]["rel"], "bookmark");
}

#[test]
fn a_created_plan_survives_a_hard_restart_byte_for_byte() {
    let s = Server::start(&[]);
    let plan = s.create_plan(two_actions());
    let path = format!("/v1/action_plans/{}", uuid(&plan));
    let actions_path = format!("/v1/actions/detail?action_plan_uuid={}", uuid(&plan));
    // The restarted server listens on another port, which only `links` show.
    let read = |s: &Server| {
        let get = |p: &str| s.get15(p, &[]).body.replace(&s.base, "http://HOST");
        (get(&path), get(&actions_path))
    };
    let before = read(&s);
    let s = s.restart();
    assert_eq!(read(&s), before);
}

#[test]
fn short_list_shows_watchers_fields_and_detail_shows_all() {
    let s = Server::start(&[]);
    s.create_plan(two_actions());
    let short = s.get15("/v1/action_plans", &[]).json();
    let item = short["action_plans"][0].as_object().unwrap();
    let mut keys: Vec<&str> = item.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "audit_uuid",
            "efficacy_indicators",
            "global_efficacy",
            "links",
            "state",
            "strategy_name",
            "updated_at",
            "uuid"
        ]
    );
    let detail = s.get15("/v1/action_plans/detail", &[]).json();
    let d = &detail["action_plans"][0];
    for k in [
        "created_at",
        "deleted_at",
        "hostname",
        "status_message",
        "rollback_of",
        "rolled_back_by",
        "finished_at",
    ] {
        assert!(d.get(k).is_some(), "detail lacks {k}: {d}");
    }
    assert!(short.get("next").is_none(), "no next link on a partial page");
}

#[test]
fn status_message_appears_only_from_microversion_1_5() {
    let s = Server::start(&[]);
    let plan = s.create_plan(two_actions());
    let path = format!("/v1/action_plans/{}", uuid(&plan));
    let old = s.call("GET", &path, &[("OpenStack-API-Version", "infra-optim 1.4")], None);
    assert!(old.json().get("status_message").is_none(), "{}", old.body);
    assert_eq!(old.header("openstack-api-version"), Some("infra-optim 1.4"));
    assert!(s.get15(&path, &[]).json().get("status_message").is_some());
}

#[test]
fn pages_follow_next_links_through_every_plan() {
    let s = Server::start(&[]);
    let created: Vec<String> = (0..5).map(|_| uuid(&s.create_plan(json!({})))).collect();
    let mut seen = Vec::new();
    let mut path = "/v1/action_plans/?limit=2".to_string();
    loop {
        let page = s.get15(&path, &[]).json();
        seen.extend(page["action_plans"].as_array().unwrap().iter().map(uuid));
        match page.get("next").and_then(Value::as_str) {
            Some(next) => {
                path = next.strip_prefix(&s.base).expect("next is absolute on our host").to_string()
            }
            None => break,
        }
    }
    assert_eq!(seen, created);
    let desc = s.get15("/v1/action_plans?sort_key=created_at&sort_dir=desc&limit=2", &[]).json();
    assert_eq!(
        desc["action_plans"].as_array().unwrap().iter().map(uuid).collect::<Vec<_>>(),
        vec![created[4].clone(), created[3].clone()]
    );
}

#[test]
fn list_parameters_are_validated() {
    let s = Server::start(&[]);
    s.create_plan(json!({}));
    for (q, status, text) in [
        ("limit=0", 400, "Limit must be positive"),
        ("limit=-3", 400, "Limit must be positive"),
        ("limit=many", 400, "Invalid limit"),
        ("sort_key=password", 400, "invalid field for sorting"),
        ("sort_dir=sideways", 400, "Invalid sort direction"),
        ("marker=4cbc4ede-0d25-481b-b86e-998dbbd4f8bf", 404, "could not be found"),
        ("marker=nope", 400, "Expected a UUID"),
        ("audit_uuid=nope", 400, "Expected a UUID"),
    ] {
        let r = s.get15(&format!("/v1/action_plans?{q}"), &[]);
        assert_eq!(r.status, status, "{q}: {}", r.body);
        assert!(r.fault().contains(text), "{q}: {}", r.fault());
    }
}

#[test]
fn audit_filter_selects_that_audits_plans() {
    let s = Server::start(&[]);
    let mine = s.create_plan(two_actions());
    s.create_plan(json!({"audit_uuid": "11111111-1111-4111-8111-111111111111"}));
    s.create_plan(json!({}));
    let list = s.get15(&format!("/v1/action_plans?audit_uuid={AUDIT}"), &[]).json();
    assert_eq!(
        list["action_plans"].as_array().unwrap().iter().map(uuid).collect::<Vec<_>>(),
        vec![uuid(&mine)]
    );
}

fn patch_state(s: &Server, plan: &str, state: &str) -> rollback_tests::Resp {
    s.send_json(
        "PATCH",
        &format!("/v1/action_plans/{plan}"),
        &json!([{"op": "replace", "path": "/state", "value": state}]),
    )
}

#[test]
fn patch_allows_watchers_transitions_only_and_changes_nothing_otherwise() {
    let s = Server::start(&[]);
    let plan = uuid(&s.create_plan(two_actions()));
    let path = format!("/v1/action_plans/{plan}");
    for bad in ["SUCCEEDED", "ONGOING", "DELETED"] {
        let before = s.get15(&path, &[]).body;
        let r = patch_state(&s, &plan, bad);
        assert_eq!(r.status, 400, "{bad}: {}", r.body);
        assert!(
            r.fault().contains(&format!("State transition not allowed: (RECOMMENDED -> {bad})")),
            "{}",
            r.fault()
        );
        assert_eq!(s.get15(&path, &[]).body, before, "a refused PATCH changes nothing");
    }
    let r = patch_state(&s, &plan, "BOGUS");
    assert!(r.status == 400 && r.fault().contains("Invalid state: BOGUS"), "{}", r.body);
    let r = s.send_json("PATCH", &path, &json!([{"op": "replace", "path": "/strategy_name", "value": "x"}]));
    assert!(r.status == 400 && r.fault().contains("only /state can be patched"), "{}", r.body);

    let r = patch_state(&s, &plan, "CANCELLED");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["state"], "CANCELLED");
    let actions = s.get15(&format!("/v1/actions?action_plan_uuid={plan}"), &[]).json();
    assert!(actions["actions"].as_array().unwrap().iter().all(|a| a["state"] == "CANCELLED"), "{actions}");
    let r = patch_state(&s, &plan, "PENDING");
    assert!(r.status == 400 && r.fault().contains("(CANCELLED -> PENDING)"), "{}", r.body);
}

#[test]
fn patch_to_pending_launches_and_ongoing_can_only_go_to_cancelling() {
    let s = Server::start(&["--sleep-scale", "1"]);
    let plan = uuid(
        &s.create_plan(json!({"actions": [{"action_type": "sleep", "input_parameters": {"duration": 60}}]})),
    );
    let r = patch_state(&s, &plan, "PENDING");
    assert_eq!((r.status, r.json()["state"].clone()), (200, json!("PENDING")));
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while s.get15(&format!("/v1/action_plans/{plan}"), &[]).json()["state"] != "ONGOING" {
        assert!(std::time::Instant::now() < until, "never ONGOING");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let r = patch_state(&s, &plan, "CANCELLED");
    assert!(r.status == 400 && r.fault().contains("(ONGOING -> CANCELLED)"), "{}", r.body);
    let r = patch_state(&s, &plan, "CANCELLING");
    assert_eq!((r.status, r.json()["state"].clone()), (200, json!("CANCELLING")));
}

#[test]
fn start_moves_a_recommended_plan_to_pending_once() {
    let s = Server::start(&[]);
    let plan = uuid(&s.create_plan(two_actions()));
    let path = format!("/v1/action_plans/{plan}/start");
    let r = s.call("POST", &path, &[], None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["state"], "PENDING");
    let r = s.call("POST", &path, &[], None);
    assert_eq!(r.status, 400);
    // By now the applier may have moved it on; it is no longer RECOMMENDED.
    let fault = r.fault();
    assert!(fault.starts_with("Couldn't start when state is '") && !fault.contains("RECOMMENDED"), "{fault}");
}

#[test]
fn delete_is_soft_and_x_show_deleted_reveals_it() {
    let s = Server::start(&[]);
    let plan = uuid(&s.create_plan(two_actions()));
    let other = uuid(&s.create_plan(json!({})));
    let path = format!("/v1/action_plans/{plan}");
    assert_eq!(s.call("DELETE", &path, &[], None).status, 204);
    let r = s.get15(&path, &[]);
    assert_eq!(r.status, 404);
    assert_eq!(r.fault(), format!("ActionPlan {plan} could not be found."));
    let shown = s.get15(&path, &[("X-Show-Deleted", "True")]);
    assert_eq!(shown.status, 200);
    assert_eq!(shown.json()["state"], "DELETED");
    assert!(shown.json()["deleted_at"].is_string());
    let listed = s.get15("/v1/action_plans", &[]).json();
    assert_eq!(
        listed["action_plans"].as_array().unwrap().iter().map(uuid).collect::<Vec<_>>(),
        vec![other.clone()]
    );
    let all = s.get15("/v1/action_plans", &[("X-Show-Deleted", "True")]).json();
    assert_eq!(all["action_plans"].as_array().unwrap().len(), 2);
    let actions = s.get15(&format!("/v1/actions?action_plan_uuid={plan}"), &[]).json();
    assert_eq!(actions["actions"], json!([]), "its actions are deleted too");
    assert_eq!(s.call("DELETE", &path, &[], None).status, 404, "deleting twice");
}

#[test]
fn a_running_plan_cannot_be_deleted() {
    let s = Server::start(&["--sleep-scale", "1"]);
    let plan = uuid(
        &s.create_plan(json!({"actions": [{"action_type": "sleep", "input_parameters": {"duration": 60}}]})),
    );
    assert_eq!(patch_state(&s, &plan, "PENDING").status, 200);
    let r = s.call("DELETE", &format!("/v1/action_plans/{plan}"), &[], None);
    assert_eq!(r.status, 400);
    let fault = r.fault();
    assert!(
        fault == "Couldn't delete when state is 'PENDING'."
            || fault == "Couldn't delete when state is 'ONGOING'.",
        "{fault}"
    );
    let state = s.get15(&format!("/v1/action_plans/{plan}"), &[]).json()["state"].clone();
    assert!(state == "PENDING" || state == "ONGOING", "{state}");
}

#[test]
fn invalid_plans_are_refused_with_the_reason_and_store_nothing() {
    let s = Server::start(&[]);
    let nop = json!({"message": "x"});
    for (plan, text) in [
        (
            json!({"actions": [{"action_type": "nop", "input_parameters": {"message": 3}}]}),
            "actions[0] (nop): invalid input_parameters",
        ),
        (
            json!({"actions": [{"action_type": "migrate", "input_parameters": {"resource_id": "x", "migration_type": "live", "source_node": "c1"}}]}),
            "/resource_id",
        ),
        (
            json!({"actions": [{"action_type": "nop", "input_parameters": nop, "parents": [1]}, {"action_type": "nop", "input_parameters": nop, "parents": [0]}]}),
            "cycle",
        ),
        (
            json!({"actions": [{"action_type": "nop", "input_parameters": nop, "parents": ["4cbc4ede-0d25-481b-b86e-998dbbd4f8bf"]}]}),
            "not an action of this plan",
        ),
        (json!({"actions": [{"action_type": "teleport", "input_parameters": {}}]}), "unknown action_type"),
        (json!({"actions": [], "colour": "red"}), "unknown field `colour`"),
        (json!({"audit_uuid": "nope", "actions": []}), "Invalid action plan"),
        (json!([1, 2]), "Invalid action plan"),
    ] {
        let r = s.send_json("POST", "/v1/action_plans", &plan);
        assert_eq!(r.status, 400, "{plan}: {}", r.body);
        assert!(r.fault().contains(text), "{plan}: {}", r.fault());
    }
    assert_eq!(s.get15("/v1/action_plans", &[]).json()["action_plans"], json!([]));
}

#[test]
fn a_loaded_plugin_admits_its_custom_action_type() {
    let plan = json!({"actions": [{"action_type": "test_misbehave", "input_parameters": {"mode": "none"}}]});
    let without = Server::start(&[]);
    let r = without.send_json("POST", "/v1/action_plans", &plan);
    assert!(r.status == 400 && r.fault().contains("unknown action_type"), "{}", r.body);

    let dir = rollback_tests::test_plugin("test_misbehave").parent().unwrap().to_path_buf();
    let with = Server::start(&["--plugins-dir", dir.to_str().unwrap()]);
    let r = with.send_json("POST", "/v1/action_plans", &plan);
    assert_eq!(r.status, 201, "the plugin's schema ({{\"type\":\"object\"}}) admits it: {}", r.body);
}
