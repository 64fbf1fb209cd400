//! The Nova endpoints the driver uses, at the microversions it asks, with
//! Nova's state rules and answers shaped by Nova's api-ref samples.

use super::world::{Server, World};
use super::{fault, fixture, keys_within, Answer, Request};
use serde_json::{json, Value};

/// The microversion a request asks for (`OpenStack-API-Version: compute X`
/// or `X-OpenStack-Nova-API-Version: X`); 2.1 without one.
fn version(req: &Request) -> Result<(u32, u32), Answer> {
    let asked = req
        .header("openstack-api-version")
        .and_then(|h| h.strip_prefix("compute ").map(str::to_string))
        .or_else(|| req.header("x-openstack-nova-api-version").map(str::to_string));
    let Some(v) = asked else { return Ok((2, 1)) };
    if v == "latest" {
        return Ok((2, 100));
    }
    let parsed = v.split_once('.').and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)));
    match parsed {
        Some((2, minor)) if (1..=100).contains(&minor) => Ok((2, minor)),
        _ => Err(fault(
            406,
            "notAcceptable",
            &format!("Version {v} is not supported by the API. Minimum is 2.1 and maximum is 2.100."),
        )),
    }
}

fn server_view(id: &str, s: &Server, w: &World, v: (u32, u32)) -> Value {
    let mut body = fixture("nova/v2.47_server-get-resp.json");
    let o = &mut body["server"];
    o["id"] = json!(id);
    o["name"] = json!(s.name);
    o["status"] = json!(s.status);
    o["OS-EXT-SRV-ATTR:host"] = json!(s.host);
    o["OS-EXT-SRV-ATTR:hypervisor_hostname"] = json!(s.host);
    o["OS-EXT-STS:vm_state"] = json!(s.vm_state);
    o["OS-EXT-STS:task_state"] = json!(s.task_state);
    let f = &w.flavors[&s.flavor];
    if v >= (2, 47) {
        o["flavor"] = json!({"disk": f.disk, "ephemeral": 0, "extra_specs": {}, "original_name": s.flavor, "ram": f.ram, "swap": 0, "vcpus": f.vcpus});
    } else {
        o["flavor"] = json!({"id": f.id, "links": []});
    }
    body
}

fn service_view(host: &str, w: &World) -> Value {
    let s = &w.services[host];
    let mut v = fixture("nova/v2.53_service-disable-log-put-resp.json")["service"].clone();
    v["id"] = json!(s.id);
    v["host"] = json!(host);
    v["status"] = json!(s.status);
    v["disabled_reason"] = json!(s.disabled_reason);
    v
}

