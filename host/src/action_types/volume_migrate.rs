//! `volume_migrate`: move or retype a volume.
//!
//! Simulated: FAILED when the volume, the destination pool or the new type
//! is unknown, or when the migration names no destination. OpenStack:
//! migrate and swap are `POST /volumes/{id}/action {"os-migrate_volume":
//! …}`, waited for until `migration_status` is success; retype is
//! `{"os-retype": {"new_type": T, "migration_policy": "on-demand"}}`, waited
//! for until the type changes. A swap is a migration to the destination
//! pool, as in Watcher (which maps the deprecated swap onto Cinder's
//! migrate), followed by a retype when it also names a `destination_type`.

use super::openstack::{self as os, Check, Look, Os};
use super::schemas::{nullable_name, object, uuid};
use super::simulated::model::Cloud;
use super::simulated::{self as sim, Change, Decision};
use super::{Builtin, OnOpenStack, Simulate};
use crate::openstack_api::cinder::Volume;
use crate::openstack_api::ApiError;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// How a volume moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VolumeMigrationType {
    /// Swap the volume under a running instance.
    Swap,
    /// Change its type (and so maybe its backend).
    Retype,
    /// Move it to another pool.
    Migrate,
}

/// Its parameters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct VolumeMigrate {
    /// The volume's uuid.
    pub resource_id: String,
    /// Swap, retype or migrate.
    pub migration_type: VolumeMigrationType,
    /// The destination pool, if it moves.
    #[serde(default)]
    pub destination_node: Option<String>,
    /// The new type, if it is retyped.
    #[serde(default)]
    pub destination_type: Option<String>,
}

impl Builtin for VolumeMigrate {
    const NAME: &'static str = "volume_migrate";

    fn schema() -> Value {
        object(
            json!({
                "resource_id": uuid(),
                "resource_name": {"type": "string"},
                "migration_type": {"type": "string", "enum": ["swap", "retype", "migrate"]},
                "destination_node": nullable_name(),
                "destination_type": nullable_name(),
            }),
            &["resource_id", "migration_type"],
        )
    }
}

impl VolumeMigrate {
    fn kind(&self) -> String {
        serde_json::to_value(self.migration_type).unwrap_or_default().as_str().unwrap_or_default().to_string()
    }
}

impl Simulate for VolumeMigrate {
    fn decide(&self, cloud: &Cloud) -> Decision {
        let id = &self.resource_id;
        let Some(volume) = cloud.volumes.get(id) else {
            return sim::fail(format!("Volume {id} not found."), json!({}));
        };
        let pre = json!({"pool": volume.pool, "type": volume.volume_type});
        let pool = self.destination_node.clone().unwrap_or_else(|| volume.pool.clone());
        let volume_type = self.destination_type.clone().unwrap_or_else(|| volume.volume_type.clone());
        if !cloud.volume_pools.contains(&pool) {
            return sim::fail(format!("Destination pool {pool} not found."), pre);
        }
        if !cloud.volume_types.contains(&volume_type) {
            return sim::fail(format!("Volume type {volume_type} not found."), pre);
        }
        let (to_pool, to_type) = (self.destination_node.is_some(), self.destination_type.is_some());
        let needs = match self.migration_type {
            VolumeMigrationType::Migrate => to_pool,
            VolumeMigrationType::Retype => to_type,
            VolumeMigrationType::Swap => to_pool || to_type,
        };
        if !needs {
            return sim::fail(format!("A {} of volume {id} needs a destination.", self.kind()), pre);
        }
        sim::run(pre, Change::Volume { volume: id.clone(), pool, volume_type })
    }
}

impl OnOpenStack for VolumeMigrate {
    fn look(&self, os: &Os<'_>) -> Result<Look, ApiError> {
        Ok(match os.cinder().volume(&self.resource_id)? {
            None => Look { state: None, busy: None },
            Some(vol) => Look {
                state: Some(json!({"pool": vol.pool, "type": vol.volume_type})),
                busy: (vol.migration_status.as_deref() == Some("migrating")
                    || matches!(vol.status.as_str(), "retyping" | "maintenance"))
                .then(|| vol.describe()),
            },
        })
    }

