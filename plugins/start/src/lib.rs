//! Inverter for `start`: `stop` the instance again. Nothing when the
//! recorded pre-state shows it was already ACTIVE.

use rollback_plugin_sdk::{
    export_inverter, json, Error, Executed, Inverse, Inverter, Metadata, UUID_PATTERN,
};

/// The `start` inverter.
pub struct Start;

impl Inverter for Start {
    fn metadata() -> Metadata {
        Metadata::new(
            "start",
            env!("CARGO_PKG_VERSION"),
            "Stops the instance that the start booted.",
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
        if action.pre_str("status")? == "ACTIVE" {
            return Ok(vec![]);
        }
        Ok(vec![Inverse::new("stop", json!({"resource_id": id}))
            .expecting(&action.result)
            .describe(format!("Stop instance {id} again"))])
    }
}

export_inverter!(Start);

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a01";

    #[test]
    fn inverts_to_stop() {
        let a = Executed::new(
            "start",
            json!({"resource_id": ID}),
            json!({"status": "SHUTOFF", "host": "c1"}),
            json!({"status": "ACTIVE", "host": "c1"}),
        )
        .unwrap();
        let out = Start::invert(&a).unwrap();
        assert_eq!(out[0].action_type, "stop");
        assert_eq!(out[0].expected_state["status"], "ACTIVE");
    }

    #[test]
    fn nothing_when_it_already_was_active() {
        let a = Executed::new(
            "start",
            json!({"resource_id": ID}),
            json!({"status": "ACTIVE"}),
            json!({"status": "ACTIVE"}),
        )
        .unwrap();
        assert!(Start::invert(&a).unwrap().is_empty());
    }
}
