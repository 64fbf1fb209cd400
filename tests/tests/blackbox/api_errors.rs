//! Bad input over HTTP: every case gets the right status and Watcher's error
//! body, version headers are on every answer, and nothing is stored.

/// The documented cap on a request body (docs/security.md: 1 MiB).
const MAX_BODY_BYTES: usize = 1 << 20;
use rollback_tests::Server;
use serde_json::json;

#[test]
fn malformed_and_unknown_uuids_in_paths() {
    let s = Server::start(&[]);
    for path in ["/v1/action_plans/not-a-uuid", "/v1/actions/1234", "/v1/action_plans/zzz/start"] {
        let method = if path.ends_with("start") { "POST" } else { "GET" };
        let r = s.call(method, path, &[], None);
        assert_eq!(r.status, 400, "{path}: {}", r.body);
        assert!(r.fault().contains("Expected a UUID"), "{path}: {}", r.fault());
    }
    let unknown = "4cbc4ede-0d25-481b-b86e-998dbbd4f8bf";
    let r = s.get15(&format!("/v1/action_plans/{unknown}"), &[]);
    assert_eq!((r.status, r.fault()), (404, format!("ActionPlan {unknown} could not be found.")));
    let r = s.get15(&format!("/v1/actions/{unknown}"), &[]);
    assert_eq!((r.status, r.fault()), (404, format!("Action {unknown} could not be found.")));
    let r = s.send_json(
        "PATCH",
        &format!("/v1/action_plans/{unknown}"),
        &json!([{"op": "replace", "path": "/state", "value": "PENDING"}]),
    );
    assert_eq!(r.status, 404);
    assert_eq!(s.call("DELETE", &format!("/v1/action_plans/{unknown}"), &[], None).status, 404);
}

#[test]
fn bodies_that_are_not_json_are_refused() {
    let s = Server::start(&[]);
    let json_type = [("Content-Type", "application/json")];
    let r = s.call("POST", "/v1/action_plans", &json_type, Some(b"{\"actions\": ["));
    assert_eq!(r.status, 400);
    assert!(r.fault().contains("Malformed JSON"), "{}", r.fault());
    let r = s.call("POST", "/v1/action_plans", &json_type, Some(b""));
    assert_eq!(r.status, 400);
    assert!(r.fault().contains("empty"), "{}", r.fault());
    let r = s.call("POST", "/v1/action_plans", &[("Content-Type", "text/plain")], Some(b"{\"actions\": []}"));
    assert_eq!(r.status, 415);
    assert!(r.fault().contains("text/plain"), "{}", r.fault());
    let r = s.call("POST", "/v1/action_plans", &[], Some(b"{\"actions\": []}"));
    assert_eq!(r.status, 415, "no content type: {}", r.body);
    let r = s.call("POST", "/v1/action_plans", &json_type, Some(&[0xff, 0xfe, 0x00]));
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(s.get15("/v1/action_plans", &[]).json()["action_plans"], json!([]));
}

#[test]
fn oversized_bodies_are_refused_with_413() {
    let s = Server::start(&[]);
    let big = format!("{{\"actions\": [], \"strategy_name\": \"{}\"}}", "x".repeat(MAX_BODY_BYTES));
    let r = s.call("POST", "/v1/action_plans", &[("Content-Type", "application/json")], Some(big.as_bytes()));
    assert_eq!(r.status, 413, "{}", &r.body[..r.body.len().min(300)]);
    assert!(r.fault().contains("larger than the limit"), "{}", r.fault());
    assert_eq!(s.get15("/v1/action_plans", &[]).json()["action_plans"], json!([]));
}

#[test]
fn unknown_routes_and_methods_answer_in_watchers_form() {
    let s = Server::start(&[]);
    let r = s.call("GET", "/v1/audits", &[], None);
    assert_eq!(r.status, 404);
    r.fault();
    let r = s.call("PUT", "/v1/action_plans", &[], None);
    assert_eq!(r.status, 405);
    r.fault();
}

