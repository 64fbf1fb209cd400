//! `migrate`: move an instance off `source_node`, live or cold.
//!
//! Simulated: SKIPPED when the instance is gone or not on `source_node`;
//! FAILED when the destination is unknown, disabled or the source, when no
//! host can be scheduled, or for a live migration of a stopped instance.
//! The destination is the scheduler's pick when `destination_node` is
//! null: the enabled host with fewest instances.
//!
//! OpenStack: live is `POST /servers/{id}/action {"os-migrateLive": {"host":
//! H or null, "block_migration": "auto"}}`, then wait until it settles
//! ACTIVE off the source; cold is `{"migrate": {"host": H}}` (or `null`),
//! wait for VERIFY_RESIZE, `{"confirmResize": null}`, wait for the former
//! status. Hosts may be named by compute node uuid (Watcher 9). Whether the
//! destination will do is Nova's to say: at once (400) or after accepting
//! (its instance action's reason is then reported).

use super::openstack::{self as os, Check, Look, Os};
use super::schemas::{name, nullable_name, object, uuid};
use super::simulated::model::{Cloud, Status};
use super::simulated::{self as sim, Change, Decision};
use super::{Builtin, OnOpenStack, ServiceState, Simulate};
use crate::openstack_api::nova::Server;
use crate::openstack_api::ApiError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// How an instance moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MigrationType {
    /// While running (`os-migrateLive`); needs an ACTIVE instance.
    Live,
    /// Stopped, moved, restarted (`migrate` + confirm).
    Cold,
}

/// Its parameters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Migrate {
    /// The instance's uuid.
    pub resource_id: String,
    /// Live or cold.
    pub migration_type: MigrationType,
    /// The host it must be on.
    pub source_node: String,
    /// Where to; `None` lets the scheduler pick.
    #[serde(default)]
    pub destination_node: Option<String>,
}

impl Builtin for Migrate {
    const NAME: &'static str = "migrate";

    fn schema() -> Value {
        object(
            json!({
                "resource_id": uuid(),
                "resource_name": {"type": "string"},
                "migration_type": {"type": "string", "enum": ["live", "cold"]},
                "source_node": name(),
                "destination_node": nullable_name(),
            }),
            &["resource_id", "migration_type", "source_node"],
        )
    }
}

impl Simulate for Migrate {
    fn decide(&self, cloud: &Cloud) -> Decision {
        let (id, source) = (&self.resource_id, &self.source_node);
        let Some(instance) = cloud.instances.get(id) else {
            return sim::skip(format!("Instance {id} not found; nothing to migrate."), json!({}));
        };
        let pre = json!({"host": instance.host});
        if &instance.host != source {
            return sim::skip(
                format!(
                    "Instance {id} is on {}, not on source_node {source}; nothing to migrate.",
                    instance.host
                ),
                pre,
            );
        }
        if self.migration_type == MigrationType::Live && instance.status != Status::Active {
            return sim::fail(format!("Live migration needs an ACTIVE instance; {id} is SHUTOFF."), pre);
        }
        let destination = match &self.destination_node {
            Some(dest) => {
                match cloud.compute_services.get(dest) {
                    None => return sim::fail(format!("Destination host {dest} not found."), pre),
                    Some(s) if s.state == ServiceState::Disabled => {
                        return sim::fail(format!("Destination host {dest} is disabled."), pre)
                    }
                    Some(_) if dest == source => {
                        return sim::fail(format!("Destination host {dest} is the source host."), pre)
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
                    None => return sim::fail(format!("No valid host was found for instance {id}."), pre),
                }
            }
        };
        sim::run(pre, Change::Host { instance: id.clone(), to: destination })
    }
}

impl Migrate {
    /// `source_node` and `destination_node` as host names: Watcher 9 writes
    /// compute node uuids. A uuid Nova does not know stays as written (the
    /// instance is then not on it, or Nova refuses it as a destination).
    fn hosts(&self, os: &Os<'_>) -> Result<(String, Option<String>), ApiError> {
        let host = |n: &String| -> Result<String, ApiError> { Ok(os.nova().host_named(n)?.unwrap_or_else(|| n.clone())) };
        Ok((host(&self.source_node)?, self.destination_node.as_ref().map(host).transpose()?))
    }
}

impl OnOpenStack for Migrate {
    fn look(&self, os: &Os<'_>) -> Result<Look, ApiError> {
        os.server_look(&self.resource_id, |s| json!({"host": s.host}))
    }

    fn prepare(&self, os: &Os<'_>) -> Result<Check, ApiError> {
        let id = &self.resource_id;
        let Some(s) = os.nova().server(id)? else {
            return Ok(os::skip(format!("Instance {id} not found; nothing to migrate."), json!({})));
        };
        let pre = json!({"host": s.host});
        let (source, _) = self.hosts(os)?;
        if s.host != source {
            let named = if source == self.source_node { source } else { format!("{source} ({})", self.source_node) };
            let why = format!("Instance {id} is on {}, not on source_node {named}; nothing to migrate.", s.host);
            return Ok(os::skip(why, pre));
        }
        if !s.settled() {
            return Ok(os::fail(
                format!("Instance {id} is busy ({}); it cannot be migrated now.", s.describe()),
                pre,
            ));
        }
        if self.migration_type == MigrationType::Live && s.status != "ACTIVE" {
            return Ok(os::fail(
                format!("Live migration needs an ACTIVE instance; {id} is {}.", s.status),
                pre,
            ));
        }
        // The destination is Nova's to judge, in its own words: an unknown
        // host is refused at once ("Compute host H could not be found."), a
        // disabled one or the source itself after a 202 (its instance
        // action says why; see `Os::with_nova_reason`).
        Ok(os::run(pre))
    }

    fn apply(&self, os: &Os<'_>, _action: &str) -> Result<Value, String> {
        let e = |e: ApiError| e.to_string();
        let id = &self.resource_id;
        let before = os.nova().server(id).map_err(e)?.ok_or_else(|| format!("Instance {id} vanished."))?;
        let (source, destination) = self.hosts(os).map_err(e)?;
        match self.migration_type {
            MigrationType::Live => {
                os.act(id, &json!({"os-migrateLive": {"host": destination, "block_migration": "auto"}}))?;
                let s = os.settle(
                    "the live migration",
                    || os.nova().server(id),
                    Server::settled,
                    Server::describe,
                )?;
                let arrived = s.host != source && destination.as_ref().is_none_or(|d| d == &s.host);
                if s.status != "ACTIVE" || !arrived {
                    return Err(format!("The live migration of {id} did not complete: {}.", s.describe()));
                }
                Ok(json!({"host": s.host}))
            }
            MigrationType::Cold => {
                let body = match &destination {
                    Some(h) => json!({"migrate": {"host": h}}),
                    None => json!({"migrate": null}),
                };
                os.act(id, &body)?;
                let s = os.confirmed(id, &before, "the cold migration")?;
                if s.host == source {
                    return Err(format!("The cold migration of {id} did not move it: {}.", s.describe()));
                }
                Ok(json!({"host": s.host}))
            }
        }
    }
}
