//! Logging in to Keystone the way the `openstack` CLI does: password
//! authentication from `OS_*` variables or a `clouds.yaml` cloud
//! (`--os-cloud`), a project-scoped token, and the `infra-optim` endpoint
//! from the catalog (so `--url` may be left out).

use super::ClientError;
use reqwest::blocking::Client as Http;
use serde_json::{json, Value};
use std::path::PathBuf;

/// What a password login needs.
#[derive(Debug, Default)]
pub struct Login {
    auth_url: String,
    username: String,
    password: String,
    user_domain: Domain,
    project: Option<String>,
    project_id: Option<String>,
    project_domain: Domain,
    region: Option<String>,
    interface: String,
}

/// A domain by id or by name (`default` by id when neither is set).
#[derive(Debug, Default)]
struct Domain {
    id: Option<String>,
    name: Option<String>,
}

impl Domain {
    fn json(&self) -> Value {
        match (&self.id, &self.name) {
            (Some(id), _) => json!({"id": id}),
            (None, Some(name)) => json!({"name": name}),
            (None, None) => json!({"id": "default"}),
        }
    }
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

impl Login {
    /// The login described by `--os-cloud` (clouds.yaml), else by `OS_*`
    /// variables; `None` when no `OS_AUTH_URL`/cloud is set.
    pub fn from_settings(cloud: Option<&str>) -> Result<Option<Login>, ClientError> {
        if let Some(name) = cloud {
            return Self::from_clouds_yaml(name).map(Some);
        }
        let Some(auth_url) = env("OS_AUTH_URL") else { return Ok(None) };
        let missing = |v: &str| ClientError::Auth(format!("OS_AUTH_URL is set but {v} is not"));
        Ok(Some(Login {
            auth_url,
            username: env("OS_USERNAME").ok_or_else(|| missing("OS_USERNAME"))?,
            password: env("OS_PASSWORD").ok_or_else(|| missing("OS_PASSWORD"))?,
            user_domain: Domain { id: env("OS_USER_DOMAIN_ID"), name: env("OS_USER_DOMAIN_NAME") },
            project: env("OS_PROJECT_NAME"),
            project_id: env("OS_PROJECT_ID"),
            project_domain: Domain { id: env("OS_PROJECT_DOMAIN_ID"), name: env("OS_PROJECT_DOMAIN_NAME") },
            region: env("OS_REGION_NAME"),
            interface: env("OS_INTERFACE").unwrap_or_else(|| "public".into()),
        }))
    }

    /// The cloud `name` of the first clouds.yaml found (`OS_CLIENT_CONFIG_FILE`,
    /// ./, ~/.config/openstack/, /etc/openstack/).
    fn from_clouds_yaml(name: &str) -> Result<Login, ClientError> {
        let mut candidates: Vec<PathBuf> =
            env("OS_CLIENT_CONFIG_FILE").map(PathBuf::from).into_iter().collect();
        candidates.push(PathBuf::from("clouds.yaml"));
        if let Some(home) = env("HOME") {
            candidates.push(PathBuf::from(home).join(".config/openstack/clouds.yaml"));
        }
        candidates.push(PathBuf::from("/etc/openstack/clouds.yaml"));
        let Some(file) = candidates.iter().find(|p| p.is_file()) else {
            return Err(ClientError::Auth(format!(
                "--os-cloud {name}: no clouds.yaml in ./, ~/.config/openstack/ or /etc/openstack/"
            )));
        };
        let text = std::fs::read_to_string(file)
            .map_err(|e| ClientError::Auth(format!("cannot read {}: {e}", file.display())))?;
        let doc: Value = serde_yaml_ng::from_str(&text)
            .map_err(|e| ClientError::Auth(format!("{} is not valid YAML: {e}", file.display())))?;
        let cloud = &doc["clouds"][name];
        if !cloud.is_object() {
            return Err(ClientError::Auth(format!("{} has no cloud named {name:?}", file.display())));
        }
        let a = &cloud["auth"];
        let s = |v: &Value| v.as_str().map(str::to_string);
        let need = |k: &str| {
            s(&a[k]).ok_or_else(|| {
                ClientError::Auth(format!("{}: cloud {name}: auth.{k} is missing", file.display()))
            })
        };
        Ok(Login {
            auth_url: need("auth_url")?,
            username: need("username")?,
            password: need("password")?,
            user_domain: Domain { id: s(&a["user_domain_id"]), name: s(&a["user_domain_name"]) },
            project: s(&a["project_name"]),
            project_id: s(&a["project_id"]),
            project_domain: Domain { id: s(&a["project_domain_id"]), name: s(&a["project_domain_name"]) },
            region: s(&cloud["region_name"]),
            interface: s(&cloud["interface"]).unwrap_or_else(|| "public".into()),
        })
    }

