//! The double's state: what Nova, Cinder and Ironic know, and the changes
//! under way (each lands at its own instant, seen by the next request).
//! Built from, and shown as, the simulated cloud's document shape, so a
//! test compares the double before and after with one `==`.

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// A change that lands later.
pub struct Pending<T> {
    at: Instant,
    then: Box<dyn FnOnce(&mut T) + Send>,
}

/// Lands `pending` on `it` if due.
fn land<T>(it: &mut T, pending: &mut Option<Pending<T>>, now: Instant) {
    if pending.as_ref().is_some_and(|p| p.at <= now) {
        let p = pending.take().expect("checked");
        (p.then)(it);
    }
}

/// A nova-compute service and its hypervisor.
#[derive(Debug, Clone)]
pub struct ComputeService {
    /// The service's uuid.
    pub id: String,
    /// `enabled` or `disabled`.
    pub status: String,
    /// Why it is disabled.
    pub disabled_reason: Option<String>,
    /// The hypervisor's uuid.
    pub hypervisor: String,
}

/// A server.
pub struct Server {
    /// Display name.
    pub name: String,
    /// Compute host.
    pub host: String,
    /// `ACTIVE`, `SHUTOFF`, `MIGRATING`, `RESIZE`, `VERIFY_RESIZE`, …
    pub status: String,
    /// `active`, `stopped`, `resized`.
    pub vm_state: String,
    /// Set while Nova works on it.
    pub task_state: Option<String>,
    /// Flavor name.
    pub flavor: String,
    /// The vm_state/status a resize or cold migration returns to on confirm.
    pub resized_from: Option<(String, String)>,
    /// What lands next.
    pub pending: Option<Pending<Server>>,
}

/// A volume.
pub struct Volume {
    /// Display name.
    pub name: String,
    /// `host@backend#pool`.
    pub pool: String,
    /// Type name.
    pub vtype: String,
    /// `available`, `in-use`, `retyping`.
    pub status: String,
    /// `migrating`, `success`, `error`, or none.
    pub migration_status: Option<String>,
    /// What lands next.
    pub pending: Option<Pending<Volume>>,
}

/// A bare-metal node.
pub struct Node {
    /// Its uuid.
    pub uuid: String,
    /// `power on` / `power off`.
    pub power_state: String,
    /// Set while a power change is under way.
    pub target_power_state: Option<String>,
    /// `extra.compute_node_id`: the hypervisor it is.
    pub compute_node_id: Option<String>,
    /// What lands next.
    pub pending: Option<Pending<Node>>,
}

/// A flavor.
#[derive(Debug, Clone)]
pub struct Flavor {
    /// Its id.
    pub id: String,
    /// vCPUs.
    pub vcpus: u64,
    /// RAM (MiB).
    pub ram: u64,
    /// Disk (GiB).
    pub disk: u64,
}

/// Everything the double knows.
pub struct World {
    /// How long an asynchronous change takes.
    pub delay: Duration,
    /// Compute services by host.
    pub services: BTreeMap<String, ComputeService>,
    /// Flavors by name.
    pub flavors: BTreeMap<String, Flavor>,
    /// Servers by uuid.
    pub servers: BTreeMap<String, Server>,
    /// Volumes by uuid.
    pub volumes: BTreeMap<String, Volume>,
    /// Pools by name, with their `volume_backend_name`.
    pub pools: BTreeMap<String, String>,
    /// Volume types by name: (id, the backend it is tied to, if any).
    pub types: BTreeMap<String, (String, Option<String>)>,
    /// Nodes by name.
    pub nodes: BTreeMap<String, Node>,
    /// Nova's instance actions that failed after a 202, by (server, request
    /// id): `os-instance-actions/{request}` bodies.
    pub instance_actions: BTreeMap<(String, String), Value>,
}

fn uuid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// `storage-1@lvm#pool-a` → `lvm`.
pub fn backend_of(pool: &str) -> String {
    let after = pool.split_once('@').map(|(_, b)| b).unwrap_or(pool);
    after.split('#').next().unwrap_or(after).to_string()
}

