//! `nop`: log a message; changes nothing, inverts to nothing.

use super::openstack::{self as os, Check, Look, Os};
use super::schemas::object;
use super::simulated::model::Cloud;
use super::simulated::{self as sim, Change, Decision};
use super::{Builtin, OnOpenStack, Simulate};
use crate::openstack_api::ApiError;
use serde::Deserialize;
use serde_json::{json, Value};

/// Its parameters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Nop {
    /// What to log.
    #[serde(default)]
    pub message: Option<String>,
}

impl Builtin for Nop {
    const NAME: &'static str = "nop";

    fn schema() -> Value {
        object(json!({"message": {"type": ["string", "null"]}}), &["message"])
    }
}

impl Simulate for Nop {
    fn decide(&self, _cloud: &Cloud) -> Decision {
        sim::run(json!({}), Change::Nothing(json!({"message": self.message})))
    }
}

impl OnOpenStack for Nop {
    fn look(&self, _os: &Os<'_>) -> Result<Look, ApiError> {
        Ok(Look { state: Some(json!({})), busy: None })
    }

    fn prepare(&self, _os: &Os<'_>) -> Result<Check, ApiError> {
        Ok(os::run(json!({})))
    }

    fn apply(&self, _os: &Os<'_>, action: &str) -> Result<Value, String> {
        tracing::info!(%action, "nop: {}", self.message.as_deref().unwrap_or(""));
        Ok(json!({"message": self.message}))
    }

    fn changes_a_resource(&self) -> bool {
        false
    }
}
