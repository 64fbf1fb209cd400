//! The CLI client end to end against a real server: create → start --wait
//! → rollback --dry-run → rollback --start --wait, every `--json` form
//! parses, and the documented exit codes (1 server error with its
//! faultstring, 2 usage, 3 plan not SUCCEEDED, 4 unreachable).

use rollback_tests::plans::{maintenance4, WEB1, WEB2};
use rollback_tests::{plugins_dir_with, run_cli, Output, Server};
use serde_json::{json, Value};

fn server() -> (Server, tempfile::TempDir) {
    let dir = plugins_dir_with(&[]);
    (Server::start(&["--sleep-scale", "0.01", "--plugins-dir", dir.path().to_str().unwrap()]), dir)
}

/// `rollback-host ARGS --url BASE`.
fn cli(s: &Server, args: &[&str]) -> Output {
    let mut all: Vec<&str> = args.to_vec();
    all.extend_from_slice(&["--url", &s.base]);
    run_cli(&all, None)
}

/// `cli` with `--json`, expecting exit `code` and JSON on stdout.
fn cli_json(s: &Server, args: &[&str], code: i32) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = cli(s, &all);
    assert_eq!(out.code, Some(code), "{args:?}: {out:?}");
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{args:?} --json is not JSON ({e}): {}", out.stdout))
}

