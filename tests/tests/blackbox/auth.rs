//! Who may do what, over HTTP: `--auth tokens` with every guarded route ×
//! role, the policy file, and `--auth none`'s loopback-only rules (start-up
//! refusal, `Host` check, cross-site writes). Keystone itself is in
//! `keystone.rs`.

use rollback_tests::{host_bin, run_cli, Resp, Server};
use serde_json::json;
use std::io::Write;

const ADMIN: &str = "admin-token-0123456789";
const MEMBER: &str = "member-token-0123456789";
const READER: &str = "reader-token-0123456789";

fn hash(token: &str) -> String {
    let out = run_cli(&["token-hash"], Some(&format!("{token}\n")));
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    out.stdout.trim().to_string()
}

/// Every operation the server documents: (method, path, its policy rule
/// or `None` when open), from `GET /openapi.json` (`x-policy-rule`).
pub(crate) fn routes(s: &Server) -> Vec<(String, String, Option<String>)> {
    let doc = s.call("GET", "/openapi.json", &[], None).json();
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let rule = op.get("x-policy-rule").and_then(|r| r.as_str()).map(str::to_string);
            assert_eq!(op.get("security").is_some(), rule.is_some(), "{method} {path}: token iff a rule");
            out.push((method.to_ascii_uppercase(), path.clone(), rule));
        }
    }
    out
}

/// A tokens file for the three roles; the file never holds a token.
fn tokens_file() -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    writeln!(f, "tokens:").unwrap();
    for (name, token, role) in [("ops", ADMIN, "admin"), ("dev", MEMBER, "member"), ("ro", READER, "reader")]
    {
        writeln!(f, "  - name: {name}\n    sha256: {}\n    roles: [{role}]", hash(token)).unwrap();
    }
    let text = std::fs::read_to_string(f.path()).unwrap();
    assert!(!text.contains(ADMIN) && !text.contains(READER));
    f
}

pub(crate) fn with_token(s: &Server, method: &str, path: &str, token: Option<&str>) -> Resp {
    let mut h = vec![("OpenStack-API-Version", "infra-optim 1.5"), ("Content-Type", "application/json")];
    if let Some(t) = token {
        h.push(("X-Auth-Token", t));
    }
    let body: Option<&[u8]> = matches!(method, "POST" | "PUT" | "PATCH").then_some(b"{}");
    s.call(method, path, &h, body)
}

/// Default policy: reads for reader/member/admin, everything else admin;
/// any other role nothing.
pub(crate) fn default_allows(rule: &str, role: &str) -> bool {
    let read = rule.ends_with(":get") || rule.ends_with(":get_all") || rule.ends_with(":detail");
    role == "admin" || (read && matches!(role, "reader" | "member"))
}

fn check_matrix(s: &Server, plan: &str, allows: impl Fn(&str, &str) -> bool) -> Vec<String> {
    check_matrix_with(s, plan, &[("reader", READER), ("member", MEMBER), ("admin", ADMIN)], allows)
}

/// Every guarded route with every role and with no token: 401 without,
/// 403 naming the rule when the role is not enough, anything but 401/403
/// when it is. Returns the matrix as lines.
pub(crate) fn check_matrix_with(
    s: &Server,
    plan: &str,
    tokens: &[(&str, &str)],
    allows: impl Fn(&str, &str) -> bool,
) -> Vec<String> {
    let mut lines = Vec::new();
    for (method, route, rule) in routes(s) {
        let Some(rule) = rule else { continue };
        let rule = rule.as_str();
        let route = route.as_str();
        let path = route.replace("{uuid}", plan).replace("{action_type}", "no_such_type");
        let none = with_token(s, method.as_str(), &path, None);
        assert_eq!(none.status, 401, "{method} {path} without a token: {}", none.body);
        assert_eq!(none.fault(), "The request you have made requires authentication.");
        assert!(none.header("www-authenticate").is_some(), "{method} {path}: no WWW-Authenticate");
        let bad = with_token(s, method.as_str(), &path, Some("not-a-token"));
        assert_eq!(bad.status, 401, "{method} {path} with a wrong token");
        let mut row = format!("{:<6} {:<36} {:<22}", method.as_str(), route, rule);
        // Mutating routes last for admin, so reads see the plan first.
        for &(role, token) in tokens {
            let r = with_token(s, method.as_str(), &path, Some(token));
            if allows(rule, role) {
                assert!(
                    r.status != 401 && r.status != 403,
                    "{role} {method} {path}: {} {}",
                    r.status,
                    r.body
                );
                assert!(r.status < 500, "{role} {method} {path}: {} {}", r.status, r.body);
            } else {
                assert_eq!(r.status, 403, "{role} {method} {path}: {}", r.body);
                assert_eq!(r.fault(), format!("Policy doesn't allow {rule} to be performed."));
            }
            row.push_str(&format!(" {role}={}", r.status));
        }
        lines.push(row);
    }
    lines
}

