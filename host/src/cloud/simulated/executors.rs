//! What each action type does to the simulated cloud: Watcher's
//! pre-conditions and the change itself. Pure functions over [`Cloud`],
//! so they are tested without a store.
//!
//! [`decide`] is the one place that reads the cloud for an action: it
//! checks the pre-conditions and returns the pre-state with the [`Change`]
//! to make. [`prepare`] reports that decision; [`apply`] decides again on
//! the cloud as it is inside the store transaction, refuses if the
//! pre-state moved since `prepare`, and makes the change. Nothing here
//! panics on a cloud that changed underneath.
//!
//! A pre-state and a result hold exactly the fields the action changes
//! (a resize records the flavor, not the status), so that a rollback's
//! drift check is not upset by unrelated changes to the same resource.

use super::model::{Cloud, Status};
use crate::action_types::{
    ChangePowerState, ChangeServiceState, Migrate, MigrationType, Operation, PowerState, Resize,
    ServiceState, VolumeMigrate, VolumeMigrationType,
};
use crate::cloud::Prepared;
use serde_json::{json, Value};

/// What an action will change, decided from the cloud and its parameters.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Move an instance to a host.
    Host { instance: String, to: String },
    /// Set a compute service's state.
    Service { host: String, state: ServiceState, reason: Option<String> },
    /// Set a node's power.
    Power { node: String, power: PowerState },
    /// Give an instance a flavor.
    Flavor { instance: String, flavor: String },
    /// Move and/or retype a volume.
    Volume { volume: String, pool: String, volume_type: String },
    /// Set an instance's status.
    Status { instance: String, status: Status },
    /// Change nothing; the result is this value.
    Nothing(Value),
}

/// The outcome of checking an action against the cloud.
enum Decision {
    Run { pre_state: Value, change: Change, note: Option<String> },
    Skip { reason: String, pre_state: Value },
    Fail { reason: String, pre_state: Value },
}

fn run(pre_state: Value, change: Change) -> Decision {
    Decision::Run { pre_state, change, note: None }
}

fn skip(reason: impl Into<String>, pre_state: Value) -> Decision {
    Decision::Skip { reason: reason.into(), pre_state }
}

