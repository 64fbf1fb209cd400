//! A Keystone session: one project-scoped token, renewed before it expires
//! (and once more when a service answers 401), the service catalog it came
//! with, and calls to the services it lists, retried when the failure is
//! transient.
//!
//! A call is retried, with exponential backoff, at most
//! [`SessionOptions::retries`] times, when the request did not reach the
//! service (connection refused or reset before an answer), when the service
//! answers 502/503/504, or 409 because the resource is busy (Nova's "while
//! it is in task_state …", Ironic's "is locked by host"). A read is also
//! retried after a timeout; an action is not (it may have been accepted).
//! Any other answer is returned, with the service's own message.
//!
//! Blocking: the cloud driver runs on the applier's blocking threads.

use super::config::CloudConfig;
use chrono::{DateTime, Utc};
use reqwest::blocking::Client;
use reqwest::Method;
use serde_json::{json, Value};
use std::sync::Mutex;
use std::time::Duration;

/// The longest a token is kept before its expiry.
const RENEW_BEFORE: Duration = Duration::from_secs(120);

/// The most of an answer's body that is read (a catalog, a flavor list
/// fit many times over); the rest is dropped, so a misbehaving endpoint
/// cannot exhaust memory.
pub const MAX_BODY: u64 = 16 << 20;

/// Reads at most [`MAX_BODY`] bytes of an answer's body as text.
fn body_text(resp: reqwest::blocking::Response) -> String {
    use std::io::Read;
    let mut buf = Vec::new();
    let _ = resp.take(MAX_BODY).read_to_end(&mut buf);
    String::from_utf8_lossy(&buf).into_owned()
}

/// One OpenStack service, as the catalog types it, and the microversion
/// header every call to it carries.
#[derive(Debug, Clone, Copy)]
pub struct Api {
    /// What messages call it.
    pub name: &'static str,
    /// Catalog types, most preferred first.
    pub types: &'static [&'static str],
    /// The microversion header, if the service has one.
    pub version: Option<(&'static str, &'static str)>,
}

/// Knobs of a session.
#[derive(Debug, Clone)]
pub struct SessionOptions {
    /// Longest one HTTP call may take.
    pub timeout: Duration,
    /// Retries of a transiently failing call.
    pub retries: u32,
    /// The first wait between retries (doubled each time, at most 8 s).
    pub backoff: Duration,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions { timeout: Duration::from_secs(60), retries: 5, backoff: Duration::from_millis(500) }
    }
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request got no answer (after the retries).
    #[error("{api} at {url} could not be reached: {cause}")]
    Unreachable {
        /// The service.
        api: String,
        /// The URL called.
        url: String,
        /// The root cause.
        cause: String,
    },
    /// The service answered with an error status.
    #[error("{api} refused {what} (HTTP {status}): {message}{}", .request_id.as_deref().map(|r| format!(" [{r}]")).unwrap_or_default())]
    Refused {
        /// The service.
        api: String,
        /// The method and path.
        what: String,
        /// The HTTP status.
        status: u16,
        /// The service's own message.
        message: String,
        /// The service's request id (`X-OpenStack-Request-Id`), to find the
        /// call in its logs.
        request_id: Option<String>,
    },
    /// Keystone refused our login, or its answer made no sense.
    #[error("Keystone login as {who} ({origin}) failed: {why}")]
    Login {
        /// Who we tried to be.
        who: String,
        /// Where the credentials came from.
        origin: String,
        /// Why.
        why: String,
    },
    /// The catalog has no endpoint for the service.
    #[error("the service catalog has no {api} endpoint ({types}) with interface {interface}{region}")]
    NoEndpoint {
        /// The service.
        api: String,
        /// The types looked for.
        types: String,
        /// The interface asked for.
        interface: String,
        /// `, region R` when a region is set.
        region: String,
    },
    /// The service answered 2xx with a body that is not what it documents.
    #[error("{api} answered {what} unexpectedly: {why}")]
    Unexpected {
        /// The service.
        api: String,
        /// The method and path.
        what: String,
        /// What is wrong with the answer.
        why: String,
    },
    /// The TLS or client setup failed (a bad CA bundle).
    #[error("cannot set up the HTTP client: {0}")]
    Setup(String),
}

impl ApiError {
    /// The HTTP status the service answered, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A successful answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// The status.
    pub status: u16,
    /// The body (`null` when empty or not JSON).
    pub body: Value,
    /// The service's request id (`x-openstack-request-id`), if it sent one.
    pub request_id: Option<String>,
}

