//! What each action type does to the simulated cloud: Watcher's
//! pre-conditions (`prepare`) and the change itself (`apply`). Pure
//! functions over [`Cloud`], so they are tested without a store.
//!
//! A pre-state and a result hold exactly the fields the action changes
//! (a resize records the flavor, not the status), so that a rollback's
//! drift check is not upset by unrelated changes to the same resource.

use super::model::{Cloud, Power, ServiceState, Status};
use crate::cloud::Prepared;
use serde_json::{json, Map, Value};

type Params = Map<String, Value>;

fn run(pre_state: Value) -> Prepared {
    Prepared::Run { pre_state, note: None }
}

fn skip(reason: impl Into<String>, pre_state: Value) -> Prepared {
    Prepared::Skip { reason: reason.into(), pre_state }
}

fn fail(reason: impl Into<String>, pre_state: Value) -> Prepared {
    Prepared::Fail { reason: reason.into(), pre_state }
}

/// A required string parameter.
fn param<'a>(p: &'a Params, key: &str) -> Result<&'a str, Prepared> {
    p.get(key)
        .and_then(Value::as_str)
        .ok_or_else(|| fail(format!("invalid input_parameters: `{key}` must be a string"), json!({})))
}

/// An optional string parameter (absent or null is `None`).
fn opt_param<'a>(p: &'a Params, key: &str) -> Option<&'a str> {
    p.get(key).and_then(Value::as_str)
}

/// Action types with an executor here; others run as recorded no-ops.
pub const EXECUTABLE: &[&str] = &[
    "migrate",
    "change_nova_service_state",
    "change_node_power_state",
    "resize",
    "volume_migrate",
    "stop",
    "start",
    "nop",
    "sleep",
];

/// Checks pre-conditions and observes the pre-state.
pub fn prepare(cloud: &Cloud, action_type: &str, p: &Params) -> Prepared {
    let result = match action_type {
        "migrate" => migrate(cloud, p).map(|(pre, _)| run(pre)),
        "change_nova_service_state" => service_state(cloud, p),
        "change_node_power_state" => node_power(cloud, p),
        "resize" => resize(cloud, p),
        "volume_migrate" => volume_migrate(cloud, p).map(|(pre, _, _)| run(pre)),
        "stop" => instance_status(cloud, p, Status::Shutoff),
        "start" => instance_status(cloud, p, Status::Active),
        "nop" | "sleep" => Ok(run(json!({}))),
        other => Ok(Prepared::Run {
            pre_state: json!({}),
            note: Some(format!(
                "The simulated cloud has no executor for action type `{other}`; recorded as a no-op."
            )),
        }),
    };
    result.unwrap_or_else(|refusal| refusal)
}

