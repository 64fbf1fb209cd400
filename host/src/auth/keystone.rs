//! `--auth keystone`: tokens validated by Keystone v3, the way
//! keystonemiddleware's `auth_token` does it.
//!
//! The service logs in with its own credentials (password, project-scoped)
//! through the one OpenStack client of this crate ([`Session`]: the same
//! login, renewal and retries the OpenStack driver and the CLI use). A
//! user's token is validated with `GET /v3/auth/tokens?nocatalog`
//! ([`Session::validate_token`]); 200 gives user, project and roles, 404
//! means invalid. Answers are cached by the token's sha256 for
//! `cache_time`, never past the token's own `expires_at`; so **a revoked
//! token keeps working for at most `cache_time`** (as with
//! keystonemiddleware's `token_cache_time`). The cache holds at most
//! `cache_size` entries. Keystone unreachable or failing is a 503 to the
//! caller, not a 401.
//!
//! Tokens nobody has shown yet cannot crowd out the others: invalid ones
//! are remembered apart (a flood of random tokens evicts only other
//! invalid ones, never a valid token's entry), and at most
//! [`MAX_VALIDATIONS`] validations wait on Keystone at once — a request
//! with a new token beyond that is answered 503 at once, instead of holding
//! one of the service's in-flight slots for up to Keystone's timeout times
//! its tries (the in-flight cap applies before authorization).

use super::Identity;
use crate::openstack_api::{ApiError, CloudConfig, Credential, Domain, Session, SessionOptions};
use chrono::{DateTime, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

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
    #[error("{0}; check the keystone credentials")]
    ServiceLogin(String),
    /// Too many new tokens are being validated at once.
    #[error("{MAX_VALIDATIONS} token validations are already waiting on Keystone")]
    Busy,
}

impl From<ApiError> for KeystoneError {
    fn from(e: ApiError) -> Self {
        match e {
            ApiError::Login { .. } => KeystoneError::ServiceLogin(e.to_string()),
            other => KeystoneError::Unavailable(other.to_string()),
        }
    }
}

/// Most validations of new tokens waiting on Keystone at once.
pub const MAX_VALIDATIONS: usize = 16;

/// A Keystone client with a token cache.
pub struct Keystone {
    config: KeystoneConfig,
    base: String,
    session: Arc<Session>,
    /// Valid tokens.
    cache: Mutex<HashMap<[u8; 32], Cached>>,
    /// Tokens Keystone called invalid, apart: they never evict valid ones.
    invalid: Mutex<HashMap<[u8; 32], Cached>>,
    validations: tokio::sync::Semaphore,
}

#[derive(Clone)]
struct Cached {
    identity: Option<Identity>,
    until: Instant,
}

/// Tries per Keystone request (keystonemiddleware retries too: a
/// kept-alive connection the server closed meanwhile fails once).
const ATTEMPTS: u32 = 3;

impl Keystone {
    /// A client for `config` (no network traffic yet).
    pub fn new(config: KeystoneConfig) -> Result<Keystone, KeystoneError> {
        let base =
            config.auth_url.trim_end_matches('/').trim_end_matches("/v3").trim_end_matches('/').to_string();
        let domain = |id: &str| Domain { id: Some(id.to_string()), name: None };
        let cloud = CloudConfig {
            source: "--keystone-url".into(),
            auth_url: base.clone(),
            credential: Credential::Password {
                username: Some(config.username.clone()),
                user_id: None,
                password: config.password.clone(),
                user_domain: domain(&config.user_domain_id),
                project_id: None,
                project_name: Some(config.project_name.clone()),
                project_domain: domain(&config.project_domain_id),
            },
            region: None,
            interface: "public".into(),
            cacert: None,
            verify: true,
        };
        let options = SessionOptions {
            timeout: config.timeout,
            retries: ATTEMPTS - 1,
            backoff: Duration::from_millis(50),
        };
        let session = Session::new(cloud, options).map_err(|e| KeystoneError::Unavailable(e.to_string()))?;
        Ok(Keystone {
            config,
            base,
            session: Arc::new(session),
            cache: Mutex::new(HashMap::new()),
            invalid: Mutex::new(HashMap::new()),
            validations: tokio::sync::Semaphore::new(MAX_VALIDATIONS),
        })
    }

    /// The URL a 401 points clients to (`WWW-Authenticate: Keystone uri=…`).
    pub fn www_authenticate_uri(&self) -> &str {
        &self.base
    }

