//! The HTTP client behind the CLI's remote commands (`plan`, `action`,
//! `plugin list|add|remove`, `cloud`): where the service is, who we are,
//! one blocking request at a time, and errors that carry the server's
//! `faultstring` rather than a chain of wrappers.
//!
//! Exit codes (documented in `docs/user-guide.md`): 0 done; 1 the service
//! refused or failed the request; 2 usage (bad flags, unreadable input);
//! 3 a waited-for plan ended other than SUCCEEDED; 4 the service or
//! Keystone could not be reached or did not accept our credentials.

mod auth;
pub mod table;
pub mod wait;

use reqwest::blocking::{Client as Http, RequestBuilder, Response};
use reqwest::StatusCode;
use serde_json::Value;
use std::process::ExitCode;
use std::time::Duration;

/// The default service URL.
pub const DEFAULT_URL: &str = "http://127.0.0.1:9322";

/// Where the service is and how to authenticate (every remote command).
#[derive(Debug, Clone, clap::Args)]
pub struct Connection {
    /// The service's URL (default: the `infra-optim` endpoint of the
    /// Keystone catalog when logging in, else http://127.0.0.1:9322).
    #[arg(long, env = "ROLLBACK_URL", global = true)]
    pub url: Option<String>,

    /// A token to send as `X-Auth-Token` (skips the Keystone login).
    #[arg(long, env = "OS_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,

    /// A cloud of clouds.yaml (./, ~/.config/openstack/, /etc/openstack/)
    /// whose `auth` section logs in to Keystone.
    #[arg(long, env = "OS_CLOUD", global = true)]
    pub os_cloud: Option<String>,

    /// Print the service's JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
}

/// Why a remote command failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The service answered with an error (its faultstring, and the
    /// request id to find it in the service's log).
    #[error("{message} (HTTP {status}{})", request_id.as_deref().map(|r| format!(", request {r}")).unwrap_or_default())]
    Server { status: u16, message: String, request_id: Option<String> },
    /// Nothing answered at the URL.
    #[error("cannot reach {url}: {cause}")]
    Unreachable { url: String, cause: String },
    /// Keystone or the service refused our credentials, or the login
    /// settings are incomplete.
    #[error("{0}")]
    Auth(String),
    /// Bad input on our side (a file, an argument).
    #[error("{0}")]
    Usage(String),
    /// The service answered something that is not what the API promises.
    #[error("unexpected answer from the service: {0}")]
    Protocol(String),
}

impl ClientError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            ClientError::Server { status: 401, .. } => 4,
            ClientError::Server { .. } | ClientError::Protocol(_) => 1,
            ClientError::Usage(_) => 2,
            ClientError::Unreachable { .. } | ClientError::Auth(_) => 4,
        })
    }
}

/// Exit code: the waited-for plan did not succeed.
pub const EXIT_NOT_SUCCEEDED: u8 = 3;

/// A connected client.
pub struct Client {
    http: Http,
    base: String,
    token: Option<String>,
    /// `--json`.
    pub json: bool,
}

impl Client {
    /// Resolves the URL and the credentials (logging in to Keystone when
    /// `OS_*` or `--os-cloud` settings are given without a token).
    pub fn connect(conn: &Connection) -> Result<Client, ClientError> {
        let http = Http::builder()
            .timeout(Duration::from_secs(120))
            .connect_timeout(Duration::from_secs(10))
            .user_agent(concat!("rollback-host-cli/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Usage(format!("cannot build an HTTP client: {e}")))?;
        let (token, endpoint) = match &conn.token {
            Some(t) if !t.is_empty() => (Some(t.clone()), None),
            _ => match auth::login(conn.os_cloud.as_deref())? {
                Some((token, endpoint)) => (Some(token), endpoint),
                None => (None, None),
            },
        };
        let base = conn.url.clone().or(endpoint).unwrap_or_else(|| DEFAULT_URL.to_string());
        let base = base.trim_end_matches('/').to_string();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(ClientError::Usage(format!("--url {base:?} is not an http(s) URL")));
        }
        Ok(Client { http, base, token, json: conn.json })
    }

    fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        let mut r = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("OpenStack-API-Version", "infra-optim 1.5")
            .header("Accept", "application/json");
        if let Some(t) = &self.token {
            r = r.header("X-Auth-Token", t);
        }
        r
    }