#[test]
fn microversions_are_negotiated_and_announced_on_every_answer() {
    let s = Server::start(&[]);
    for (asked, status, answered) in [
        (None, 200, "infra-optim 1.0"),
        (Some("infra-optim 1.5"), 200, "infra-optim 1.5"),
        (Some("infra-optim latest"), 200, "infra-optim 1.5"),
        (Some("infra-optim 1.6"), 406, "infra-optim 1.0"),
        (Some("infra-optim 2.0"), 406, "infra-optim 1.0"),
        (Some("infra-optim x"), 400, "infra-optim 1.0"),
    ] {
        let headers: Vec<(&str, &str)> = asked.map(|a| ("OpenStack-API-Version", a)).into_iter().collect();
        let r = s.call("GET", "/v1/action_plans", &headers, None);
        assert_eq!(r.status, status, "{asked:?}: {}", r.body);
        assert_eq!(r.header("openstack-api-version"), Some(answered), "{asked:?}");
        assert_eq!(r.header("openstack-api-minimum-version"), Some("infra-optim 1.0"));
        assert_eq!(r.header("openstack-api-maximum-version"), Some("infra-optim 1.5"));
        assert_eq!(r.header("vary"), Some("OpenStack-API-Version"));
        if status != 200 {
            r.fault();
        }
    }
}

#[test]
fn version_documents_describe_v1() {
    let s = Server::start(&[]);
    let root = s.get15("/", &[]).json();
    assert_eq!(root["default_version"]["id"], "v1");
    assert_eq!(root["default_version"]["max_version"], "1.5");
    assert_eq!(root["default_version"]["min_version"], "1.0");
    let v1 = s.get15("/v1", &[]).json();
    assert_eq!(v1["id"], "v1");
    assert_eq!(v1["action_plans"][0]["href"], format!("{}/v1/action_plans/", s.base));
}

/// Regression: a declared 10 GB `Content-Length` (and no body) was answered
/// 503 when the request's deadline passed, 60 s later, holding an in-flight
/// slot meanwhile; it is refused at once, before anything else.
#[test]
fn a_declared_oversized_body_is_refused_at_once() {
    use std::io::{Read, Write};
    let s = Server::start(&[]);
    let addr = s.base.trim_start_matches("http://").to_string();
    for (method, path) in [("POST", "/v1/action_plans"), ("PUT", "/v1/plugins/nop")] {
        let started = std::time::Instant::now();
        let mut c = std::net::TcpStream::connect(&addr).unwrap();
        c.set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
        write!(
            c,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 10000000000\r\n\r\n"
        )
        .unwrap();
        let mut buf = [0u8; 4096];
        let n = c.read(&mut buf).unwrap();
        let answer = String::from_utf8_lossy(&buf[..n]);
        assert!(
            answer.starts_with("HTTP/1.1 413"),
            "{method} {path}: {}",
            answer.lines().next().unwrap_or("")
        );
        assert!(answer.contains("larger than the limit"), "{answer}");
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{method} {path}: not at once");
    }
}

/// `POST /v1/action_plans/import`: a malformed body is a 400 naming the
/// field before Watcher is looked for; a well-formed one on a service with
/// no OpenStack driver is a 409 saying so. Nothing is stored either way.
#[test]
fn import_requests_that_are_malformed_or_cannot_reach_watcher_are_refused() {
    let s = Server::start(&[]);
    for body in [
        json!({"action_plan_uuid": "not-a-uuid"}),
        json!({}),
        json!({"action_plan_uuid": "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a01", "extra": 1}),
        json!({"action_plan_uuid": "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a01", "auto_start": "yes"}),
    ] {
        let r = s.send_json("POST", "/v1/action_plans/import", &body);
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert!(r.body.contains("Invalid import request"), "{}", r.body);
    }
    let r = s.send_json(
        "POST",
        "/v1/action_plans/import",
        &json!({"action_plan_uuid": "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a01"}),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    assert!(r.body.contains("--driver openstack"), "{}", r.body);
    let r = s.call(
        "POST",
        "/v1/action_plans/import",
        &[("Content-Type", "application/json")],
        Some(b"{not json"),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(s.get_json("/v1/action_plans")["action_plans"], json!([]));
}
