//! A stand-in for Nova, Cinder and Ironic, for the OpenStack driver's
//! tests (a real Nova cannot run on a test machine).
//!
//! It implements exactly the endpoints the driver calls, and checks what
//! the real services check: a Keystone token (validated by the real
//! Keystone the tests run, and carrying the `admin` role, as the admin
//! APIs need), the microversion headers (Nova 2.53+ for services by uuid,
//! 2.56+ for a cold migration's host, 2.47+ for a server's flavor name;
//! Ironic 1.5+ for a node by name), request bodies against the api-ref
//! samples' keys, and the state rules (a live migration only of an ACTIVE
//! instance, never to a disabled host, 409 while a task is in progress, a
//! confirm only in VERIFY_RESIZE, one power change at a time). Changes are
//! asynchronous: an instance passes through MIGRATING or RESIZE and
//! VERIFY_RESIZE, a volume through `migrating`/`retyping`, a node through
//! its `target_power_state`, for [`World::delay`] each.
//!
//! Its catalog paths: `/compute/v2.1`, `/volume/v3/{project_id}`,
//! `/baremetal`. Answers are built from the samples in
//! `tests/fixtures/openstack/` (see SOURCES.md there).

mod cinder;
mod ironic;
mod nova;
mod world;

pub use world::World;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One request, as the handlers see it.
pub struct Request {
    method: String,
    headers: HashMap<String, String>,
    query: HashMap<String, String>,
    body: Option<Value>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    fn query(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }
}

/// A status and a JSON body (none for 202).
pub struct Answer {
    status: u16,
    body: Option<Value>,
    /// The request id to answer with (a new one when `None`).
    request_id: Option<String>,
}

impl Answer {
    fn ok(status: u16, body: Value) -> Answer {
        Answer { status, body: Some(body), request_id: None }
    }

    fn accepted() -> Answer {
        Answer { status: 202, body: None, request_id: None }
    }
}

/// Nova's and Cinder's error body: `{"<kind>": {"code", "message"}}`.
fn fault(status: u16, kind: &str, message: &str) -> Answer {
    Answer::ok(status, json!({ kind: {"code": status, "message": message} }))
}

