//! Undoes set_metadata: sets the key back to what it was.

use rollback_plugin_sdk::{export_inverter, json, Error, Executed, Inverse, Inverter, Metadata};

/// The `set_metadata` inverter.
pub struct SetMetadata;

impl Inverter for SetMetadata {
    fn metadata() -> Metadata {
        Metadata::new(
            "set_metadata",
            "1.0.0",
            "Sets the key back to its previous value.",
            json!({
                "type": "object",
                "properties": {
                    "resource_id": {"type": "string", "minLength": 1},
                    "key": {"type": "string", "minLength": 1},
                    "value": {"type": ["string", "null"]},
                    "previous": {"type": ["string", "null"]}
                },
                "required": ["resource_id", "key", "value", "previous"],
                "additionalProperties": false
            }),
        )
    }

    fn invert(action: &Executed) -> Result<Vec<Inverse>, Error> {
        let resource = action.param_str("resource_id")?;
        let key = action.param_str("key")?;
        // Both required, either may be null.
        let (Some(value), Some(previous)) = (action.parameters.get("value"), action.parameters.get("previous")) else {
            return Err(Error::invalid_input("value and previous are required"));
        };
        rollback_plugin_sdk::log::info(&format!("set_metadata: {resource} {key} back to {previous}"));
        if value == previous {
            return Ok(vec![]);
        }
        Ok(vec![Inverse::new(
            "set_metadata",
            json!({"resource_id": resource, "key": key, "value": previous, "previous": value}),
        )
        .expecting(&action.result)
        .describe(format!("Set {key} of {resource} back to {previous}"))])
    }
}

export_inverter!(SetMetadata);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_the_previous_value_back() {
        let a = Executed::new(
            "set_metadata",
            json!({"resource_id": "vm", "key": "k", "value": "new", "previous": "old"}),
            json!({}),
            json!({}),
        )
        .unwrap();
        let inv = SetMetadata::invert(&a).unwrap();
        assert_eq!(inv[0].parameters["value"], "old");
    }
}