#[derive(Clone)]
struct Token {
    value: String,
    renew_at: DateTime<Utc>,
    catalog: Value,
}

/// A logged-in client of one cloud. Cheap to share (`Arc`).
pub struct Session {
    config: CloudConfig,
    http: Client,
    options: SessionOptions,
    token: Mutex<Option<Token>>,
    logins: std::sync::atomic::AtomicU64,
}

/// The innermost cause of a transport error (reqwest's are nested).
pub fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The service's own message in an error body: Nova's and Cinder's
/// `{"badRequest": {"message": …}}`, Keystone's `{"error": {"message": …}}`,
/// Ironic's `{"error_message": "{\"faultstring\": …}"}`.
pub fn service_message(body: &str) -> Option<String> {
    let v: Value = serde_json::from_str(body).ok()?;
    if let Some(em) = v.get("error_message") {
        let inner = match em {
            Value::String(s) => serde_json::from_str::<Value>(s).unwrap_or(Value::String(s.clone())),
            other => other.clone(),
        };
        return inner["faultstring"].as_str().or(inner.as_str()).map(str::to_string);
    }
    v.as_object()?.values().find_map(|x| x.get("message")?.as_str().map(str::to_string))
}

/// Whether a transport failure is one that trying again cannot fix: the
/// TLS peer's certificate was refused (an unknown CA, a wrong name).
fn untrusted(cause: &str) -> bool {
    cause.contains("certificate")
}

/// Whether an error answer is worth retrying.
fn transient(status: u16, message: &str) -> bool {
    match status {
        502..=504 => true,
        409 => {
            message.contains("task_state")
                || message.contains("task state")
                || message.contains("is locked by")
        }
        _ => false,
    }
}

