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
    let (mut child, addr, log) =
        serve(&failpoints_bin(), data.path(), &[("FAILPOINTS", "store::sync=2*off->return(EIO injected)")]);
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

/// A tmpfs mounted for the test (root only), unmounted on drop.
struct SmallDisk(tempfile::TempDir);

impl SmallDisk {
    fn mount(size: &str) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "this test mounts a small tmpfs and needs root: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        SmallDisk(dir)
    }

    fn grow(&self, size: &str) {
        let out = Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.0.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.0.path()).status();
    }
}

/// Starts `bin serve` on `data` with `env`; its address and its log.
fn serve(
    bin: &std::path::Path,
    data: &std::path::Path,
    env: &[(&str, &str)],
) -> (std::process::Child, String, std::sync::Arc<std::sync::Mutex<String>>) {
    let mut child = Command::new(bin)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .env("RUST_LOG", "info")
        .envs(env.iter().copied())
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
    (child, addr, log)
}

/// A full disk once left the service up, answering 500 to every write with
/// `/healthz` 200, until restarted (sled's flusher meets ENOSPC first; the
/// committer saw only per-write errors). It must stop like a failed fsync,
/// and lose nothing it acknowledged.
#[test]
fn a_full_disk_stops_the_service_and_loses_nothing_acknowledged() {
    let disk = SmallDisk::mount("6m");
    let data = disk.0.path().join("store");
    let (mut child, addr, log) = serve(&host_bin(), &data, &[]);
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let message = "x".repeat(900);
    let body = serde_json::json!({"actions": (0..40).map(|i| serde_json::json!({
        "action_type": "nop", "input_parameters": {"message": format!("{i} {message}")}})).collect::<Vec<_>>()})
    .to_string();
    let mut acknowledged: Vec<String> = Vec::new();
    let until = Instant::now() + Duration::from_secs(120);
    let refused = loop {
        assert!(Instant::now() < until, "the disk never filled: {} plans stored", acknowledged.len());
        match agent
            .post(format!("http://{addr}/v1/action_plans"))
            .header("Content-Type", "application/json")
            .send(&body)
        {
            Ok(mut r) if r.status().as_u16() == 201 => {
                let v: serde_json::Value =
                    serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
                acknowledged.push(v["uuid"].as_str().unwrap().to_string());
            }
            Ok(mut r) => {
                break format!("{} {}", r.status(), r.body_mut().read_to_string().unwrap_or_default())
            }
            Err(e) => break format!("no answer: {e}"),
        }
    };
    assert!(!acknowledged.is_empty(), "nothing was stored before the disk filled: {refused}");
    // It stops: /healthz 503 while it shuts down, then a non-zero exit.
    let stop_by = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if let Ok(r) = agent.get(format!("http://{addr}/healthz")).call() {
            assert_ne!(
                r.status().as_u16(),
                200,
                "healthy on a full disk after: {refused}\n{}",
                log.lock().unwrap()
            );
        }
        assert!(
            Instant::now() < stop_by,
            "the server kept running after {refused}:\n{}",
            log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(!status.success(), "exit status {status}");
    // With room again, everything acknowledged is there.
    disk.grow("256m");
    let (mut again, addr, log) = serve(&host_bin(), &data, &[]);
    for uuid in &acknowledged {
        let r = agent.get(format!("http://{addr}/v1/action_plans/{uuid}")).call().unwrap();
        assert_eq!(r.status().as_u16(), 200, "acknowledged plan {uuid} lost:\n{}", log.lock().unwrap());
    }
    let _ = again.kill();
    let _ = again.wait();
}
