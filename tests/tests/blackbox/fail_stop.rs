//! The real binary, fault-injected (`rollback-host-failpoints`: the same
//! binary with failpoints read from `FAILPOINTS`):
//! a failed fsync is never acknowledged, and the server stops and exits
//! non-zero so a supervisor restarts it from what is durable.

use rollback_tests::host_bin;

/// `rollback-host-failpoints`, beside the service's binary (`make test`
/// builds it with `--features failpoints`).
fn failpoints_bin() -> std::path::PathBuf {
    let bin = host_bin().with_file_name(format!("rollback-host-failpoints{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: cargo build -p rollback-host --features failpoints --bin rollback-host-failpoints",
        bin.display()
    );
    bin
}
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn a_failed_fsync_is_answered_503_and_the_server_exits_non_zero() {
    let data = tempfile::tempdir().unwrap();
    // Two commits at start (the compile cache's key, the simulated cloud's
    // seed) succeed; the third — the first request's — fails.
    let mut child = Command::new(failpoints_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .env("RUST_LOG", "info")
        .env("FAILPOINTS", "store::sync=2*off->return(EIO injected)")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stderr = child.stderr.take().unwrap();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = line.split("address=").nth(1) {
                let _ = tx.send(addr.split_whitespace().next().unwrap_or("").to_string());
            }
            sink.lock().unwrap().push_str(&(line + "\n"));
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_else(|_| {
        let _ = child.kill();
        panic!("the server did not start (a commit at start failed?):\n{}", log.lock().unwrap())
    });
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut r = agent
        .post(format!("http://{addr}/v1/action_plans"))
        .header("Content-Type", "application/json")
        .send(r#"{"actions": []}"#)
        .unwrap();
    let body = r.body_mut().read_to_string().unwrap();
    assert_eq!(r.status().as_u16(), 503, "{body}");
    assert!(body.contains("cannot make writes durable"), "{body}");

    let until = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < until, "the server kept running:\n{}", log.lock().unwrap());
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success(), "exit status {status}");
    std::thread::sleep(Duration::from_millis(100));
    let log = log.lock().unwrap().clone();
    assert!(log.contains("the store stopped taking writes"), "{log}");
}