fn plan_file(dir: &tempfile::TempDir, plan: &Value) -> String {
    let path = dir.path().join("plan.json");
    std::fs::write(&path, plan.to_string()).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn create_start_wait_dry_run_then_rollback_start_wait_restores_the_cloud() {
    let (s, dir) = server();
    let before = s.get_json("/v1/cloud");
    let file = plan_file(&dir, &maintenance4());

    // Human output first: a table naming the new plan.
    let out = cli(&s, &["plan", "create", "-f", &file]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout.contains("RECOMMENDED") && out.stdout.contains("change_node_power_state"),
        "{}",
        out.stdout
    );
    let created = cli_json(&s, &["plan", "create", "-f", &file], 0);
    let plan = created["uuid"].as_str().unwrap().to_string();
    assert_eq!(created["state"], "RECOMMENDED");

    let done = cli_json(&s, &["plan", "start", &plan, "--wait"], 0);
    assert_eq!(done["state"], "SUCCEEDED");
    assert_ne!(s.get_json("/v1/cloud"), before, "the plan changed the cloud");

    let dry = cli_json(&s, &["plan", "rollback", &plan, "--dry-run"], 0);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["actions"].as_array().unwrap().len(), 4, "{dry}");
    let out = cli(&s, &["plan", "rollback", &plan, "--dry-run"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("Dry run") && out.stdout.contains("migrate"), "{}", out.stdout);
    assert_eq!(
        s.get_json(&format!("/v1/action_plans/{plan}"))["rolled_back_by"],
        Value::Null,
        "a dry run stores nothing"
    );

    let out = cli(&s, &["plan", "rollback", &plan, "--start", "--wait"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("SUCCEEDED in") && out.stderr.contains("4 succeeded"), "{}", out.stderr);
    assert_eq!(s.get_json("/v1/cloud"), before, "the rollback put the cloud back");

    // Every other --json form parses and says what the API says.
    let listed = cli_json(&s, &["plan", "list"], 0);
    let plans = listed["action_plans"].as_array().unwrap();
    assert_eq!(plans.len(), 3);
    let rb = plans.iter().find(|p| p["rollback_of"] == plan.as_str()).expect("the rollback plan is listed");
    let shown = cli_json(&s, &["plan", "show", &plan], 0);
    assert_eq!(shown["rolled_back_by"], rb["uuid"]);
    assert_eq!(shown["actions"].as_array().unwrap().len(), 4);
    let actions = cli_json(&s, &["action", "list", "--plan", rb["uuid"].as_str().unwrap()], 0);
    let inverse_of: Vec<&Value> =
        actions["actions"].as_array().unwrap().iter().map(|a| &a["inverse_of"]).collect();
    assert!(inverse_of.iter().all(|u| u.is_string()), "each inverse names its original: {actions}");
    let one = actions["actions"][0]["uuid"].as_str().unwrap();
    assert_eq!(cli_json(&s, &["action", "show", one], 0)["uuid"], one);
    let plugins = cli_json(&s, &["plugin", "list"], 0);
    assert!(plugins["plugins"].as_array().unwrap().iter().any(|p| p["action_type"] == "migrate"));
    let cloud = cli_json(&s, &["cloud", "show"], 0);
    assert_eq!(cloud, before);
    let out = cli(&s, &["cloud", "show"]);
    assert!(out.stdout.contains("compute_services") && out.stdout.contains("web-1"), "{}", out.stdout);
}

#[test]
fn wait_reports_failures_as_they_happen_and_exits_3() {
    let (s, dir) = server();
    let failing = json!({"actions": [
        {"action_type": "migrate", "input_parameters": {"resource_id": WEB1, "migration_type": "live", "source_node": "compute-1", "destination_node": "compute-4"}, "parents": []}
    ]});
    let file = plan_file(&dir, &failing);
    let plan = cli_json(&s, &["plan", "create", "-f", &file], 0)["uuid"].as_str().unwrap().to_string();
    let out = cli(&s, &["plan", "start", &plan, "--wait"]);
    assert_eq!(out.code, Some(3), "{out:?}");
    assert!(out.stderr.contains("FAILED migrate") && out.stderr.contains(WEB1), "{}", out.stderr);
    assert!(out.stderr.contains("FAILED in"), "{}", out.stderr);
}

#[test]
fn server_errors_print_the_faultstring_and_exit_1() {
    let (s, dir) = server();
    let file = plan_file(&dir, &maintenance4());
    let plan = cli_json(&s, &["plan", "create", "-f", &file], 0)["uuid"].as_str().unwrap().to_string();
    // Not finished: the service refuses the rollback.
    let out = cli(&s, &["plan", "rollback", &plan]);
    assert_eq!(out.code, Some(1), "{out:?}");
    let line = out.stderr.lines().find(|l| l.starts_with("error: ")).expect("one error line");
    assert!(line.contains(&plan) && line.contains("RECOMMENDED") && !line.contains("faultstring"), "{line}");
    assert!(line.contains("(HTTP 400, request req-"), "the request id leads to the service's log: {line}");
    // Unknown plan: 404's faultstring.
    let out = cli(&s, &["plan", "show", "4cbc4ede-0d25-481b-b86e-998dbbd4f8bf"]);
    assert_eq!(out.code, Some(1), "{out:?}");
    assert!(out.stderr.contains("404"), "{}", out.stderr);
}

#[test]
fn usage_errors_exit_2_and_unreachable_exits_4() {
    let (s, dir) = server();
    let out = cli(&s, &["plan", "show", "not-a-uuid"]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("not a UUID"), "{}", out.stderr);
    let out = cli(&s, &["plan", "create", "-f", "/nonexistent/plan.json"]);
    assert_eq!(out.code, Some(2), "{out:?}");
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{\"actions\": [").unwrap();
    let out = cli(&s, &["plan", "create", "-f", garbage.to_str().unwrap()]);
    assert_eq!(out.code, Some(2), "{out:?}");
    assert!(out.stderr.contains("is not JSON"), "{}", out.stderr);
    assert_eq!(s.get_json("/v1/action_plans")["action_plans"], json!([]), "nothing was created");
    let out = run_cli(&["plan", "rollback", "x", "--wait"], None);
    assert_eq!(out.code, Some(2), "--wait needs --start: {out:?}");
    // Nothing listens on port 9 of loopback.
    let out = run_cli(&["plan", "list", "--url", "http://127.0.0.1:9"], None);
    assert_eq!(out.code, Some(4), "{out:?}");
    assert!(out.stderr.contains("cannot reach http://127.0.0.1:9"), "{}", out.stderr);
}

#[test]
fn graph_is_written_to_a_file() {
    let (s, dir) = server();
    let file = plan_file(&dir, &maintenance4());
    let plan = cli_json(&s, &["plan", "create", "-f", &file], 0)["uuid"].as_str().unwrap().to_string();
    let svg = dir.path().join("plan.svg");
    let out = cli(&s, &["plan", "graph", &plan, "-o", svg.to_str().unwrap()]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(std::fs::read_to_string(&svg).unwrap().contains("<svg"));
    let dot = dir.path().join("plan.dot");
    assert_eq!(cli(&s, &["plan", "graph", &plan, "-o", dot.to_str().unwrap()]).code, Some(0));
    assert!(std::fs::read_to_string(&dot).unwrap().starts_with("digraph"));
}

#[test]
fn plugins_are_added_and_removed_over_the_api() {
    let (s, _dir) = server();
    let example = rollback_tests::example_plugin("snapshot_instance");
    let out = cli(&s, &["plugin", "add", example.to_str().unwrap()]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let listed = cli_json(&s, &["plugin", "list"], 0);
    assert!(
        listed["plugins"].as_array().unwrap().iter().any(|p| p["action_type"] == "snapshot_instance"),
        "{listed}"
    );
    assert_eq!(cli(&s, &["plugin", "remove", "snapshot_instance"]).code, Some(0));
    let listed = cli_json(&s, &["plugin", "list"], 0);
    assert!(!listed["plugins"].as_array().unwrap().iter().any(|p| p["action_type"] == "snapshot_instance"));
}

#[test]
fn completions_and_man_page_come_from_the_clap_definitions() {
    let out = run_cli(&["completions", "bash"], None);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("rollback-host") && out.stdout.contains("rollback"), "{}", out.stdout);
    let out = run_cli(&["man"], None);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(
        out.stdout.contains(".TH rollback-host") && out.stdout.contains("rollback\\-host\\-plan"),
        "{}",
        &out.stdout[..400]
    );
}

#[test]
fn wait_prints_each_skipped_action_with_its_reason() {
    let (s, dir) = server();
    let file = plan_file(&dir, &maintenance4());
    let plan = cli_json(&s, &["plan", "create", "-f", &file], 0)["uuid"].as_str().unwrap().to_string();
    assert_eq!(cli_json(&s, &["plan", "start", &plan, "--wait"], 0)["state"], "SUCCEEDED");
    // Someone moves web-2 on after the plan: its way back is skipped.
    let mut cloud = s.get_json("/v1/cloud");
    cloud["instances"][WEB2]["host"] = json!("compute-4");
    assert_eq!(s.send_json("PUT", "/v1/cloud", &cloud).status, 200);
    let out = cli(&s, &["plan", "rollback", &plan, "--start", "--wait"]);
    assert_eq!(out.code, Some(0), "skipped actions do not fail the plan: {out:?}");
    let skipped = out
        .stderr
        .lines()
        .find(|l| l.starts_with("SKIPPED migrate"))
        .unwrap_or_else(|| panic!("{}", out.stderr));
    assert!(skipped.contains(WEB2) && skipped.contains("compute-4"), "{skipped}");
    assert!(out.stderr.contains("1 skipped"), "{}", out.stderr);
}

/// On real services the rollback's first action (re-enabling the host)
/// ended between two looks and the log of `--wait` never named it: each
/// action's end is a line, in the order they ended.
#[test]
fn wait_logs_every_action_that_ended_even_between_two_looks() {
    let (s, dir) = server();
    let file = plan_file(&dir, &maintenance4());
    let plan = cli_json(&s, &["plan", "create", "-f", &file], 0)["uuid"].as_str().unwrap().to_string();
    let out = cli(&s, &["plan", "start", &plan, "--wait"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let done: Vec<&str> = out.stderr.lines().filter(|l| l.starts_with("done: ")).collect();
    let actions =
        s.get_json(&format!("/v1/actions?action_plan_uuid={plan}"))["actions"].as_array().unwrap().len();
    assert_eq!(done.len(), actions, "one line per action: {}", out.stderr);
    assert!(done.iter().all(|l| l.ends_with(" SUCCEEDED")), "{done:?}");
    assert!(done.iter().any(|l| l.starts_with("done: change_node_power_state ")), "{done:?}");
}

/// Watcher 9's plan as written named hosts by compute node uuid, this
/// service knew only names: every action SKIPPED, the plan SUCCEEDED and
/// `--wait` exited 0. Now the plan says nothing was done and `--wait`
/// exits 3.
#[test]
fn a_plan_whose_every_action_was_skipped_says_nothing_was_done_and_exits_3() {
    let (s, dir) = server();
    let skipped = json!({"actions": [
        {"action_type": "migrate", "input_parameters": {"resource_id": "00000000-0000-4000-8000-000000000000", "migration_type": "live", "source_node": "compute-9"}, "parents": []},
        {"action_type": "migrate", "input_parameters": {"resource_id": WEB1, "migration_type": "live", "source_node": "compute-9"}, "parents": [0]}
    ]});
    let file = plan_file(&dir, &skipped);
    let plan = cli_json(&s, &["plan", "create", "-f", &file], 0)["uuid"].as_str().unwrap().to_string();
    let out = cli(&s, &["plan", "start", &plan, "--wait"]);
    assert_eq!(out.code, Some(3), "{out:?}");
    assert!(out.stderr.contains("Nothing was done: every action was SKIPPED (2 of 2)"), "{}", out.stderr);
    let p = s.get_json(&format!("/v1/action_plans/{plan}"));
    assert_eq!(p["state"], "SUCCEEDED", "Watcher's state: a skip does not fail a plan");
}