    /// Logs the service in now, so a wrong configuration shows at start.
    pub async fn check(&self) -> Result<(), KeystoneError> {
        let session = self.session.clone();
        tokio::task::spawn_blocking(move || session.check(&[]).map(drop))
            .await
            .map_err(|e| KeystoneError::Unavailable(e.to_string()))?
            .map_err(KeystoneError::from)
    }

    /// Who `token` belongs to.
    pub async fn identify(&self, token: &str) -> Result<Identity, KeystoneError> {
        let key: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        let now = Instant::now();
        if let Some(hit) = self.cache.lock().expect("token cache").get(&key).filter(|c| c.until > now) {
            return hit.identity.clone().ok_or(KeystoneError::Invalid);
        }
        if self.invalid.lock().expect("token cache").get(&key).is_some_and(|c| c.until > now) {
            return Err(KeystoneError::Invalid);
        }
        let Ok(_turn) = self.validations.try_acquire() else {
            return Err(KeystoneError::Busy);
        };
        let (identity, until) = match self.validate(token).await {
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
        let map = if entry.identity.is_some() { &self.cache } else { &self.invalid };
        let mut cache = map.lock().expect("token cache");
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

    async fn validate(&self, token: &str) -> Result<(Identity, DateTime<Utc>), KeystoneError> {
        if token.is_empty() || token.len() > 8192 || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(KeystoneError::Invalid);
        }
        let (session, token) = (self.session.clone(), token.to_string());
        let answer = tokio::task::spawn_blocking(move || session.validate_token(&token))
            .await
            .map_err(|e| KeystoneError::Unavailable(e.to_string()))??;
        let body = answer.ok_or(KeystoneError::Invalid)?;
        parse_token(&body["token"]).ok_or_else(|| {
            KeystoneError::Unavailable("token validation answered a body without user or expiry".into())
        })
    }
}

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
    use serde_json::json;

    fn unreachable_keystone(cache_size: usize) -> Keystone {
        Keystone::new(KeystoneConfig {
            auth_url: "http://127.0.0.1:9/v3".into(),
            username: "u".into(),
            password: "p".into(),
            project_name: "p".into(),
            user_domain_id: "default".into(),
            project_domain_id: "default".into(),
            cache_time: Duration::from_secs(60),
            cache_size,
            timeout: Duration::from_secs(1),
        })
        .unwrap()
    }

    #[test]
    fn a_flood_of_invalid_tokens_never_evicts_a_valid_one() {
        let k = unreachable_keystone(4);
        let until = Instant::now() + Duration::from_secs(60);
        let who = Identity { user: "alice".into(), project_id: None, roles: vec!["reader".into()] };
        for i in 0..2u8 {
            k.remember([i; 32], Cached { identity: Some(who.clone()), until });
        }
        for i in 0..200u8 {
            let mut key = [0xff; 32];
            key[0] = i;
            k.remember(key, Cached { identity: None, until });
        }
        let valid = k.cache.lock().unwrap();
        assert!(valid.contains_key(&[0; 32]) && valid.contains_key(&[1; 32]), "{} valid kept", valid.len());
        assert!(k.invalid.lock().unwrap().len() <= 4);
    }

    #[test]
    fn new_tokens_beyond_the_validations_in_flight_are_refused_at_once() {
        let k = unreachable_keystone(16);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let _all = k.validations.try_acquire_many(MAX_VALIDATIONS as u32).unwrap();
        let e = rt.block_on(k.identify("gAAAAAB-a-new-token")).unwrap_err();
        assert!(matches!(e, KeystoneError::Busy), "{e:?}");
        assert_eq!(k.session.logins(), 0, "Keystone was not asked");
    }

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
        let who = Identity { user: "alice".into(), project_id: None, roles: vec![] };
        for i in 0..100u8 {
            let until = Instant::now() + Duration::from_secs(60 + i as u64);
            k.remember([i; 32], Cached { identity: Some(who.clone()), until });
            k.remember([i ^ 0x80; 32], Cached { identity: None, until });
        }
        for cache in [k.cache.lock().unwrap(), k.invalid.lock().unwrap()] {
            assert!(cache.len() <= 16, "{}", cache.len());
        }
        assert!(k.cache.lock().unwrap().contains_key(&[99; 32]), "the newest entry is kept");
        assert!(k.invalid.lock().unwrap().contains_key(&[99 ^ 0x80; 32]), "the newest entry is kept");
    }
}
