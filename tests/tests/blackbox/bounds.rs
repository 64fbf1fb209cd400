//! What one client, or all of them, can make the server do: slow headers
//! and slow bodies are cut off, requests in flight are capped, plans beyond
//! the running bound wait their turn PENDING, and a rollback is capped in
//! size and time. (Latency under these loads is measured by
//! `scripts/bench-bounds.py`, not asserted here.)

use rollback_tests::{plugins_dir_with, Server};
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn addr(s: &Server) -> String {
    s.base.trim_start_matches("http://").to_string()
}

/// Reads until the server closes the connection (or `limit` passes);
/// returns what it sent and how long it took.
fn read_until_closed(mut c: TcpStream, limit: Duration) -> (String, Duration) {
    let started = Instant::now();
    c.set_read_timeout(Some(limit)).unwrap();
    let mut got = Vec::new();
    let _ = c.read_to_end(&mut got);
    (String::from_utf8_lossy(&got).into_owned(), started.elapsed())
}

#[test]
fn a_client_too_slow_with_its_headers_is_cut_off() {
    let s = Server::start(&["--header-timeout-s", "1"]);
    let mut c = TcpStream::connect(addr(&s)).unwrap();
    c.write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n").unwrap();
    let (_, took) = read_until_closed(c, Duration::from_secs(10));
    assert!(took < Duration::from_secs(5), "the connection stayed open {took:?}");
    // Meanwhile and afterwards the server answers others.
    assert_eq!(s.get("/healthz").0, 200);
}

#[test]
fn a_client_too_slow_with_its_body_gets_503_at_the_request_deadline() {
    let s = Server::start(&["--request-timeout-s", "1"]);
    let mut c = TcpStream::connect(addr(&s)).unwrap();
    c.write_all(
        b"POST /v1/action_plans HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"act",
    )
    .unwrap();
    let (answer, took) = read_until_closed(c, Duration::from_secs(10));
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("longer than 1 s"), "{answer}");
    assert!(took < Duration::from_secs(5), "{took:?}");
}

