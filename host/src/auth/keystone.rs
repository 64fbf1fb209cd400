//! `--auth keystone`: tokens validated by Keystone v3, the way
//! keystonemiddleware's `auth_token` does it.
//!
//! The service logs in with its own credentials (password, project-scoped)
//! and keeps that token until shortly before it expires. A user's token is
//! validated with `GET /v3/auth/tokens?nocatalog` (`X-Auth-Token`: ours,
//! `X-Subject-Token`: theirs); 200 gives user, project and roles, 404 means
//! invalid. Answers are cached by the token's sha256 for `cache_time`, never
//! past the token's own `expires_at`; so **a revoked token keeps working
//! for at most `cache_time`** (as with keystonemiddleware's
//! `token_cache_time`). The cache holds at most `cache_size` entries.
//! Keystone unreachable or failing is a 503 to the caller, not a 401.

use super::Identity;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long before its expiry the service's own token is renewed.
const RENEW_BEFORE: Duration = Duration::from_secs(120);

/// Where Keystone is and who the service is.
#[derive(Debug, Clone)]
pub struct KeystoneConfig {
    /// Keystone's URL, with or without the `/v3` suffix.
    pub auth_url: String,
    /// The service user's name.
    pub username: String,
    /// Its password.
    pub password: String,
    /// The project its token is scoped to.
    pub project_name: String,
    /// The user's domain id.
    pub user_domain_id: String,
    /// The project's domain id.
    pub project_domain_id: String,
    /// How long a validation is trusted.
    pub cache_time: Duration,
    /// Most validations kept.
    pub cache_size: usize,
    /// Timeout of one call to Keystone.
    pub timeout: Duration,
}

/// Why a token was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum KeystoneError {
    /// Keystone says the token is not valid (or it expired).
    #[error("the token is not valid")]
    Invalid,
    /// Keystone could not be asked, or answered something unexpected.
    #[error("the identity service is unavailable: {0}")]
    Unavailable(String),
    /// Keystone refused the service's own credentials.
    #[error("Keystone refused the service's own login as {user:?} (HTTP {status}); check the keystone credentials")]
    ServiceLogin {
        /// The service user.
        user: String,
        /// Keystone's answer.
        status: u16,
    },
}

/// A Keystone client with a token cache.
pub struct Keystone {
    config: KeystoneConfig,
    base: String,
    http: reqwest::Client,
    service_token: tokio::sync::Mutex<Option<(String, Instant)>>,
    cache: Mutex<HashMap<[u8; 32], Cached>>,
}

#[derive(Clone)]
struct Cached {
    identity: Option<Identity>,
    until: Instant,
}