/// A sample from `tests/fixtures/openstack/`.
fn fixture(name: &str) -> Value {
    let path = crate::repo_root().join("tests/fixtures/openstack").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

/// 400 unless `body` is an object whose keys are all in `allowed`.
fn keys_within<S: AsRef<str>>(body: &Value, allowed: &[S]) -> Result<(), Answer> {
    let Some(o) = body.as_object() else {
        return Err(fault(400, "badRequest", "Invalid input: the body must be an object."));
    };
    match o.keys().find(|k| !allowed.iter().any(|a| a.as_ref() == k.as_str())) {
        Some(k) => Err(fault(
            400,
            "badRequest",
            &format!("Additional properties are not allowed ('{k}' was unexpected)"),
        )),
        None => Ok(()),
    }
}

/// Who a token belongs to, as Keystone said.
#[derive(Clone)]
struct Identity {
    project_id: String,
    roles: Vec<String>,
}

/// Validates tokens with Keystone (`GET /v3/auth/tokens`), caching each
/// answer 10 s.
struct Tokens {
    keystone: String,
    admin_password: String,
    admin: Mutex<Option<(String, Instant)>>,
    cache: Mutex<HashMap<String, (Instant, Option<Identity>)>>,
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

impl Tokens {
    fn admin_token(&self, fresh: bool) -> String {
        let mut held = self.admin.lock().unwrap();
        if let Some((t, at)) = held.as_ref() {
            if !fresh && at.elapsed() < Duration::from_secs(20) {
                return t.clone();
            }
        }
        let body = json!({"auth": {"identity": {"methods": ["password"], "password": {"user": {
            "name": "admin", "domain": {"id": "default"}, "password": self.admin_password}}},
            "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}});
        let r = agent()
            .post(format!("{}/v3/auth/tokens", self.keystone))
            .header("Content-Type", "application/json")
            .send(body.to_string())
            .expect("the double's admin login");
        assert_eq!(r.status().as_u16(), 201, "the double's admin login");
        let t = r.headers().get("X-Subject-Token").unwrap().to_str().unwrap().to_string();
        *held = Some((t.clone(), Instant::now()));
        t
    }

    fn check(&self, token: &str) -> Option<Identity> {
        if let Some((at, id)) = self.cache.lock().unwrap().get(token) {
            if at.elapsed() < Duration::from_secs(10) {
                return id.clone();
            }
        }
        let mut fresh = false;
        let identity = loop {
            let mut r = agent()
                .get(format!("{}/v3/auth/tokens?nocatalog", self.keystone))
                .header("X-Auth-Token", self.admin_token(fresh))
                .header("X-Subject-Token", token)
                .call()
                .expect("Keystone answers the double");
            match r.status().as_u16() {
                200 => {
                    let v: Value = serde_json::from_str(&r.body_mut().read_to_string().unwrap()).unwrap();
                    let t = &v["token"];
                    break Some(Identity {
                        project_id: t["project"]["id"].as_str().unwrap_or_default().to_string(),
                        roles: t["roles"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(|r| r["name"].as_str().map(str::to_string))
                            .collect(),
                    });
                }
                401 if !fresh => fresh = true,
                _ => break None,
            }
        };
        self.cache.lock().unwrap().insert(token.to_string(), (Instant::now(), identity.clone()));
        identity
    }
}

/// An answer the next matching requests get instead of the real one.
struct Injected {
    method: String,
    path: String,
    status: u16,
    message: String,
    times: usize,
}

struct Inner {
    world: Mutex<World>,
    tokens: Tokens,
    injected: Mutex<Vec<Injected>>,
    calls: Mutex<Vec<String>>,
}

/// A running double; stops when dropped.
pub struct Double {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    inner: Arc<Inner>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Double {
    /// Starts a double holding `cloud` (a simulated cloud document) whose
    /// changes take `delay`; tokens are checked with the Keystone at
    /// `keystone` (its admin user has `admin_password`).
    pub fn start(cloud: &Value, delay: Duration, keystone: &str, admin_password: &str) -> Double {
        let inner = Arc::new(Inner {
            world: Mutex::new(World::from_cloud(cloud, delay)),
            tokens: Tokens {
                keystone: keystone.trim_end_matches('/').to_string(),
                admin_password: admin_password.to_string(),
                admin: Mutex::new(None),
                cache: Mutex::new(HashMap::new()),
            },
            injected: Mutex::new(Vec::new()),
            calls: Mutex::new(Vec::new()),
        });
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let state = Arc::clone(&inner);
        std::thread::spawn(move || {
            let rt =
                tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                addr_tx.send(listener.local_addr().unwrap()).unwrap();
                let app = axum::Router::new().fallback(serve).with_state(state);
                axum::serve(listener, app)
                    .with_graceful_shutdown(async move {
                        let _ = stop_rx.await;
                    })
                    .await
                    .unwrap();
            });
        });
        let addr = addr_rx.recv_timeout(Duration::from_secs(10)).expect("the double listens");
        Double { base: format!("http://{addr}"), inner, stop: Some(stop_tx) }
    }

    /// The state as a simulated cloud document.
    pub fn cloud(&self) -> Value {
        let mut w = self.inner.world.lock().unwrap();
        w.tick(Instant::now());
        w.cloud()
    }

    /// Changes the state directly (as someone else acting on the cloud).
    pub fn edit<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let mut w = self.inner.world.lock().unwrap();
        w.tick(Instant::now());
        f(&mut w)
    }

    /// Whether no change is under way (landing what is due first).
    pub fn settled(&self) -> bool {
        self.edit(|w| w.settled())
    }

    /// The next `times` requests `METHOD …path…` (path containing `path`)
    /// answer `status` with `message` (Nova's fault shape).
    pub fn inject(&self, method: &str, path: &str, status: u16, message: &str, times: usize) {
        self.inner.injected.lock().unwrap().push(Injected {
            method: method.into(),
            path: path.into(),
            status,
            message: message.into(),
            times,
        });
    }

    /// Every request so far: `METHOD /path?query [version header]`, and the
    /// action name for POSTed actions.
    pub fn calls(&self) -> Vec<String> {
        self.inner.calls.lock().unwrap().clone()
    }
}

impl Drop for Double {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

async fn serve(
    State(inner): State<Arc<Inner>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let answer =
        tokio::task::spawn_blocking(move || handle(&inner, method, uri, headers, body)).await.unwrap();
    let status = StatusCode::from_u16(answer.status).unwrap();
    // Every OpenStack service names its request, for its logs.
    let id = answer.request_id.clone().unwrap_or_else(|| format!("req-{}", uuid::Uuid::new_v4()));
    match answer.body {
        Some(b) => (
            status,
            [("Content-Type", "application/json"), ("X-OpenStack-Request-Id", id.as_str())],
            b.to_string(),
        )
            .into_response(),
        None => (status, [("X-OpenStack-Request-Id", id.as_str())]).into_response(),
    }
}

fn handle(inner: &Inner, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Answer {
    let headers: HashMap<String, String> = headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_ascii_lowercase(), v.to_str().ok()?.to_string())))
        .collect();
    let query: HashMap<String, String> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let d = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().to_string();
            (d(k), d(v))
        })
        .collect();
    let parsed = if body.is_empty() { Ok(None) } else { serde_json::from_slice::<Value>(&body).map(Some) };
    let version = ["openstack-api-version", "x-openstack-nova-api-version", "x-openstack-ironic-api-version"]
        .iter()
        .find_map(|h| headers.get(*h).cloned())
        .unwrap_or_default();
    let action = parsed
        .as_ref()
        .ok()
        .and_then(|b| b.as_ref()?.as_object()?.keys().next().cloned())
        .unwrap_or_default();
    inner.calls.lock().unwrap().push(format!("{method} {uri} [{version}] {action}").trim_end().to_string());
    let Ok(body) = parsed else {
        return fault(400, "badRequest", "Malformed request body");
    };
    let req = Request { method: method.to_string(), headers, query, body };
    // Keystone first, as keystonemiddleware does.
    let Some(token) = req.header("x-auth-token") else {
        return Answer::ok(
            401,
            json!({"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}),
        );
    };
    let Some(identity) = inner.tokens.check(token) else {
        return Answer::ok(
            401,
            json!({"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}),
        );
    };
    if !identity.roles.iter().any(|r| r == "admin") {
        return fault(
            403,
            "forbidden",
            "Policy doesn't allow this operation to be performed (the admin role is needed).",
        );
    }
    let path = uri.path().to_string();
    {
        let mut injected = inner.injected.lock().unwrap();
        if let Some(i) =
            injected.iter_mut().find(|i| i.method == req.method && path.contains(&i.path) && i.times > 0)
        {
            i.times -= 1;
            let kind = match i.status {
                400 => "badRequest",
                404 => "itemNotFound",
                409 => "conflictingRequest",
                _ => "computeFault",
            };
            return fault(i.status, kind, &i.message);
        }
    }
    let decoded: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| percent_encoding::percent_decode_str(s).decode_utf8_lossy().to_string())
        .collect();
    let segments: Vec<&str> = decoded.iter().map(String::as_str).collect();
    let mut w = inner.world.lock().unwrap();
    w.tick(Instant::now());
    match segments.as_slice() {
        ["compute", "v2.1", rest @ ..] => nova::handle(&mut w, &req, rest),
        ["volume", "v3", project, rest @ ..] => {
            if *project != identity.project_id {
                return fault(
                    400,
                    "badRequest",
                    &format!("Malformed request url: project {project} is not the token's"),
                );
            }
            cinder::handle(&mut w, &req, rest)
        }
        ["baremetal", rest @ ..] => ironic::handle(&mut w, &req, rest),
        _ => fault(404, "itemNotFound", "The resource could not be found."),
    }
}