/// `path` is relative to the endpoint (`/servers/…`).
pub fn handle(w: &mut World, req: &Request, path: &[&str]) -> Answer {
    let v = match version(req) {
        Ok(v) => v,
        Err(a) => return a,
    };
    match (req.method.as_str(), path) {
        ("GET", ["servers", id]) => match w.servers.get(*id) {
            Some(s) => Answer::ok(200, server_view(id, s, w, v)),
            None => fault(404, "itemNotFound", &format!("Instance {id} could not be found.")),
        },
        ("POST", ["servers", id, "action"]) => action(w, req, id, v),
        ("GET", ["servers", id, "os-instance-actions", request]) => {
            match w.instance_actions.get(&(id.to_string(), request.to_string())) {
                Some(a) => Answer::ok(200, a.clone()),
                None => fault(
                    404,
                    "itemNotFound",
                    &format!("Action for request_id {request} on instance {id} not found"),
                ),
            }
        }
        // Admin filters, as Nova has them: `host` needs `all_tenants` to see
        // other projects' servers (the double has one project).
        ("GET", ["servers"]) => {
            let servers: Vec<Value> = w
                .servers
                .iter()
                .filter(|(_, s)| req.query("host").is_none_or(|h| h == s.host))
                .map(|(id, s)| json!({"id": id, "name": s.name, "links": []}))
                .collect();
            Answer::ok(200, json!({"servers": servers}))
        }
        // The double moves servers at once: no migration is ever in flight.
        ("GET", ["os-migrations"]) => Answer::ok(200, json!({"migrations": []})),
        ("GET", ["os-services"]) => {
            let services: Vec<Value> = w
                .services
                .keys()
                .filter(|h| req.query("host").is_none_or(|q| q == h.as_str()))
                .filter(|_| req.query("binary").is_none_or(|b| b == "nova-compute"))
                .map(|h| service_view(h, w))
                .collect();
            Answer::ok(200, json!({"services": services}))
        }
        // Before 2.53 the route is /os-services/{enable,disable,…}: a uuid is not one.
        ("PUT", ["os-services", id]) if v < (2, 53) => {
            fault(404, "itemNotFound", &format!("Unknown action {id} (microversion {}.{} < 2.53)", v.0, v.1))
        }
        ("PUT", ["os-services", id]) => update_service(w, req, id),
        ("GET", ["flavors", "detail"]) => {
            let template = fixture("nova/v2.55_flavors-detail-resp.json")["flavors"][0].clone();
            let flavors: Vec<Value> = w
                .flavors
                .iter()
                .map(|(name, f)| {
                    let mut t = template.clone();
                    t["id"] = json!(f.id);
                    t["name"] = json!(name);
                    t["vcpus"] = json!(f.vcpus);
                    t["ram"] = json!(f.ram);
                    t["disk"] = json!(f.disk);
                    t
                })
                .collect();
            Answer::ok(200, json!({"flavors": flavors}))
        }
        ("GET", ["os-hypervisors", id]) if v < (2, 53) => fault(
            400,
            "badRequest",
            &format!("Invalid ID {id} (hypervisors are addressed by uuid from 2.53)"),
        ),
        ("GET", ["os-hypervisors", id]) => match w.services.iter().find(|(_, s)| s.hypervisor == *id) {
            Some((host, s)) => {
                let mut body = fixture("nova/v2.53_hypervisors-show-resp.json");
                body["hypervisor"]["id"] = json!(id);
                body["hypervisor"]["hypervisor_hostname"] = json!(host);
                body["hypervisor"]["status"] = json!(s.status);
                body["hypervisor"]["running_vms"] = json!(w.running_vms(host));
                body["hypervisor"]["service"] =
                    json!({"host": host, "id": s.id, "disabled_reason": s.disabled_reason});
                Answer::ok(200, body)
            }
            None => fault(404, "itemNotFound", &format!("Hypervisor with ID '{id}' could not be found.")),
        },
        _ => fault(404, "itemNotFound", "The resource could not be found."),
    }
}

fn update_service(w: &mut World, req: &Request, id: &str) -> Answer {
    let body = req.body.clone().unwrap_or(Value::Null);
    if let Err(a) = keys_within(&body, &["status", "disabled_reason", "forced_down"]) {
        return a;
    }
    let Some(host) = w.services.iter().find(|(_, s)| s.id == id).map(|(h, _)| h.clone()) else {
        return fault(404, "itemNotFound", &format!("Service {id} not found."));
    };
    let svc = w.services.get_mut(&host).expect("found");
    match body["status"].as_str() {
        Some("enabled") => {
            if body.get("disabled_reason").is_some() {
                return fault(
                    400,
                    "badRequest",
                    "Specifying a disabled reason is not supported when enabling a service.",
                );
            }
            svc.status = "enabled".into();
            svc.disabled_reason = None;
        }
        Some("disabled") => {
            svc.status = "disabled".into();
            svc.disabled_reason = body["disabled_reason"].as_str().map(str::to_string);
        }
        _ => return fault(400, "badRequest", "Invalid input for field/attribute status."),
    }
    Answer::ok(200, json!({"service": service_view(&host, w)}))
}

fn conflict(id: &str, what: &str, s: &Server) -> Option<Answer> {
    s.task_state.as_ref().map(|t| {
        fault(
            409,
            "conflictingRequest",
            &format!("Cannot '{what}' instance {id} while it is in task_state {t}"),
        )
    })
}

fn vm_state_conflict(id: &str, what: &str, s: &Server) -> Answer {
    fault(
        409,
        "conflictingRequest",
        &format!("Cannot '{what}' instance {id} while it is in vm_state {}", s.vm_state),
    )
}