/// Applies the action. Re-checks the pre-conditions first and refuses when
/// the cloud no longer matches `pre_state` (drift since `prepare`, or a
/// concurrent action on the same resource). Returns the result.
pub fn apply(cloud: &mut Cloud, action_type: &str, p: &Params, pre_state: &Value) -> Result<Value, String> {
    match prepare(cloud, action_type, p) {
        Prepared::Run { pre_state: now, .. } if &now == pre_state => {}
        Prepared::Run { pre_state: now, .. } => {
            return Err(format!(
                "the cloud changed since the action was prepared: expected {pre_state}, found {now}"
            ))
        }
        Prepared::Skip { reason, .. } | Prepared::Fail { reason, .. } => {
            return Err(format!("the cloud changed since the action was prepared: {reason}"))
        }
    }
    let refused = |p: Prepared| match p {
        Prepared::Skip { reason, .. } | Prepared::Fail { reason, .. } => reason,
        Prepared::Run { .. } => "unexpected".into(),
    };
    match action_type {
        "migrate" => {
            let (_, destination) = migrate(cloud, p).map_err(refused)?;
            let id = param(p, "resource_id").map_err(refused)?;
            let instance = cloud.instances.get_mut(id).expect("checked by prepare");
            instance.host = destination.clone();
            Ok(json!({"host": destination}))
        }
        "change_nova_service_state" => {
            let id = param(p, "resource_id").map_err(refused)?;
            let state = param(p, "state").map_err(refused)?;
            let svc = cloud.compute_services.get_mut(id).expect("checked by prepare");
            svc.state = if state == "disabled" { ServiceState::Disabled } else { ServiceState::Enabled };
            svc.disabled_reason = match svc.state {
                ServiceState::Disabled => opt_param(p, "disabled_reason").map(str::to_owned),
                ServiceState::Enabled => None,
            };
            Ok(json!({"state": svc.state, "disabled_reason": svc.disabled_reason}))
        }
        "change_node_power_state" => {
            let id = param(p, "resource_id").map_err(refused)?;
            let node = cloud.nodes.get_mut(id).expect("checked by prepare");
            node.power = if param(p, "state").map_err(refused)? == "off" { Power::Off } else { Power::On };
            Ok(json!({"power": node.power}))
        }
        "resize" => {
            let id = param(p, "resource_id").map_err(refused)?;
            let flavor = param(p, "flavor").map_err(refused)?.to_string();
            let instance = cloud.instances.get_mut(id).expect("checked by prepare");
            instance.flavor = flavor.clone();
            Ok(json!({"flavor": flavor}))
        }
        "volume_migrate" => {
            let (_, pool, volume_type) = volume_migrate(cloud, p).map_err(refused)?;
            let id = param(p, "resource_id").map_err(refused)?;
            let volume = cloud.volumes.get_mut(id).expect("checked by prepare");
            volume.pool = pool;
            volume.volume_type = volume_type;
            Ok(json!({"pool": volume.pool, "type": volume.volume_type}))
        }
        "stop" | "start" => {
            let id = param(p, "resource_id").map_err(refused)?;
            let instance = cloud.instances.get_mut(id).expect("checked by prepare");
            instance.status = if action_type == "stop" { Status::Shutoff } else { Status::Active };
            Ok(json!({"status": instance.status}))
        }
        "nop" => Ok(json!({"message": p.get("message").cloned().unwrap_or(Value::Null)})),
        _ => Ok(json!({})),
    }
}

/// migrate: SKIPPED when the instance is gone or not on `source_node`;
/// FAILED when the destination is unknown, disabled or the source, when no
/// host can be scheduled, or for a live migration of a stopped instance.
/// Returns the pre-state and the destination (the scheduler's pick when
/// `destination_node` is null: the enabled host with fewest instances).
fn migrate(cloud: &Cloud, p: &Params) -> Result<(Value, String), Prepared> {
    let id = param(p, "resource_id")?;
    let source = param(p, "source_node")?;
    let Some(instance) = cloud.instances.get(id) else {
        return Err(skip(format!("Instance {id} not found; nothing to migrate."), json!({})));
    };
    let pre = json!({"host": instance.host});
    if instance.host != source {
        return Err(skip(
            format!(
                "Instance {id} is on {}, not on source_node {source}; nothing to migrate.",
                instance.host
            ),
            pre,
        ));
    }
    if param(p, "migration_type")? == "live" && instance.status != Status::Active {
        return Err(fail(format!("Live migration needs an ACTIVE instance; {id} is SHUTOFF."), pre));
    }
    let destination = match opt_param(p, "destination_node") {
        Some(dest) => {
            match cloud.compute_services.get(dest) {
                None => return Err(fail(format!("Destination host {dest} not found."), pre)),
                Some(s) if s.state == ServiceState::Disabled => {
                    return Err(fail(format!("Destination host {dest} is disabled."), pre))
                }
                Some(_) if dest == source => {
                    return Err(fail(format!("Destination host {dest} is the source host."), pre))
                }
                Some(_) => {}
            }
            dest.to_string()
        }
        None => {
            let load = |h: &str| cloud.instances.values().filter(|i| i.host == h).count();
            let pick = cloud
                .compute_services
                .iter()
                .filter(|(h, s)| s.state == ServiceState::Enabled && h.as_str() != source)
                .min_by_key(|(h, _)| (load(h), (*h).clone()))
                .map(|(h, _)| h.clone());
            match pick {
                Some(h) => h,
                None => return Err(fail(format!("No valid host was found for instance {id}."), pre)),
            }
        }
    };
    Ok((pre, destination))
}

