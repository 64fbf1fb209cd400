//! `resize`: give an instance another flavor.
//!
//! Simulated: FAILED when the instance or the flavor is unknown. OpenStack:
//! `{"resize": {"flavorRef": ID}}`, wait for VERIFY_RESIZE, confirm, wait.

use super::openstack::{self as os, Check, Look, Os};
use super::schemas::{name, object, uuid};
use super::simulated::model::Cloud;
use super::simulated::{self as sim, Change, Decision};
use super::{Builtin, OnOpenStack, Simulate};
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
}

impl Builtin for Resize {
    const NAME: &'static str = "resize";

    fn schema() -> Value {
        object(json!({"resource_id": uuid(), "flavor": name()}), &["resource_id", "flavor"])
    }
}

impl Simulate for Resize {
    fn decide(&self, cloud: &Cloud) -> Decision {
        let id = &self.resource_id;
        let Some(instance) = cloud.instances.get(id) else {
            return sim::fail(format!("Instance {id} not found."), json!({}));
        };
        let pre = json!({"flavor": instance.flavor});
        if !cloud.flavors.contains_key(&self.flavor) {
            return sim::fail(format!("Flavor {} not found.", self.flavor), pre);
        }
        sim::run(pre, Change::Flavor { instance: id.clone(), flavor: self.flavor.clone() })
    }
}

impl OnOpenStack for Resize {
    fn look(&self, os: &Os<'_>) -> Result<Look, ApiError> {
        os.server_look(&self.resource_id, |s| json!({"flavor": s.flavor}))
    }

    fn prepare(&self, os: &Os<'_>) -> Result<Check, ApiError> {
        let id = &self.resource_id;
        let Some(s) = os.nova().server(id)? else {
            return Ok(os::skip(format!("Instance {id} not found"), json!({})));
        };
        let pre = json!({"flavor": s.flavor});
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
        os.nova().action(id, &json!({"resize": {"flavorRef": flavor}})).map_err(e)?;
        let s = os.confirmed(id, &before, "the resize")?;
        Ok(json!({"flavor": s.flavor}))
    }
}
