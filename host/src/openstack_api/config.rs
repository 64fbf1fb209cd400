//! Where a cloud is and who we are on it, read the way the `openstack` CLI
//! and openstacksdk read it: a named cloud from `clouds.yaml` (`--os-cloud`,
//! `OS_CLOUD`), else the `OS_*` environment variables.
//!
//! `clouds.yaml` is searched in `OS_CLIENT_CONFIG_FILE`, `./`,
//! `~/.config/openstack/` and `/etc/openstack/` (the first found is used),
//! and `secure.yaml` likewise (`OS_CLIENT_SECURE_FILE` first): its entry for
//! the cloud is merged over the clouds.yaml one, so secrets can live apart. Two Keystone v3 methods are understood:
//! `password` (also `v3password`) and `v3applicationcredential` (also
//! `applicationcredential`).

use serde_json::{json, Value};
use std::path::PathBuf;

/// A domain by id or by name (`default` by id when neither is set).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Domain {
    /// Its id.
    pub id: Option<String>,
    /// Its name.
    pub name: Option<String>,
}

impl Domain {
    /// The domain as Keystone's auth body names it.
    pub fn json(&self) -> Value {
        match (&self.id, &self.name) {
            (Some(id), _) => json!({"id": id}),
            (None, Some(name)) => json!({"name": name}),
            (None, None) => json!({"id": "default"}),
        }
    }
}

/// How we prove who we are.
#[derive(Clone, PartialEq)]
pub enum Credential {
    /// A user's password, scoped to a project.
    Password {
        /// The user's name (with its domain) ...
        username: Option<String>,
        /// ... or its id.
        user_id: Option<String>,
        /// The password.
        password: String,
        /// The user's domain (when named).
        user_domain: Domain,
        /// The project by id ...
        project_id: Option<String>,
        /// ... or by name (with its domain).
        project_name: Option<String>,
        /// The project's domain.
        project_domain: Domain,
    },
    /// An application credential (its project is fixed at its creation).
    ApplicationCredential {
        /// Its id ...
        id: Option<String>,
        /// ... or its name with its user's name or id.
        name: Option<String>,
        /// The user owning a credential named by name.
        username: Option<String>,
        /// The user owning it, by id.
        user_id: Option<String>,
        /// The user's domain.
        user_domain: Domain,
        /// The secret.
        secret: String,
    },
}

impl std::fmt::Debug for Credential {
    /// Never prints a password or a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Password { username, user_id, project_name, project_id, .. } => f
                .debug_struct("Password")
                .field("username", username)
                .field("user_id", user_id)
                .field("project_name", project_name)
                .field("project_id", project_id)
                .finish_non_exhaustive(),
            Credential::ApplicationCredential { id, name, .. } => f
                .debug_struct("ApplicationCredential")
                .field("id", id)
                .field("name", name)
                .finish_non_exhaustive(),
        }
    }
}

impl Credential {
    /// The `auth` object of `POST /v3/auth/tokens`.
    pub fn auth_body(&self) -> Value {
        match self {
            Credential::Password {
                username,
                user_id,
                password,
                user_domain,
                project_id,
                project_name,
                project_domain,
            } => {
                let user = match user_id {
                    Some(id) => json!({"id": id, "password": password}),
                    None => json!({"name": username, "domain": user_domain.json(), "password": password}),
                };
                let mut auth = json!({"identity": {"methods": ["password"], "password": {"user": user}}});
                if let Some(id) = project_id {
                    auth["scope"] = json!({"project": {"id": id}});
                } else if let Some(name) = project_name {
                    auth["scope"] = json!({"project": {"name": name, "domain": project_domain.json()}});
                }
                auth
            }
            Credential::ApplicationCredential { id, name, username, user_id, user_domain, secret } => {
                let cred = match (id, name) {
                    (Some(id), _) => json!({"id": id, "secret": secret}),
                    (None, name) => {
                        let user = match user_id {
                            Some(uid) => json!({"id": uid}),
                            None => json!({"name": username, "domain": user_domain.json()}),
                        };
                        json!({"name": name, "user": user, "secret": secret})
                    }
                };
                json!({"identity": {"methods": ["application_credential"], "application_credential": cred}})
            }
        }
    }
}

/// Everything needed to reach a cloud.
#[derive(Debug, Clone, PartialEq)]
pub struct CloudConfig {
    /// Where the config came from (for messages): a file and cloud, or the
    /// environment.
    pub source: String,
    /// Keystone's URL, with or without `/v3`.
    pub auth_url: String,
    /// Who we are.
    pub credential: Credential,
    /// The catalog region to use (any when unset).
    pub region: Option<String>,
    /// The catalog interface (`public`, `internal`, `admin`).
    pub interface: String,
    /// A PEM bundle of CAs trusted in addition to the built-in ones.
    pub cacert: Option<PathBuf>,
    /// Whether TLS certificates are verified (`verify: false` in
    /// clouds.yaml, `OS_INSECURE=true`: for test clouds only).
    pub verify: bool,
}

