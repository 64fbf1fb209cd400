//! `/v1/actions` over HTTP: filters, short and detail forms, show, and
//! skipping a pending action at microversion 1.5.

use rollback_tests::Server;
use serde_json::{json, Value};

fn plan(s: &Server, audit: &str) -> Value {
    s.create_plan(json!({
        "audit_uuid": audit,
        "actions": [
            {"action_type": "nop", "input_parameters": {"message": "a"}},
            {"action_type": "stop", "input_parameters": {"resource_id": "4cbc4ede-0d25-481b-b86e-998dbbd4f8bf"}, "parents": [0]},
        ]
    }))
}

const A1: &str = "11111111-1111-4111-8111-111111111111";
const A2: &str = "22222222-2222-4222-8222-222222222222";

fn uuids(list: &Value) -> Vec<String> {
    list["actions"].as_array().unwrap().iter().map(|a| a["uuid"].as_str().unwrap().to_string()).collect()
}

fn action_uuids(plan: &Value) -> Vec<String> {
    plan["actions"].as_array().unwrap().iter().map(|a| a["uuid"].as_str().unwrap().to_string()).collect()
}

#[test]
fn filters_by_plan_or_audit_but_not_both() {
    let s = Server::start(&[]);
    let p1 = plan(&s, A1);
    let p2 = plan(&s, A2);
    let by_plan =
        s.get15(&format!("/v1/actions?action_plan_uuid={}", p1["uuid"].as_str().unwrap()), &[]).json();
    assert_eq!(uuids(&by_plan), action_uuids(&p1));
    let by_audit = s.get15(&format!("/v1/actions/detail?audit_uuid={A2}"), &[]).json();
    assert_eq!(uuids(&by_audit), action_uuids(&p2));
    let all = s.get15("/v1/actions", &[]).json();
    assert_eq!(uuids(&all).len(), 4);
    let r = s.get15(
        &format!("/v1/actions?audit_uuid={A1}&action_plan_uuid={}", p1["uuid"].as_str().unwrap()),
        &[],
    );
    assert_eq!(r.status, 400);
    assert!(r.fault().contains("Only one of"), "{}", r.fault());
}

#[test]
fn short_list_has_watchers_fields_and_show_has_all() {
    let s = Server::start(&[]);
    let p = plan(&s, A1);
    let short = s.get15("/v1/actions", &[]).json();
    let mut keys: Vec<String> = short["actions"][0].as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(keys, ["action_plan_uuid", "action_type", "links", "parents", "state", "uuid"]);
    let id = &action_uuids(&p)[1];
    let one = s.get15(&format!("/v1/actions/{id}"), &[]).json();
    assert_eq!(one["input_parameters"], json!({"resource_id": "4cbc4ede-0d25-481b-b86e-998dbbd4f8bf"}));
    assert_eq!(one["parents"], json!([action_uuids(&p)[0]]));
    for k in ["description", "status_message", "created_at", "pre_state", "result"] {
        assert!(one.get(k).is_some(), "show lacks {k}");
    }
}

fn skip(s: &Server, action: &str, version: &str) -> rollback_tests::Resp {
    let body = json!([{"op": "replace", "path": "/state", "value": "SKIPPED"}, {"op": "replace", "path": "/status_message", "value": "not needed"}]).to_string();
    s.call(
        "PATCH",
        &format!("/v1/actions/{action}"),
        &[("Content-Type", "application/json"), ("OpenStack-API-Version", version)],
        Some(body.as_bytes()),
    )
}

#[test]
fn a_pending_action_can_be_skipped_at_1_5_only() {
    let s = Server::start(&[]);
    let p = plan(&s, A1);
    let id = action_uuids(&p)[0].clone();
    let r = skip(&s, &id, "infra-optim 1.4");
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.fault().contains("1.5"));
    let r = skip(&s, &id, "infra-optim 1.5");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["state"], "SKIPPED");
    assert_eq!(r.json()["status_message"], "not needed");
    let again = s.send_json(
        "PATCH",
        &format!("/v1/actions/{id}"),
        &json!([{"op": "replace", "path": "/state", "value": "PENDING"}]),
    );
    assert_eq!(again.status, 400, "SKIPPED cannot go back: {}", again.body);
}

#[test]
fn skipping_needs_a_plan_that_has_not_started() {
    let s = Server::start(&[]);
    let p = plan(&s, A1);
    let id = action_uuids(&p)[0].clone();
    let path = format!("/v1/action_plans/{}", p["uuid"].as_str().unwrap());
    s.send_json("PATCH", &path, &json!([{"op": "replace", "path": "/state", "value": "CANCELLED"}]));
    let r = skip(&s, &id, "infra-optim 1.5");
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.fault().contains("CANCELLED"), "{}", r.fault());
}