    /// `…/v3` for the auth URL as users write it (with or without `/v3`).
    fn v3(&self) -> String {
        let base = self.auth_url.trim_end_matches('/');
        if base.ends_with("/v3") {
            base.to_string()
        } else {
            format!("{base}/v3")
        }
    }

    /// Logs in: the token and, when the catalog has one, the service's URL.
    pub fn token(&self, http: &Http) -> Result<(String, Option<String>), ClientError> {
        let mut auth = json!({"identity": {"methods": ["password"], "password": {"user": {
            "name": self.username, "domain": self.user_domain.json(), "password": self.password}}}});
        if let Some(id) = &self.project_id {
            auth["scope"] = json!({"project": {"id": id}});
        } else if let Some(name) = &self.project {
            auth["scope"] = json!({"project": {"name": name, "domain": self.project_domain.json()}});
        }
        let url = format!("{}/auth/tokens", self.v3());
        let resp = http
            .post(&url)
            .json(&json!({ "auth": auth }))
            .send()
            .map_err(|e| ClientError::Unreachable { url: url.clone(), cause: super::root_cause(&e) })?;
        let status = resp.status();
        if !status.is_success() {
            let body = resp.text().unwrap_or_default();
            let why = serde_json::from_str::<Value>(&body)
                .ok()
                .and_then(|v| v["error"]["message"].as_str().map(str::to_string))
                .unwrap_or_else(|| status.to_string());
            return Err(ClientError::Auth(format!("Keystone refused the login: {why}")));
        }
        let token = resp
            .headers()
            .get("X-Subject-Token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| ClientError::Auth("Keystone answered without X-Subject-Token".into()))?;
        let body: Value = resp.json().unwrap_or(Value::Null);
        Ok((token, self.endpoint(&body["token"]["catalog"])))
    }

    /// The `infra-optim` endpoint of the catalog for our interface/region.
    fn endpoint(&self, catalog: &Value) -> Option<String> {
        let service = catalog.as_array()?.iter().find(|s| s["type"] == "infra-optim")?;
        service["endpoints"]
            .as_array()?
            .iter()
            .filter(|e| e["interface"] == self.interface.as_str())
            .find(|e| self.region.as_deref().is_none_or(|r| e["region"] == r || e["region_id"] == r))
            .and_then(|e| e["url"].as_str())
            .map(str::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_catalog_gives_the_infra_optim_endpoint_of_our_interface() {
        let login = Login { interface: "public".into(), ..Login::default() };
        let catalog = json!([
            {"type": "identity", "endpoints": [{"interface": "public", "url": "http://k"}]},
            {"type": "infra-optim", "endpoints": [
                {"interface": "internal", "region": "r1", "url": "http://internal:9322"},
                {"interface": "public", "region": "r1", "url": "http://public:9322"}]}
        ]);
        assert_eq!(login.endpoint(&catalog).as_deref(), Some("http://public:9322"));
    }

    #[test]
    fn auth_urls_get_v3_once() {
        let l = |u: &str| Login { auth_url: u.into(), ..Login::default() }.v3();
        assert_eq!(l("http://k:5000"), "http://k:5000/v3");
        assert_eq!(l("http://k:5000/v3/"), "http://k:5000/v3");
    }
}