impl World {
    /// A world holding the simulated cloud document `cloud`.
    pub fn from_cloud(cloud: &Value, delay: Duration) -> World {
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        let entries = |k: &str| cloud[k].as_object().cloned().unwrap_or_default();
        let services: BTreeMap<String, ComputeService> = entries("compute_services")
            .iter()
            .map(|(host, v)| {
                let svc = ComputeService {
                    id: uuid(),
                    status: s(&v["state"]),
                    disabled_reason: v["disabled_reason"].as_str().map(str::to_string),
                    hypervisor: uuid(),
                };
                (host.clone(), svc)
            })
            .collect();
        let nodes = entries("nodes")
            .iter()
            .map(|(name, v)| {
                let node = Node {
                    uuid: uuid(),
                    power_state: format!("power {}", s(&v["power"])),
                    target_power_state: None,
                    compute_node_id: services.get(name).map(|svc| svc.hypervisor.clone()),
                    pending: None,
                };
                (name.clone(), node)
            })
            .collect();
        let flavors = entries("flavors")
            .iter()
            .enumerate()
            .map(|(i, (name, v))| {
                let f = Flavor {
                    id: (i + 1).to_string(),
                    vcpus: v["vcpus"].as_u64().unwrap_or(1),
                    ram: v["ram_mb"].as_u64().unwrap_or(512),
                    disk: v["disk_gb"].as_u64().unwrap_or(1),
                };
                (name.clone(), f)
            })
            .collect();
        let servers = entries("instances")
            .iter()
            .map(|(id, v)| {
                let active = v["status"] == "ACTIVE";
                let server = Server {
                    name: s(&v["name"]),
                    host: s(&v["host"]),
                    status: s(&v["status"]),
                    vm_state: if active { "active" } else { "stopped" }.into(),
                    task_state: None,
                    flavor: s(&v["flavor"]),
                    resized_from: None,
                    pending: None,
                };
                (id.clone(), server)
            })
            .collect();
        let volumes = entries("volumes")
            .iter()
            .map(|(id, v)| {
                let vol = Volume {
                    name: s(&v["name"]),
                    pool: s(&v["pool"]),
                    vtype: s(&v["type"]),
                    status: "available".into(),
                    migration_status: None,
                    pending: None,
                };
                (id.clone(), vol)
            })
            .collect();
        let list = |k: &str| cloud[k].as_array().cloned().unwrap_or_default();
        World {
            delay,
            services,
            flavors,
            servers,
            volumes,
            pools: list("volume_pools").iter().map(|p| (s(p), backend_of(&s(p)))).collect(),
            types: list("volume_types").iter().map(|t| (s(t), (uuid(), None))).collect(),
            nodes,
            instance_actions: BTreeMap::new(),
        }
    }

    /// The world as a simulated cloud document (changes under way not shown).
    pub fn cloud(&self) -> Value {
        let map = |it: Vec<(String, Value)>| Value::Object(it.into_iter().collect::<Map<_, _>>());
        json!({
            "compute_services": map(self.services.iter().map(|(h, s)| {
                let mut v = json!({"state": s.status});
                if let Some(r) = &s.disabled_reason { v["disabled_reason"] = json!(r); }
                (h.clone(), v)
            }).collect()),
            "nodes": map(self.nodes.iter().map(|(n, node)| {
                (n.clone(), json!({"power": node.power_state.trim_start_matches("power ")}))
            }).collect()),
            "flavors": map(self.flavors.iter().map(|(n, f)| {
                (n.clone(), json!({"vcpus": f.vcpus, "ram_mb": f.ram, "disk_gb": f.disk}))
            }).collect()),
            "instances": map(self.servers.iter().map(|(id, s)| {
                (id.clone(), json!({"name": s.name, "host": s.host, "flavor": s.flavor, "status": s.status}))
            }).collect()),
            "volume_pools": self.pools.keys().collect::<Vec<_>>(),
            "volume_types": self.types.keys().collect::<Vec<_>>(),
            "volumes": map(self.volumes.iter().map(|(id, v)| {
                (id.clone(), json!({"name": v.name, "pool": v.pool, "type": v.vtype}))
            }).collect()),
        })
    }

    /// Lands every change that is due.
    pub fn tick(&mut self, now: Instant) {
        for s in self.servers.values_mut() {
            let mut p = s.pending.take();
            land(s, &mut p, now);
            if s.pending.is_none() {
                s.pending = p;
            }
        }
        for v in self.volumes.values_mut() {
            let mut p = v.pending.take();
            land(v, &mut p, now);
            if v.pending.is_none() {
                v.pending = p;
            }
        }
        for n in self.nodes.values_mut() {
            let mut p = n.pending.take();
            land(n, &mut p, now);
            if n.pending.is_none() {
                n.pending = p;
            }
        }
    }

    /// Whether no change is under way.
    pub fn settled(&self) -> bool {
        self.servers.values().all(|s| s.pending.is_none())
            && self.volumes.values().all(|v| v.pending.is_none())
            && self.nodes.values().all(|n| n.pending.is_none())
    }

    /// A change landing after the delay.
    pub fn later<T>(&self, then: impl FnOnce(&mut T) + Send + 'static) -> Option<Pending<T>> {
        Some(Pending { at: Instant::now() + self.delay, then: Box::new(then) })
    }

    /// Whether `host`'s machine is powered off (its Ironic node, the one
    /// whose `extra.compute_node_id` is the host's hypervisor): then its
    /// nova-compute is down, and the scheduler's ComputeFilter drops it.
    pub fn powered_off(&self, host: &str) -> bool {
        let Some(svc) = self.services.get(host) else { return false };
        self.nodes.values().any(|n| {
            n.compute_node_id.as_deref() == Some(svc.hypervisor.as_str()) && n.power_state == "power off"
        })
    }

    /// Instances on `host` (Nova's `running_vms` counts them all).
    pub fn running_vms(&self, host: &str) -> usize {
        self.servers.values().filter(|s| s.host == host).count()
    }
}