    fn send(&self, r: RequestBuilder) -> Result<Response, ClientError> {
        let resp = r
            .send()
            .map_err(|e| ClientError::Unreachable { url: self.base.clone(), cause: root_cause(&e) })?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        let request_id =
            resp.headers().get("x-openstack-request-id").and_then(|v| v.to_str().ok()).map(str::to_string);
        let body = resp.text().unwrap_or_default();
        if let Some(other) = self.not_this_service() {
            return Err(ClientError::Usage(format!(
                "{} is not rollback-host: it answered HTTP {} and its root says it is {other}. \
                 Give --url (or ROLLBACK_URL), or register this service in the catalog as type `rollback` \
                 (docs/user-guide.md)",
                self.base,
                status.as_u16()
            )));
        }
        Err(ClientError::Server { status: status.as_u16(), message: faultstring(status, &body), request_id })
    }

    /// After an error: whether the endpoint is some other service (a real
    /// Watcher found as `infra-optim`), by its root document, which for
    /// this service begins its description with `rollback-host`. What it
    /// says it is, if it is not this service.
    fn not_this_service(&self) -> Option<String> {
        let root =
            self.http.get(format!("{}/", self.base)).header("Accept", "application/json").send().ok()?;
        let doc: Value = serde_json::from_str(&root.text().ok()?).ok()?;
        let description = doc["description"].as_str().unwrap_or_default();
        if description.starts_with("rollback-host") {
            return None;
        }
        let name = doc["name"].as_str().unwrap_or("an unnamed service");
        Some(format!("{name:?} ({description:?})"))
    }

    fn json_of(resp: Response) -> Result<Value, ClientError> {
        let text = resp.text().map_err(|e| ClientError::Protocol(e.to_string()))?;
        if text.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| ClientError::Protocol(format!("not JSON: {e}")))
    }

    /// `GET path` → JSON.
    pub fn get(&self, path: &str) -> Result<Value, ClientError> {
        Self::json_of(self.send(self.request(reqwest::Method::GET, path))?)
    }

    /// `GET path` → text (for the graph).
    pub fn get_text(&self, path: &str) -> Result<String, ClientError> {
        self.send(self.request(reqwest::Method::GET, path).header("Accept", "*/*"))?
            .text()
            .map_err(|e| ClientError::Protocol(e.to_string()))
    }

    /// `METHOD path` with a JSON body (or none) → JSON (`Null` when empty).
    pub fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let mut r = self.request(method, path);
        if let Some(b) = body {
            r = r.json(b);
        }
        Self::json_of(self.send(r)?)
    }

    /// `PATCH path` with a JSON Patch document.
    pub fn patch(&self, path: &str, ops: &Value) -> Result<Value, ClientError> {
        let r = self
            .request(reqwest::Method::PATCH, path)
            .header("Content-Type", "application/json-patch+json")
            .body(ops.to_string());
        Self::json_of(self.send(r)?)
    }

    /// `PUT path` with raw bytes.
    pub fn put_bytes(&self, path: &str, bytes: Vec<u8>, content_type: &str) -> Result<Value, ClientError> {
        let r = self.request(reqwest::Method::PUT, path).header("Content-Type", content_type).body(bytes);
        Self::json_of(self.send(r)?)
    }

    /// Every action of plan `uuid`, in creation order.
    pub fn plan_actions(&self, uuid: &str) -> Result<Vec<Value>, ClientError> {
        self.collect(&format!("/v1/actions/detail?action_plan_uuid={uuid}&limit=1000"), "actions", usize::MAX)
    }

    /// Every item of a paginated collection, following `next`.
    pub fn collect(&self, path: &str, key: &str, at_most: usize) -> Result<Vec<Value>, ClientError> {
        let mut items = Vec::new();
        let mut next = Some(path.to_string());
        while let Some(p) = next.take() {
            let page = self.get(&p)?;
            let got =
                page[key].as_array().ok_or_else(|| ClientError::Protocol(format!("no `{key}` list")))?;
            items.extend(got.iter().cloned());
            if items.len() >= at_most {
                items.truncate(at_most);
                break;
            }
            // `next` is an absolute URL naming the service as it saw us; keep
            // our own base and take its path and query.
            next = page["next"].as_str().filter(|n| !n.is_empty()).and_then(path_of);
        }
        Ok(items)
    }
}