#[test]
fn requests_beyond_the_in_flight_cap_get_503_with_retry_after() {
    let s = Server::start(&["--max-requests", "1", "--request-timeout-s", "3"]);
    // One request stuck reading its body holds the only slot.
    let mut held = TcpStream::connect(addr(&s)).unwrap();
    held.write_all(
        b"POST /v1/action_plans HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{",
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let r = s.call("GET", "/healthz", &[], None);
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.header("retry-after"), Some("1"));
    assert!(r.fault().contains("Too many requests"), "{}", r.fault());
    drop(held);
    let until = Instant::now() + Duration::from_secs(5);
    while s.call("GET", "/healthz", &[], None).status != 200 {
        assert!(Instant::now() < until, "the slot was never given back");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn plans_beyond_the_running_bound_wait_pending_in_order() {
    let s = Server::start(&["--max-running-plans", "1", "--sleep-scale", "1"]);
    let plan = |secs: f64| {
        let p = s.create_plan(
            json!({"actions": [{"action_type": "sleep", "input_parameters": {"duration": secs}}]}),
        );
        p["uuid"].as_str().unwrap().to_string()
    };
    let (a, b) = (plan(1.5), plan(0.1));
    for p in [&a, &b] {
        assert_eq!(s.call("POST", &format!("/v1/action_plans/{p}/start"), &[], None).status, 200);
    }
    s.wait_for_plan(&a, &["ONGOING"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(s.get_json(&format!("/v1/action_plans/{b}"))["state"], "PENDING", "b waits for a's slot");
    s.wait_for_plan(&a, &["SUCCEEDED"]);
    let b_done = s.wait_for_plan(&b, &["SUCCEEDED"]);
    let a_done = s.get_json(&format!("/v1/action_plans/{a}"));
    assert!(b_done["finished_at"].as_str() > a_done["finished_at"].as_str());
}

fn nop_plan_executed(s: &Server, n: usize) -> String {
    let actions: Vec<_> = (0..n)
        .map(|i| json!({"action_type": "nop", "input_parameters": {"message": format!("{i}")}}))
        .collect();
    let p = s.create_plan(json!({"actions": actions}))["uuid"].as_str().unwrap().to_string();
    assert_eq!(s.call("POST", &format!("/v1/action_plans/{p}/start"), &[], None).status, 200);
    s.wait_for_plan(&p, &["SUCCEEDED"]);
    p
}

#[test]
fn a_rollback_is_capped_in_actions_and_in_time() {
    let dir = plugins_dir_with(&[]);
    let dir = dir.path().to_str().unwrap();
    let s = Server::start(&["--plugins-dir", dir, "--rollback-max-actions", "2"]);
    let disable = |host: &str| {
        json!({"action_type": "change_nova_service_state",
               "input_parameters": {"resource_id": host, "state": "disabled", "disabled_reason": "test"}})
    };
    let actions = json!([disable("compute-1"), disable("compute-2"), disable("compute-3")]);
    let p = s.create_plan(json!({"actions": actions}))["uuid"].as_str().unwrap().to_string();
    assert_eq!(s.call("POST", &format!("/v1/action_plans/{p}/start"), &[], None).status, 200);
    s.wait_for_plan(&p, &["SUCCEEDED"]);
    let r = s.call("POST", &format!("/v1/action_plans/{p}/rollback"), &[], None);
    assert_eq!(r.status, 422, "{}", r.body);
    assert!(r.fault().contains("more than 2 actions"), "{}", r.fault());
    assert_eq!(s.get_json(&format!("/v1/action_plans/{p}"))["rolled_back_by"], json!(null), "nothing stored");

    let s = Server::start(&[
        "--plugins-dir",
        dir,
        "--rollback-deadline-s",
        "0.001",
        "--applier-concurrency",
        "64",
    ]);
    let p = nop_plan_executed(&s, 500);
    let r = s.call("POST", &format!("/v1/action_plans/{p}/rollback"), &[], None);
    assert_eq!(r.status, 503, "{}", r.body);
    assert!(r.fault().contains("rollback deadline"), "{}", r.fault());
    assert_eq!(s.get_json(&format!("/v1/action_plans/{p}"))["rolled_back_by"], json!(null), "nothing stored");
}

/// Regression: under an open-file limit of 1,024 and the default
/// `--max-connections 1024`, 1,100 idle connections and one write made the
/// committer's `open` fail with EMFILE, which it took for a failed disk: the
/// store stopped and the service exited 1. Connections are now bounded
/// under the limit (the others wait to be accepted), so the write is
/// answered and the service stays up.
#[test]
fn a_connection_flood_under_a_low_open_file_limit_does_not_stop_the_service() {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::{Duration, Instant};
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let data = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new("sh")
        .arg("-c")
        .arg(
            "ulimit -n 256 && exec \"$0\" serve --listen 127.0.0.1:$1 --data-dir \"$2\" --header-timeout-s 3",
        )
        .arg(rollback_tests::host_bin())
        .arg(port.to_string())
        .arg(data.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    let until = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < until, "the server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Idle keep-alive connections, each served once, until the server takes
    // no more: with connections bounded, it stops at the bound; without,
    // at the last descriptor.
    let mut idle: Vec<TcpStream> = Vec::new();
    for _ in 0..400 {
        let Ok(mut c) = TcpStream::connect(&addr) else { break };
        c.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
        write!(c, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
        let mut buf = [0u8; 512];
        match c.read(&mut buf) {
            Ok(n) if n > 0 => idle.push(c),
            _ => break, // not served: dropped, so it takes nothing later
        }
    }
    assert!(idle.len() >= 100, "{} connections served", idle.len());
    // One descriptor back: the write's connection takes it.
    idle.pop();
    let body = r#"{"actions": [{"action_type": "nop", "input_parameters": {"message": "x"}}]}"#;
    let mut c = TcpStream::connect(&addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    write!(
        c,
        "POST /v1/action_plans HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    let _ = c.read_to_string(&mut answer);
    drop(idle);
    assert!(answer.starts_with("HTTP/1.1 201"), "{}", answer.lines().next().unwrap_or("no answer"));
    assert!(child.try_wait().unwrap().is_none(), "the service stopped");
    let mut h = TcpStream::connect(&addr).unwrap();
    write!(h, "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").unwrap();
    let mut health = String::new();
    let _ = h.read_to_string(&mut health);
    assert!(health.starts_with("HTTP/1.1 200"), "{}", health.lines().next().unwrap_or(""));
    child.kill().unwrap();
    let mut log = String::new();
    let _ = child.wait();
    let _ = child.stderr.take().unwrap().read_to_string(&mut log);
    assert!(log.contains("fewer connections served at once"), "{log}");
}
