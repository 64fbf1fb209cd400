//! `GET /v1/action_plans/{uuid}/graph`: the SVG of a 4-action plan beside
//! its inverse parses as SVG and names every action; DOT links each action
//! to its inverse; a dry run draws without storing.

use rollback_tests::plans::maintenance4;
use rollback_tests::{plugins_dir_with, Server};
use serde_json::{json, Value};
use std::collections::BTreeSet;

fn server() -> (Server, tempfile::TempDir) {
    let dir = plugins_dir_with(&[]);
    (Server::start(&["--sleep-scale", "0.01", "--plugins-dir", dir.path().to_str().unwrap()]), dir)
}

fn executed(s: &Server) -> String {
    let plan = s.create_plan(maintenance4())["uuid"].as_str().unwrap().to_string();
    assert_eq!(s.call("POST", &format!("/v1/action_plans/{plan}/start"), &[], None).status, 200);
    s.wait_for_plan(&plan, &["SUCCEEDED"]);
    plan
}

fn actions(s: &Server, plan: &str) -> Vec<Value> {
    s.get15(&format!("/v1/actions/detail?action_plan_uuid={plan}"), &[]).json()["actions"]
        .as_array()
        .unwrap()
        .clone()
}

/// The `data-uuid` of every drawn action, and all the SVG's text.
fn drawn(svg: &str) -> (BTreeSet<String>, String) {
    let doc = roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("not XML ({e}): {svg}"));
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "svg");
    assert_eq!(root.tag_name().namespace(), Some("http://www.w3.org/2000/svg"));
    let uuids = root.descendants().filter_map(|n| n.attribute("data-uuid")).map(str::to_string).collect();
    let text =
        root.descendants().filter(|n| n.is_text()).filter_map(|n| n.text()).collect::<Vec<_>>().join(" ");
    (uuids, text)
}

#[test]
fn svg_of_a_plan_and_its_rollback_names_every_action() {
    let (s, _d) = server();
    let plan = executed(&s);
    let rb = s
        .send_json("POST", &format!("/v1/action_plans/{plan}/rollback"), &json!({"auto_start": true}))
        .json();
    let rb_uuid = rb["uuid"].as_str().unwrap().to_string();
    s.wait_for_plan(&rb_uuid, &["SUCCEEDED"]);
    let all: Vec<Value> = actions(&s, &plan).into_iter().chain(actions(&s, &rb_uuid)).collect();
    assert_eq!(all.len(), 8);
    let want: BTreeSet<String> = all.iter().map(|a| a["uuid"].as_str().unwrap().to_string()).collect();

    // Asked from either side, the same pair is drawn.
    for of in [&plan, &rb_uuid] {
        let r = s.call("GET", &format!("/v1/action_plans/{of}/graph"), &[], None);
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.header("content-type"), Some("image/svg+xml"));
        let (uuids, text) = drawn(&r.body);
        assert_eq!(uuids, want, "every action of both plans is drawn once");
        for a in &all {
            let short = &a["uuid"].as_str().unwrap()[..8];
            assert!(text.contains(short), "{short} is named in the picture");
            assert!(text.contains(a["action_type"].as_str().unwrap()));
        }
        assert!(text.contains("SUCCEEDED") && text.contains("compute-1"), "state and target are drawn");
    }

    let dot = s.call("GET", &format!("/v1/action_plans/{plan}/graph?format=dot"), &[], None);
    assert_eq!(dot.status, 200);
    assert!(dot.body.starts_with("digraph"));
    for a in actions(&s, &rb_uuid) {
        let link = format!(
            "\"{}\" -> \"{}\" [style=dashed",
            a["inverse_of"].as_str().unwrap(),
            a["uuid"].as_str().unwrap()
        );
        assert!(dot.body.contains(&link), "{link} in\n{}", dot.body);
    }
}

#[test]
fn dry_run_draws_the_rollback_to_be_without_storing_it() {
    let (s, _d) = server();
    let plan = executed(&s);
    let r = s.call("GET", &format!("/v1/action_plans/{plan}/graph?dry_run=true"), &[], None);
    assert_eq!(r.status, 200, "{}", r.body);
    let (uuids, text) = drawn(&r.body);
    assert_eq!(uuids.len(), 8, "4 actions and their 4 inverses");
    assert!(text.contains("PENDING") && text.contains("dry-run"), "{text}");
    assert_eq!(s.get_json(&format!("/v1/action_plans/{plan}"))["rolled_back_by"], Value::Null);
    // Without dry_run, a plan not rolled back is drawn alone.
    let (alone, _) = drawn(&s.call("GET", &format!("/v1/action_plans/{plan}/graph"), &[], None).body);
    assert_eq!(alone.len(), 4);
}

#[test]
fn bad_format_and_unknown_plan_are_clear_errors() {
    let (s, _d) = server();
    let plan = s.create_plan(maintenance4())["uuid"].as_str().unwrap().to_string();
    let r = s.call("GET", &format!("/v1/action_plans/{plan}/graph?format=png"), &[], None);
    assert_eq!(r.status, 400);
    assert!(r.fault().contains("svg or dot"), "{}", r.fault());
    let r = s.call("GET", &format!("/v1/action_plans/{plan}/graph?dry_run=maybe"), &[], None);
    assert_eq!(r.status, 400);
    assert!(r.fault().contains("true or false"), "{}", r.fault());
    let r = s.call("GET", "/v1/action_plans/4cbc4ede-0d25-481b-b86e-998dbbd4f8bf/graph", &[], None);
    assert_eq!(r.status, 404);
    // A dry run of a plan that has not run is refused with the reason.
    let r = s.call("GET", &format!("/v1/action_plans/{plan}/graph?dry_run=true"), &[], None);
    assert_eq!(r.status, 400, "{}", r.body);
}

/// Regression: the SVG cap counted actions, not edges: 400 actions with
/// 79,800 parent links were laid out (busy threads piling up). Too many
/// links is refused at once, and DOT still draws it.
#[test]
fn too_many_parent_links_are_refused_for_svg() {
    let (s, _d) = server();
    let n = 80; // 3,160 links: under the action cap, over the link cap
    let actions: Vec<Value> = (0..n)
        .map(|i| json!({"action_type": "nop", "input_parameters": {"message": "x"}, "parents": (0..i).collect::<Vec<_>>()}))
        .collect();
    let plan = s.create_plan(json!({"actions": actions}))["uuid"].as_str().unwrap().to_string();
    let started = std::time::Instant::now();
    let r = s.call("GET", &format!("/v1/action_plans/{plan}/graph"), &[], None);
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.fault().contains("parent links are too many"), "{}", r.fault());
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let r = s.call("GET", &format!("/v1/action_plans/{plan}/graph?format=dot"), &[], None);
    assert_eq!(r.status, 200);
}
