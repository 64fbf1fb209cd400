//! Cloud drivers: what the applier acts on.
//!
//! A driver runs one action in two steps. [`CloudDriver::prepare`] checks
//! Watcher's pre-conditions and observes the **pre-state** (exactly what the
//! action will change); the applier makes that durable before calling
//! [`CloudDriver::apply`], which acts and reports the **result** (what
//! really happened, e.g. the destination the scheduler chose). Only the
//! simulated driver exists now; an OpenStack driver (Nova, Ironic, Cinder
//! over HTTP) would implement the same trait.

pub mod simulated;

use rollback_store::Action;
use serde_json::Value;

/// What `prepare` decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Prepared {
    /// Pre-conditions hold; run it. `note` becomes the action's
    /// `status_message` (e.g. "recorded as a no-op").
    Run {
        /// What the action will change, as it is now.
        pre_state: Value,
        /// A remark for the action's `status_message`, if any.
        note: Option<String>,
    },
    /// Nothing to do (e.g. the instance is already stopped): SKIPPED.
    Skip {
        /// Why.
        reason: String,
        /// What was observed.
        pre_state: Value,
    },
    /// The action cannot run (e.g. the destination is disabled): FAILED.
    Fail {
        /// Why.
        reason: String,
        /// What was observed.
        pre_state: Value,
    },
}

/// An error of the driver itself (not of the action): the store failed,
/// the cloud API is unreachable, ...
#[derive(Debug, thiserror::Error)]
#[error("cloud driver: {0}")]
pub struct DriverError(pub String);

/// Executes actions against a cloud.
pub trait CloudDriver: Send + Sync + 'static {
    /// Checks pre-conditions and observes the pre-state. Must not change
    /// anything.
    fn prepare(&self, action: &Action) -> Result<Prepared, DriverError>;

    /// Performs the action. `pre_state` is what `prepare` observed; a driver
    /// should refuse to act (`Ok(Err(reason))`) when the cloud no longer
    /// matches it. Returns the result on success.
    fn apply(&self, action: &Action, pre_state: &Value) -> Result<Result<Value, String>, DriverError>;

    /// How long a `sleep` of `seconds` really waits with this driver.
    fn sleep_for(&self, seconds: f64) -> std::time::Duration;
}
