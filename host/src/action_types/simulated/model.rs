//! The simulated cloud's state: what Watcher's actions touch.

pub use crate::action_types::{PowerState, ServiceState};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A nova-compute service on a host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComputeService {
    /// `enabled` or `disabled`.
    pub state: ServiceState,
    /// Why it was disabled.
    #[serde(default)]
    pub disabled_reason: Option<String>,
}

/// A bare-metal node (Ironic).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// Power state.
    pub power: PowerState,
}

/// Instance status (the two the actions use).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    /// Running.
    Active,
    /// Stopped.
    Shutoff,
}

/// A Nova instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instance {
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// The compute host it runs on.
    pub host: String,
    /// Its flavor's name.
    pub flavor: String,
    /// ACTIVE or SHUTOFF.
    pub status: Status,
}

/// A Cinder volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Volume {
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Backend pool (`host@backend#pool`).
    pub pool: String,
    /// Volume type.
    #[serde(rename = "type")]
    pub volume_type: String,
}

/// A flavor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flavor {
    /// vCPUs.
    pub vcpus: u32,
    /// RAM in MiB.
    pub ram_mb: u64,
    /// Root disk in GiB.
    pub disk_gb: u64,
}

/// Everything the simulated cloud knows. `GET /v1/cloud` shows it and
/// `PUT /v1/cloud` replaces it.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cloud {
    /// Compute services by host name.
    #[serde(default)]
    pub compute_services: BTreeMap<String, ComputeService>,
    /// Bare-metal nodes by name.
    #[serde(default)]
    pub nodes: BTreeMap<String, Node>,
    /// Instances by uuid.
    #[serde(default)]
    pub instances: BTreeMap<String, Instance>,
    /// Volumes by uuid.
    #[serde(default)]
    pub volumes: BTreeMap<String, Volume>,
    /// Storage pools volumes may move to.
    #[serde(default)]
    pub volume_pools: BTreeSet<String>,
    /// Volume types volumes may be retyped to.
    #[serde(default)]
    pub volume_types: BTreeSet<String>,
    /// Flavors by name.
    #[serde(default)]
    pub flavors: BTreeMap<String, Flavor>,
}

impl Cloud {
    /// Checks references: instances on known hosts with known flavors,
    /// volumes in known pools with known types.
    pub fn check(&self) -> Result<(), String> {
        for (id, i) in &self.instances {
            if !self.compute_services.contains_key(&i.host) {
                return Err(format!("instance {id} is on unknown host {:?}", i.host));
            }
            if !self.flavors.contains_key(&i.flavor) {
                return Err(format!("instance {id} has unknown flavor {:?}", i.flavor));
            }
        }
        for (id, v) in &self.volumes {
            if !self.volume_pools.contains(&v.pool) {
                return Err(format!("volume {id} is in unknown pool {:?}", v.pool));
            }
            if !self.volume_types.contains(&v.volume_type) {
                return Err(format!("volume {id} has unknown type {:?}", v.volume_type));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_seed_is_consistent() {
        let seed: Cloud = serde_json::from_str(super::super::DEFAULT_SEED).unwrap();
        seed.check().unwrap();
        assert!(seed.instances.len() >= 3 && seed.compute_services.len() >= 3);
    }

    #[test]
    fn unknown_fields_and_dangling_references_are_refused() {
        assert!(serde_json::from_str::<Cloud>(r#"{"hosts": {}}"#).is_err());
        let c: Cloud = serde_json::from_str(
            r#"{"instances": {"i": {"host": "nowhere", "flavor": "m1", "status": "ACTIVE"}}}"#,
        )
        .unwrap();
        assert!(c.check().unwrap_err().contains("unknown host"));
    }
}
