//! What each action type calls, following Watcher's applier
//! (`watcher/applier/actions/*.py` and its Nova, Cinder and Ironic helpers):
//!
//! | type | calls |
//! |---|---|
//! | `migrate` live | `POST /servers/{id}/action {"os-migrateLive": {"host": H or null, "block_migration": "auto"}}`, then wait until it settles ACTIVE off the source |
//! | `migrate` cold | `{"migrate": {"host": H}}` (or `null`), wait for VERIFY_RESIZE, `{"confirmResize": null}`, wait for the former status |
//! | `resize` | `{"resize": {"flavorRef": ID}}`, wait for VERIFY_RESIZE, confirm, wait |
//! | `stop` / `start` | `{"os-stop": null}` / `{"os-start": null}`, wait for SHUTOFF / ACTIVE |
//! | `change_nova_service_state` | `GET /os-services?binary=nova-compute&host=H`, `PUT /os-services/{id}` |
//! | `change_node_power_state` | `PUT /v1/nodes/{id}/states/power {"target": "power on/off"}`, wait for `power_state` |
//! | `volume_migrate` migrate, swap | `POST /volumes/{id}/action {"os-migrate_volume": …}`, wait for `migration_status` success |
//! | `volume_migrate` retype | `{"os-retype": {"new_type": T, "migration_policy": "on-demand"}}`, wait for the type |
//! | `nop`, `sleep` | nothing (logged; waited by the applier) |
//!
//! A `swap` is a migration to the destination pool, as in Watcher (which
//! maps the deprecated swap onto Cinder's migrate), followed by a retype
//! when it also names a `destination_type` (as the simulated cloud does).

use super::OpenStack;
use crate::action_types::{MigrationType, Operation, PowerState, ServiceState, VolumeMigrationType};
use crate::cloud::{Observed, Prepared};
use crate::openstack_api::cinder::{self, Cinder};
use crate::openstack_api::ironic::{Ironic, Node};
use crate::openstack_api::nova::{Nova, Server};
use crate::openstack_api::ApiError;
use serde_json::{json, Value};
use std::time::Duration;

/// Longest a `sleep` action may wait, before scaling (one hour).
const MAX_SLEEP_SECONDS: f64 = 3600.0;

/// How long a `sleep` of `seconds` waits: clamped to 0..=1 h, scaled.
pub fn sleep_for(seconds: f64, scale: f64) -> Duration {
    let s = if seconds.is_finite() { seconds.clamp(0.0, MAX_SLEEP_SECONDS) } else { 0.0 };
    Duration::from_secs_f64(s * scale.max(0.0))
}

fn run(pre_state: Value, operation: Operation) -> Prepared {
    Prepared::Run { pre_state, note: None, operation }
}

fn skip(reason: String, pre_state: Value) -> Prepared {
    Prepared::Skip { reason, pre_state }
}

fn fail(reason: String, pre_state: Value) -> Prepared {
    Prepared::Fail { reason, pre_state }
}

fn ironic_power(node: &Node) -> Option<&'static str> {
    match node.power_state.as_deref() {
        Some("power on") => Some("on"),
        Some("power off") => Some("off"),
        _ => None,
    }
}

fn power_target(state: PowerState) -> &'static str {
    match state {
        PowerState::On => "power on",
        PowerState::Off => "power off",
    }
}

/// What one look at an action's resource found.
struct Look {
    /// The pre-state's fields as they are now; `None`: the resource is gone.
    state: Option<Value>,
    /// Why the resource is not settled (a task under way), if it is not.
    busy: Option<String>,
}