fn fail(reason: impl Into<String>, pre_state: Value) -> Decision {
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
        Change::Flavor { instance, flavor } => {
            let i = cloud.instances.get_mut(&instance).ok_or_else(|| gone("instance", &instance))?;
            i.flavor = flavor;
            json!({"flavor": i.flavor})
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

/// The one reading of the cloud for an action.
fn decide(cloud: &Cloud, op: &Operation) -> Decision {
    match op {
        Operation::Migrate(m) => migrate(cloud, m),
        Operation::ChangeNovaServiceState(s) => service_state(cloud, s),
        Operation::ChangeNodePowerState(n) => node_power(cloud, n),
        Operation::Resize(r) => resize(cloud, r),
        Operation::VolumeMigrate(v) => volume_migrate(cloud, v),
        Operation::Stop(i) => instance_status(cloud, &i.resource_id, Status::Shutoff),
        Operation::Start(i) => instance_status(cloud, &i.resource_id, Status::Active),
        Operation::Nop(n) => run(json!({}), Change::Nothing(json!({"message": n.message}))),
        Operation::Sleep(_) => run(json!({}), Change::Nothing(json!({}))),
        Operation::Custom(other) => Decision::Run {
            pre_state: json!({}),
            change: Change::Nothing(json!({})),
            note: Some(format!(
                "The simulated cloud has no executor for action type `{other}`; recorded as a no-op."
            )),
        },
    }
}

/// migrate: SKIPPED when the instance is gone or not on `source_node`;
/// FAILED when the destination is unknown, disabled or the source, when no
/// host can be scheduled, or for a live migration of a stopped instance.
/// The destination is the scheduler's pick when `destination_node` is
/// null: the enabled host with fewest instances.
fn migrate(cloud: &Cloud, m: &Migrate) -> Decision {
    let (id, source) = (&m.resource_id, &m.source_node);
    let Some(instance) = cloud.instances.get(id) else {
        return skip(format!("Instance {id} not found; nothing to migrate."), json!({}));
    };
    let pre = json!({"host": instance.host});
    if &instance.host != source {
        return skip(
            format!(
                "Instance {id} is on {}, not on source_node {source}; nothing to migrate.",
                instance.host
            ),
            pre,
        );
    }
    if m.migration_type == MigrationType::Live && instance.status != Status::Active {
        return fail(format!("Live migration needs an ACTIVE instance; {id} is SHUTOFF."), pre);
    }
    let destination = match &m.destination_node {
        Some(dest) => {
            match cloud.compute_services.get(dest) {
                None => return fail(format!("Destination host {dest} not found."), pre),
                Some(s) if s.state == ServiceState::Disabled => {
                    return fail(format!("Destination host {dest} is disabled."), pre)
                }
                Some(_) if dest == source => {
                    return fail(format!("Destination host {dest} is the source host."), pre)
                }
                Some(_) => {}
            }
            dest.clone()
        }
        None => {
            let load = |h: &str| cloud.instances.values().filter(|i| i.host == h).count();
            let pick = cloud
                .compute_services
                .iter()
                .filter(|(h, s)| s.state == ServiceState::Enabled && *h != source)
                .min_by_key(|(h, _)| (load(h), (*h).clone()))
                .map(|(h, _)| h.clone());
            match pick {
                Some(h) => h,
                None => return fail(format!("No valid host was found for instance {id}."), pre),
            }
        }
    };
    run(pre, Change::Host { instance: id.clone(), to: destination })
}

/// change_nova_service_state: FAILED when the service is unknown. The
/// disabled reason is kept only when disabling.
fn service_state(cloud: &Cloud, s: &ChangeServiceState) -> Decision {
    let id = &s.resource_id;
    match cloud.compute_services.get(id) {
        None => fail(format!("Compute service on host {id} not found."), json!({})),
        Some(now) => run(
            json!({"state": now.state, "disabled_reason": now.disabled_reason}),
            Change::Service {
                host: id.clone(),
                state: s.state,
                reason: match s.state {
                    ServiceState::Disabled => s.disabled_reason.clone(),
                    ServiceState::Enabled => None,
                },
            },
        ),
    }
}

/// change_node_power_state: FAILED when the node is unknown, or when
/// powering off a node that still hosts ACTIVE instances.
fn node_power(cloud: &Cloud, n: &ChangePowerState) -> Decision {
    let id = &n.resource_id;
    let Some(node) = cloud.nodes.get(id) else {
        return fail(format!("Node {id} not found."), json!({}));
    };
    let pre = json!({"power": node.power});
    let busy = cloud.instances.values().filter(|i| &i.host == id && i.status == Status::Active).count();
    if n.state == PowerState::Off && busy > 0 {
        return fail(
            format!("Node {id} still hosts {busy} ACTIVE instance(s); it cannot be powered off."),
            pre,
        );
    }
    run(pre, Change::Power { node: id.clone(), power: n.state })
}

/// resize: FAILED when the instance or the flavor is unknown.
fn resize(cloud: &Cloud, r: &Resize) -> Decision {
    let id = &r.resource_id;
    let Some(instance) = cloud.instances.get(id) else {
        return fail(format!("Instance {id} not found."), json!({}));
    };
    let pre = json!({"flavor": instance.flavor});
    if !cloud.flavors.contains_key(&r.flavor) {
        return fail(format!("Flavor {} not found.", r.flavor), pre);
    }
    run(pre, Change::Flavor { instance: id.clone(), flavor: r.flavor.clone() })
}

/// volume_migrate: FAILED when the volume, the destination pool or the new
/// type is unknown, or when the migration would change nothing.
fn volume_migrate(cloud: &Cloud, v: &VolumeMigrate) -> Decision {
    let id = &v.resource_id;
    let Some(volume) = cloud.volumes.get(id) else {
        return fail(format!("Volume {id} not found."), json!({}));
    };
    let pre = json!({"pool": volume.pool, "type": volume.volume_type});
    let pool = v.destination_node.clone().unwrap_or_else(|| volume.pool.clone());
    let volume_type = v.destination_type.clone().unwrap_or_else(|| volume.volume_type.clone());
    if !cloud.volume_pools.contains(&pool) {
        return fail(format!("Destination pool {pool} not found."), pre);
    }
    if !cloud.volume_types.contains(&volume_type) {
        return fail(format!("Volume type {volume_type} not found."), pre);
    }
    let (to_pool, to_type) = (v.destination_node.is_some(), v.destination_type.is_some());
    let needs = match v.migration_type {
        VolumeMigrationType::Migrate => to_pool,
        VolumeMigrationType::Retype => to_type,
        VolumeMigrationType::Swap => to_pool || to_type,
    };
    if !needs {
        let kind = serde_json::to_value(v.migration_type).unwrap_or_default();
        return fail(format!("A {} of volume {id} needs a destination.", kind.as_str().unwrap_or("")), pre);
    }
    run(pre, Change::Volume { volume: id.clone(), pool, volume_type })
}

/// stop/start: FAILED when the instance is unknown; SKIPPED when it is
/// already in the wanted status.
fn instance_status(cloud: &Cloud, id: &str, wanted: Status) -> Decision {
    let Some(instance) = cloud.instances.get(id) else {
        return fail(format!("Instance {id} not found."), json!({}));
    };
    let pre = json!({"status": instance.status});
    if instance.status == wanted {
        let s = serde_json::to_value(wanted).unwrap_or_default();
        return skip(format!("Instance {id} is already {}.", s.as_str().unwrap_or("")), pre);
    }
    run(pre, Change::Status { instance: id.to_string(), status: wanted })
}

#[cfg(test)]
mod tests;
