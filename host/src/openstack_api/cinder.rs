//! The Cinder (block-storage v3) calls the driver makes, at microversion
//! 3.0 (`os-migrate_volume` and `os-retype` need nothing newer).

use super::{seg, Found};
use super::{Api, ApiError, Session};
use reqwest::Method;
use serde_json::{json, Value};

/// Cinder, as the catalog types it (newest name first).
pub const VOLUME: Api = Api {
    name: "block-storage",
    types: &["block-storage", "volumev3", "volume"],
    version: Some(("OpenStack-API-Version", "volume 3.0")),
};

/// What the driver reads of a volume.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    /// `available`, `in-use`, `retyping`, `error`, …
    pub status: String,
    /// Its pool, `host@backend#pool` (`os-vol-host-attr:host`, admin only).
    pub pool: String,
    /// Its type's name.
    pub volume_type: String,
    /// `migrating`, `success`, `error`, or none.
    pub migration_status: Option<String>,
}

impl Volume {
    fn read(v: &Value) -> Result<Volume, String> {
        Ok(Volume {
            status: v["status"].as_str().ok_or("the volume has no status")?.to_string(),
            pool: v["os-vol-host-attr:host"]
                .as_str()
                .ok_or("the volume shows no os-vol-host-attr:host: the service account needs the admin role")?
                .to_string(),
            volume_type: v["volume_type"].as_str().unwrap_or_default().to_string(),
            migration_status: v["migration_status"].as_str().map(str::to_string),
        })
    }

    /// The last observation, for a timeout's message.
    pub fn describe(&self) -> String {
        format!(
            "pool {}, type {}, status {}, migration_status {}",
            self.pool,
            self.volume_type,
            self.status,
            self.migration_status.as_deref().unwrap_or("none")
        )
    }
}

/// A volume type.
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeType {
    /// Its name.
    pub name: String,
    /// `extra_specs.volume_backend_name`, if the type is tied to a backend.
    pub backend: Option<String>,
}

/// Cinder over a session.
pub struct Cinder<'a>(pub &'a Session);

impl Cinder<'_> {
    /// `GET /volumes/{id}`; `None` when Cinder does not know it.
    pub fn volume(&self, id: &str) -> Result<Found<Volume>, ApiError> {
        let path = format!("/volumes/{}", seg(id));
        match self.0.call(&VOLUME, Method::GET, &path, None) {
            Ok(r) => Volume::read(&r.body["volume"]).map(Some).map_err(|why| ApiError::Unexpected {
                api: VOLUME.name.into(),
                what: format!("GET {path}"),
                why,
            }),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /scheduler-stats/get_pools?detail=True`: each pool's name and
    /// `volume_backend_name`.
    pub fn pools(&self) -> Result<Vec<(String, Option<String>)>, ApiError> {
        let r = self.0.call(&VOLUME, Method::GET, "/scheduler-stats/get_pools?detail=True", None)?;
        Ok(r.body["pools"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter_map(|p| {
                        let name = p["name"].as_str()?.to_string();
                        Some((name, p["capabilities"]["volume_backend_name"].as_str().map(str::to_string)))
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    /// `GET /types`.
    pub fn types(&self) -> Result<Vec<VolumeType>, ApiError> {
        let r = self.0.call(&VOLUME, Method::GET, "/types", None)?;
        Ok(r.body["volume_types"]
            .as_array()
            .map(|ts| {
                ts.iter()
                    .filter_map(|t| {
                        Some(VolumeType {
                            name: t["name"].as_str()?.to_string(),
                            backend: t["extra_specs"]["volume_backend_name"].as_str().map(str::to_string),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default())
    }

    fn action(&self, id: &str, body: &Value) -> Result<(), ApiError> {
        self.0.call(&VOLUME, Method::POST, &format!("/volumes/{}/action", seg(id)), Some(body)).map(drop)
    }

    /// `os-migrate_volume` to `pool`, as Watcher asks it: no forced host
    /// copy, the volume locked meanwhile.
    pub fn migrate(&self, id: &str, pool: &str) -> Result<(), ApiError> {
        self.action(
            id,
            &json!({"os-migrate_volume": {"host": pool, "force_host_copy": false, "lock_volume": true}}),
        )
    }

    /// `os-retype` to `volume_type`, migrating on demand.
    pub fn retype(&self, id: &str, volume_type: &str) -> Result<(), ApiError> {
        self.action(id, &json!({"os-retype": {"new_type": volume_type, "migration_policy": "on-demand"}}))
    }
}
