//! `sleep`: wait `duration` seconds (the applier waits without holding a
//! thread; drivers scale it); changes nothing, inverts to nothing.

use super::openstack::{self as os, Check, Look, Os};
use super::schemas::object;
use super::simulated::model::Cloud;
use super::simulated::{self as sim, Change, Decision};
use super::{Builtin, OnOpenStack, Simulate};
use crate::openstack_api::ApiError;
use serde::Deserialize;
use serde_json::{json, Value};
use std::time::Duration;

/// Longest a `sleep` action may wait, before scaling (one hour).
const MAX_SLEEP_SECONDS: f64 = 3600.0;

/// Its parameters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Sleep {
    /// Seconds (≥ 0).
    pub duration: f64,
}

impl Sleep {
    /// How long it really waits, on either driver: `duration` clamped to
    /// 0..=1 h, then multiplied by `scale` (the drivers' `--sleep-scale`).
    pub fn waits(&self, scale: f64) -> Duration {
        let s = if self.duration.is_finite() { self.duration.clamp(0.0, MAX_SLEEP_SECONDS) } else { 0.0 };
        Duration::from_secs_f64(s * scale.max(0.0))
    }
}

impl Builtin for Sleep {
    const NAME: &'static str = "sleep";

    fn schema() -> Value {
        object(json!({"duration": {"type": "number", "minimum": 0}}), &["duration"])
    }

    fn check(&self) -> Result<(), String> {
        if self.duration.is_finite() && self.duration >= 0.0 {
            Ok(())
        } else {
            Err(format!("invalid input_parameters for sleep: duration {} is not ≥ 0", self.duration))
        }
    }
}

impl Simulate for Sleep {
    fn decide(&self, _cloud: &Cloud) -> Decision {
        sim::run(json!({}), Change::Nothing(json!({})))
    }
}

impl OnOpenStack for Sleep {
    fn look(&self, _os: &Os<'_>) -> Result<Look, ApiError> {
        Ok(Look { state: Some(json!({})), busy: None })
    }

    fn prepare(&self, _os: &Os<'_>) -> Result<Check, ApiError> {
        Ok(os::run(json!({})))
    }

    fn apply(&self, os: &Os<'_>, _action: &str) -> Result<Value, String> {
        let waited = self.waits(os.options.sleep_scale);
        Ok(json!({"duration": self.duration, "waited_ms": waited.as_millis() as u64}))
    }

    fn changes_a_resource(&self) -> bool {
        false
    }
}
