//! `stop`: stop an instance (and what `start`, its inverse, shares).
//!
//! Simulated: FAILED when the instance is unknown; SKIPPED when it is
//! already in the wanted status. OpenStack: `{"os-stop": null}`, wait for
//! SHUTOFF; FAILED when it is not ACTIVE (or busy).

use super::openstack::{self as os, Check, Look, Os};
use super::schemas::{object, uuid};
use super::simulated::model::{Cloud, Status};
use super::simulated::{self as sim, Change, Decision};
use super::{Builtin, OnOpenStack, Simulate};
use crate::openstack_api::nova::Server;
use crate::openstack_api::ApiError;
use serde::Deserialize;
use serde_json::{json, Value};

/// Its parameters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Stop {
    /// The instance's uuid.
    pub resource_id: String,
}

/// The schema of `stop` and `start`.
pub(super) fn instance_schema() -> Value {
    object(json!({"resource_id": uuid()}), &["resource_id"])
}

impl Builtin for Stop {
    const NAME: &'static str = "stop";

    fn schema() -> Value {
        instance_schema()
    }
}

/// Simulated `stop`/`start`: the instance to `wanted`.
pub(super) fn decide_status(cloud: &Cloud, id: &str, wanted: Status) -> Decision {
    let Some(instance) = cloud.instances.get(id) else {
        return sim::fail(format!("Instance {id} not found."), json!({}));
    };
    let pre = json!({"status": instance.status});
    if instance.status == wanted {
        let s = serde_json::to_value(wanted).unwrap_or_default();
        return sim::skip(format!("Instance {id} is already {}.", s.as_str().unwrap_or("")), pre);
    }
    sim::run(pre, Change::Status { instance: id.to_string(), status: wanted })
}

/// What `stop` or `start` wants: (status wanted, status needed, verb, call).
pub(super) struct Wanted {
    pub(super) status: &'static str,
    pub(super) from: &'static str,
    pub(super) verb: &'static str,
    pub(super) call: &'static str,
}

/// OpenStack `stop`/`start`: the pre-conditions.
pub(super) fn prepare_status(os: &Os<'_>, id: &str, w: &Wanted) -> Result<Check, ApiError> {
    let Some(s) = os.nova().server(id)? else {
        return Ok(os::fail(format!("Instance {id} not found."), json!({})));
    };
    let pre = json!({"status": s.status});
    if s.status == w.status && s.settled() {
        return Ok(os::skip(format!("Instance {id} is already {}.", w.status), pre));
    }
    if s.status != w.from || !s.settled() {
        return Ok(os::fail(
            format!("Instance {id} is {} ({}); it cannot be {}.", s.status, s.describe(), w.verb),
            pre,
        ));
    }
    Ok(os::run(pre))
}

/// OpenStack `stop`/`start`: the call and the wait.
pub(super) fn apply_status(os: &Os<'_>, id: &str, w: &Wanted) -> Result<Value, String> {
    os.act(id, &json!({ w.call: null }))?;
    let s = os.settle(
        &format!("{id} to be {}", w.status),
        || os.nova().server(id),
        Server::settled,
        Server::describe,
    )?;
    if s.status != w.status {
        return Err(format!("Instance {id} did not become {}: {}.", w.status, s.describe()));
    }
    Ok(json!({"status": s.status}))
}

const STOP: Wanted = Wanted { status: "SHUTOFF", from: "ACTIVE", verb: "stopped", call: "os-stop" };

impl Simulate for Stop {
    fn decide(&self, cloud: &Cloud) -> Decision {
        decide_status(cloud, &self.resource_id, Status::Shutoff)
    }
}

impl OnOpenStack for Stop {
    fn look(&self, os: &Os<'_>) -> Result<Look, ApiError> {
        os.server_look(&self.resource_id, |s| json!({"status": s.status}))
    }

    fn prepare(&self, os: &Os<'_>) -> Result<Check, ApiError> {
        prepare_status(os, &self.resource_id, &STOP)
    }

    fn apply(&self, os: &Os<'_>, _action: &str) -> Result<Value, String> {
        apply_status(os, &self.resource_id, &STOP)
    }
}