/// Why a cloud's configuration could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No clouds.yaml where one is looked for.
    #[error("--os-cloud {0}: no clouds.yaml in $OS_CLIENT_CONFIG_FILE, ./, ~/.config/openstack/ or /etc/openstack/")]
    NoFile(String),
    /// The file could not be read or parsed.
    #[error("{file}: {why}")]
    Unreadable {
        /// The file.
        file: String,
        /// What went wrong.
        why: String,
    },
    /// The file has no such cloud.
    #[error("{file} has no cloud named {cloud:?}")]
    NoCloud {
        /// The file.
        file: String,
        /// The cloud asked for.
        cloud: String,
    },
    /// A setting is missing or has no meaning.
    #[error("{origin}: {why}")]
    Invalid {
        /// Where the settings came from.
        origin: String,
        /// What is wrong.
        why: String,
    },
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The clouds.yaml files looked at, in order.
pub fn clouds_yaml_candidates() -> Vec<PathBuf> {
    let mut candidates: Vec<PathBuf> = env("OS_CLIENT_CONFIG_FILE").map(PathBuf::from).into_iter().collect();
    candidates.push(PathBuf::from("clouds.yaml"));
    if let Some(home) = env("HOME") {
        candidates.push(PathBuf::from(home).join(".config/openstack/clouds.yaml"));
    }
    candidates.push(PathBuf::from("/etc/openstack/clouds.yaml"));
    candidates
}

/// The secure.yaml files looked at, in order: the first found is merged
/// over the clouds.yaml cloud of the same name (secrets kept apart).
pub fn secure_yaml_candidates() -> Vec<PathBuf> {
    let mut candidates: Vec<PathBuf> = env("OS_CLIENT_SECURE_FILE").map(PathBuf::from).into_iter().collect();
    candidates.push(PathBuf::from("secure.yaml"));
    if let Some(home) = env("HOME") {
        candidates.push(PathBuf::from(home).join(".config/openstack/secure.yaml"));
    }
    candidates.push(PathBuf::from("/etc/openstack/secure.yaml"));
    candidates
}

/// `over` merged into `base`, objects key by key, anything else replaced.
fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                merge(b.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (b, o) => *b = o.clone(),
    }
}

fn read_yaml(file: &std::path::Path) -> Result<Value, ConfigError> {
    let unreadable = |why: String| ConfigError::Unreadable { file: file.display().to_string(), why };
    let text = std::fs::read_to_string(file).map_err(|e| unreadable(e.to_string()))?;
    serde_yaml_ng::from_str(&text).map_err(|e| unreadable(format!("not valid YAML: {e}")))
}

/// Reads one setting by its clouds.yaml name.
type Getter<'a> = Box<dyn Fn(&str) -> Option<String> + 'a>;

/// Flat settings, named as clouds.yaml's `auth:` keys (the `OS_*`
/// variables map onto the same names).
struct Settings<'a> {
    source: String,
    get: Getter<'a>,
}