/// Checks a destination host: known, enabled, not the source.
/// Why a move cannot happen, as real Nova (Zed, 2.56) says it: at once
/// (400) or after accepting the request (202, then an instance action whose
/// event failed with these details; the server stays where it is).
enum Refusal {
    Now(Answer),
    Later(&'static str, String),
}

fn destination(w: &World, host: &str, source: &str, live: bool) -> Result<(), Refusal> {
    match w.services.get(host) {
        None => {
            Err(Refusal::Now(fault(400, "badRequest", &format!("Compute host {host} could not be found."))))
        }
        Some(_) if host == source && !live => {
            Err(Refusal::Now(fault(400, "badRequest", "Cannot migrate to the host where the server exists.")))
        }
        Some(_) if host == source => Err(Refusal::Later(
            "conductor_live_migrate_instance",
            format!("Unable to migrate instance to current host ({host})."),
        )),
        Some(s) if s.status == "disabled" => {
            let event = if live { "conductor_live_migrate_instance" } else { "conductor_migrate_server" };
            Err(Refusal::Later(event, "No valid host was found. ".into()))
        }
        Some(_) => Ok(()),
    }
}

/// A request Nova accepted and then failed: recorded as Nova records it.
fn failed_later(w: &mut World, id: &str, action: &str, event: &str, details: &str) -> Answer {
    let request = format!("req-{}", uuid::Uuid::new_v4());
    let record = json!({"instanceAction": {
        "action": action, "instance_uuid": id, "request_id": request, "message": "Error",
        "events": [{"event": event, "result": "Error", "details": details}],
    }});
    w.instance_actions.insert((id.to_string(), request.clone()), record);
    Answer { request_id: Some(request), ..Answer::accepted() }
}

/// What the scheduler's failure says (after a 202, on real Nova).
const NO_HOST: &str = "No valid host was found. There are not enough hosts available.";

/// The scheduler: the enabled, powered-on host other than `source` with
/// fewest instances.
fn schedule(w: &World, source: &str) -> Option<String> {
    w.services
        .iter()
        .filter(|(h, s)| s.status == "enabled" && h.as_str() != source && !w.powered_off(h))
        .min_by_key(|(h, _)| (w.running_vms(h), (*h).clone()))
        .map(|(h, _)| h.clone())
}

fn action(w: &mut World, req: &Request, id: &str, v: (u32, u32)) -> Answer {
    let body = req.body.clone().unwrap_or(Value::Null);
    let Some((name, args)) = body.as_object().filter(|o| o.len() == 1).and_then(|o| o.iter().next()) else {
        return fault(400, "badRequest", "There is no such action: the body must name exactly one action.");
    };
    let (name, args) = (name.clone(), args.clone());
    let Some(s) = w.servers.get(id) else {
        return fault(404, "itemNotFound", &format!("Instance {id} could not be found."));
    };
    let source = s.host.clone();
    match name.as_str() {
        "os-migrateLive" => {
            // 2.25+: block_migration may be "auto", disk_over_commit is gone.
            let sample = fixture("nova/v2.25_live-migrate-server.json");
            if let Err(a) = keys_within(&args, &keys(&sample["os-migrateLive"])) {
                return a;
            }
            if v < (2, 25)
                || !matches!(args["block_migration"].as_str(), Some("auto"))
                    && !args["block_migration"].is_boolean()
            {
                return fault(400, "badRequest", "Invalid input for field/attribute block_migration.");
            }
            if let Some(a) = conflict(id, "os-migrateLive", s) {
                return a;
            }
            if s.vm_state != "active" {
                return vm_state_conflict(id, "os-migrateLive", s);
            }
            let to = match args["host"].as_str() {
                Some(h) => match destination(w, h, &source, true) {
                    Ok(()) => h.to_string(),
                    Err(Refusal::Now(a)) => return a,
                    Err(Refusal::Later(event, why)) => {
                        return failed_later(w, id, "live-migration", event, &why)
                    }
                },
                None => match schedule(w, &source) {
                    Some(h) => h,
                    None => {
                        return failed_later(
                            w,
                            id,
                            "live-migration",
                            "conductor_live_migrate_instance",
                            NO_HOST,
                        )
                    }
                },
            };
            let later = w.later(move |s: &mut Server| {
                s.host = to;
                s.status = "ACTIVE".into();
                s.task_state = None;
            });
            let s = w.servers.get_mut(id).expect("found");
            s.status = "MIGRATING".into();
            s.task_state = Some("migrating".into());
            s.pending = later;
            Answer::accepted()
        }
        "migrate" => {
            if !args.is_null() {
                // The host argument exists from 2.56.
                let sample = fixture("nova/v2.56_migrate-server.json");
                if v < (2, 56) {
                    return fault(400, "badRequest", "Invalid input for field/attribute migrate. Value: {'host': ...}. Additional properties are not allowed ('host' was unexpected)");
                }
                if let Err(a) = keys_within(&args, &keys(&sample["migrate"])) {
                    return a;
                }
            }
            if let Some(a) = conflict(id, "migrate", s) {
                return a;
            }
            if !matches!(s.vm_state.as_str(), "active" | "stopped") {
                return vm_state_conflict(id, "migrate", s);
            }
            let to = match args["host"].as_str() {
                Some(h) => match destination(w, h, &source, false) {
                    Ok(()) => h.to_string(),
                    Err(Refusal::Now(a)) => return a,
                    Err(Refusal::Later(event, why)) => return failed_later(w, id, "migrate", event, &why),
                },
                None => match schedule(w, &source) {
                    Some(h) => h,
                    None => return failed_later(w, id, "migrate", "conductor_migrate_server", NO_HOST),
                },
            };
            resize_like(w, id, Some(to), None)
        }
        "resize" => {
            let sample = fixture("nova/server-action-resize.json");
            if let Err(a) = keys_within(&args, &keys(&sample["resize"])) {
                return a;
            }
            let Some(flavor) = args["flavorRef"].as_str().and_then(|r| {
                w.flavors.iter().find(|(n, f)| f.id == r || n.as_str() == r).map(|(n, _)| n.clone())
            }) else {
                return fault(400, "badRequest", "Invalid flavorRef provided.");
            };
            if let Some(a) = conflict(id, "resize", s) {
                return a;
            }
            if !matches!(s.vm_state.as_str(), "active" | "stopped") {
                return vm_state_conflict(id, "resize", s);
            }
            if flavor == s.flavor {
                return fault(400, "badRequest", "When resizing, instances must change flavor!");
            }
            // As real Nova by default (allow_resize_to_same_host = False):
            // the scheduler picks another host.
            let Some(to) = schedule(w, &source) else {
                return failed_later(w, id, "resize", "conductor_migrate_server", NO_HOST);
            };
            resize_like(w, id, Some(to), Some(flavor))
        }
        "confirmResize" => {
            if !args.is_null() {
                return fault(400, "badRequest", "confirmResize takes no argument.");
            }
            if s.vm_state != "resized" {
                return vm_state_conflict(id, "confirmResize", s);
            }
            let (vm_state, status) = s.resized_from.clone().unwrap_or(("active".into(), "ACTIVE".into()));
            // The confirmation finishes on the compute host: VERIFY_RESIZE
            // (no task) a little longer.
            let later = w.later(move |s: &mut Server| {
                s.vm_state = vm_state;
                s.status = status;
                s.resized_from = None;
            });
            w.servers.get_mut(id).expect("found").pending = later;
            Answer::accepted()
        }
        "os-stop" | "os-start" => {
            let stop = name == "os-stop";
            let what = if stop { "stop" } else { "start" };
            if !args.is_null() {
                return fault(400, "badRequest", &format!("{name} takes no argument."));
            }
            if let Some(a) = conflict(id, what, s) {
                return a;
            }
            if s.vm_state != if stop { "active" } else { "stopped" } {
                return vm_state_conflict(id, what, s);
            }
            let later = w.later(move |s: &mut Server| {
                s.status = if stop { "SHUTOFF" } else { "ACTIVE" }.into();
                s.vm_state = if stop { "stopped" } else { "active" }.into();
                s.task_state = None;
            });
            let s = w.servers.get_mut(id).expect("found");
            s.task_state = Some(if stop { "powering-off" } else { "powering-on" }.into());
            s.pending = later;
            Answer::accepted()
        }
        other => fault(400, "badRequest", &format!("There is no such action: {other}")),
    }
}

fn keys(sample: &Value) -> Vec<String> {
    sample.as_object().map(|o| o.keys().cloned().collect()).unwrap_or_default()
}

/// A cold migration (`to`) or a resize (`flavor`): RESIZE, then
/// VERIFY_RESIZE until confirmed.
fn resize_like(w: &mut World, id: &str, to: Option<String>, flavor: Option<String>) -> Answer {
    let later = w.later(move |s: &mut Server| {
        if let Some(h) = to {
            s.host = h;
        }
        if let Some(f) = flavor {
            s.flavor = f;
        }
        s.status = "VERIFY_RESIZE".into();
        s.vm_state = "resized".into();
        s.task_state = None;
    });
    let s = w.servers.get_mut(id).expect("found");
    s.resized_from = Some((s.vm_state.clone(), s.status.clone()));
    s.status = "RESIZE".into();
    s.task_state = Some("resize_prep".into());
    s.pending = later;
    Answer::accepted()
}
