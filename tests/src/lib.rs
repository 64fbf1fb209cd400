//! Helpers for the black-box tests: find the built binary and plugins, run
//! the CLI, start a real server on a free port with a temporary data dir.
//!
//! The binary and the plugins are built by `make test` before the tests
//! run; a helper that cannot find them fails with what to run.

pub mod openstack_double;
pub mod plans;

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// The `rollback-host` binary next to this test executable
/// (`target/<profile>/deps/all-…` → `target/<profile>/rollback-host`).
pub fn host_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let profile_dir = exe.parent().and_then(Path::parent).expect("target/<profile>");
    let bin = profile_dir.join(format!("rollback-host{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} is missing: run `make test` (or `cargo build -p rollback-host`)",
        bin.display()
    );
    bin
}

fn built(dir: &str, name: &str) -> PathBuf {
    let p = repo_root().join("target").join(dir).join(format!("{name}.wasm"));
    assert!(p.exists(), "{} is missing: run `make plugins`", p.display());
    p
}

/// A built-in plugin, e.g. `plugin("nop")`.
pub fn plugin(name: &str) -> PathBuf {
    built("plugins", name)
}

/// A fresh directory holding every built-in plugin plus the named test
/// guests, for `--plugins-dir`.
pub fn plugins_dir_with(test_guests: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let builtins = repo_root().join("target/plugins");
    for entry in std::fs::read_dir(&builtins)
        .unwrap_or_else(|_| panic!("{} is missing: run `make plugins`", builtins.display()))
    {
        let path = entry.expect("entry").path();
        std::fs::copy(&path, dir.path().join(path.file_name().expect("name"))).expect("copy plugin");
    }
    for g in test_guests {
        std::fs::copy(test_plugin(g), dir.path().join(format!("{g}.wasm"))).expect("copy test guest");
    }
    dir
}

/// A fresh temporary directory on tmpfs (`/dev/shm`) when there is one,
/// for in-process tests whose store fsyncs often; on disk otherwise.
pub fn tmpfs_dir() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        tempfile::tempdir_in(shm).expect("tempdir in /dev/shm")
    } else {
        tempfile::tempdir().expect("tempdir")
    }
}

/// An example custom kind, e.g. `example_plugin("snapshot_instance")`.
pub fn example_plugin(name: &str) -> PathBuf {
    built("example-plugins", name)
}

/// A test-only guest, e.g. `test_plugin("test_spin_forever")`.
pub fn test_plugin(name: &str) -> PathBuf {
    built("test-plugins", name)
}