/// The path and query of an absolute URL.
fn path_of(url: &str) -> Option<String> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.find('/').map(|i| rest[i..].to_string())
}

/// The innermost cause of a reqwest error (connection refused, DNS, …).
fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// The faultstring of a Watcher error body (`error_message` holds JSON
/// text with `faultstring`), else the body, else the status.
pub fn faultstring(status: StatusCode, body: &str) -> String {
    let parsed: Option<Value> = serde_json::from_str(body).ok();
    let inner = parsed.as_ref().and_then(|v| v.get("error_message")).and_then(|m| match m {
        Value::String(s) => serde_json::from_str::<Value>(s).ok().or_else(|| Some(Value::String(s.clone()))),
        other => Some(other.clone()),
    });
    match inner {
        Some(Value::Object(o)) => {
            o.get("faultstring").and_then(Value::as_str).unwrap_or_default().to_string()
        }
        Some(Value::String(s)) => s,
        _ if !body.trim().is_empty() && body.len() < 500 => body.trim().to_string(),
        _ => status.canonical_reason().unwrap_or("error").to_string(),
    }
}

/// A uuid argument, checked before asking the service (exit 2, not a 404).
pub fn uuid_arg(uuid: &str) -> Result<&str, ClientError> {
    uuid::Uuid::parse_str(uuid).map_err(|_| ClientError::Usage(format!("{uuid:?} is not a UUID")))?;
    Ok(uuid)
}

/// Reads a file, or standard input for `-`.
pub fn read_input(path: &std::path::Path) -> Result<Vec<u8>, ClientError> {
    use std::io::Read;
    if path.as_os_str() == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .map_err(|e| ClientError::Usage(format!("reading standard input: {e}")))?;
        return Ok(buf);
    }
    std::fs::read(path).map_err(|e| ClientError::Usage(format!("cannot read {}: {e}", path.display())))
}

/// Prints JSON, pretty.
/// Reads an answer as the service's typed view (`api::views`); an answer
/// of another shape is a protocol error (the endpoint is not this service,
/// or not this version of it).
pub fn view<T: serde::de::DeserializeOwned>(v: &Value, what: &str) -> Result<T, ClientError> {
    T::deserialize(v).map_err(|e| ClientError::Protocol(format!("the answer is not {what}: {e}")))
}

/// [`view`] of every item.
pub fn views<T: serde::de::DeserializeOwned>(items: &[Value], what: &str) -> Result<Vec<T>, ClientError> {
    items.iter().map(|v| view(v, what)).collect()
}

pub fn print_json(v: &Value) {
    out!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faultstring_is_dug_out_of_watchers_error_body() {
        let body = r#"{"error_message": "{\"faultcode\": \"Client\", \"faultstring\": \"Plan x is ONGOING\", \"debuginfo\": null}"}"#;
        assert_eq!(faultstring(StatusCode::CONFLICT, body), "Plan x is ONGOING");
        assert_eq!(faultstring(StatusCode::BAD_GATEWAY, ""), "Bad Gateway");
    }

    #[test]
    fn next_links_keep_their_path_and_query() {
        assert_eq!(
            path_of("http://h:1/v1/actions?limit=2&marker=x").as_deref(),
            Some("/v1/actions?limit=2&marker=x")
        );
    }
}