impl OpenStack {
    fn nova(&self) -> Nova<'_> {
        Nova(&self.session)
    }

    fn cinder(&self) -> Cinder<'_> {
        Cinder(&self.session)
    }

    fn ironic(&self) -> Ironic<'_> {
        Ironic(&self.session)
    }

    /// The fields an action changes, as they are now (the pre-state's shape).
    fn look(&self, op: &Operation) -> Result<Look, ApiError> {
        let server = |id: &str, field: fn(&Server) -> Value| -> Result<Look, ApiError> {
            Ok(match self.nova().server(id)? {
                None => Look { state: None, busy: None },
                Some(s) => Look {
                    state: Some(field(&s)),
                    busy: (!s.settled() || s.status == "VERIFY_RESIZE").then(|| s.describe()),
                },
            })
        };
        match op {
            Operation::Migrate(m) => server(&m.resource_id, |s| json!({"host": s.host})),
            Operation::Resize(r) => server(&r.resource_id, |s| json!({"flavor": s.flavor})),
            Operation::Stop(i) | Operation::Start(i) => {
                server(&i.resource_id, |s| json!({"status": s.status}))
            }
            Operation::ChangeNovaServiceState(c) => Ok(Look {
                state: self
                    .nova()
                    .compute_service(&c.resource_id)?
                    .map(|s| json!({"state": s.status, "disabled_reason": s.disabled_reason})),
                busy: None,
            }),
            Operation::ChangeNodePowerState(n) => Ok(match self.ironic().node(&n.resource_id)? {
                None => Look { state: None, busy: None },
                Some(node) => Look {
                    state: Some(json!({"power": ironic_power(&node)})),
                    busy: node.target_power_state.is_some().then(|| node.describe()),
                },
            }),
            Operation::VolumeMigrate(v) => Ok(match self.cinder().volume(&v.resource_id)? {
                None => Look { state: None, busy: None },
                Some(vol) => Look {
                    state: Some(json!({"pool": vol.pool, "type": vol.volume_type})),
                    busy: (vol.migration_status.as_deref() == Some("migrating")
                        || matches!(vol.status.as_str(), "retyping" | "maintenance"))
                    .then(|| vol.describe()),
                },
            }),
            Operation::Nop(_) | Operation::Sleep(_) | Operation::Custom(_) => {
                Ok(Look { state: Some(json!({})), busy: None })
            }
        }
    }

    /// Checks Watcher's pre-conditions and reads the pre-state.
    pub(super) fn prepare_op(&self, op: Operation) -> Result<Prepared, ApiError> {
        let none = json!({});
        Ok(match &op {
            Operation::Migrate(m) => {
                let id = &m.resource_id;
                let Some(s) = self.nova().server(id)? else {
                    return Ok(skip(format!("Instance {id} not found; nothing to migrate."), none));
                };
                let pre = json!({"host": s.host});
                if s.host != m.source_node {
                    let why = format!(
                        "Instance {id} is on {}, not on source_node {}; nothing to migrate.",
                        s.host, m.source_node
                    );
                    return Ok(skip(why, pre));
                }
                if !s.settled() {
                    return Ok(fail(
                        format!("Instance {id} is busy ({}); it cannot be migrated now.", s.describe()),
                        pre,
                    ));
                }
                if m.migration_type == MigrationType::Live && s.status != "ACTIVE" {
                    return Ok(fail(
                        format!("Live migration needs an ACTIVE instance; {id} is {}.", s.status),
                        pre,
                    ));
                }
                if let Some(dest) = &m.destination_node {
                    if dest == &s.host {
                        return Ok(fail(format!("Destination host {dest} is the source host."), pre));
                    }
                    match self.nova().compute_service(dest)? {
                        None => return Ok(fail(format!("Destination host {dest} not found."), pre)),
                        Some(svc) if svc.status == "disabled" => {
                            return Ok(fail(format!("Destination host {dest} is disabled."), pre))
                        }
                        Some(_) => {}
                    }
                }
                run(pre, op)
            }
            Operation::ChangeNovaServiceState(c) => {
                let host = &c.resource_id;
                let Some(svc) = self.nova().compute_service(host)? else {
                    return Ok(skip(format!("nova-compute service {host} not found"), none));
                };
                let pre = json!({"state": svc.status, "disabled_reason": svc.disabled_reason});
                let wanted = match c.state {
                    ServiceState::Enabled => "enabled",
                    ServiceState::Disabled => "disabled",
                };
                if svc.status == wanted {
                    return Ok(skip(
                        format!("nova-compute service {host} is already in state {wanted}"),
                        pre,
                    ));
                }
                run(pre, op)
            }
            Operation::ChangeNodePowerState(p) => {
                let id = &p.resource_id;
                let Some(node) = self.ironic().node(id)? else {
                    return Ok(fail(format!("Node {id} not found."), none));
                };
                let Some(power) = ironic_power(&node) else {
                    return Ok(fail(
                        format!("Node {id} is in no known power state ({}).", node.describe()),
                        none,
                    ));
                };
                let pre = json!({"power": power});
                if node.target_power_state.is_some() {
                    return Ok(fail(
                        format!("Node {id} is changing power already ({}).", node.describe()),
                        pre,
                    ));
                }
                if p.state == PowerState::Off && power == "on" {
                    if let Some(hypervisor) = &node.compute_node_id {
                        let vms = self.nova().running_vms(hypervisor)?.unwrap_or(0);
                        if vms > 0 {
                            let why =
                                format!("Compute node {id} has {vms} running vms and will NOT be shut off.");
                            return Ok(fail(why, pre));
                        }
                    }
                }
                run(pre, op)
            }
            Operation::Resize(r) => {
                let id = &r.resource_id;
                let Some(s) = self.nova().server(id)? else {
                    return Ok(skip(format!("Instance {id} not found"), none));
                };
                let pre = json!({"flavor": s.flavor});
                if self.nova().flavor_id(&r.flavor)?.is_none() {
                    return Ok(fail(format!("Flavor {} not found", r.flavor), pre));
                }
                if !s.settled() {
                    return Ok(fail(
                        format!("Instance {id} is busy ({}); it cannot be resized now.", s.describe()),
                        pre,
                    ));
                }
                run(pre, op)
            }
            Operation::VolumeMigrate(v) => {
                let id = &v.resource_id;
                let Some(vol) = self.cinder().volume(id)? else {
                    return Ok(skip(format!("Volume {id} not found"), none));
                };
                let pre = json!({"pool": vol.pool, "type": vol.volume_type});
                if !matches!(vol.status.as_str(), "available" | "in-use") {
                    return Ok(fail(format!("Volume {id} is {}; it cannot be moved now.", vol.status), pre));
                }
                let (pool_to, type_to) = match v.migration_type {
                    VolumeMigrationType::Retype => (None, v.destination_type.as_ref()),
                    VolumeMigrationType::Migrate => (v.destination_node.as_ref(), None),
                    VolumeMigrationType::Swap => (v.destination_node.as_ref(), v.destination_type.as_ref()),
                };
                let kind = serde_json::to_value(v.migration_type).unwrap_or_default();
                let kind = kind.as_str().unwrap_or_default();
                if pool_to.is_none() && type_to.is_none() {
                    let needs = if kind == "retype" { "destination_type" } else { "destination_node" };
                    return Ok(fail(format!("A {kind} of volume {id} needs a {needs}."), pre));
                }
                let types = self.cinder().types()?;
                if let Some(to) = type_to {
                    if !types.iter().any(|t| &t.name == to) {
                        return Ok(fail(format!("Volume type {to} not found"), pre));
                    }
                }
                if let Some(to) = pool_to {
                    let pools = self.cinder().pools()?;
                    let Some((_, backend)) = pools.iter().find(|(name, _)| name == to) else {
                        return Ok(fail(format!("Pool {to} not found"), pre));
                    };
                    let tied =
                        types.iter().find(|t| t.name == vol.volume_type).and_then(|t| t.backend.clone());
                    if tied.is_some() && &tied != backend && &vol.pool != to {
                        let why = format!(
                            "Volume type '{}' is not compatible with destination pool '{to}'",
                            vol.volume_type
                        );
                        return Ok(fail(why, pre));
                    }
                }
                let moves = pool_to.is_some_and(|to| to != &vol.pool);
                let retypes = type_to.is_some_and(|to| to != &vol.volume_type);
                if !moves && !retypes {
                    let why = match (pool_to, type_to) {
                        (Some(p), _) => format!("Volume is already on node {p}"),
                        (None, Some(t)) => format!("Volume type is already {t}"),
                        (None, None) => unreachable!("checked above"),
                    };
                    return Ok(skip(why, pre));
                }
                run(pre, op)
            }
            Operation::Stop(i) | Operation::Start(i) => {
                let id = &i.resource_id;
                let (wanted, from, verb) = match &op {
                    Operation::Stop(_) => ("SHUTOFF", "ACTIVE", "stopped"),
                    _ => ("ACTIVE", "SHUTOFF", "started"),
                };
                let Some(s) = self.nova().server(id)? else {
                    return Ok(fail(format!("Instance {id} not found."), none));
                };
                let pre = json!({"status": s.status});
                if s.status == wanted && s.settled() {
                    return Ok(skip(format!("Instance {id} is already {wanted}."), pre));
                }
                if s.status != from || !s.settled() {
                    return Ok(fail(
                        format!("Instance {id} is {} ({}); it cannot be {verb}.", s.status, s.describe()),
                        pre,
                    ));
                }
                run(pre, op)
            }
            Operation::Nop(_) | Operation::Sleep(_) => run(none, op),
            Operation::Custom(ty) => fail(
                format!("The OpenStack driver has no executor for action type `{ty}`; nothing was done."),
                none,
            ),
        })
    }

    /// Acts; `Err` is the action's FAILED reason.
    pub(super) fn apply_op(&self, action: &str, pre_state: &Value, op: &Operation) -> Result<Value, String> {
        let e = |e: ApiError| e.to_string();
        // The resource must still be as prepared.
        if !matches!(op, Operation::Nop(_) | Operation::Sleep(_)) {
            let now = self.look(op).map_err(e)?;
            if now.state.as_ref() != Some(pre_state) || now.busy.is_some() {
                return Err(format!(
                    "the cloud changed since the action was prepared: expected {pre_state}, found {}{}",
                    now.state
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "nothing (the resource is gone)".into()),
                    now.busy.map(|b| format!(" (busy: {b})")).unwrap_or_default()
                ));
            }
        }
        match op {
            Operation::Migrate(m) => {
                let id = &m.resource_id;
                let before =
                    self.nova().server(id).map_err(e)?.ok_or_else(|| format!("Instance {id} vanished."))?;
                let settled = |s: &Server| s.settled();
                match m.migration_type {
                    MigrationType::Live => {
                        self.nova()
                            .action(id, &json!({"os-migrateLive": {"host": m.destination_node, "block_migration": "auto"}}))
                            .map_err(e)?;
                        let s = self.settle(
                            "the live migration",
                            || self.nova().server(id),
                            settled,
                            Server::describe,
                        )?;
                        let arrived = s.host != m.source_node
                            && m.destination_node.as_ref().is_none_or(|d| d == &s.host);
                        if s.status != "ACTIVE" || !arrived {
                            return Err(format!(
                                "The live migration of {id} did not complete: {}.",
                                s.describe()
                            ));
                        }
                        Ok(json!({"host": s.host}))
                    }
                    MigrationType::Cold => {
                        let body = match &m.destination_node {
                            Some(h) => json!({"migrate": {"host": h}}),
                            None => json!({"migrate": null}),
                        };
                        self.nova().action(id, &body).map_err(e)?;
                        let s = self.confirmed(id, &before, "the cold migration")?;
                        if s.host == m.source_node {
                            return Err(format!(
                                "The cold migration of {id} did not move it: {}.",
                                s.describe()
                            ));
                        }
                        Ok(json!({"host": s.host}))
                    }
                }
            }
            Operation::Resize(r) => {
                let id = &r.resource_id;
                let before =
                    self.nova().server(id).map_err(e)?.ok_or_else(|| format!("Instance {id} vanished."))?;
                let flavor = self
                    .nova()
                    .flavor_id(&r.flavor)
                    .map_err(e)?
                    .ok_or_else(|| format!("Flavor {} not found", r.flavor))?;
                self.nova().action(id, &json!({"resize": {"flavorRef": flavor}})).map_err(e)?;
                let s = self.confirmed(id, &before, "the resize")?;
                Ok(json!({"flavor": s.flavor}))
            }
            Operation::Stop(i) | Operation::Start(i) => {
                let (body, wanted) = match op {
                    Operation::Stop(_) => (json!({"os-stop": null}), "SHUTOFF"),
                    _ => (json!({"os-start": null}), "ACTIVE"),
                };
                let id = &i.resource_id;
                self.nova().action(id, &body).map_err(e)?;
                let s = self.settle(
                    &format!("{id} to be {wanted}"),
                    || self.nova().server(id),
                    Server::settled,
                    Server::describe,
                )?;
                if s.status != wanted {
                    return Err(format!("Instance {id} did not become {wanted}: {}.", s.describe()));
                }
                Ok(json!({"status": s.status}))
            }
            Operation::ChangeNovaServiceState(c) => {
                let host = &c.resource_id;
                let svc = self
                    .nova()
                    .compute_service(host)
                    .map_err(e)?
                    .ok_or_else(|| format!("nova-compute service {host} vanished."))?;
                let enabled = c.state == ServiceState::Enabled;
                let reason = if enabled { None } else { c.disabled_reason.as_deref() };
                let now = self.nova().set_service(&svc.id, enabled, reason).map_err(e)?;
                Ok(json!({"state": now.status, "disabled_reason": now.disabled_reason}))
            }
            Operation::ChangeNodePowerState(p) => {
                let id = &p.resource_id;
                let target = power_target(p.state);
                self.ironic().set_power(id, target).map_err(e)?;
                let node = self.settle(
                    &format!("node {id} to be {target}"),
                    || self.ironic().node(id),
                    |n| n.target_power_state.is_none() && n.power_state.is_some(),
                    Node::describe,
                )?;
                if node.power_state.as_deref() != Some(target) {
                    return Err(format!("Node {id} did not reach {target}: {}.", node.describe()));
                }
                Ok(json!({"power": ironic_power(&node)}))
            }
            Operation::VolumeMigrate(v) => self.volume_migrate(v),
            Operation::Nop(n) => {
                tracing::info!(%action, "nop: {}", n.message.as_deref().unwrap_or(""));
                Ok(json!({"message": n.message}))
            }
            Operation::Sleep(s) => {
                let waited = sleep_for(s.duration, self.options.sleep_scale);
                Ok(json!({"duration": s.duration, "waited_ms": waited.as_millis() as u64}))
            }
            Operation::Custom(ty) => {
                Err(format!("The OpenStack driver has no executor for action type `{ty}`."))
            }
        }
    }

    /// After a `migrate` or `resize` call: waits for VERIFY_RESIZE, confirms,
    /// waits for the status the instance had `before`.
    fn confirmed(&self, id: &str, before: &Server, what: &str) -> Result<Server, String> {
        let nova = || self.nova().server(id);
        let s = self.settle(
            &format!("{what} to reach VERIFY_RESIZE"),
            nova,
            // Nova sets the task before it answers 202: settled without
            // VERIFY_RESIZE means it gave up.
            |s| matches!(s.status.as_str(), "VERIFY_RESIZE" | "ERROR") || s.settled(),
            Server::describe,
        )?;
        if s.status != "VERIFY_RESIZE" {
            return Err(format!("{what} of {id} failed: {}.", s.describe()));
        }
        self.nova().action(id, &json!({"confirmResize": null})).map_err(|e| e.to_string())?;
        let s = self.settle(
            &format!("the confirmed {} to return to {}", what.trim_start_matches("the "), before.status),
            nova,
            |s| s.settled() && s.status != "VERIFY_RESIZE",
            Server::describe,
        )?;
        if s.status != before.status {
            return Err(format!(
                "{what} of {id} was confirmed but the instance is {}: {}.",
                s.status,
                s.describe()
            ));
        }
        Ok(s)
    }

    /// A migration to the destination pool and/or a retype to the
    /// destination type, each waited for (a swap given both does both).
    fn volume_migrate(&self, v: &crate::action_types::VolumeMigrate) -> Result<Value, String> {
        let e = |e: ApiError| e.to_string();
        let id = &v.resource_id;
        let volume = || self.cinder().volume(id);
        let describe = cinder::Volume::describe;
        let mut vol = volume().map_err(e)?.ok_or_else(|| format!("Volume {id} vanished."))?;
        let pool_to = match v.migration_type {
            VolumeMigrationType::Retype => None,
            _ => v.destination_node.as_deref(),
        };
        let type_to = match v.migration_type {
            VolumeMigrationType::Migrate => None,
            _ => v.destination_type.as_deref(),
        };
        if let Some(to) = pool_to.filter(|to| *to != vol.pool) {
            self.cinder().migrate(id, to).map_err(e)?;
            let done =
                |vol: &cinder::Volume| matches!(vol.migration_status.as_deref(), Some("success" | "error"));
            vol = self.settle(&format!("volume {id} to move to {to}"), volume, done, describe)?;
            if vol.migration_status.as_deref() != Some("success") || vol.pool != to {
                return Err(format!("The migration of volume {id} failed: {}.", vol.describe()));
            }
        }
        if let Some(to) = type_to.filter(|to| *to != vol.volume_type) {
            self.cinder().retype(id, to).map_err(e)?;
            let what = format!("volume {id} to be retyped to {to}");
            vol = self.settle(&what, volume, |vol| vol.status != "retyping", describe)?;
            if vol.volume_type != to || !matches!(vol.status.as_str(), "available" | "in-use") {
                return Err(format!("The retype of volume {id} failed: {}.", vol.describe()));
            }
        }
        Ok(json!({"pool": vol.pool, "type": vol.volume_type}))
    }

    /// After a restart: whether the interrupted action changed its resource.
    pub(super) fn observe_op(&self, pre_state: &Value, op: &Operation) -> Observed {
        if let Operation::Nop(_) | Operation::Sleep(_) = op {
            // Nothing to change: it happened once it began.
            return match self.apply_op("observed", pre_state, op) {
                Ok(result) => Observed::Happened(result),
                Err(e) => Observed::Unknown(e),
            };
        }
        match self.look(op) {
            Err(e) => Observed::Unknown(format!("the resource could not be looked at: {e}")),
            Ok(Look { state: None, .. }) => Observed::Unknown("the resource no longer exists".into()),
            Ok(Look { busy: Some(busy), .. }) => Observed::Unknown(format!(
                "the resource was still changing when the service restarted ({busy})"
            )),
            Ok(Look { state: Some(now), .. }) if &now == pre_state => Observed::NotHappened,
            Ok(Look { state: Some(now), .. }) => Observed::Happened(now),
        }
    }
}