impl Keystone {
    /// A client for `config` (no network traffic yet).
    pub fn new(config: KeystoneConfig) -> Result<Keystone, KeystoneError> {
        let base =
            config.auth_url.trim_end_matches('/').trim_end_matches("/v3").trim_end_matches('/').to_string();
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .user_agent(concat!("rollback-host/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| KeystoneError::Unavailable(e.to_string()))?;
        Ok(Keystone {
            config,
            base,
            http,
            service_token: tokio::sync::Mutex::new(None),
            cache: Mutex::new(HashMap::new()),
        })
    }

    /// The URL a 401 points clients to (`WWW-Authenticate: Keystone uri=…`).
    pub fn www_authenticate_uri(&self) -> &str {
        &self.base
    }

    /// Logs the service in now, so a wrong configuration shows at start.
    pub async fn check(&self) -> Result<(), KeystoneError> {
        self.service_token(false).await.map(drop)
    }

    /// Who `token` belongs to.
    pub async fn identify(&self, token: &str) -> Result<Identity, KeystoneError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = Instant::now();
        if let Some(hit) = self.cache.lock().expect("token cache").get(&key).filter(|c| c.until > now) {
            return hit.identity.clone().ok_or(KeystoneError::Invalid);
        }
        let answer = match self.validate(token, false).await {
            Err(KeystoneError::Unavailable(why)) if why == SERVICE_TOKEN_REFUSED => {
                self.validate(token, true).await
            }
            other => other,
        };
        let (identity, until) = match answer {
            Ok((identity, expires)) => {
                let left = (expires - Utc::now()).to_std().unwrap_or_default();
                (Some(identity), now + left.min(self.config.cache_time))
            }
            // An invalid token never becomes valid: remember that too, so a
            // flood of bad tokens does not become a flood of Keystone calls.
            Err(KeystoneError::Invalid) => (None, now + self.config.cache_time),
            Err(e) => return Err(e),
        };
        self.remember(key, Cached { identity: identity.clone(), until });
        identity.ok_or(KeystoneError::Invalid)
    }

    fn remember(&self, key: [u8; 32], entry: Cached) {
        let mut cache = self.cache.lock().expect("token cache");
        if cache.len() >= self.config.cache_size {
            let now = Instant::now();
            cache.retain(|_, c| c.until > now);
            // Still full of live entries: drop the ones closest to expiry.
            if cache.len() >= self.config.cache_size {
                let mut by_expiry: Vec<_> = cache.iter().map(|(k, c)| (c.until, *k)).collect();
                by_expiry.sort();
                let drop = (cache.len() / 8).max(cache.len() + 1 - self.config.cache_size);
                for (_, k) in by_expiry.into_iter().take(drop) {
                    cache.remove(&k);
                }
            }
        }
        if self.config.cache_size > 0 {
            cache.insert(key, entry);
        }
    }

    async fn validate(&self, token: &str, renew: bool) -> Result<(Identity, DateTime<Utc>), KeystoneError> {
        if token.is_empty() || token.len() > 8192 || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(KeystoneError::Invalid);
        }
        let service = self.service_token(renew).await?;
        let request = self
            .http
            .get(format!("{}/v3/auth/tokens?nocatalog", self.base))
            .header("X-Auth-Token", service)
            .header("X-Subject-Token", token);
        let answer = send(request).await.map_err(|e| KeystoneError::Unavailable(e.to_string()))?;
        match answer.status().as_u16() {
            200 => {}
            404 => return Err(KeystoneError::Invalid),
            401 | 403 => return Err(KeystoneError::Unavailable(SERVICE_TOKEN_REFUSED.into())),
            other => return Err(KeystoneError::Unavailable(format!("token validation answered {other}"))),
        }
        let body: Value = answer.json().await.map_err(|e| KeystoneError::Unavailable(e.to_string()))?;
        parse_token(&body["token"]).ok_or_else(|| {
            KeystoneError::Unavailable("token validation answered a body without user or expiry".into())
        })
    }

    /// The service's own token, logging in when there is none, it is about
    /// to expire, or `renew` (Keystone refused it).
    async fn service_token(&self, renew: bool) -> Result<String, KeystoneError> {
        let mut held = self.service_token.lock().await;
        if let Some((token, until)) = held.as_ref() {
            if !renew && *until > Instant::now() {
                return Ok(token.clone());
            }
        }
        let c = &self.config;
        let body = json!({"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": c.username, "domain": {"id": c.user_domain_id}, "password": c.password}}},
            "scope": {"project": {"name": c.project_name, "domain": {"id": c.project_domain_id}}}
        }});
        let request = self.http.post(format!("{}/v3/auth/tokens?nocatalog", self.base)).json(&body);
        let answer = send(request)
            .await
            .map_err(|e| KeystoneError::Unavailable(format!("logging in to {}: {e}", self.base)))?;
        let status = answer.status();
        if status.as_u16() != 201 {
            return Err(KeystoneError::ServiceLogin { user: c.username.clone(), status: status.as_u16() });
        }
        let token = answer
            .headers()
            .get("X-Subject-Token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| KeystoneError::Unavailable("the login answer has no X-Subject-Token".into()))?;
        let body: Value = answer.json().await.map_err(|e| KeystoneError::Unavailable(e.to_string()))?;
        let expires = body["token"]["expires_at"]
            .as_str()
            .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(Utc::now);
        let left = (expires - Utc::now()).to_std().unwrap_or_default().saturating_sub(RENEW_BEFORE);
        *held = Some((token.clone(), Instant::now() + left));
        Ok(token)
    }
}

