//! The Ironic (baremetal) calls the driver makes, at API version 1.5: the
//! lowest that accepts a node's name in the URL (Watcher's plans name
//! nodes by uuid or name).

use super::{seg, Found};
use super::{Api, ApiError, Session};
use reqwest::Method;
use serde_json::json;

/// Ironic, as the catalog types it.
pub const BAREMETAL: Api = Api {
    name: "baremetal",
    types: &["baremetal"],
    version: Some(("X-OpenStack-Ironic-API-Version", "1.5")),
};

/// What the driver reads of a node.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// `power on`, `power off`, `error`, or none.
    pub power_state: Option<String>,
    /// Set while a power change is under way.
    pub target_power_state: Option<String>,
    /// `extra.compute_node_id`: the Nova hypervisor it is (as Watcher's
    /// Ironic helper reads it).
    pub compute_node_id: Option<String>,
}

impl Node {
    /// The last observation, for a timeout's message.
    pub fn describe(&self) -> String {
        format!(
            "power_state {}, target_power_state {}",
            self.power_state.as_deref().unwrap_or("none"),
            self.target_power_state.as_deref().unwrap_or("none")
        )
    }
}

/// Ironic over a session.
pub struct Ironic<'a>(pub &'a Session);

impl Ironic<'_> {
    /// `GET /v1/nodes/{ident}`; `None` when Ironic does not know it.
    pub fn node(&self, ident: &str) -> Result<Found<Node>, ApiError> {
        match self.0.call(&BAREMETAL, Method::GET, &format!("/v1/nodes/{}", seg(ident)), None) {
            Ok(r) => {
                let s = |k: &str| r.body[k].as_str().map(str::to_string);
                Ok(Some(Node {
                    power_state: s("power_state"),
                    target_power_state: s("target_power_state"),
                    compute_node_id: r.body["extra"]["compute_node_id"].as_str().map(str::to_string),
                }))
            }
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `PUT /v1/nodes/{ident}/states/power` with `target` (`power on`,
    /// `power off`); 202, the change happens asynchronously.
    pub fn set_power(&self, ident: &str, target: &str) -> Result<(), ApiError> {
        let path = format!("/v1/nodes/{}/states/power", seg(ident));
        self.0.call(&BAREMETAL, Method::PUT, &path, Some(&json!({"target": target}))).map(drop)
    }
}
