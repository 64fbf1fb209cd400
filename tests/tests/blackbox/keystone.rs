//! `--auth keystone` against a real Keystone (Debian's package on SQLite,
//! started by `scripts/keystone.sh`; `make test-keystone` runs these with
//! `ROLLBACK_KEYSTONE_ENV` naming its env file). Ignored in a plain
//! `cargo test`, which has no Keystone.

use crate::auth::{check_matrix_with, default_allows, with_token};
use rollback_tests::{repo_root, Server};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

struct Keystone {
    url: String,
    password: String,
    watcher_service: String,
}

fn keystone() -> Keystone {
    let path = std::env::var("ROLLBACK_KEYSTONE_ENV")
        .expect("ROLLBACK_KEYSTONE_ENV: run these through `make test-keystone`, which starts Keystone");
    let text = std::fs::read_to_string(&path).unwrap();
    let env: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
    Keystone {
        url: env["KEYSTONE_URL"].to_string(),
        password: env["KEYSTONE_PASSWORD"].to_string(),
        watcher_service: env["KEYSTONE_WATCHER_SERVICE_ID"].to_string(),
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// A project-scoped token for `user`, and when it expires.
fn token(k: &Keystone, user: &str) -> (String, chrono::DateTime<chrono::Utc>) {
    let body = json!({"auth": {
        "identity": {"methods": ["password"], "password": {"user": {
            "name": user, "domain": {"id": "default"}, "password": k.password}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}});
    let mut r = agent()
        .post(format!("{}/v3/auth/tokens", k.url))
        .header("Content-Type", "application/json")
        .send(body.to_string())
        .unwrap();
    assert_eq!(r.status().as_u16(), 201, "login as {user}");
    let tok = r.headers().get("X-Subject-Token").unwrap().to_str().unwrap().to_string();
    let v: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(v["token"]["expires_at"].as_str().unwrap()).unwrap();
    (tok, expires.with_timezone(&chrono::Utc))
}

fn server(k: &Keystone, cache_s: u64) -> Server {
    let s = Server::start(&[
        "--auth",
        "keystone",
        "--keystone-url",
        &format!("{}/v3", k.url),
        "--keystone-username",
        "rollback",
        "--keystone-password",
        &k.password,
        "--keystone-project",
        "service",
        "--token-cache-seconds",
        &cache_s.to_string(),
        "--sleep-scale",
        "0.001",
    ]);
    assert!(s.wait_for_log("auth: keystone"), "{}", s.log());
    s
}

#[test]
#[ignore = "needs a real Keystone: make test-keystone"]
fn keystone_tokens_are_checked_on_every_route_by_role() {
    let k = keystone();
    let s = server(&k, 60);
    let tokens: Vec<(&str, String)> = ["reader", "member", "admin", "observer"]
        .iter()
        .map(|role| (*role, token(&k, &format!("rb-{role}")).0))
        .collect();
    let admin = &tokens[2].1;
    let r = s.call(
        "POST",
        "/v1/action_plans",
        &[("X-Auth-Token", admin), ("Content-Type", "application/json")],
        Some(br#"{"actions": []}"#),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let plan = r.json()["uuid"].as_str().unwrap().to_string();
    let unauth = with_token(&s, "GET", "/v1/action_plans", None);
    assert_eq!(unauth.header("www-authenticate"), Some(format!("Keystone uri=\"{}\"", k.url).as_str()));
    let pairs: Vec<(&str, &str)> = tokens.iter().map(|(r, t)| (*r, t.as_str())).collect();
    let matrix = check_matrix_with(&s, &plan, &pairs, default_allows);
    println!("route x role (keystone, default policy):\n{}", matrix.join("\n"));
    assert!(!s.log().contains(admin.as_str()), "a token reached the log");
}

#[test]
#[ignore = "needs a real Keystone: make test-keystone"]
fn revoked_tokens_stop_within_the_cache_time_and_expired_ones_at_expiry() {
    let k = keystone();
    // Revocation: trusted for at most the cache time (2 s here).
    let s = server(&k, 2);
    let (tok, expires) = token(&k, "rb-reader");
    assert_eq!(with_token(&s, "GET", "/v1/actions", Some(&tok)).status, 200);
    let (service, _) = token(&k, "rb-admin");
    let r = agent()
        .delete(format!("{}/v3/auth/tokens", k.url))
        .header("X-Auth-Token", &service)
        .header("X-Subject-Token", &tok)
        .call()
        .unwrap();
    assert_eq!(r.status().as_u16(), 204, "revoke");
    let revoked_at = Instant::now();
    while with_token(&s, "GET", "/v1/actions", Some(&tok)).status == 200 {
        assert!(revoked_at.elapsed() < Duration::from_secs(4), "a revoked token still works after 4 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    println!("revoked token refused after {:?} (cache time 2 s)", revoked_at.elapsed());
    assert_eq!(with_token(&s, "GET", "/v1/actions", Some(&tok)).status, 401);

    // Expiry: honoured even when the cache time is longer than the token's life.
    let long = server(&k, 3600);
    let (tok, expires2) = token(&k, "rb-reader");
    assert_eq!(with_token(&long, "GET", "/v1/actions", Some(&tok)).status, 200);
    let wait = (expires2 - chrono::Utc::now()).to_std().unwrap_or_default() + Duration::from_secs(1);
    assert!(wait < Duration::from_secs(120), "token lifetime too long for this test: {expires}");
    std::thread::sleep(wait);
    let r = with_token(&long, "GET", "/v1/actions", Some(&tok));
    assert_eq!(r.status, 401, "an expired token must not be served from the cache: {}", r.body);
}

/// The real `watcher` CLI, authenticating with Keystone and finding the
/// service in the catalog (no endpoint override).
#[test]
#[ignore = "needs a real Keystone: make test-keystone"]
fn the_watcher_cli_lists_and_starts_plans_through_keystone() {
    let k = keystone();
    let s = server(&k, 60);
    let (admin, _) = token(&k, "rb-admin");
    // Point the catalog's infra-optim endpoints at this server.
    let mut r = agent()
        .get(format!("{}/v3/endpoints?service_id={}", k.url, k.watcher_service))
        .header("X-Auth-Token", &admin)
        .call()
        .unwrap();
    let old: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
    for e in old["endpoints"].as_array().unwrap() {
        let id = e["id"].as_str().unwrap();
        agent().delete(format!("{}/v3/endpoints/{id}", k.url)).header("X-Auth-Token", &admin).call().unwrap();
    }
    for interface in ["public", "internal", "admin"] {
        let body = json!({"endpoint": {"service_id": k.watcher_service, "interface": interface,
            "url": s.base, "region_id": "RegionOne"}});
        let r = agent()
            .post(format!("{}/v3/endpoints", k.url))
            .header("X-Auth-Token", &admin)
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .unwrap();
        assert_eq!(r.status().as_u16(), 201);
    }
    let h = [("X-Auth-Token", admin.as_str()), ("Content-Type", "application/json")];
    let body =
        json!({"actions": [{"action_type": "nop", "input_parameters": {"message": "hi"}}]}).to_string();
    let plan = s.call("POST", "/v1/action_plans", &h, Some(body.as_bytes())).json()["uuid"]
        .as_str()
        .unwrap()
        .to_string();

    let watcher = |user: &str, args: &[&str]| {
        let out = Command::new(repo_root().join("target/venv/bin/watcher"))
            .args(["--os-auth-url", &format!("{}/v3", k.url), "--os-username", user])
            .args(["--os-password", &k.password, "--os-project-name", "admin"])
            .args(["--os-user-domain-id", "default", "--os-project-domain-id", "default"])
            .args(["--os-identity-api-version", "3"])
            .args(args)
            .env_remove("OS_ENDPOINT_OVERRIDE")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = watcher("rb-reader", &["actionplan", "list", "-f", "json"]);
    assert_eq!(code, Some(0), "{err}");
    let listed: Value = serde_json::from_str(&out).unwrap();
    assert!(listed.as_array().unwrap().iter().any(|p| p["UUID"] == plan.as_str()), "{out}");

    // Our CLI finds the service in the same catalog when no --url is given.
    let out = our_cli(&k, "rb-reader", &k.password, &["plan", "list", "--json"]);
    assert_eq!(out.code, Some(0), "{out:?}");
    assert!(out.stdout.contains(&plan), "{}", out.stdout);

    let (code, _, err) = watcher("rb-reader", &["actionplan", "start", &plan]);
    assert_ne!(code, Some(0));
    assert!(err.contains("Policy doesn't allow action_plan:start to be performed."), "{err}");

    let (code, _, err) = watcher("rb-admin", &["actionplan", "start", &plan]);
    assert_eq!(code, Some(0), "{err}");
    let h = [("X-Auth-Token", admin.as_str())];
    let until = Instant::now() + Duration::from_secs(20);
    loop {
        let p = s.call("GET", &format!("/v1/action_plans/{plan}"), &h, None).json();
        if p["state"] == "SUCCEEDED" {
            break;
        }
        assert!(Instant::now() < until, "{p}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `rollback-host ARGS` logging in as `user` from `OS_*` variables, the
/// way an `openrc` file sets them.
fn our_cli(k: &Keystone, user: &str, password: &str, args: &[&str]) -> rollback_tests::Output {
    let out = Command::new(rollback_tests::host_bin())
        .args(args)
        .env("OS_AUTH_URL", format!("{}/v3", k.url))
        .env("OS_USERNAME", user)
        .env("OS_PASSWORD", password)
        .env("OS_PROJECT_NAME", "admin")
        .env("OS_USER_DOMAIN_ID", "default")
        .env("OS_PROJECT_DOMAIN_ID", "default")
        .env_remove("OS_TOKEN")
        .env_remove("OS_CLOUD")
        .env_remove("ROLLBACK_URL")
        .output()
        .unwrap();
    rollback_tests::Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Our CLI logs in like the `openstack` CLI: `OS_*` variables or a
/// clouds.yaml cloud, then the policy applies to what it asks.
#[test]
#[ignore = "needs a real Keystone: make test-keystone"]
fn the_cli_logs_in_with_os_variables_or_clouds_yaml() {
    let k = keystone();
    let s = server(&k, 60);
    let (admin, _) = token(&k, "rb-admin");
    let h = [("X-Auth-Token", admin.as_str()), ("Content-Type", "application/json")];
    let body =
        json!({"actions": [{"action_type": "nop", "input_parameters": {"message": "hi"}}]}).to_string();
    let plan = s.call("POST", "/v1/action_plans", &h, Some(body.as_bytes())).json()["uuid"]
        .as_str()
        .unwrap()
        .to_string();

    let out = our_cli(&k, "rb-reader", &k.password, &["plan", "list", "--json", "--url", &s.base]);
    assert_eq!(out.code, Some(0), "{out:?}");
    let listed: Value = serde_json::from_str(&out.stdout).unwrap();
    assert!(
        listed["action_plans"].as_array().unwrap().iter().any(|p| p["uuid"] == plan.as_str()),
        "{listed}"
    );

    let out = our_cli(&k, "rb-reader", &k.password, &["plan", "start", &plan, "--url", &s.base]);
    assert_eq!(out.code, Some(1), "a reader may not start: {out:?}");
    assert!(out.stderr.contains("Policy doesn't allow action_plan:start to be performed."), "{}", out.stderr);

    let out = our_cli(&k, "rb-admin", &k.password, &["plan", "start", &plan, "--wait", "--url", &s.base]);
    assert_eq!(out.code, Some(0), "{out:?}");

    let out = our_cli(&k, "rb-reader", "wrong-password", &["plan", "list", "--url", &s.base]);
    assert_eq!(out.code, Some(4), "{out:?}");
    assert!(
        out.stderr.contains("Keystone login as rb-reader") && out.stderr.contains("HTTP 401"),
        "{}",
        out.stderr
    );

    // The same login from a clouds.yaml cloud.
    let dir = tempfile::tempdir().unwrap();
    let clouds = dir.path().join("clouds.yaml");
    std::fs::write(
        &clouds,
        format!(
            "clouds:\n  test:\n    auth:\n      auth_url: {}\n      username: rb-reader\n      password: {}\n      \
             project_name: admin\n      user_domain_name: Default\n      project_domain_id: default\n",
            k.url, k.password
        ),
    )
    .unwrap();
    let out = Command::new(rollback_tests::host_bin())
        .args(["plan", "show", &plan, "--json", "--os-cloud", "test", "--url", &s.base])
        .env("OS_CLIENT_CONFIG_FILE", &clouds)
        .env_remove("OS_AUTH_URL")
        .env_remove("OS_TOKEN")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["state"], "SUCCEEDED");
}