    fn prepare(&self, os: &Os<'_>) -> Result<Check, ApiError> {
        let id = &self.resource_id;
        let Some(vol) = os.cinder().volume(id)? else {
            return Ok(os::skip(format!("Volume {id} not found"), json!({})));
        };
        let pre = json!({"pool": vol.pool, "type": vol.volume_type});
        if !matches!(vol.status.as_str(), "available" | "in-use") {
            return Ok(os::fail(format!("Volume {id} is {}; it cannot be moved now.", vol.status), pre));
        }
        let (pool_to, type_to) = match self.migration_type {
            VolumeMigrationType::Retype => (None, self.destination_type.as_ref()),
            VolumeMigrationType::Migrate => (self.destination_node.as_ref(), None),
            VolumeMigrationType::Swap => (self.destination_node.as_ref(), self.destination_type.as_ref()),
        };
        let kind = self.kind();
        if pool_to.is_none() && type_to.is_none() {
            let needs = if kind == "retype" { "destination_type" } else { "destination_node" };
            return Ok(os::fail(format!("A {kind} of volume {id} needs a {needs}."), pre));
        }
        let types = os.cinder().types()?;
        if let Some(to) = type_to {
            if !types.iter().any(|t| &t.name == to) {
                return Ok(os::fail(format!("Volume type {to} not found"), pre));
            }
        }
        if let Some(to) = pool_to {
            let pools = os.cinder().pools()?;
            let Some((_, backend)) = pools.iter().find(|(name, _)| name == to) else {
                return Ok(os::fail(format!("Pool {to} not found"), pre));
            };
            let tied = types.iter().find(|t| t.name == vol.volume_type).and_then(|t| t.backend.clone());
            if tied.is_some() && &tied != backend && &vol.pool != to {
                let why = format!(
                    "Volume type '{}' is not compatible with destination pool '{to}'",
                    vol.volume_type
                );
                return Ok(os::fail(why, pre));
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
            return Ok(os::skip(why, pre));
        }
        Ok(os::run(pre))
    }

    /// A migration to the destination pool and/or a retype to the
    /// destination type, each waited for (a swap given both does both).
    fn apply(&self, os: &Os<'_>, _action: &str) -> Result<Value, String> {
        let e = |e: ApiError| e.to_string();
        let id = &self.resource_id;
        let volume = || os.cinder().volume(id);
        let describe = Volume::describe;
        let mut vol = volume().map_err(e)?.ok_or_else(|| format!("Volume {id} vanished."))?;
        let pool_to = match self.migration_type {
            VolumeMigrationType::Retype => None,
            _ => self.destination_node.as_deref(),
        };
        let type_to = match self.migration_type {
            VolumeMigrationType::Migrate => None,
            _ => self.destination_type.as_deref(),
        };
        if let Some(to) = pool_to.filter(|to| *to != vol.pool) {
            os.cinder().migrate(id, to).map_err(e)?;
            let done = |vol: &Volume| matches!(vol.migration_status.as_deref(), Some("success" | "error"));
            vol = os.settle(&format!("volume {id} to move to {to}"), volume, done, describe)?;
            if vol.migration_status.as_deref() != Some("success") || vol.pool != to {
                return Err(format!("The migration of volume {id} failed: {}.", vol.describe()));
            }
        }
        if let Some(to) = type_to.filter(|to| *to != vol.volume_type) {
            os.cinder().retype(id, to).map_err(e)?;
            let what = format!("volume {id} to be retyped to {to}");
            vol = os.settle(&what, volume, |vol| vol.status != "retyping", describe)?;
            if vol.volume_type != to || !matches!(vol.status.as_str(), "available" | "in-use") {
                return Err(format!("The retype of volume {id} failed: {}.", vol.describe()));
            }
        }
        Ok(json!({"pool": vol.pool, "type": vol.volume_type}))
    }
}
