//! `resize`: give an instance another flavor.
//!
//! Watcher's parameters are `resource_id` and `flavor`. This service adds an
//! optional `destination_node`: the host the instance must end on. Real
//! Nova moves a resized server to whatever host its scheduler picks (unless
//! `allow_resize_to_same_host`), so a rollback's resize names the host the
//! server was on before: after the resize is confirmed, a server not there
//! is cold-migrated there (`{"migrate": {"host": H}}`, 2.56) and confirmed.
//! The pre-state and result hold the flavor and the host.
//!
//! Simulated: FAILED when the instance or the flavor is unknown, or the
//! destination is unknown or disabled; the instance stays on its host unless
//! a destination is named. OpenStack: `{"resize": {"flavorRef": ID}}`, wait
//! for VERIFY_RESIZE, confirm, wait; then the move, if needed.

use super::openstack::{self as os, Check, Look, Os};
use super::schemas::{name, nullable_name, object, uuid};
use super::simulated::model::Cloud;
use super::simulated::{self as sim, Change, Decision};
use super::{Builtin, OnOpenStack, ServiceState, Simulate};
use crate::openstack_api::ApiError;
use serde::Deserialize;
use serde_json::{json, Value};

/// Its parameters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Resize {
    /// The instance's uuid.
    pub resource_id: String,
    /// The new flavor's name.
    pub flavor: String,
    /// The host it must end on (this service's addition); `None`: wherever
    /// Nova puts it.
    #[serde(default)]
    pub destination_node: Option<String>,
}

impl Builtin for Resize {
    const NAME: &'static str = "resize";

    fn schema() -> Value {
        object(
            json!({"resource_id": uuid(), "resource_name": {"type": "string"}, "flavor": name(), "destination_node": nullable_name()}),
            &["resource_id", "flavor"],
        )
    }
}

impl Simulate for Resize {
    fn decide(&self, cloud: &Cloud) -> Decision {
        let id = &self.resource_id;
        let Some(instance) = cloud.instances.get(id) else {
            return sim::fail(format!("Instance {id} not found."), json!({}));
        };
        let pre = json!({"flavor": instance.flavor, "host": instance.host});
        if !cloud.flavors.contains_key(&self.flavor) {
            return sim::fail(format!("Flavor {} not found.", self.flavor), pre);
        }
        if let Some(dest) = &self.destination_node {
            match cloud.compute_services.get(dest) {
                None => return sim::fail(format!("Compute host {dest} could not be found."), pre),
                Some(s) if s.state == ServiceState::Disabled && dest != &instance.host => {
                    return sim::fail(format!("Destination host {dest} is disabled."), pre)
                }
                Some(_) => {}
            }
        }
        let host = self.destination_node.clone().filter(|d| d != &instance.host);
        sim::run(pre, Change::Flavor { instance: id.clone(), flavor: self.flavor.clone(), host })
    }
}

impl OnOpenStack for Resize {
    fn look(&self, os: &Os<'_>) -> Result<Look, ApiError> {
        os.server_look(&self.resource_id, |s| json!({"flavor": s.flavor, "host": s.host}))
    }

    fn prepare(&self, os: &Os<'_>) -> Result<Check, ApiError> {
        let id = &self.resource_id;
        let Some(s) = os.nova().server(id)? else {
            return Ok(os::skip(format!("Instance {id} not found"), json!({})));
        };
        let pre = json!({"flavor": s.flavor, "host": s.host});
        if os.nova().flavor_id(&self.flavor)?.is_none() {
            return Ok(os::fail(format!("Flavor {} not found", self.flavor), pre));
        }
        if !s.settled() {
            return Ok(os::fail(
                format!("Instance {id} is busy ({}); it cannot be resized now.", s.describe()),
                pre,
            ));
        }
        Ok(os::run(pre))
    }

    fn apply(&self, os: &Os<'_>, _action: &str) -> Result<Value, String> {
        let e = |e: ApiError| e.to_string();
        let id = &self.resource_id;
        let before = os.nova().server(id).map_err(e)?.ok_or_else(|| format!("Instance {id} vanished."))?;
        let flavor = os
            .nova()
            .flavor_id(&self.flavor)
            .map_err(e)?
            .ok_or_else(|| format!("Flavor {} not found", self.flavor))?;
        let destination = match &self.destination_node {
            Some(d) => Some(os.nova().host_named(d).map_err(e)?.unwrap_or_else(|| d.clone())),
            None => None,
        };
        let mut s = before.clone();
        if s.flavor != self.flavor {
            os.act(id, &json!({"resize": {"flavorRef": flavor}}))?;
            s = os.confirmed(id, &before, "the resize")?;
        }
        if let Some(dest) = destination.filter(|d| d != &s.host) {
            // Back to its host: a cold migration there, confirmed.
            let resized = s.clone();
            os.act(id, &json!({"migrate": {"host": dest}}))?;
            s = os.confirmed(id, &resized, "the move back after the resize")?;
            if s.host != dest {
                return Err(format!("The instance {id} was resized but did not reach {dest}: {}.", s.describe()));
            }
        }
        Ok(json!({"flavor": s.flavor, "host": s.host}))
    }
}