impl Settings<'_> {
    fn get(&self, key: &str) -> Option<String> {
        (self.get)(key)
    }

    fn invalid(&self, why: impl Into<String>) -> ConfigError {
        ConfigError::Invalid { origin: self.source.clone(), why: why.into() }
    }

    fn config(&self) -> Result<CloudConfig, ConfigError> {
        let auth_url = self.get("auth_url").ok_or_else(|| self.invalid("auth_url is not set"))?;
        let domain = |prefix: &str| Domain {
            id: self.get(&format!("{prefix}domain_id")),
            name: self.get(&format!("{prefix}domain_name")),
        };
        // Like keystoneauth: a domain given once applies to user and project.
        let fallback = domain("");
        let or_fallback = |d: Domain| if d.id.is_none() && d.name.is_none() { fallback.clone() } else { d };
        let auth_type = self.get("auth_type").unwrap_or_else(|| "password".into());
        let credential = match auth_type.as_str() {
            "password" | "v3password" => {
                let (username, user_id) = (self.get("username"), self.get("user_id"));
                if username.is_none() && user_id.is_none() {
                    return Err(self.invalid("username (or user_id) is not set"));
                }
                Credential::Password {
                    username,
                    user_id,
                    password: self.get("password").ok_or_else(|| self.invalid("password is not set"))?,
                    user_domain: or_fallback(domain("user_")),
                    project_id: self.get("project_id"),
                    project_name: self.get("project_name"),
                    project_domain: or_fallback(domain("project_")),
                }
            }
            "v3applicationcredential" | "applicationcredential" => {
                let (id, name) =
                    (self.get("application_credential_id"), self.get("application_credential_name"));
                if id.is_none() && name.is_none() {
                    return Err(self.invalid("application_credential_id (or _name) is not set"));
                }
                let (username, user_id) = (self.get("username"), self.get("user_id"));
                if id.is_none() && username.is_none() && user_id.is_none() {
                    return Err(
                        self.invalid("an application credential named by name needs username or user_id")
                    );
                }
                Credential::ApplicationCredential {
                    id,
                    name,
                    username,
                    user_id,
                    user_domain: or_fallback(domain("user_")),
                    secret: self
                        .get("application_credential_secret")
                        .ok_or_else(|| self.invalid("application_credential_secret is not set"))?,
                }
            }
            other => {
                return Err(self.invalid(format!(
                    "auth_type {other:?} is not supported (password, v3applicationcredential)"
                )))
            }
        };
        let verify = match self.get("verify").as_deref() {
            None | Some("true" | "True" | "1" | "yes") => true,
            Some("false" | "False" | "0" | "no") => false,
            Some(other) => return Err(self.invalid(format!("verify: {other:?} is not a boolean"))),
        };
        Ok(CloudConfig {
            source: self.source.clone(),
            auth_url,
            credential,
            region: self.get("region_name"),
            interface: self
                .get("interface")
                .map(|i| i.trim_end_matches("URL").to_string())
                .unwrap_or_else(|| "public".into()),
            cacert: self.get("cacert").map(PathBuf::from),
            verify,
        })
    }
}

