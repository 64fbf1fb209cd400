//! Several instances on one MySQL/MariaDB store (`make test-mysql`, which
//! starts MariaDB with scripts/mariadb.sh and runs these with `--ignored`):
//! one-time steps happen once whichever instances the requests reach; a
//! started plan runs on one instance, and another takes it over when that one
//! is killed; uploads and cancellations reach every instance; `store copy`
//! moves a store between sled and MySQL and back.

use rollback_tests::plans::{act, maintenance, WEB1};
use rollback_tests::{plugin, plugins_dir_with, run_cli, Server};
use serde_json::json;
use std::time::{Duration, Instant};

const NEEDS: &str = "needs ROLLBACK_TEST_STORE_MYSQL (make test-mysql)";

/// `n` instances on one new database, each with its own data directory, the
/// built-in inverters and fast sleeps.
fn instances(n: usize, extra: &[&str]) -> (Vec<Server>, String, tempfile::TempDir) {
    let server = std::env::var("ROLLBACK_TEST_STORE_MYSQL").expect(NEEDS);
    let url = rollback_tests::new_database(&server);
    let dir = plugins_dir_with(&[]);
    let mut args = vec!["--plugins-dir", dir.path().to_str().unwrap()];
    if !extra.contains(&"--sleep-scale") {
        args.extend(["--sleep-scale", "0.001"]);
    }
    args.extend_from_slice(extra);
    let servers = (0..n).map(|_| Server::start_env(&args, &[("ROLLBACK_STORE", &url)])).collect();
    (servers, url, dir)
}

fn start(s: &Server, plan: &str) -> u16 {
    s.call("POST", &format!("/v1/action_plans/{plan}/start"), &[], None).status
}

/// Sends the same request from 32 threads, spread over the instances.
fn at_once(servers: &[Server], method: &str, path: &str) -> Vec<rollback_tests::Resp> {
    let barrier = std::sync::Barrier::new(32);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..32)
            .map(|i| {
                let (s, barrier) = (&servers[i % servers.len()], &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    s.call(method, path, &[("OpenStack-API-Version", "infra-optim 1.5")], None)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    })
}

fn statuses(answers: &[rollback_tests::Resp]) -> Vec<u16> {
    answers.iter().map(|r| r.status).collect()
}

#[test]
#[ignore = "needs MySQL: make test-mysql"]
fn one_start_and_one_rollback_from_32_requests_over_three_instances() {
    let (servers, _, _dir) = instances(3, &[]);
    let plan =
        servers[0].create_plan(json!({"actions": maintenance()}))["uuid"].as_str().unwrap().to_string();
    let starts = at_once(&servers, "POST", &format!("/v1/action_plans/{plan}/start"));
    assert_eq!(starts.iter().filter(|r| r.status == 200).count(), 1, "{:?}", statuses(&starts));
    let done = servers[1].wait_for_plan(&plan, &["SUCCEEDED", "FAILED"]);
    assert_eq!(done["state"], "SUCCEEDED", "{done}");

    let rollbacks = at_once(&servers, "POST", &format!("/v1/action_plans/{plan}/rollback"));
    let won: Vec<_> = rollbacks.iter().filter(|r| r.status == 200).collect();
    assert_eq!(won.len(), 1, "{:?}", statuses(&rollbacks));
    let winner = won[0].json()["uuid"].as_str().unwrap().to_string();
    for r in rollbacks.iter().filter(|r| r.status != 200) {
        assert_eq!(r.status, 400, "{}", r.body);
        assert!(r.fault().contains(&format!("already rolled back by action plan {winner}")), "{}", r.fault());
    }
    let all = servers[2].get15("/v1/action_plans?limit=100", &[]).json();
    assert_eq!(all["action_plans"].as_array().unwrap().len(), 2, "one rollback plan stored: {all}");
}