#[test]
fn tokens_mode_guards_every_route_by_role() {
    let file = tokens_file();
    let s = Server::start(&["--auth", "tokens", "--tokens-file", file.path().to_str().unwrap()]);
    assert!(s.wait_for_log("auth: tokens"), "{}", s.log());
    // Open routes need nothing.
    for (_, path, _) in routes(&s).into_iter().filter(|(_, _, rule)| rule.is_none()) {
        let path = path.as_str();
        assert_eq!(with_token(&s, "GET", path, None).status, 200, "{path}");
    }
    let plan = {
        let h = [("X-Auth-Token", ADMIN), ("Content-Type", "application/json")];
        let r = s.call("POST", "/v1/action_plans", &h, Some(br#"{"actions": []}"#));
        assert_eq!(r.status, 201, "{}", r.body);
        r.json()["uuid"].as_str().unwrap().to_string()
    };
    let matrix = check_matrix(&s, &plan, default_allows);
    println!("route x role (tokens mode, default policy):\n{}", matrix.join("\n"));
    assert!(!s.log().contains(ADMIN) && !s.log().contains(MEMBER), "a token reached the log");
}

#[test]
fn a_policy_file_moves_rollback_to_members_and_nothing_else() {
    let file = tokens_file();
    let mut policy = tempfile::NamedTempFile::new().unwrap();
    writeln!(policy, "\"action_plan:rollback\": \"role:admin or role:member\"").unwrap();
    let s = Server::start(&[
        "--auth",
        "tokens",
        "--tokens-file",
        file.path().to_str().unwrap(),
        "--policy-file",
        policy.path().to_str().unwrap(),
    ]);
    let plan = uuid::Uuid::new_v4().to_string();
    check_matrix(&s, &plan, |rule, role| {
        default_allows(rule, role) || (rule == "action_plan:rollback" && role == "member")
    });
}

/// `serve` with `args` is expected to refuse to start, saying `needle`.
fn refuses_to_start(args: &[&str], needle: &str) {
    let data = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(host_bin())
        .arg("serve")
        .args(args)
        .env("ROLLBACK_DATA_DIR", data.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{args:?} started");
    assert!(stderr.contains(needle), "{args:?}: {stderr}");
}

#[test]
fn bad_auth_settings_refuse_to_start_and_say_why() {
    refuses_to_start(&["--listen", "0.0.0.0:0"], "--auth none serves loopback addresses only");
    refuses_to_start(&["--auth", "tokens"], "--auth tokens needs --tokens-file");
    refuses_to_start(&["--auth", "keystone"], "--auth keystone needs --keystone-url");
    let mut policy = tempfile::NamedTempFile::new().unwrap();
    writeln!(policy, "action_plan:rolback: role:member").unwrap();
    let path = policy.path().to_str().unwrap().to_string();
    refuses_to_start(
        &["--listen", "127.0.0.1:0", "--policy-file", &path],
        "unknown rule \"action_plan:rolback\"",
    );
    refuses_to_start(&["--listen", "127.0.0.1:0", "--policy-file", &path], &path);
    // Keystone unreachable: the service's own login fails at start.
    refuses_to_start(
        &[
            "--listen",
            "127.0.0.1:0",
            "--auth",
            "keystone",
            "--keystone-url",
            "http://127.0.0.1:9/v3",
            "--keystone-password",
            "x",
        ],
        "logging in to Keystone",
    );
}

#[test]
fn tokens_mode_may_listen_beyond_loopback() {
    let file = tokens_file();
    let mut s = Server::start(&[
        "--listen",
        "0.0.0.0:0",
        "--auth",
        "tokens",
        "--tokens-file",
        file.path().to_str().unwrap(),
    ]);
    assert!(s.base.starts_with("http://0.0.0.0:"), "{}", s.base);
    s.base = s.base.replace("0.0.0.0", "127.0.0.1");
    assert_eq!(with_token(&s, "GET", "/v1/action_plans", Some(READER)).status, 200);
    assert_eq!(with_token(&s, "GET", "/v1/action_plans", None).status, 401);
}

#[test]
fn without_auth_only_loopback_hosts_and_same_site_writes_are_served() {
    let s = Server::start(&[]);
    assert!(s.wait_for_log("auth: none"), "{}", s.log());
    let get = |host: &str| s.call("GET", "/v1/action_plans", &[("Host", host)], None);
    assert_eq!(get("localhost:9322").status, 200);
    assert_eq!(get("127.0.0.1").status, 200);
    let rebound = get("attacker.example:9322");
    assert_eq!(rebound.status, 400);
    assert!(rebound.fault().contains("Host not allowed"), "{}", rebound.fault());

    let plan = s.create_plan(json!({}))["uuid"].as_str().unwrap().to_string();
    let start = format!("/v1/action_plans/{plan}/start");
    let r = s.call("POST", &start, &[("Origin", "http://attacker.example")], None);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.fault().contains("Cross-site"), "{}", r.fault());
    let r = s.call("POST", &start, &[("Sec-Fetch-Site", "cross-site")], None);
    assert_eq!(r.status, 403);
    // A read with an Origin is fine; so is the same-origin write.
    assert_eq!(s.call("GET", "/v1/action_plans", &[("Origin", "http://attacker.example")], None).status, 200);
    let own = s.base.trim_start_matches("http://").to_string();
    let r = s.call(
        "POST",
        &start,
        &[("Origin", &format!("http://{own}")), ("Sec-Fetch-Site", "same-origin")],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);

    let named = Server::start(&["--allowed-host", "rollback.internal"]);
    assert_eq!(named.call("GET", "/v1/actions", &[("Host", "rollback.internal:80")], None).status, 200);
}

/// Regression: failed logins (401) were logged only at DEBUG, where no
/// fail2ban-style tooling sees them. Each is a WARN line with the client's
/// address, and never the token.
#[test]
fn failed_logins_are_logged_at_warn_with_the_client() {
    let file = tokens_file();
    let s = Server::start(&["--auth", "tokens", "--tokens-file", file.path().to_str().unwrap()]);
    let secret = "not-a-token-5f2c9a";
    assert_eq!(with_token(&s, "GET", "/v1/action_plans", Some(secret)).status, 401);
    assert_eq!(with_token(&s, "GET", "/v1/actions", None).status, 401);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let log = loop {
        let log = s.log();
        if log.matches("authentication failed").count() >= 2 || std::time::Instant::now() > until {
            break log;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("authentication failed")).collect();
    assert_eq!(lines.len(), 2, "{log}");
    for l in &lines {
        assert!(l.contains("WARN") && l.contains("client=127.0.0.1"), "{l}");
    }
    assert!(lines[0].contains("token=\"invalid\"") || lines[0].contains("token=invalid"), "{}", lines[0]);
    assert!(!log.contains(secret), "the token is never logged");
}

/// Regression: `GET …/graph?dry_run=true` (a reader's rule) ran the whole
/// plugin dry run that `POST …/rollback` reserves for admins; 100 readers
/// made admins' rollbacks miss their deadline. A dry run takes the
/// rollback's rule; drawing without one stays a reader's.
#[test]
fn a_graphs_dry_run_takes_the_rollback_rule() {
    let file = tokens_file();
    let plugins = rollback_tests::plugins_dir_with(&[]);
    let s = Server::start(&[
        "--auth",
        "tokens",
        "--tokens-file",
        file.path().to_str().unwrap(),
        "--plugins-dir",
        plugins.path().to_str().unwrap(),
        "--sleep-scale",
        "0.01",
    ]);
    let h = [("X-Auth-Token", ADMIN), ("Content-Type", "application/json")];
    let body = serde_json::to_vec(&rollback_tests::plans::maintenance4()).unwrap();
    let plan =
        s.call("POST", "/v1/action_plans", &h, Some(&body)).json()["uuid"].as_str().unwrap().to_string();
    assert_eq!(s.call("POST", &format!("/v1/action_plans/{plan}/start"), &h, None).status, 200);
    let until = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while with_token(&s, "GET", &format!("/v1/action_plans/{plan}"), Some(ADMIN)).json()["state"]
        != "SUCCEEDED"
    {
        assert!(std::time::Instant::now() < until, "the plan did not finish");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let dry = format!("/v1/action_plans/{plan}/graph?dry_run=true&format=dot");
    let r = with_token(&s, "GET", &dry, Some(READER));
    assert_eq!(r.status, 403, "{}", r.body);
    assert_eq!(r.fault(), "Policy doesn't allow action_plan:rollback to be performed.");
    assert_eq!(with_token(&s, "GET", &dry, Some(ADMIN)).status, 200);
    let plain = format!("/v1/action_plans/{plan}/graph?format=dot");
    assert_eq!(with_token(&s, "GET", &plain, Some(READER)).status, 200, "drawing stays a reader's");
}
