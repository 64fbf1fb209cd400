//! The Nova calls the driver makes, at microversion 2.56: Watcher's minimum
//! (a cold migration may name its destination), where services are
//! addressed by uuid (2.53) and a server shows its flavor by name (2.47).

use super::{seg, Found};
use super::{Api, ApiError, Session};
use reqwest::Method;
use serde_json::{json, Value};

/// Nova, as the catalog types it.
pub const COMPUTE: Api =
    Api { name: "compute", types: &["compute"], version: Some(("OpenStack-API-Version", "compute 2.56")) };

/// What the driver reads of a server.
#[derive(Debug, Clone, PartialEq)]
pub struct Server {
    /// `ACTIVE`, `SHUTOFF`, `MIGRATING`, `VERIFY_RESIZE`, `ERROR`, …
    pub status: String,
    /// The compute host (`OS-EXT-SRV-ATTR:host`, admin only).
    pub host: String,
    /// `OS-EXT-STS:vm_state`.
    pub vm_state: String,
    /// `OS-EXT-STS:task_state`: set while Nova works on it.
    pub task_state: Option<String>,
    /// The flavor's name (`flavor.original_name`).
    pub flavor: String,
}

impl Server {
    fn read(v: &Value) -> Result<Server, String> {
        let s = |k: &str| v[k].as_str().map(str::to_string);
        Ok(Server {
            status: s("status").ok_or("the server has no status")?,
            host: s("OS-EXT-SRV-ATTR:host").ok_or(
                "the server shows no OS-EXT-SRV-ATTR:host: the service account needs the admin role",
            )?,
            vm_state: s("OS-EXT-STS:vm_state").unwrap_or_default(),
            task_state: s("OS-EXT-STS:task_state"),
            flavor: v["flavor"]["original_name"]
                .as_str()
                .ok_or("the server shows no flavor name")?
                .to_string(),
        })
    }

    /// Whether Nova is done with it (no task, not in a transitional status).
    pub fn settled(&self) -> bool {
        self.task_state.is_none()
            && !matches!(self.status.as_str(), "MIGRATING" | "RESIZE" | "REBUILD" | "BUILD")
    }

    /// The last observation, for a timeout's message.
    pub fn describe(&self) -> String {
        format!(
            "host {}, status {}, task_state {}",
            self.host,
            self.status,
            self.task_state.as_deref().unwrap_or("none")
        )
    }
}

/// A nova-compute service.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    /// Its uuid.
    pub id: String,
    /// `enabled` or `disabled`.
    pub status: String,
    /// Why it is disabled.
    pub disabled_reason: Option<String>,
}

impl Service {
    fn read(v: &Value) -> Result<Service, String> {
        Ok(Service {
            id: v["id"].as_str().ok_or("the service has no id")?.to_string(),
            status: v["status"].as_str().ok_or("the service has no status")?.to_string(),
            disabled_reason: v["disabled_reason"].as_str().map(str::to_string),
        })
    }
}

/// Nova over a session.
pub struct Nova<'a>(pub &'a Session);

fn shape(what: &str) -> impl Fn(String) -> ApiError + '_ {
    move |why| ApiError::Unexpected { api: "compute".into(), what: what.into(), why }
}

impl Nova<'_> {
    /// `GET /servers/{id}`; `None` when Nova does not know it.
    pub fn server(&self, id: &str) -> Result<Found<Server>, ApiError> {
        let path = format!("/servers/{}", seg(id));
        match self.0.call(&COMPUTE, Method::GET, &path, None) {
            Ok(r) => Server::read(&r.body["server"]).map(Some).map_err(shape(&path)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /os-services?binary=nova-compute&host=H`: the host's compute service.
    pub fn compute_service(&self, host: &str) -> Result<Found<Service>, ApiError> {
        let path = format!("/os-services?binary=nova-compute&host={}", seg(host));
        let r = self.0.call(&COMPUTE, Method::GET, &path, None)?;
        let services = r.body["services"].as_array().cloned().unwrap_or_default();
        services.iter().find(|s| s["host"] == host).map(Service::read).transpose().map_err(shape(&path))
    }

    /// `PUT /os-services/{id}`: enables, or disables with a reason.
    pub fn set_service(&self, id: &str, enabled: bool, reason: Option<&str>) -> Result<Service, ApiError> {
        let body = match (enabled, reason) {
            (true, _) => json!({"status": "enabled"}),
            (false, Some(r)) => json!({"status": "disabled", "disabled_reason": r}),
            (false, None) => json!({"status": "disabled"}),
        };
        let path = format!("/os-services/{}", seg(id));
        let r = self.0.call(&COMPUTE, Method::PUT, &path, Some(&body))?;
        Service::read(&r.body["service"]).map_err(shape(&path))
    }

    /// `POST /servers/{id}/action` with `body` (202, no content).
    pub fn action(&self, id: &str, body: &Value) -> Result<(), ApiError> {
        self.0.call(&COMPUTE, Method::POST, &format!("/servers/{}/action", seg(id)), Some(body)).map(drop)
    }

    /// The id of the flavor named (or with the id) `flavor`, from
    /// `GET /flavors/detail?is_public=None` (all flavors, for an admin).
    pub fn flavor_id(&self, flavor: &str) -> Result<Found<String>, ApiError> {
        let r = self.0.call(&COMPUTE, Method::GET, "/flavors/detail?is_public=None", None)?;
        let flavors = r.body["flavors"].as_array().cloned().unwrap_or_default();
        let by = |k: &str| {
            flavors.iter().find(|f| f[k] == flavor).and_then(|f| f["id"].as_str()).map(str::to_string)
        };
        Ok(by("id").or_else(|| by("name")))
    }

    /// `running_vms` of the hypervisor with uuid `id` (2.53+), `None` when
    /// Nova does not know it.
    pub fn running_vms(&self, id: &str) -> Result<Found<u64>, ApiError> {
        match self.0.call(&COMPUTE, Method::GET, &format!("/os-hypervisors/{}", seg(id)), None) {
            Ok(r) => Ok(r.body["hypervisor"]["running_vms"].as_u64()),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }
}
