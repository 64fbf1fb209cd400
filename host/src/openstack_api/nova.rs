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

/// Nova at 2.84, where an instance action's events carry `details` (the
/// failure's message); only to read why an accepted request failed.
const COMPUTE_2_84: Api =
    Api { name: "compute", types: &["compute"], version: Some(("OpenStack-API-Version", "compute 2.84")) };

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

/// What is on a compute host (see [`Nova::occupants`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Occupants {
    /// Its servers' names (ids where unnamed).
    pub servers: Vec<String>,
    /// Migrations to or from it not yet over: "server-uuid status".
    pub migrations: Vec<String>,
}

impl Occupants {
    /// Nothing on the host.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty() && self.migrations.is_empty()
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

    /// `POST /servers/{id}/action` with `body` (202, no content): Nova's
    /// request id, by which it records what became of the request.
    pub fn action(&self, id: &str, body: &Value) -> Result<Option<String>, ApiError> {
        self.0
            .call(&COMPUTE, Method::POST, &format!("/servers/{}/action", seg(id)), Some(body))
            .map(|r| r.request_id)
    }

    /// Why Nova's request `request` on server `id` failed after it was
    /// accepted, from the server's instance action
    /// (`GET /servers/{id}/os-instance-actions/{request}`): each event whose
    /// result is `Error`, with its `details` (2.84; a cloud older than that
    /// gives the event's name only). `None` when Nova recorded no error.
    pub fn failure(&self, id: &str, request: &str) -> Result<Option<String>, ApiError> {
        let path = format!("/servers/{}/os-instance-actions/{}", seg(id), seg(request));
        let r = match self.0.call(&COMPUTE_2_84, Method::GET, &path, None) {
            Ok(r) => r,
            Err(e) if matches!(e.status(), Some(400 | 406)) => {
                match self.0.call(&COMPUTE, Method::GET, &path, None) {
                    Ok(r) => r,
                    Err(e) if e.status() == Some(404) => return Ok(None),
                    Err(e) => return Err(e),
                }
            }
            Err(e) if e.status() == Some(404) => return Ok(None),
            Err(e) => return Err(e),
        };
        let action = &r.body["instanceAction"];
        let errors: Vec<String> = action["events"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .filter(|e| e["result"] == "Error")
            .map(|e| {
                let event = e["event"].as_str().unwrap_or("?");
                match e["details"].as_str().map(str::trim) {
                    Some(d) if !d.is_empty() => format!("{event}: {d}"),
                    _ => format!("{event}: Error"),
                }
            })
            .collect();
        if errors.is_empty() && action["message"].is_null() {
            return Ok(None);
        }
        let what = action["action"].as_str().unwrap_or("request");
        let message = action["message"].as_str().unwrap_or("Error");
        let said = if errors.is_empty() { message.to_string() } else { errors.join("; ") };
        Ok(Some(format!("Nova's record of {what} {request}: {said}")))
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

    /// The compute host `name` refers to. Watcher 9 names hosts by compute
    /// node (hypervisor) uuid (`change_nova_service_state.resource_id`,
    /// `migrate.source_node`), operators by host name: a uuid is looked up
    /// with `GET /os-hypervisors/{uuid}` (its `service.host`, 2.53+); any
    /// other name is the host's. `None`: a uuid Nova does not know.
    pub fn host_named(&self, name: &str) -> Result<Found<String>, ApiError> {
        if uuid::Uuid::try_parse(name).is_err() {
            return Ok(Some(name.to_string()));
        }
        let path = format!("/os-hypervisors/{}", seg(name));
        match self.0.call(&COMPUTE, Method::GET, &path, None) {
            Ok(r) => r.body["hypervisor"]["service"]["host"]
                .as_str()
                .map(|h| Some(h.to_string()))
                .ok_or_else(|| shape(&path)("the hypervisor shows no service.host".into())),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// What Nova says is on compute host `host` now, read live (not the
    /// hypervisor's `running_vms`, which Nova refreshes about once a
    /// minute): its servers, any status (`GET /servers?all_tenants=1&host=H`),
    /// and the migrations to or from it not yet over (`GET /os-migrations?host=H`).
    pub fn occupants(&self, host: &str) -> Result<Occupants, ApiError> {
        let path = format!("/servers?all_tenants=1&host={}", seg(host));
        let r = self.0.call(&COMPUTE, Method::GET, &path, None)?;
        let servers = r.body["servers"]
            .as_array()
            .ok_or_else(|| shape(&path)("no servers list".into()))?
            .iter()
            .map(|s| s["name"].as_str().or(s["id"].as_str()).unwrap_or("?").to_string())
            .collect();
        let path = format!("/os-migrations?host={}", seg(host));
        let r = self.0.call(&COMPUTE, Method::GET, &path, None)?;
        let over = ["confirmed", "reverted", "error", "failed", "completed", "cancelled", "done"];
        let migrations = r.body["migrations"]
            .as_array()
            .ok_or_else(|| shape(&path)("no migrations list".into()))?
            .iter()
            .filter(|m| m["status"].as_str().is_some_and(|s| !over.contains(&s)))
            .map(|m| {
                let server = m["instance_uuid"].as_str().unwrap_or("?");
                let status = m["status"].as_str().unwrap_or("?");
                format!("{server} {status}")
            })
            .collect();
        Ok(Occupants { servers, migrations })
    }
}
