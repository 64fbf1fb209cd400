//! `change_node_power_state`: power a bare-metal node on or off.
//!
//! Simulated: FAILED when the node is unknown, or when powering off a node
//! that still hosts ACTIVE instances. OpenStack:
//! `PUT /v1/nodes/{id}/states/power {"target": "power on/off"}`, wait for
//! `power_state`; powering off a node whose hypervisor runs servers fails.

use super::openstack::{self as os, ironic_power, power_target, Check, Look, Os};
use super::schemas::{name, object};
use super::simulated::model::{Cloud, Status};
use super::simulated::{self as sim, Change, Decision};
use super::{Builtin, OnOpenStack, PowerState, Simulate};
use crate::openstack_api::ironic::Node;
use crate::openstack_api::ApiError;
use serde::Deserialize;
use serde_json::{json, Value};

/// Its parameters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChangePowerState {
    /// The node's name.
    pub resource_id: String,
    /// The wanted power state.
    pub state: PowerState,
}

impl Builtin for ChangePowerState {
    const NAME: &'static str = "change_node_power_state";

    fn schema() -> Value {
        object(
            json!({
                "resource_id": name(),
                "resource_name": {"type": "string"},
                "state": {"type": "string", "enum": ["on", "off"]},
            }),
            &["resource_id", "state"],
        )
    }
}

impl Simulate for ChangePowerState {
    fn decide(&self, cloud: &Cloud) -> Decision {
        let id = &self.resource_id;
        let Some(node) = cloud.nodes.get(id) else {
            return sim::fail(format!("Node {id} not found."), json!({}));
        };
        let pre = json!({"power": node.power});
        let busy = cloud.instances.values().filter(|i| &i.host == id && i.status == Status::Active).count();
        if self.state == PowerState::Off && busy > 0 {
            return sim::fail(
                format!("Node {id} still hosts {busy} ACTIVE instance(s); it cannot be powered off."),
                pre,
            );
        }
        sim::run(pre, Change::Power { node: id.clone(), power: self.state })
    }
}

impl OnOpenStack for ChangePowerState {
    fn look(&self, os: &Os<'_>) -> Result<Look, ApiError> {
        Ok(match os.ironic().node(&self.resource_id)? {
            None => Look { state: None, busy: None },
            Some(node) => Look {
                state: Some(json!({"power": ironic_power(&node)})),
                busy: node.target_power_state.is_some().then(|| node.describe()),
            },
        })
    }

    fn prepare(&self, os: &Os<'_>) -> Result<Check, ApiError> {
        let id = &self.resource_id;
        let Some(node) = os.ironic().node(id)? else {
            return Ok(os::fail(format!("Node {id} not found."), json!({})));
        };
        let Some(power) = ironic_power(&node) else {
            return Ok(os::fail(
                format!("Node {id} is in no known power state ({}).", node.describe()),
                json!({}),
            ));
        };
        let pre = json!({"power": power});
        if node.target_power_state.is_some() {
            return Ok(os::fail(format!("Node {id} is changing power already ({}).", node.describe()), pre));
        }
        if self.state == PowerState::Off && power == "on" {
            if let Some(hypervisor) = &node.compute_node_id {
                // Counted live, now: a server migrated onto the host seconds
                // ago is not yet in the hypervisor's running_vms.
                if let Some(host) = os.nova().host_named(hypervisor)? {
                    let on = os.nova().occupants(&host)?;
                    if !on.is_empty() {
                        let why = format!(
                            "Compute node {id} (host {host}) has {} server(s) [{}] and {} migration(s) in progress [{}]; it will NOT be shut off.",
                            on.servers.len(),
                            on.servers.join(", "),
                            on.migrations.len(),
                            on.migrations.join(", ")
                        );
                        return Ok(os::fail(why, pre));
                    }
                }
            }
        }
        Ok(os::run(pre))
    }

    fn apply(&self, os: &Os<'_>, _action: &str) -> Result<Value, String> {
        let id = &self.resource_id;
        let target = power_target(self.state);
        os.ironic().set_power(id, target).map_err(|e| e.to_string())?;
        let node = os.settle(
            &format!("node {id} to be {target}"),
            || os.ironic().node(id),
            |n| n.target_power_state.is_none() && n.power_state.is_some(),
            Node::describe,
        )?;
        if node.power_state.as_deref() != Some(target) {
            return Err(format!("Node {id} did not reach {target}: {}.", node.describe()));
        }
        Ok(json!({"power": ironic_power(&node)}))
    }
}
