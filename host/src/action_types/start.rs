//! `start`: start an instance (not one of Watcher's types: the inverse of
//! `stop`). Simulated and OpenStack as `stop`, the other way
//! (`{"os-start": null}`, wait for ACTIVE).

use super::openstack::{Check, Look, Os};
use super::simulated::model::{Cloud, Status};
use super::simulated::Decision;
use super::stop::{apply_status, decide_status, instance_schema, prepare_status, Wanted};
use super::{Builtin, OnOpenStack, Simulate};
use crate::openstack_api::ApiError;
use serde::Deserialize;
use serde_json::{json, Value};

/// Its parameters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Start {
    /// The instance's uuid.
    pub resource_id: String,
}

impl Builtin for Start {
    const NAME: &'static str = "start";

    fn schema() -> Value {
        instance_schema()
    }
}

const START: Wanted = Wanted { status: "ACTIVE", from: "SHUTOFF", verb: "started", call: "os-start" };

impl Simulate for Start {
    fn decide(&self, cloud: &Cloud) -> Decision {
        decide_status(cloud, &self.resource_id, Status::Active)
    }
}

impl OnOpenStack for Start {
    fn look(&self, os: &Os<'_>) -> Result<Look, ApiError> {
        os.server_look(&self.resource_id, |s| json!({"status": s.status}))
    }

    fn prepare(&self, os: &Os<'_>) -> Result<Check, ApiError> {
        prepare_status(os, &self.resource_id, &START)
    }

    fn apply(&self, os: &Os<'_>, _action: &str) -> Result<Value, String> {
        apply_status(os, &self.resource_id, &START)
    }
}
