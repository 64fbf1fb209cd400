//! Inverter for `stop`: `start` the instance again. Nothing when the
//! recorded pre-state shows it was already SHUTOFF.

use rollback_plugin_sdk::{
    export_inverter, json, Error, Executed, Inverse, Inverter, Metadata, UUID_PATTERN,
};

/// The `stop` inverter.
pub struct Stop;

impl Inverter for Stop {
    fn metadata() -> Metadata {
        Metadata::new(
            "stop",
            env!("CARGO_PKG_VERSION"),
            "Starts the instance that the stop shut off.",
            json!({
                "type": "object",
                "properties": {"resource_id": {"type": "string", "pattern": UUID_PATTERN}},
                "required": ["resource_id"],
                "additionalProperties": false
            }),
        )
    }

    fn invert(action: &Executed) -> Result<Vec<Inverse>, Error> {
        let id = action.param_str("resource_id")?;
        if action.pre_str("status")? == "SHUTOFF" {
            return Ok(vec![]);
        }
        Ok(vec![Inverse::new("start", json!({"resource_id": id}))
            .expecting(&action.result)
            .describe(format!("Start instance {id} again"))])
    }
}

export_inverter!(Stop);

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a01";

    #[test]
    fn inverts_to_start() {
        let a = Executed::new(
            "stop",
            json!({"resource_id": ID}),
            json!({"status": "ACTIVE", "host": "c1"}),
            json!({"status": "SHUTOFF", "host": "c1"}),
        )
        .unwrap();
        let out = Stop::invert(&a).unwrap();
        assert_eq!(out[0].action_type, "start");
        assert_eq!(out[0].expected_state["status"], "SHUTOFF");
    }

    #[test]
    fn nothing_when_it_already_was_shutoff() {
        let a = Executed::new(
            "stop",
            json!({"resource_id": ID}),
            json!({"status": "SHUTOFF"}),
            json!({"status": "SHUTOFF"}),
        )
        .unwrap();
        assert!(Stop::invert(&a).unwrap().is_empty());
    }
}