/// Sends `request`, trying again (up to [`ATTEMPTS`] in all) when it could
/// not be sent or no answer came: a kept-alive connection the server has
/// closed meanwhile fails that way (keystonemiddleware retries too).
async fn send(request: reqwest::RequestBuilder) -> Result<reqwest::Response, reqwest::Error> {
    let mut last = None;
    for attempt in 0..ATTEMPTS {
        let Some(r) = request.try_clone() else { break };
        match r.send().await {
            Ok(answer) => return Ok(answer),
            Err(e) if e.is_timeout() => return Err(e),
            Err(e) => {
                tracing::debug!(attempt, "Keystone request failed: {e}");
                last = Some(e);
            }
        }
    }
    match last {
        Some(e) => Err(e),
        None => request.send().await,
    }
}

/// Tries per Keystone request.
const ATTEMPTS: usize = 3;

/// Marks "our own token was refused" so `identify` renews it once.
const SERVICE_TOKEN_REFUSED: &str = "Keystone refused the service's token";

/// User, project, roles and expiry of a validated token's body.
fn parse_token(token: &Value) -> Option<(Identity, DateTime<Utc>)> {
    let expires = DateTime::parse_from_rfc3339(token["expires_at"].as_str()?).ok()?.with_timezone(&Utc);
    let user = token["user"]["name"].as_str().or(token["user"]["id"].as_str())?.to_string();
    let roles = token["roles"]
        .as_array()
        .map(|rs| rs.iter().filter_map(|r| r["name"].as_str()).map(str::to_ascii_lowercase).collect())
        .unwrap_or_default();
    let project_id = token["project"]["id"].as_str().map(str::to_string);
    Some((Identity { user, project_id, roles }, expires))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_validation_answer_gives_user_project_and_roles() {
        let body = json!({"token": {
            "expires_at": "2030-01-01T00:00:00.000000Z",
            "user": {"id": "u1", "name": "alice"},
            "project": {"id": "p1", "name": "admin"},
            "roles": [{"id": "r1", "name": "Reader"}, {"id": "r2", "name": "member"}]
        }});
        let (id, exp) = parse_token(&body["token"]).unwrap();
        assert_eq!(id.user, "alice");
        assert_eq!(id.project_id.as_deref(), Some("p1"));
        assert_eq!(id.roles, ["reader", "member"]);
        assert_eq!(exp.to_rfc3339(), "2030-01-01T00:00:00+00:00");
        assert!(parse_token(&json!({"user": {"id": "u"}})).is_none(), "no expiry");
    }

    #[test]
    fn the_cache_stays_within_its_size() {
        let k = Keystone::new(KeystoneConfig {
            auth_url: "http://127.0.0.1:1/v3/".into(),
            username: "u".into(),
            password: "p".into(),
            project_name: "service".into(),
            user_domain_id: "default".into(),
            project_domain_id: "default".into(),
            cache_time: Duration::from_secs(60),
            cache_size: 16,
            timeout: Duration::from_secs(1),
        })
        .unwrap();
        assert_eq!(k.www_authenticate_uri(), "http://127.0.0.1:1");
        for i in 0..100u8 {
            let until = Instant::now() + Duration::from_secs(60 + i as u64);
            k.remember([i; 32], Cached { identity: None, until });
        }
        let cache = k.cache.lock().unwrap();
        assert!(cache.len() <= 16, "{}", cache.len());
        assert!(cache.contains_key(&[99; 32]), "the newest entry is kept");
    }
}