/// A plan running on one instance, that instance killed (SIGKILL): another
/// takes the plan over once its lease lapses and settles it as recovery
/// does; the cloud change made before the kill is kept.
#[test]
#[ignore = "needs MySQL: make test-mysql"]
fn a_plan_whose_instance_is_killed_is_settled_by_another() {
    let (mut servers, _, _dir) = instances(2, &["--plan-lease-s", "1", "--sleep-scale", "1"]);
    let plan = servers[0].create_plan(json!({"actions": [
        act("change_nova_service_state", json!({"resource_id": "compute-2", "state": "disabled"}), &[]),
        act("sleep", json!({"duration": 60}), &[0]),
        act("stop", json!({"resource_id": WEB1}), &[1]),
    ]}))["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(start(&servers[0], &plan), 200);
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let a = servers[1].get15(&format!("/v1/actions/detail?action_plan_uuid={plan}"), &[]).json();
        if a["actions"][1]["state"] == "ONGOING" {
            break;
        }
        assert!(Instant::now() < until, "the sleep never started: {a}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = servers.remove(0);
    let at = Instant::now();
    drop(killed); // SIGKILL
    let p = servers[0].wait_for_plan(&plan, &["FAILED", "CANCELLED", "SUCCEEDED"]);
    let took = at.elapsed();
    assert_eq!(p["state"], "FAILED", "{p}");
    assert!(p["status_message"].as_str().unwrap().starts_with("Interrupted:"), "{p}");
    assert!(took < Duration::from_secs(5), "taken over in {took:?} with a 1 s lease");
    assert!(servers[0].log().contains("took over a running plan"), "{}", servers[0].log());
    let a = servers[0].get15(&format!("/v1/actions/detail?action_plan_uuid={plan}"), &[]).json();
    assert_eq!(a["actions"][0]["state"], "SUCCEEDED");
    assert_eq!(a["actions"][1]["state"], "FAILED");
    assert_eq!(a["actions"][2]["state"], "CANCELLED");
    let cloud = servers[0].get15("/v1/cloud", &[]).json();
    assert_eq!(cloud["compute_services"]["compute-2"]["state"], "disabled");
    eprintln!("takeover after kill -9: {took:?} (lease 1 s)");
}

/// Cancelling through another instance than the one running the plan stops it.
#[test]
#[ignore = "needs MySQL: make test-mysql"]
fn a_plan_cancelled_through_another_instance_stops() {
    let (servers, _, _dir) = instances(2, &["--plan-lease-s", "1", "--sleep-scale", "1"]);
    let plan = servers[0].create_plan(json!({"actions": [
        act("sleep", json!({"duration": 2}), &[]),
        act("stop", json!({"resource_id": WEB1}), &[0]),
    ]}))["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(start(&servers[0], &plan), 200);
    servers[0].wait_for_plan(&plan, &["ONGOING"]);
    let patch = json!([{"op": "replace", "path": "/state", "value": "CANCELLING"}]);
    let r = servers[1].send_json("PATCH", &format!("/v1/action_plans/{plan}"), &patch);
    assert_eq!(r.status, 200, "{}", r.body);
    let p = servers[1].wait_for_plan(&plan, &["CANCELLED", "SUCCEEDED", "FAILED"]);
    assert_eq!(p["state"], "CANCELLED", "{p}");
    let cloud = servers[1].get15("/v1/cloud", &[]).json();
    assert_eq!(cloud["instances"][WEB1]["status"], "ACTIVE", "the stop never ran");
}

/// An upload through one instance is active on the others within seconds,
/// with the same digest; a removal is gone from them too.
#[test]
#[ignore = "needs MySQL: make test-mysql"]
fn a_plugin_uploaded_or_removed_through_one_instance_follows_on_the_others() {
    let (servers, _, _dir) = instances(3, &[]);
    let bytes = std::fs::read(plugin("nop")).unwrap();
    let r = servers[0].call("PUT", "/v1/plugins/nop", &[("Content-Type", "application/wasm")], Some(&bytes));
    assert!(r.status == 200 || r.status == 201, "{}", r.body);
    let digest = r.json()["sha256"].as_str().unwrap().to_string();
    let at = Instant::now();
    for s in &servers[1..] {
        let until = Instant::now() + Duration::from_secs(15);
        loop {
            let p = s.get15("/v1/plugins/nop", &[]).json();
            if p["source"]["kind"] == "upload" && p["sha256"] == digest.as_str() {
                break;
            }
            assert!(Instant::now() < until, "never active: {p}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    eprintln!("upload active on every instance after {:?}", at.elapsed());
    assert_eq!(servers[1].call("DELETE", "/v1/plugins/nop", &[], None).status, 204);
    for s in [&servers[0], &servers[2]] {
        let until = Instant::now() + Duration::from_secs(15);
        while s.get15("/v1/plugins/nop", &[]).json()["source"]["kind"] == "upload" {
            assert!(Instant::now() < until, "the removal never reached {}", s.base);
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// A sled store copied into MySQL serves the same plans there, and copied
/// back into a new data directory, the same again.
#[test]
#[ignore = "needs MySQL: make test-mysql"]
fn store_copy_moves_a_store_from_sled_to_mysql_and_back() {
    let server = std::env::var("ROLLBACK_TEST_STORE_MYSQL").expect(NEEDS);
    let dir = plugins_dir_with(&[]);
    let args = ["--sleep-scale", "0.001", "--plugins-dir", dir.path().to_str().unwrap()];
    let sled = Server::start_env(&args, &[("ROLLBACK_STORE", "")]);
    let plan = sled.create_plan(json!({"actions": maintenance()}))["uuid"].as_str().unwrap().to_string();
    assert_eq!(start(&sled, &plan), 200);
    sled.wait_for_plan(&plan, &["SUCCEEDED"]);
    let bytes = std::fs::read(plugin("nop")).unwrap();
    sled.call("PUT", "/v1/plugins/nop", &[("Content-Type", "application/wasm")], Some(&bytes));
    // The listings, with the server's own address (in links) left out.
    let listing = |s: &Server, path: &str| s.get15(path, &[]).body.replace(&s.base, "BASE");
    let (plans, actions) = ("/v1/action_plans/detail?limit=100", "/v1/actions/detail?limit=1000");
    let (before, before_actions) = (listing(&sled, plans), listing(&sled, actions));
    let kept = tempfile::tempdir().unwrap();
    let copy = kept.path().join("from-sled");
    drop_and_keep(sled, &copy);

    let url = rollback_tests::new_database(&server);
    let out = run_cli(&["store", "copy", "--from", copy.to_str().unwrap(), "--to", &url], None);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("copied 1 plans, 9 actions"), "{out:?}");
    let my = Server::start_env(&args, &[("ROLLBACK_STORE", &url)]);
    assert_eq!(listing(&my, plans), before);
    assert_eq!(listing(&my, actions), before_actions);
    assert_eq!(my.get15("/v1/plugins/nop", &[]).json()["source"]["kind"], "upload");
    // Still a working store: the plan rolls back there.
    let r = my.call("POST", &format!("/v1/action_plans/{plan}/rollback"), &[], None);
    assert_eq!(r.status, 200, "{}", r.body);
    drop(my);

    let back = kept.path().join("back");
    let out = run_cli(&["store", "copy", "--from", &url, "--to", back.to_str().unwrap()], None);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains("copied 2 plans"), "{out:?}");
    // Into a store that is not empty: refused, nothing changed.
    let out = run_cli(&["store", "copy", "--from", copy.to_str().unwrap(), "--to", &url], None);
    assert_ne!(out.code, Some(0), "{out:?}");
    assert!(out.stderr.contains("not empty"), "{out:?}");
}

/// Kills `s` and moves its data directory to `to` (kept after the test).
fn drop_and_keep(s: Server, to: &std::path::Path) {
    let dir = s.stop_keeping_data();
    std::fs::rename(dir.path(), to).unwrap();
    let _ = dir.keep();
}