impl Session {
    /// A session for `config`; logs in on the first call.
    pub fn new(config: CloudConfig, options: SessionOptions) -> Result<Session, ApiError> {
        let mut builder = Client::builder()
            .timeout(options.timeout)
            .connect_timeout(Duration::from_secs(10).min(options.timeout))
            .user_agent(concat!("rollback-host/", env!("CARGO_PKG_VERSION")));
        if let Some(path) = &config.cacert {
            let pem = std::fs::read(path)
                .map_err(|e| ApiError::Setup(format!("cannot read the CA bundle {}: {e}", path.display())))?;
            let certs = reqwest::Certificate::from_pem_bundle(&pem)
                .map_err(|e| ApiError::Setup(format!("{} is not a PEM bundle: {e}", path.display())))?;
            if certs.is_empty() {
                return Err(ApiError::Setup(format!("{} holds no certificate", path.display())));
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        if !config.verify {
            tracing::warn!(source = %config.source, "TLS certificates of the cloud are NOT verified (verify: false)");
            builder = builder.danger_accept_invalid_certs(true);
        }
        let http = builder.build().map_err(|e| ApiError::Setup(root_cause(&e)))?;
        Ok(Session { config, http, options, token: Mutex::new(None), logins: Default::default() })
    }

    /// How many times the session logged in (the first login, renewals,
    /// and new logins after a 401).
    pub fn logins(&self) -> u64 {
        self.logins.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The configuration in use.
    pub fn config(&self) -> &CloudConfig {
        &self.config
    }

    fn who(&self) -> String {
        match &self.config.credential {
            super::Credential::Password { username, user_id, .. } => {
                username.clone().or_else(|| user_id.clone()).unwrap_or_default()
            }
            super::Credential::ApplicationCredential { id, name, .. } => {
                format!("application credential {}", id.clone().or_else(|| name.clone()).unwrap_or_default())
            }
        }
    }

    fn login_error(&self, why: impl Into<String>) -> ApiError {
        ApiError::Login { who: self.who(), origin: self.config.source.clone(), why: why.into() }
    }

    /// Logs in: a fresh token with its catalog.
    fn login(&self) -> Result<Token, ApiError> {
        let url = format!("{}/auth/tokens", self.config.v3());
        let mut attempt = 0;
        let resp = loop {
            let sent = self.http.post(&url).json(&json!({"auth": self.config.credential.auth_body()})).send();
            let status = sent
                .as_ref()
                .map(|r| r.status().as_u16().to_string())
                .unwrap_or_else(|_| "unreachable".into());
            crate::metrics::METRICS.cloud_call("identity", "POST", &status);
            match sent {
                Ok(r) if transient(r.status().as_u16(), "") && attempt < self.options.retries => {}
                Ok(r) => break r,
                Err(e) if e.is_connect() && !untrusted(&root_cause(&e)) && attempt < self.options.retries => {
                }
                Err(e) => {
                    return Err(ApiError::Unreachable { api: "identity".into(), url, cause: root_cause(&e) })
                }
            }
            let wait = self.backoff(attempt);
            crate::metrics::METRICS.cloud_retry("identity");
            tracing::warn!(
                api = "identity",
                attempt = attempt + 1,
                ?wait,
                "transient failure, retrying: {status}"
            );
            std::thread::sleep(wait);
            attempt += 1;
        };
        let status = resp.status();
        let subject = resp.headers().get("X-Subject-Token").and_then(|v| v.to_str().ok()).map(str::to_string);
        let text = body_text(resp);
        if !status.is_success() {
            let why = service_message(&text).unwrap_or_else(|| status.to_string());
            return Err(self.login_error(format!("HTTP {}: {why}", status.as_u16())));
        }
        let value = subject.ok_or_else(|| self.login_error("the answer has no X-Subject-Token"))?;
        let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
        let time = |k: &str| {
            body["token"][k]
                .as_str()
                .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
                .map(|t| t.with_timezone(&Utc))
        };
        let expires = time("expires_at").ok_or_else(|| self.login_error("the token has no expires_at"))?;
        let issued = time("issued_at").unwrap_or_else(Utc::now);
        let lifetime = (expires - issued).to_std().unwrap_or_default();
        let margin = RENEW_BEFORE.min(lifetime / 2);
        let renew_at = expires - chrono::Duration::from_std(margin).unwrap_or_default();
        self.logins.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(%expires, source = %self.config.source, "logged in to Keystone");
        Ok(Token { value, renew_at, catalog: body["token"]["catalog"].clone() })
    }

    /// The current token, logging in again when it is due for renewal (or
    /// when `stale` is the token a service just refused).
    fn token(&self, stale: Option<&str>) -> Result<Token, ApiError> {
        let mut held = self.token.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(t) = held.as_ref() {
            if Utc::now() < t.renew_at && stale != Some(t.value.as_str()) {
                return Ok(t.clone());
            }
        }
        let fresh = self.login()?;
        *held = Some(fresh.clone());
        Ok(fresh)
    }

    /// Logs in now (so that a wrong configuration shows at start) and
    /// checks that the catalog has an endpoint for each of `apis`.
    pub fn check(&self, apis: &[Api]) -> Result<Vec<String>, ApiError> {
        let token = self.token(None)?;
        apis.iter().map(|api| self.endpoint(&token.catalog, api)).collect()
    }

    /// A valid token and, when the catalog lists one, the URL of `api`
    /// (for clients that make their own calls, like the CLI).
    pub fn token_for(&self, api: &Api) -> Result<(String, Option<String>), ApiError> {
        let token = self.token(None)?;
        let url = self.endpoint(&token.catalog, api).ok();
        Ok((token.value, url))
    }

    /// The URL of `api` in `catalog` for our interface and region.
    fn endpoint(&self, catalog: &Value, api: &Api) -> Result<String, ApiError> {
        let region = self.config.region.as_deref();
        let found = api.types.iter().find_map(|ty| {
            catalog.as_array()?.iter().filter(|s| s["type"] == *ty).find_map(|s| {
                s["endpoints"]
                    .as_array()?
                    .iter()
                    .filter(|e| e["interface"] == self.config.interface.as_str())
                    .find(|e| region.is_none_or(|r| e["region"] == r || e["region_id"] == r))
                    .and_then(|e| e["url"].as_str())
                    .map(|u| u.trim_end_matches('/').to_string())
            })
        });
        found.ok_or_else(|| ApiError::NoEndpoint {
            api: api.name.into(),
            types: api.types.join(", "),
            interface: self.config.interface.clone(),
            region: region.map(|r| format!(", region {r}")).unwrap_or_default(),
        })
    }

    /// Validates a user's token the way keystonemiddleware does:
    /// `GET /v3/auth/tokens?nocatalog` with our token in `X-Auth-Token` and
    /// theirs in `X-Subject-Token`. `Some(body)` when Keystone vouches for
    /// it, `None` when it says the token is not valid (404). A refusal of our
    /// own token (401/403) logs in again once; a failure to connect is
    /// retried as any call is.
    pub fn validate_token(&self, subject: &str) -> Result<Option<Value>, ApiError> {
        let url = format!("{}/auth/tokens?nocatalog", self.config.v3());
        let what = "GET /v3/auth/tokens".to_string();
        let mut stale: Option<String> = None;
        loop {
            let ours = self.token(stale.as_deref())?.value;
            let mut attempt = 0;
            let resp = loop {
                let sent = self
                    .http
                    .get(&url)
                    .header("X-Auth-Token", &ours)
                    .header("X-Subject-Token", subject)
                    .send();
                match sent {
                    Ok(r) if transient(r.status().as_u16(), "") && attempt < self.options.retries => {}
                    Ok(r) => break r,
                    Err(e)
                        if !e.is_timeout()
                            && !untrusted(&root_cause(&e))
                            && attempt < self.options.retries => {}
                    Err(e) => {
                        return Err(ApiError::Unreachable {
                            api: "identity".into(),
                            url,
                            cause: root_cause(&e),
                        })
                    }
                }
                std::thread::sleep(self.backoff(attempt));
                attempt += 1;
            };
            let status = resp.status().as_u16();
            let text = body_text(resp);
            match status {
                200 => {
                    let body = serde_json::from_str(&text).map_err(|e| ApiError::Unexpected {
                        api: "identity".into(),
                        what,
                        why: format!("not JSON: {e}"),
                    })?;
                    return Ok(Some(body));
                }
                404 => return Ok(None),
                401 | 403 if stale.is_none() => stale = Some(ours),
                _ => {
                    let message = service_message(&text).unwrap_or_default();
                    return Err(ApiError::Refused {
                        api: "identity".into(),
                        what,
                        status,
                        message,
                        request_id: None,
                    });
                }
            }
        }
    }

    fn backoff(&self, attempt: u32) -> Duration {
        (self.options.backoff * 2u32.saturating_pow(attempt.min(16))).min(Duration::from_secs(8))
    }

    /// Calls `method path` (relative to the endpoint) on `api`, with its
    /// microversion, retrying transient failures. A 2xx is a [`Reply`];
    /// anything else an [`ApiError`] with the service's message.
    pub fn call(
        &self,
        api: &Api,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Reply, ApiError> {
        let read = method == Method::GET;
        let what = format!("{method} {path}");
        let (mut attempt, mut stale): (u32, Option<String>) = (0, None);
        let mut refreshed = false;
        loop {
            let token = self.token(stale.as_deref())?;
            let url = format!("{}{path}", self.endpoint(&token.catalog, api)?);
            let mut req = self.http.request(method.clone(), &url).header("X-Auth-Token", &token.value);
            if let Some((name, value)) = api.version {
                req = req.header(name, value);
            }
            if let Some(b) = body {
                req = req.json(b);
            }
            let retry_why = match req.send() {
                Err(e) => {
                    crate::metrics::METRICS.cloud_call(api.name, method.as_str(), "unreachable");
                    let cause = root_cause(&e);
                    let again = !untrusted(&cause)
                        && (e.is_connect() || (read && (e.is_timeout() || e.is_request())));
                    if !again || attempt >= self.options.retries {
                        return Err(ApiError::Unreachable { api: api.name.into(), url, cause });
                    }
                    cause
                }
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    crate::metrics::METRICS.cloud_call(api.name, method.as_str(), &status.to_string());
                    let request_id = ["x-openstack-request-id", "x-compute-request-id"]
                        .iter()
                        .find_map(|h| resp.headers().get(*h)?.to_str().ok().map(str::to_string));
                    let text = body_text(resp);
                    if (200..300).contains(&status) {
                        return Ok(Reply {
                            status,
                            body: serde_json::from_str(&text).unwrap_or(Value::Null),
                            request_id,
                        });
                    }
                    if status == 401 && !refreshed {
                        // The token was revoked or expired early: log in once more.
                        refreshed = true;
                        stale = Some(token.value);
                        continue;
                    }
                    let message = service_message(&text).unwrap_or_else(|| {
                        let t = text.trim();
                        if t.is_empty() {
                            format!("HTTP {status}")
                        } else {
                            t.chars().take(500).collect()
                        }
                    });
                    if !transient(status, &message) || attempt >= self.options.retries {
                        return Err(ApiError::Refused {
                            api: api.name.into(),
                            what,
                            status,
                            message,
                            request_id,
                        });
                    }
                    format!("HTTP {status}: {message}")
                }
            };
            let wait = self.backoff(attempt);
            crate::metrics::METRICS.cloud_retry(api.name);
            tracing::warn!(api = api.name, %what, attempt = attempt + 1, ?wait, "transient failure, retrying: {retry_why}");
            std::thread::sleep(wait);
            attempt += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(region: Option<&str>, interface: &str) -> Session {
        let yaml = "clouds: {c: {auth: {auth_url: 'http://k:5000', username: u, password: p}}}";
        let mut config = CloudConfig::from_clouds_yaml(yaml, "c", "clouds.yaml").unwrap();
        config.region = region.map(str::to_string);
        config.interface = interface.into();
        Session::new(config, SessionOptions::default()).unwrap()
    }

    #[test]
    fn the_catalog_gives_the_endpoint_of_our_interface_region_and_preferred_type() {
        let catalog = json!([
            {"type": "volume", "endpoints": [{"interface": "public", "region": "r1", "url": "http://old/v2"}]},
            {"type": "volumev3", "endpoints": [
                {"interface": "internal", "region": "r1", "url": "http://internal/v3/p"},
                {"interface": "public", "region_id": "r2", "url": "http://public-r2/v3/p/"},
                {"interface": "public", "region": "r1", "url": "http://public-r1/v3/p"}]}
        ]);
        let volume =
            Api { name: "block-storage", types: &["block-storage", "volumev3", "volume"], version: None };
        let url =
            |region: Option<&str>, interface: &str| session(region, interface).endpoint(&catalog, &volume);
        assert_eq!(url(Some("r1"), "public").unwrap(), "http://public-r1/v3/p");
        assert_eq!(
            url(Some("r2"), "public").unwrap(),
            "http://public-r2/v3/p",
            "region_id counts, the / goes"
        );
        assert_eq!(url(Some("r1"), "internal").unwrap(), "http://internal/v3/p");
        let e = url(Some("r3"), "public").unwrap_err().to_string();
        assert!(e.contains("no block-storage endpoint") && e.contains("region r3"), "{e}");
    }

    #[test]
    fn a_missing_or_empty_ca_bundle_is_refused_by_name() {
        let yaml = "clouds: {c: {cacert: /nonexistent/ca.pem, auth: {auth_url: 'https://k', username: u, password: p}}}";
        let config = CloudConfig::from_clouds_yaml(yaml, "c", "clouds.yaml").unwrap();
        let e = Session::new(config.clone(), SessionOptions::default()).err().unwrap().to_string();
        assert!(e.contains("/nonexistent/ca.pem"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let config = CloudConfig { cacert: Some(empty.clone()), ..config };
        let e = Session::new(config, SessionOptions::default()).err().unwrap().to_string();
        assert!(e.contains("empty.pem"), "{e}");
    }

    #[test]
    fn an_oversized_answer_is_read_only_up_to_the_cap() {
        let huge = axum::http::Response::new(vec![b'x'; (MAX_BODY + 4096) as usize]);
        let text = body_text(reqwest::blocking::Response::from(huge));
        assert_eq!(text.len() as u64, MAX_BODY);
    }

    #[test]
    fn each_services_error_message_is_found() {
        let nova = r#"{"badRequest": {"code": 400, "message": "No valid host was found."}}"#;
        assert_eq!(service_message(nova).as_deref(), Some("No valid host was found."));
        let ironic =
            r#"{"error_message": "{\"faultstring\": \"Node x is locked by host c1\", \"debuginfo\": null}"}"#;
        assert_eq!(service_message(ironic).as_deref(), Some("Node x is locked by host c1"));
        let keystone = r#"{"error": {"code": 401, "message": "The request you have made requires authentication.", "title": "Unauthorized"}}"#;
        assert!(service_message(keystone).unwrap().contains("requires authentication"));
        assert_eq!(service_message("<html>oops</html>"), None);
    }

    #[test]
    fn busy_and_unavailable_answers_are_transient_refusals_are_not() {
        assert!(transient(503, ""));
        assert!(transient(409, "Cannot 'os-migrateLive' instance x while it is in task_state migrating"));
        assert!(transient(
            409,
            "Node n is locked by host c1, please retry after the current operation is completed."
        ));
        assert!(!transient(409, "Cannot 'os-stop' instance x while it is in vm_state stopped"));
        assert!(!transient(400, "No valid host was found."));
        assert!(!transient(404, ""));
    }
}
