//! Inverter for Watcher's `change_node_power_state`: restore the power
//! state recorded before the action; nothing when it did not change.

use rollback_plugin_sdk::{export_inverter, json, Error, Executed, Inverse, Inverter, Metadata};

/// The `change_node_power_state` inverter.
pub struct ChangeNodePowerState;

impl Inverter for ChangeNodePowerState {
    fn metadata() -> Metadata {
        Metadata::new(
            "change_node_power_state",
            env!("CARGO_PKG_VERSION"),
            "Restores the node's recorded power state.",
            json!({
                "type": "object",
                "properties": {
                    "resource_id": {"type": "string", "minLength": 1},
                    "resource_name": {"type": "string"},
                    "state": {"type": "string", "enum": ["on", "off"]}
                },
                "required": ["resource_id", "state"],
                "additionalProperties": false
            }),
        )
    }

    fn invert(action: &Executed) -> Result<Vec<Inverse>, Error> {
        let id = action.param_str("resource_id")?;
        let was = action.pre_str("power")?;
        if was == action.res_str("power")? {
            return Ok(vec![]);
        }
        let inverse = Inverse::new("change_node_power_state", json!({"resource_id": id, "state": was}))
            .expecting(&action.result)
            .describe(format!("Power node {id} {was} again"));
        // Powering on restores capacity that the other inverses need.
        Ok(vec![if was == "on" { inverse.before_dependents() } else { inverse }])
    }
}

export_inverter!(ChangeNodePowerState);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn powers_back_on_and_leaves_unchanged_nodes_alone() {
        let off = Executed::new(
            "change_node_power_state",
            json!({"resource_id": "n1", "state": "off"}),
            json!({"power": "on"}),
            json!({"power": "off"}),
        )
        .unwrap();
        let inv = ChangeNodePowerState::invert(&off).unwrap();
        assert!(inv[0].before_dependents);
        assert_eq!(inv[0].parameters, *json!({"resource_id": "n1", "state": "on"}).as_object().unwrap());
        let same = Executed::new(
            "change_node_power_state",
            json!({"resource_id": "n1", "state": "off"}),
            json!({"power": "off"}),
            json!({"power": "off"}),
        )
        .unwrap();
        assert!(ChangeNodePowerState::invert(&same).unwrap().is_empty());
    }
}