/// YAML scalars as strings (`verify: false` reads as `"false"`).
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl CloudConfig {
    /// The cloud named `cloud` in the first clouds.yaml found; without a
    /// name, the `OS_*` variables (`None` when `OS_AUTH_URL` is unset).
    pub fn load(cloud: Option<&str>) -> Result<Option<CloudConfig>, ConfigError> {
        let Some(name) = cloud else { return Self::from_env() };
        let file = clouds_yaml_candidates()
            .into_iter()
            .find(|p| p.is_file())
            .ok_or_else(|| ConfigError::NoFile(name.to_string()))?;
        let mut doc = read_yaml(&file)?;
        let mut source = file.display().to_string();
        if let Some(secure) = secure_yaml_candidates().into_iter().find(|p| p.is_file()) {
            let secrets = read_yaml(&secure)?;
            if let (Some(over), Some(_)) = (secrets["clouds"].get(name), doc["clouds"].get(name)) {
                merge(&mut doc["clouds"][name], over);
                source = format!("{source} + {}", secure.display());
            }
        }
        Self::from_document(&doc, name, &source).map(Some)
    }

    /// The cloud `name` of a clouds.yaml document (`file` names it in errors).
    pub fn from_clouds_yaml(text: &str, name: &str, file: &str) -> Result<CloudConfig, ConfigError> {
        let doc: Value = serde_yaml_ng::from_str(text).map_err(|e| ConfigError::Unreadable {
            file: file.to_string(),
            why: format!("not valid YAML: {e}"),
        })?;
        Self::from_document(&doc, name, file)
    }

    fn from_document(doc: &Value, name: &str, file: &str) -> Result<CloudConfig, ConfigError> {
        let cloud = &doc["clouds"][name];
        if !cloud.is_object() {
            return Err(ConfigError::NoCloud { file: file.to_string(), cloud: name.to_string() });
        }
        let settings = Settings {
            source: format!("{file}: cloud {name}"),
            get: Box::new(|key: &str| {
                let top = ["auth_type", "region_name", "interface", "cacert", "verify"];
                if top.contains(&key) {
                    scalar(&cloud[key])
                } else {
                    scalar(&cloud["auth"][key])
                }
            }),
        };
        settings.config()
    }

    /// The `OS_*` variables; `None` when `OS_AUTH_URL` is unset.
    pub fn from_env() -> Result<Option<CloudConfig>, ConfigError> {
        Self::from_vars(env)
    }

    /// Like [`CloudConfig::from_env`] over any variable source (for tests).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Option<CloudConfig>, ConfigError> {
        if var("OS_AUTH_URL").is_none() {
            return Ok(None);
        }
        let settings = Settings {
            source: "the OS_* environment variables".into(),
            get: Box::new(|key: &str| {
                let name = match key {
                    "insecure" => "OS_INSECURE".to_string(),
                    k => format!("OS_{}", k.to_ascii_uppercase()),
                };
                match key {
                    // OS_INSECURE=true is verify: false.
                    "verify" => var("OS_INSECURE").map(|v| {
                        if v == "true" || v == "1" {
                            "false".into()
                        } else {
                            "true".into()
                        }
                    }),
                    _ => var(&name),
                }
            }),
        };
        settings.config().map(Some)
    }

    /// `…/v3` for the auth URL as users write it (with or without `/v3`).
    pub fn v3(&self) -> String {
        let base = self.auth_url.trim_end_matches('/');
        if base.ends_with("/v3") {
            base.to_string()
        } else {
            format!("{base}/v3")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    const YAML: &str = r#"
clouds:
  prod:
    region_name: RegionTwo
    interface: internal
    cacert: /etc/ssl/cloud-ca.pem
    auth:
      auth_url: https://keystone.example:5000
      username: rollback
      password: s3cret
      project_name: service
      user_domain_name: Default
      project_domain_id: default
  appcred:
    auth_type: v3applicationcredential
    verify: false
    auth:
      auth_url: https://keystone.example:5000/v3
      application_credential_id: 21dced0fd20347869b93710d2b98aae0
      application_credential_secret: very-secret
"#;

    #[test]
    fn a_password_cloud_reads_region_interface_cacert_and_scope() {
        let c = CloudConfig::from_clouds_yaml(YAML, "prod", "clouds.yaml").unwrap();
        assert_eq!(c.region.as_deref(), Some("RegionTwo"));
        assert_eq!(c.interface, "internal");
        assert_eq!(c.cacert, Some(PathBuf::from("/etc/ssl/cloud-ca.pem")));
        assert!(c.verify);
        assert_eq!(c.v3(), "https://keystone.example:5000/v3");
        let body = c.credential.auth_body();
        assert_eq!(body["identity"]["password"]["user"]["domain"], json!({"name": "Default"}));
        assert_eq!(body["scope"]["project"], json!({"name": "service", "domain": {"id": "default"}}));
    }

    #[test]
    fn an_application_credential_cloud_authenticates_by_credential_and_never_prints_its_secret() {
        let c = CloudConfig::from_clouds_yaml(YAML, "appcred", "clouds.yaml").unwrap();
        assert!(!c.verify);
        let body = c.credential.auth_body();
        assert_eq!(body["identity"]["methods"], json!(["application_credential"]));
        assert_eq!(body["identity"]["application_credential"]["secret"], "very-secret");
        assert!(body.get("scope").is_none(), "an application credential carries its own scope");
        assert!(!format!("{c:?}").contains("very-secret"));
    }

    #[test]
    fn the_environment_works_like_the_openstack_cli() {
        let vars: HashMap<&str, &str> = [
            ("OS_AUTH_URL", "http://k:5000"),
            ("OS_USERNAME", "rollback"),
            ("OS_PASSWORD", "pw"),
            ("OS_PROJECT_NAME", "service"),
            ("OS_REGION_NAME", "RegionOne"),
            ("OS_INTERFACE", "internalURL"),
        ]
        .into();
        let c = CloudConfig::from_vars(|k| vars.get(k).map(|v| v.to_string())).unwrap().unwrap();
        assert_eq!((c.region.as_deref(), c.interface.as_str()), (Some("RegionOne"), "internal"));
        assert!(CloudConfig::from_vars(|_| None).unwrap().is_none(), "no OS_AUTH_URL: no cloud");
    }

    #[test]
    fn secure_yaml_is_merged_over_the_cloud_of_the_same_name() {
        let mut doc: Value = serde_yaml_ng::from_str(YAML).unwrap();
        let secure: Value = serde_yaml_ng::from_str(
            "clouds: {prod: {auth: {password: from-secure}}, other: {auth: {password: x}}}",
        )
        .unwrap();
        merge(&mut doc["clouds"]["prod"], &secure["clouds"]["prod"]);
        let c = CloudConfig::from_document(&doc, "prod", "clouds.yaml").unwrap();
        assert_eq!(c.credential.auth_body()["identity"]["password"]["user"]["password"], "from-secure");
        assert_eq!(c.region.as_deref(), Some("RegionTwo"), "the rest of the cloud is kept");
    }

    #[test]
    fn missing_settings_and_unknown_clouds_are_named() {
        let e = CloudConfig::from_clouds_yaml(YAML, "staging", "clouds.yaml").unwrap_err();
        assert!(e.to_string().contains("staging"), "{e}");
        let e = CloudConfig::from_clouds_yaml("clouds: {x: {auth: {auth_url: u, username: n}}}", "x", "f")
            .unwrap_err();
        assert!(e.to_string().contains("password is not set"), "{e}");
        let e =
            CloudConfig::from_clouds_yaml("clouds: {x: {auth_type: token, auth: {auth_url: u}}}", "x", "f")
                .unwrap_err();
        assert!(e.to_string().contains("not supported"), "{e}");
    }
}
