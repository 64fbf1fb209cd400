//! Request ids as OpenStack services give them (oslo.middleware): every
//! answer has `X-Openstack-Request-Id: req-<uuid>` — the caller's own when
//! well-formed — and every log line of the request carries it, in text and
//! in JSON logs.

use rollback_tests::{host_bin, Server};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ID: &str = "req-6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a77";

fn create(s: &Server, id: Option<&str>) -> rollback_tests::Resp {
    let mut h = vec![("Content-Type", "application/json")];
    if let Some(id) = id {
        h.push(("X-Openstack-Request-Id", id));
    }
    s.call("POST", "/v1/action_plans", &h, Some(br#"{"actions": []}"#))
}

fn well_formed(v: &str) -> bool {
    v.strip_prefix("req-").is_some_and(|u| uuid::Uuid::parse_str(u).is_ok() && u.len() == 36)
}

#[test]
fn every_answer_and_log_line_of_a_request_carries_its_id() {
    let s = Server::start(&[]);
    let r = create(&s, Some(ID));
    assert_eq!(r.status, 201);
    assert_eq!(r.header("x-openstack-request-id"), Some(ID));
    assert!(s.wait_for_log("action plan created"));
    let line = s.log().lines().find(|l| l.contains("action plan created")).unwrap().to_string();
    assert!(line.contains(ID), "{line}");

    for sent in [None, Some("req-not-a-uuid"), Some("6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a77")] {
        let r = create(&s, sent);
        let got = r.header("x-openstack-request-id").unwrap_or("").to_string();
        assert!(well_formed(&got) && Some(got.as_str()) != sent, "{sent:?} -> {got:?}");
    }
    // Errors carry one too.
    let r = s.call("GET", "/v1/action_plans/not-a-uuid", &[("X-Openstack-Request-Id", ID)], None);
    assert_eq!((r.status, r.header("x-openstack-request-id")), (400, Some(ID)));
}

#[test]
fn json_logs_are_one_object_per_line_with_the_request_id() {
    let data = tempfile::tempdir().unwrap();
    let mut child = Command::new(host_bin())
        .args(["serve", "--log-format", "json", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<serde_json::Value>();
    let stderr = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let v: serde_json::Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
            let _ = tx.send(v);
        }
    });
    let until = Instant::now() + Duration::from_secs(30);
    let addr = loop {
        let v = rx.recv_timeout(Duration::from_secs(30)).expect("log lines");
        if let Some(a) = v["fields"]["address"].as_str() {
            break a.to_string();
        }
        assert!(Instant::now() < until);
    };
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let r = agent
        .post(format!("http://{addr}/v1/action_plans"))
        .header("Content-Type", "application/json")
        .header("X-Openstack-Request-Id", ID)
        .send(r#"{"actions": []}"#)
        .unwrap();
    assert_eq!(r.status().as_u16(), 201);
    let until = Instant::now() + Duration::from_secs(10);
    loop {
        let v = rx.recv_timeout(Duration::from_secs(10)).expect("the request's log line");
        if v["fields"]["message"] == "action plan created" {
            assert_eq!(v["span"]["request_id"], ID, "{v}");
            assert_eq!(v["level"], "INFO");
            break;
        }
        assert!(Instant::now() < until);
    }
    let _ = child.kill();
    let _ = child.wait();
}