/// What a finished CLI invocation printed.
#[derive(Debug)]
pub struct Output {
    /// Exit code; `None` when killed by a signal.
    pub code: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// Runs `rollback-host ARGS`, feeding `stdin` when given.
pub fn run_cli(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(host_bin())
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn rollback-host");
    if let Some(input) = stdin {
        child.stdin.take().expect("stdin").write_all(input.as_bytes()).expect("write stdin");
    }
    let out = child.wait_with_output().expect("wait for rollback-host");
    Output {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Resp {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// Body text.
    pub body: String,
}

impl Resp {
    /// The body as JSON (panics with the body when it is not).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The `faultstring` of a Watcher error body, checking the body's form:
    /// `{"error_message": "<JSON text>"}` with faultcode and debuginfo.
    pub fn fault(&self) -> String {
        let outer = self.json();
        let text = outer["error_message"]
            .as_str()
            .unwrap_or_else(|| panic!("no error_message string: {}", self.body));
        let inner: serde_json::Value = serde_json::from_str(text).expect("error_message holds JSON text");
        let want = if self.status >= 500 { "Server" } else { "Client" };
        assert_eq!(inner["faultcode"], want, "{}", self.body);
        assert!(inner.get("debuginfo").is_some(), "{}", self.body);
        inner["faultstring"].as_str().expect("faultstring").to_string()
    }
}

/// When `ROLLBACK_TEST_STORE_MYSQL` (`mysql://USER@HOST:PORT`, password in
/// ROLLBACK_STORE_PASSWORD) is set: a new, empty database there, as a store
/// URL. `make test-mysql` runs the black-box suite so.
pub fn mysql_database() -> Option<String> {
    let server = std::env::var("ROLLBACK_TEST_STORE_MYSQL").ok()?;
    Some(new_database(&server))
}

/// A new, empty database on the MySQL server `mysql://USER@HOST:PORT`
/// (password in ROLLBACK_STORE_PASSWORD), as a store URL.
pub fn new_database(server: &str) -> String {
    let server = server.trim_end_matches('/');
    let rest = server.strip_prefix("mysql://").expect("a mysql:// URL");
    let (user, hostport) = rest.split_once('@').expect("mysql://USER@HOST:PORT");
    let (host, port) = hostport.split_once(':').unwrap_or((hostport, "3306"));
    let name = format!("rbtest_{}", uuid::Uuid::new_v4().simple());
    let out = Command::new("mysql")
        .args(["--no-defaults", "-h", host, "-P", port, "-u", user, "-e"])
        .arg(format!("CREATE DATABASE {name}"))
        .env("MYSQL_PWD", std::env::var("ROLLBACK_STORE_PASSWORD").unwrap_or_default())
        .output()
        .expect("run the mysql client");
    assert!(out.status.success(), "CREATE DATABASE failed: {}", String::from_utf8_lossy(&out.stderr));
    format!("{server}/{name}")
}

/// A running `rollback-host serve`, killed on drop.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    log: Arc<Mutex<String>>,
    /// The server's data directory, removed on drop.
    pub data_dir: Option<tempfile::TempDir>,
    extra: Vec<String>,
    env: Vec<(String, String)>,
    bin: PathBuf,
}

impl Server {
    /// Starts `rollback-host serve --listen 127.0.0.1:0 EXTRA` (unless EXTRA
    /// has its own `--listen`) on a fresh
    /// data directory and waits until it says where it listens.
    pub fn start(extra: &[&str]) -> Server {
        Self::start_env(extra, &[])
    }

    /// [`Server::start`] with these environment variables set too (kept
    /// across [`Server::restart`]).
    pub fn start_env(extra: &[&str], env: &[(&str, &str)]) -> Server {
        Self::start_bin(host_bin(), extra, env)
    }

    /// [`Server::start_env`] of another copy of the binary. When
    /// `ROLLBACK_TEST_STORE_MYSQL` names a MySQL server (`make test-mysql`),
    /// the server keeps its plans in a new database there instead of its
    /// data directory.
    pub fn start_bin(bin: PathBuf, extra: &[&str], env: &[(&str, &str)]) -> Server {
        let mut env: Vec<(String, String)> =
            env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        // `ROLLBACK_STORE` given empty: the data directory, whatever the run.
        let sled = env.iter().any(|(k, v)| k == "ROLLBACK_STORE" && v.is_empty());
        env.retain(|(k, v)| !(k == "ROLLBACK_STORE" && v.is_empty()));
        if !sled && !env.iter().any(|(k, _)| k == "ROLLBACK_STORE") {
            if let Some(url) = mysql_database() {
                env.push(("ROLLBACK_STORE".into(), url));
            }
        }
        Self::start_in(
            bin,
            tempfile::tempdir().expect("tempdir"),
            extra.iter().map(|s| s.to_string()).collect(),
            env,
        )
    }

    /// Kills the server (SIGKILL: no clean shutdown) and starts a new one on
    /// the same data directory.
    pub fn restart(self) -> Server {
        self.restart_after(|| {})
    }

    /// Like [`Server::restart`], running `meanwhile` while no server runs.
    pub fn restart_after(mut self, meanwhile: impl FnOnce()) -> Server {
        let _ = self.child.kill();
        let _ = self.child.wait();
        meanwhile();
        let dir = self.data_dir.take().expect("data dir");
        let extra = std::mem::take(&mut self.extra);
        let env = std::mem::take(&mut self.env);
        Self::start_in(self.bin.clone(), dir, extra, env)
    }

    fn start_in(
        bin: PathBuf,
        data_dir: tempfile::TempDir,
        extra: Vec<String>,
        env: Vec<(String, String)>,
    ) -> Server {
        let listen: &[&str] =
            if extra.iter().any(|a| a == "--listen") { &[] } else { &["--listen", "127.0.0.1:0"] };
        let mut child = Command::new(&bin)
            .env_remove("ROLLBACK_STORE")
            .arg("serve")
            .args(listen)
            .args(&extra)
            .env("RUST_LOG", "info")
            .env("ROLLBACK_DATA_DIR", data_dir.path())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn rollback-host serve");
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = line.split("address=").nth(1) {
                    let _ = tx.send(addr.split_whitespace().next().unwrap_or("").to_string());
                }
                let mut l = sink.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(30)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!("server did not start; its log:\n{}", log.lock().unwrap());
            }
        };
        Server { child, base: format!("http://{addr}"), log, data_dir: Some(data_dir), extra, env, bin }
    }

