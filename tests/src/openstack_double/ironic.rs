//! The Ironic endpoints the driver uses, with Ironic's rules (a node by
//! name from API 1.5; one power change at a time) and answers shaped by
//! Ironic's api-ref samples.

use super::world::{Node, World};
use super::{fixture, keys_within, Answer, Request};
use serde_json::{json, Value};

/// Ironic's error body: the message JSON-encoded inside `error_message`.
fn error(status: u16, message: &str) -> Answer {
    let inner = json!({"faultstring": message, "faultcode": if status < 500 { "Client" } else { "Server" }, "debuginfo": null});
    Answer::ok(status, json!({"error_message": inner.to_string()}))
}

fn version(req: &Request) -> (u32, u32) {
    req.header("x-openstack-ironic-api-version")
        .and_then(|v| v.split_once('.'))
        .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
        .unwrap_or((1, 1))
}

/// The node `ident` names: its uuid, or its name from 1.5.
fn find<'a>(w: &'a mut World, req: &Request, ident: &str) -> Result<(String, &'a mut Node), Answer> {
    let by_name = version(req) >= (1, 5);
    let name = w
        .nodes
        .iter()
        .find(|(name, n)| n.uuid == ident || (by_name && name.as_str() == ident))
        .map(|(name, _)| name.clone())
        .ok_or_else(|| error(404, &format!("Node {ident} could not be found.")))?;
    let node = w.nodes.get_mut(&name).expect("found");
    Ok((name, node))
}

fn node_view(name: &str, n: &Node) -> Value {
    let mut body = fixture("ironic/node-show-response.json");
    body["uuid"] = json!(n.uuid);
    body["name"] = json!(name);
    body["power_state"] = json!(n.power_state);
    body["target_power_state"] = json!(n.target_power_state);
    body["extra"] = match &n.compute_node_id {
        Some(id) => json!({"compute_node_id": id}),
        None => json!({}),
    };
    body
}

/// `path` is relative to the endpoint (`/v1/nodes/…`).
pub fn handle(w: &mut World, req: &Request, path: &[&str]) -> Answer {
    match (req.method.as_str(), path) {
        ("GET", ["v1", "nodes", ident]) => match find(w, req, ident) {
            Ok((name, n)) => Answer::ok(200, node_view(&name, n)),
            Err(a) => a,
        },
        ("PUT", ["v1", "nodes", ident, "states", "power"]) => {
            let body = req.body.clone().unwrap_or(Value::Null);
            let allowed: Vec<String> = fixture("ironic/node-set-power-off.json")
                .as_object()
                .map(|o| o.keys().cloned().collect())
                .unwrap_or_default();
            let allowed: Vec<String> = allowed.into_iter().chain(["timeout".to_string()]).collect();
            if let Err(_a) = keys_within(&body, &allowed) {
                return error(400, "Invalid input: unexpected field in the power state request.");
            }
            let target = body["target"].as_str().unwrap_or_default().to_string();
            if !matches!(target.as_str(), "power on" | "power off" | "rebooting") {
                return error(400, &format!("Invalid power state {target:?}."));
            }
            let later = w.later(move |n: &mut Node| {
                n.power_state = if target == "rebooting" { "power on".into() } else { target };
                n.target_power_state = None;
            });
            let (_, n) = match find(w, req, ident) {
                Ok(found) => found,
                Err(a) => return a,
            };
            if n.target_power_state.is_some() {
                return error(409, &format!("Node {ident} is locked by host fake-conductor, please retry after the current operation is completed."));
            }
            n.target_power_state = Some(body["target"].as_str().unwrap_or_default().to_string());
            n.pending = later;
            Answer::accepted()
        }
        _ => error(404, "The resource could not be found."),
    }
}
