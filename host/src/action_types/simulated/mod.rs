//! The simulated cloud as action types see it: its model ([`model`]), the
//! [`Decision`] a type's [`Simulate`] executor takes from it (pre-state and
//! [`Change`]), and making that change. Pure functions over [`Cloud`], so
//! they are tested without a store; `cloud::simulated` (the driver) keeps
//! the cloud in the store and calls these in its transaction.
//!
//! `decide` is the one place that reads the cloud for an action: it asks
//! the type's executor for the pre-conditions, the pre-state and the
//! [`Change`] to make. [`prepare`] reports that decision; [`apply`] decides again on
//! the cloud as it is inside the store transaction, refuses if the
//! pre-state moved since `prepare`, and makes the change. Nothing here
//! panics on a cloud that changed underneath.
//!
//! A pre-state and a result hold exactly the fields the action changes
//! (a resize records the flavor, not the status), so that a rollback's
//! drift check is not upset by unrelated changes to the same resource.

pub mod model;

/// The seed used when the store has no cloud and no `--cloud-seed` is given.
pub const DEFAULT_SEED: &str = include_str!("default-seed.json");

use super::outcome::Prepared;
use super::{Operation, PowerState, ServiceState};
use model::{Cloud, Status};
use serde_json::{json, Value};

/// What an action will change, decided from the cloud and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Move an instance to a host.
    Host {
        /// The instance.
        instance: String,
        /// The host.
        to: String,
    },
    /// Set a compute service's state.
    Service {
        /// The service's host.
        host: String,
        /// The state.
        state: ServiceState,
        /// Why it is disabled.
        reason: Option<String>,
    },
    /// Set a node's power.
    Power {
        /// The node.
        node: String,
        /// Its power.
        power: PowerState,
    },
    /// Give an instance a flavor (and move it to a host, if named).
    Flavor {
        /// The instance.
        instance: String,
        /// The flavor.
        flavor: String,
        /// Where it ends, when not where it is.
        host: Option<String>,
    },
    /// Move and/or retype a volume.
    Volume {
        /// The volume.
        volume: String,
        /// Its pool.
        pool: String,
        /// Its type.
        volume_type: String,
    },
    /// Set an instance's status.
    Status {
        /// The instance.
        instance: String,
        /// The status.
        status: Status,
    },
    /// Change nothing; the result is this value.
    Nothing(Value),
}

/// The outcome of checking an action against the cloud.
pub enum Decision {
    /// Run it.
    Run {
        /// What it will change, as it is now.
        pre_state: Value,
        /// The change.
        change: Change,
        /// A remark for the action's `status_message`.
        note: Option<String>,
    },
    /// Nothing to do: SKIPPED.
    Skip {
        /// Why.
        reason: String,
        /// What was observed.
        pre_state: Value,
    },
    /// It cannot run: FAILED.
    Fail {
        /// Why.
        reason: String,
        /// What was observed.
        pre_state: Value,
    },
}

/// Run `change`.
pub fn run(pre_state: Value, change: Change) -> Decision {
    Decision::Run { pre_state, change, note: None }
}

/// SKIPPED, with the reason.
pub fn skip(reason: impl Into<String>, pre_state: Value) -> Decision {
    Decision::Skip { reason: reason.into(), pre_state }
}

/// FAILED, with the reason.
pub fn fail(reason: impl Into<String>, pre_state: Value) -> Decision {
    Decision::Fail { reason: reason.into(), pre_state }
}

/// Checks pre-conditions and observes the pre-state.
pub fn prepare(cloud: &Cloud, op: &Operation) -> Prepared {
    match decide(cloud, op) {
        Decision::Run { pre_state, note, .. } => Prepared::Run { pre_state, note, operation: op.clone() },
        Decision::Skip { reason, pre_state } => Prepared::Skip { reason, pre_state },
        Decision::Fail { reason, pre_state } => Prepared::Fail { reason, pre_state },
    }
}

/// Applies the action. Decides again on `cloud` and refuses when the
/// pre-state is not `pre_state` any more (drift since `prepare`, or a
/// concurrent action on the same resource). Returns the result.
pub fn apply(cloud: &mut Cloud, op: &Operation, pre_state: &Value) -> Result<Value, String> {
    match decide(cloud, op) {
        Decision::Run { pre_state: now, change, .. } if &now == pre_state => make(cloud, change),
        Decision::Run { pre_state: now, .. } => {
            Err(format!("the cloud changed since the action was prepared: expected {pre_state}, found {now}"))
        }
        Decision::Skip { reason, .. } | Decision::Fail { reason, .. } => {
            Err(format!("the cloud changed since the action was prepared: {reason}"))
        }
    }
}

/// Makes a decided change; returns the result (the changed fields).
fn make(cloud: &mut Cloud, change: Change) -> Result<Value, String> {
    let gone = |what: &str, id: &str| format!("{what} {id} vanished while the action ran");
    Ok(match change {
        Change::Host { instance, to } => {
            let i = cloud.instances.get_mut(&instance).ok_or_else(|| gone("instance", &instance))?;
            i.host = to;
            json!({"host": i.host})
        }
        Change::Service { host, state, reason } => {
            let s = cloud.compute_services.get_mut(&host).ok_or_else(|| gone("compute service", &host))?;
            s.state = state;
            s.disabled_reason = reason;
            json!({"state": s.state, "disabled_reason": s.disabled_reason})
        }
        Change::Power { node, power } => {
            let n = cloud.nodes.get_mut(&node).ok_or_else(|| gone("node", &node))?;
            n.power = power;
            json!({"power": n.power})
        }
        Change::Flavor { instance, flavor, host } => {
            let i = cloud.instances.get_mut(&instance).ok_or_else(|| gone("instance", &instance))?;
            i.flavor = flavor;
            if let Some(h) = host {
                i.host = h;
            }
            json!({"flavor": i.flavor, "host": i.host})
        }
        Change::Volume { volume, pool, volume_type } => {
            let v = cloud.volumes.get_mut(&volume).ok_or_else(|| gone("volume", &volume))?;
            v.pool = pool;
            v.volume_type = volume_type;
            json!({"pool": v.pool, "type": v.volume_type})
        }
        Change::Status { instance, status } => {
            let i = cloud.instances.get_mut(&instance).ok_or_else(|| gone("instance", &instance))?;
            i.status = status;
            json!({"status": i.status})
        }
        Change::Nothing(result) => result,
    })
}

/// The one reading of the cloud for an action: its type's executor.
fn decide(cloud: &Cloud, op: &Operation) -> Decision {
    match op.simulated() {
        Some(executor) => executor.decide(cloud),
        None => {
            let ty = match op {
                Operation::Custom(t) => t.as_str(),
                _ => "?",
            };
            Decision::Run {
                pre_state: json!({}),
                change: Change::Nothing(json!({})),
                note: Some(format!(
                    "The simulated cloud has no executor for action type `{ty}`; recorded as a no-op."
                )),
            }
        }
    }
}

#[cfg(test)]
mod tests;
