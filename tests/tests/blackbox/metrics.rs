//! `GET /metrics`: the listed series after a rollback (requests by route
//! and status with latency, rollbacks by outcome, invert latency and traps
//! per action type, actions by type and state, plans by state, store size,
//! compile cache), and links that honour a trusted proxy only.

use rollback_tests::plans::maintenance4;
use rollback_tests::{plugins_dir_with, Server};
use serde_json::json;

/// The value of the sample `series` (name and labels exactly as exposed).
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[test]
fn the_listed_series_are_exposed_after_a_rollback() {
    let dir = plugins_dir_with(&["test_spin_forever"]);
    let s = Server::start(&["--sleep-scale", "0.01", "--plugins-dir", dir.path().to_str().unwrap()]);
    let plan = s.create_plan(maintenance4())["uuid"].as_str().unwrap().to_string();
    assert_eq!(s.call("POST", &format!("/v1/action_plans/{plan}/start"), &[], None).status, 200);
    s.wait_for_plan(&plan, &["SUCCEEDED"]);
    let dry = s.send_json("POST", &format!("/v1/action_plans/{plan}/rollback"), &json!({"dry_run": true}));
    assert_eq!(dry.status, 200);
    let rb = s
        .send_json("POST", &format!("/v1/action_plans/{plan}/rollback"), &json!({"auto_start": true}))
        .json();
    s.wait_for_plan(rb["uuid"].as_str().unwrap(), &["SUCCEEDED"]);
    // A plugin that spins: one rollback refused, one deadline trap.
    let spin = s.create_plan(
        json!({"actions": [{"action_type": "test_spin_forever", "input_parameters": {}, "parents": []}]}),
    );
    let spin = spin["uuid"].as_str().unwrap();
    assert_eq!(s.call("POST", &format!("/v1/action_plans/{spin}/start"), &[], None).status, 200);
    s.wait_for_plan(spin, &["SUCCEEDED"]);
    assert_eq!(s.call("POST", &format!("/v1/action_plans/{spin}/rollback"), &[], None).status, 422);

    let r = s.call("GET", "/metrics", &[], None);
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/plain; version=0.0.4"));
    let m = &r.body;
    let has = |series: &str| sample(m, series).unwrap_or_else(|| panic!("no {series} in\n{m}"));
    assert_eq!(
        has(
            r#"rollback_http_requests_total{route="/v1/action_plans/{uuid}/rollback",method="POST",status="200"}"#
        ),
        2.0
    );
    assert_eq!(
        has(
            r#"rollback_http_requests_total{route="/v1/action_plans/{uuid}/rollback",method="POST",status="422"}"#
        ),
        1.0
    );
    assert!(
        has(r#"rollback_http_request_duration_seconds_count{route="/v1/action_plans",method="POST"}"#) >= 2.0
    );
    assert!(m.contains(r#"rollback_http_request_duration_seconds_bucket{le="#), "latency buckets");
    assert_eq!(has(r#"rollback_rollbacks_total{outcome="created"}"#), 1.0);
    assert_eq!(has(r#"rollback_rollbacks_total{outcome="dry_run"}"#), 1.0);
    assert_eq!(has(r#"rollback_rollbacks_total{outcome="refused"}"#), 1.0);
    assert_eq!(
        has(r#"rollback_plugin_invert_duration_seconds_count{action_type="migrate"}"#),
        4.0,
        "2 migrations, 2 rollbacks"
    );
    assert_eq!(has(r#"rollback_plugin_traps_total{action_type="test_spin_forever",cause="deadline"}"#), 1.0);
    assert_eq!(has(r#"rollback_actions_executed_total{action_type="migrate",state="SUCCEEDED"}"#), 4.0);
    assert_eq!(has(r#"rollback_action_plans{state="SUCCEEDED"}"#), 3.0);
    assert_eq!(has(r#"rollback_action_plans{state="FAILED"}"#), 0.0);
    assert!(has("rollback_store_size_bytes") > 0.0);
    assert!(has("rollback_compile_cache_misses_total") + has("rollback_compile_cache_hits_total") >= 10.0);
}

#[test]
fn links_follow_x_forwarded_headers_from_a_trusted_proxy_only() {
    let forwarded = [("X-Forwarded-Proto", "https"), ("X-Forwarded-Host", "cloud.example:13322")];
    let trusting = Server::start(&["--trusted-proxy", "127.0.0.0/8"]);
    let r = trusting.call("GET", "/v1", &forwarded, None).json();
    assert_eq!(r["links"][0]["href"], "https://cloud.example:13322/v1/", "{r}");
    let plan = trusting.create_plan(json!({}));
    let listed = trusting.call("GET", "/v1/action_plans?limit=1", &forwarded, None).json();
    let links = listed["action_plans"][0]["links"].to_string();
    assert!(
        links.contains(&format!(
            "https://cloud.example:13322/v1/action_plans/{}",
            plan["uuid"].as_str().unwrap()
        )),
        "{links}"
    );

    // Even from a trusted proxy, a malformed host or an unknown scheme is not believed.
    let hostile = [("X-Forwarded-Proto", "javascript"), ("X-Forwarded-Host", "evil.example/<script>")];
    let r = trusting.call("GET", "/v1", &hostile, None).json();
    let href = r["links"][0]["href"].as_str().unwrap();
    assert!(href.starts_with(&format!("{}/v1", trusting.base)), "{href}");

    let other = Server::start(&["--trusted-proxy", "10.0.0.1"]);
    let r = other.call("GET", "/v1", &forwarded, None).json();
    let href = r["links"][0]["href"].as_str().unwrap();
    assert!(
        href.starts_with(&format!("{}/v1", other.base)),
        "an untrusted peer's headers are ignored: {href}"
    );
}

/// Regression: the request counter runs before the `Host` check and auth,
/// and hyper accepts any token as a method; labelled verbatim, 2,000
/// made-up methods took the server from 69 MB to 907 MB for good. Now they
/// all count as `OTHER`, and `/metrics` stays small.
#[test]
fn made_up_methods_do_not_grow_the_metric_series() {
    use std::io::{Read, Write};
    let s = Server::start(&[]);
    let addr = s.base.trim_start_matches("http://").to_string();
    let before = s.get("/metrics").1.len();
    for i in 0..300 {
        let method = format!("MADEUP{i:04}{}", "X".repeat(2000));
        let mut c = std::net::TcpStream::connect(&addr).unwrap();
        write!(c, "{method} /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
        let mut answer = String::new();
        let _ = c.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 405"), "{}", answer.lines().next().unwrap_or(""));
    }
    let (status, text) = s.get("/metrics");
    assert_eq!(status, 200);
    assert!(!text.contains("MADEUP"), "a made-up method became a label");
    let other: f64 = text
        .lines()
        .filter(|l| l.starts_with("rollback_http_requests_total{") && l.contains("method=\"OTHER\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(other, 300.0, "each counted once, as OTHER");
    assert!(text.len() < before + 4096, "/metrics grew from {before} to {} bytes", text.len());
}
