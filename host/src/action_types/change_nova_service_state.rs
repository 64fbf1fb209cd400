//! `change_nova_service_state`: enable or disable a compute service.
//!
//! Simulated: FAILED when the service is unknown. OpenStack:
//! `GET /os-services?binary=nova-compute&host=H`, then
//! `PUT /os-services/{id}`; SKIPPED when it is already in the wanted state.
//! The disabled reason is kept only when disabling.

use super::openstack::{self as os, Check, Look, Os};
use super::schemas::{name, object};
use super::simulated::model::Cloud;
use super::simulated::{self as sim, Change, Decision};
use super::{Builtin, OnOpenStack, ServiceState, Simulate};
use crate::openstack_api::nova::Service;
use crate::openstack_api::ApiError;
use serde::Deserialize;
use serde_json::{json, Value};

/// Its parameters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChangeServiceState {
    /// The service's host.
    pub resource_id: String,
    /// The wanted state.
    pub state: ServiceState,
    /// Why it is disabled (kept only when disabling).
    #[serde(default)]
    pub disabled_reason: Option<String>,
}

impl Builtin for ChangeServiceState {
    const NAME: &'static str = "change_nova_service_state";

    fn schema() -> Value {
        object(
            json!({
                "resource_id": name(),
                "resource_name": {"type": "string"},
                "state": {"type": "string", "enum": ["enabled", "disabled"]},
                "disabled_reason": {"type": "string"},
            }),
            &["resource_id", "state"],
        )
    }
}

impl Simulate for ChangeServiceState {
    fn decide(&self, cloud: &Cloud) -> Decision {
        let id = &self.resource_id;
        match cloud.compute_services.get(id) {
            None => sim::fail(format!("Compute service on host {id} not found."), json!({})),
            Some(now) => sim::run(
                json!({"state": now.state, "disabled_reason": now.disabled_reason}),
                Change::Service {
                    host: id.clone(),
                    state: self.state,
                    reason: match self.state {
                        ServiceState::Disabled => self.disabled_reason.clone(),
                        ServiceState::Enabled => None,
                    },
                },
            ),
        }
    }
}

impl ChangeServiceState {
    /// The host's nova-compute service; `resource_id` is a host name or,
    /// as Watcher 9 writes it, the compute node's uuid.
    fn service(&self, os: &Os<'_>) -> Result<Option<(String, Service)>, ApiError> {
        let Some(host) = os.nova().host_named(&self.resource_id)? else { return Ok(None) };
        Ok(os.nova().compute_service(&host)?.map(|s| (host, s)))
    }
}

impl OnOpenStack for ChangeServiceState {
    fn look(&self, os: &Os<'_>) -> Result<Look, ApiError> {
        Ok(Look {
            state: self.service(os)?.map(|(_, s)| json!({"state": s.status, "disabled_reason": s.disabled_reason})),
            busy: None,
        })
    }

    fn prepare(&self, os: &Os<'_>) -> Result<Check, ApiError> {
        let Some((host, svc)) = self.service(os)? else {
            let id = &self.resource_id;
            return Ok(os::skip(format!("nova-compute service {id} not found"), json!({})));
        };
        let pre = json!({"state": svc.status, "disabled_reason": svc.disabled_reason});
        let wanted = match self.state {
            ServiceState::Enabled => "enabled",
            ServiceState::Disabled => "disabled",
        };
        if svc.status == wanted {
            return Ok(os::skip(format!("nova-compute service {host} is already in state {wanted}"), pre));
        }
        Ok(os::run(pre))
    }

    fn apply(&self, os: &Os<'_>, _action: &str) -> Result<Value, String> {
        let e = |e: ApiError| e.to_string();
        let (_, svc) = self
            .service(os)
            .map_err(e)?
            .ok_or_else(|| format!("nova-compute service {} vanished.", self.resource_id))?;
        let enabled = self.state == ServiceState::Enabled;
        let reason = if enabled { None } else { self.disabled_reason.as_deref() };
        let now = os.nova().set_service(&svc.id, enabled, reason).map_err(e)?;
        Ok(json!({"state": now.status, "disabled_reason": now.disabled_reason}))
    }
}