    /// Kills the server and hands over its data directory (then no longer
    /// removed with the server), free for another process to open.
    pub fn stop_keeping_data(mut self) -> tempfile::TempDir {
        let dir = self.data_dir.take().expect("data dir");
        drop(self);
        // sled's lock goes with the process; give the kernel a moment.
        std::thread::sleep(Duration::from_millis(100));
        dir
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits up to 10 s for `needle` to appear in the log.
    pub fn wait_for_log(&self, needle: &str) -> bool {
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until {
            if self.log().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// `GET path` → (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        let r = self.call("GET", path, &[], None);
        (r.status, r.body)
    }

    /// Any request. `body` is sent as given with the headers given.
    pub fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&[u8]>) -> Resp {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .allow_non_standard_methods(true)
            .build()
            .into();
        let mut req = ureq::http::Request::builder().method(method).uri(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let result = match body {
            Some(b) => agent.run(req.body(b.to_vec()).expect("request")),
            None => agent.run(req.body(()).expect("request")),
        };
        let mut resp = result.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), v.to_str().unwrap_or("").to_string()))
            .collect();
        let body = resp.body_mut().with_config().limit(64 << 20).read_to_string().expect("body");
        Resp { status, headers, body }
    }

    /// A request with a JSON body and microversion 1.5.
    pub fn send_json(&self, method: &str, path: &str, body: &serde_json::Value) -> Resp {
        let text = body.to_string();
        self.call(
            method,
            path,
            &[("Content-Type", "application/json"), ("OpenStack-API-Version", "infra-optim 1.5")],
            Some(text.as_bytes()),
        )
    }

    /// `GET` with microversion 1.5 and optional extra headers.
    pub fn get15(&self, path: &str, headers: &[(&str, &str)]) -> Resp {
        let mut h = vec![("OpenStack-API-Version", "infra-optim 1.5")];
        h.extend_from_slice(headers);
        self.call("GET", path, &h, None)
    }

    /// Polls until plan `uuid` is in one of `states` (30 s at most); returns it.
    pub fn wait_for_plan(&self, uuid: &str, states: &[&str]) -> serde_json::Value {
        let until = Instant::now() + Duration::from_secs(30);
        loop {
            let p = self.get15(&format!("/v1/action_plans/{uuid}"), &[]).json();
            if states.iter().any(|st| p["state"] == *st) {
                return p;
            }
            assert!(Instant::now() < until, "plan {uuid} stuck in {}; log:\n{}", p["state"], self.log());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Creates a plan (`actions` defaults to none), expecting 201.
    pub fn create_plan(&self, mut plan: serde_json::Value) -> serde_json::Value {
        if plan.get("actions").is_none() {
            plan["actions"] = serde_json::json!([]);
        }
        let r = self.send_json("POST", "/v1/action_plans", &plan);
        assert_eq!(r.status, 201, "create: {}", r.body);
        r.json()
    }

    /// `GET path`, expecting 200 and a JSON body.
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "GET {path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("GET {path}: not JSON ({e}): {body}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