/// change_nova_service_state: FAILED when the service is unknown.
fn service_state(cloud: &Cloud, p: &Params) -> Result<Prepared, Prepared> {
    let id = param(p, "resource_id")?;
    param(p, "state")?;
    match cloud.compute_services.get(id) {
        None => Err(fail(format!("Compute service on host {id} not found."), json!({}))),
        Some(s) => Ok(run(json!({"state": s.state, "disabled_reason": s.disabled_reason}))),
    }
}

/// change_node_power_state: FAILED when the node is unknown, or when
/// powering off a node that still hosts ACTIVE instances.
fn node_power(cloud: &Cloud, p: &Params) -> Result<Prepared, Prepared> {
    let id = param(p, "resource_id")?;
    let state = param(p, "state")?;
    let Some(node) = cloud.nodes.get(id) else {
        return Err(fail(format!("Node {id} not found."), json!({})));
    };
    let pre = json!({"power": node.power});
    let busy = cloud.instances.values().filter(|i| i.host == id && i.status == Status::Active).count();
    if state == "off" && busy > 0 {
        return Err(fail(
            format!("Node {id} still hosts {busy} ACTIVE instance(s); it cannot be powered off."),
            pre,
        ));
    }
    Ok(run(pre))
}

/// resize: FAILED when the instance or the flavor is unknown.
fn resize(cloud: &Cloud, p: &Params) -> Result<Prepared, Prepared> {
    let id = param(p, "resource_id")?;
    let flavor = param(p, "flavor")?;
    let Some(instance) = cloud.instances.get(id) else {
        return Err(fail(format!("Instance {id} not found."), json!({})));
    };
    let pre = json!({"flavor": instance.flavor});
    if !cloud.flavors.contains_key(flavor) {
        return Err(fail(format!("Flavor {flavor} not found."), pre));
    }
    Ok(run(pre))
}

/// volume_migrate: FAILED when the volume, the destination pool or the new
/// type is unknown, or when the migration would change nothing. Returns the
/// pre-state and the new pool and type.
fn volume_migrate(cloud: &Cloud, p: &Params) -> Result<(Value, String, String), Prepared> {
    let id = param(p, "resource_id")?;
    let kind = param(p, "migration_type")?;
    let Some(volume) = cloud.volumes.get(id) else {
        return Err(fail(format!("Volume {id} not found."), json!({})));
    };
    let pre = json!({"pool": volume.pool, "type": volume.volume_type});
    let pool = opt_param(p, "destination_node").unwrap_or(&volume.pool).to_string();
    let volume_type = opt_param(p, "destination_type").unwrap_or(&volume.volume_type).to_string();
    if !cloud.volume_pools.contains(&pool) {
        return Err(fail(format!("Destination pool {pool} not found."), pre));
    }
    if !cloud.volume_types.contains(&volume_type) {
        return Err(fail(format!("Volume type {volume_type} not found."), pre));
    }
    let needs = match kind {
        "migrate" => opt_param(p, "destination_node").is_some(),
        "retype" => opt_param(p, "destination_type").is_some(),
        _ => opt_param(p, "destination_node").is_some() || opt_param(p, "destination_type").is_some(),
    };
    if !needs {
        return Err(fail(format!("A {kind} of volume {id} needs a destination."), pre));
    }
    Ok((pre, pool, volume_type))
}

/// stop/start: FAILED when the instance is unknown; SKIPPED when it is
/// already in the wanted status.
fn instance_status(cloud: &Cloud, p: &Params, wanted: Status) -> Result<Prepared, Prepared> {
    let id = param(p, "resource_id")?;
    let Some(instance) = cloud.instances.get(id) else {
        return Err(fail(format!("Instance {id} not found."), json!({})));
    };
    let pre = json!({"status": instance.status});
    if instance.status == wanted {
        let s = serde_json::to_value(wanted).unwrap_or_default();
        return Err(skip(format!("Instance {id} is already {}.", s.as_str().unwrap_or("")), pre));
    }
    Ok(run(pre))
}

#[cfg(test)]
mod tests;
