//! The Cinder (v3) endpoints the driver uses, with Cinder's state rules and
//! answers shaped by Cinder's api-ref samples.

use super::world::{backend_of, Volume, World};
use super::{fault, fixture, keys_within, Answer, Request};
use serde_json::{json, Value};

fn volume_view(id: &str, v: &Volume) -> Value {
    let mut body = fixture("cinder/volume-show-response.json");
    let o = &mut body["volume"];
    o["id"] = json!(id);
    o["name"] = json!(v.name);
    o["status"] = json!(v.status);
    o["volume_type"] = json!(v.vtype);
    o["os-vol-host-attr:host"] = json!(v.pool);
    o["migration_status"] = json!(v.migration_status);
    o["os-vol-mig-status-attr:migstat"] = json!(v.migration_status);
    body
}

/// `path` is relative to `/v3/{project_id}`.
pub fn handle(w: &mut World, req: &Request, path: &[&str]) -> Answer {
    match (req.method.as_str(), path) {
        ("GET", ["volumes", id]) => match w.volumes.get(*id) {
            Some(v) => Answer::ok(200, volume_view(id, v)),
            None => fault(404, "itemNotFound", &format!("Volume {id} could not be found.")),
        },
        ("POST", ["volumes", id, "action"]) => action(w, req, id),
        ("GET", ["scheduler-stats", "get_pools"]) => {
            let template = fixture("cinder/pools-list-detailed-response.json")["pools"][0].clone();
            let pools: Vec<Value> = w
                .pools
                .iter()
                .map(|(name, backend)| {
                    let mut p = template.clone();
                    p["name"] = json!(name);
                    p["capabilities"]["volume_backend_name"] = json!(backend);
                    p
                })
                .collect();
            Answer::ok(200, json!({"pools": pools}))
        }
        ("GET", ["types"]) => {
            let template = fixture("cinder/volume-types-list-response.json")["volume_types"][2].clone();
            let types: Vec<Value> = w
                .types
                .iter()
                .map(|(name, (id, backend))| {
                    let mut t = template.clone();
                    t["id"] = json!(id);
                    t["name"] = json!(name);
                    t["description"] = Value::Null;
                    t["extra_specs"] = match backend {
                        Some(b) => json!({"volume_backend_name": b}),
                        None => json!({}),
                    };
                    t
                })
                .collect();
            Answer::ok(200, json!({"volume_types": types}))
        }
        _ => fault(404, "itemNotFound", "The resource could not be found."),
    }
}

fn action(w: &mut World, req: &Request, id: &str) -> Answer {
    let body = req.body.clone().unwrap_or(Value::Null);
    let Some((name, args)) = body.as_object().filter(|o| o.len() == 1).and_then(|o| o.iter().next()) else {
        return fault(400, "badRequest", "Invalid request body: expected one action.");
    };
    let (name, args) = (name.clone(), args.clone());
    let Some(v) = w.volumes.get(id) else {
        return fault(404, "itemNotFound", &format!("Volume {id} could not be found."));
    };
    if !matches!(v.status.as_str(), "available" | "in-use") {
        return fault(
            400,
            "badRequest",
            &format!(
                "Invalid volume: Volume status must be available or in-use, but current status is: {}.",
                v.status
            ),
        );
    }
    if v.migration_status.as_deref() == Some("migrating") {
        return fault(400, "badRequest", "Invalid volume: Volume is already being migrated.");
    }
    match name.as_str() {
        "os-migrate_volume" => {
            // The sample shows `host`; the schema also takes these three.
            let mut allowed: Vec<String> = fixture("cinder/volume-os-migrate_volume-request.json")
                ["os-migrate_volume"]
                .as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default();
            allowed.extend(["force_host_copy", "lock_volume", "cluster"].map(String::from));
            if let Err(a) = keys_within(&args, &allowed) {
                return a;
            }
            let Some(to) = args["host"].as_str().map(str::to_string) else {
                return fault(400, "badRequest", "Invalid input: 'host' is a required property.");
            };
            if to == v.pool {
                return fault(
                    400,
                    "badRequest",
                    "Invalid host: Destination host must be different than the current host.",
                );
            }
            let known = w.pools.contains_key(&to);
            // Cinder accepts, then the scheduler finds the pool or fails.
            let later = w.later(move |v: &mut Volume| {
                if known {
                    v.pool = to;
                    v.migration_status = Some("success".into());
                } else {
                    v.migration_status = Some("error".into());
                }
            });
            let v = w.volumes.get_mut(id).expect("found");
            v.migration_status = Some("migrating".into());
            v.pending = later;
            Answer::accepted()
        }
        "os-retype" => {
            let sample = fixture("cinder/volume-os-retype-request.json");
            let allowed: Vec<String> =
                sample["os-retype"].as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default();
            if let Err(a) = keys_within(&args, &allowed) {
                return a;
            }
            let Some(to) = args["new_type"].as_str().map(str::to_string) else {
                return fault(400, "badRequest", "Invalid input: 'new_type' is a required property.");
            };
            let policy = args["migration_policy"].as_str().unwrap_or("never");
            if !matches!(policy, "never" | "on-demand") {
                return fault(
                    400,
                    "badRequest",
                    &format!("Invalid input: migration_policy {policy:?} is not one of never, on-demand."),
                );
            }
            let Some((_, backend)) = w.types.get(&to).cloned() else {
                return fault(
                    404,
                    "itemNotFound",
                    &format!("Volume type with name {to} could not be found."),
                );
            };
            if to == v.vtype {
                return fault(400, "badRequest", "Invalid volume: Retype requested to the same volume type.");
            }
            // A type tied to another backend needs a migration.
            let moves_to = match &backend {
                Some(b) if *b != backend_of(&v.pool) => {
                    if policy == "never" {
                        return fault(
                            400,
                            "badRequest",
                            "Invalid volume: Retype needs a migration but migration_policy is never.",
                        );
                    }
                    w.pools.iter().find(|(_, pb)| *pb == b).map(|(p, _)| p.clone())
                }
                _ => None,
            };
            let status = v.status.clone();
            let later = w.later(move |v: &mut Volume| {
                v.vtype = to;
                if let Some(p) = moves_to {
                    v.pool = p;
                }
                v.status = status;
            });
            let v = w.volumes.get_mut(id).expect("found");
            v.status = "retyping".into();
            v.pending = later;
            Answer::accepted()
        }
        other => fault(400, "badRequest", &format!("There is no such action: {other}")),
    }
}
