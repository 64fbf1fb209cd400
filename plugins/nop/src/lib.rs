//! Inverter for Watcher's `nop` action. A nop only logs a message, so its
//! inverse is no action at all; the plugin still validates the parameters.

use rollback_plugin_sdk::{export_inverter, json, Error, Executed, Inverse, Inverter, Metadata};

/// The `nop` inverter.
pub struct Nop;

impl Inverter for Nop {
    fn metadata() -> Metadata {
        Metadata::new(
            "nop",
            env!("CARGO_PKG_VERSION"),
            "A nop changes nothing, so its rollback is empty.",
            json!({
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "properties": {"message": {"type": ["string", "null"]}},
                "required": ["message"],
                "additionalProperties": false
            }),
        )
    }

    fn invert(action: &Executed) -> Result<Vec<Inverse>, Error> {
        if !action.parameters.contains_key("message") {
            return Err(Error::invalid_input("input parameters lack `message`"));
        }
        action.param_opt_str("message")?;
        Ok(Vec::new())
    }
}

export_inverter!(Nop);

#[cfg(test)]
mod tests {
    use super::*;
    use rollback_plugin_sdk::Value;

    #[test]
    fn nop_inverts_to_nothing() {
        let a = Executed::new("nop", json!({"message": "hi"}), json!({}), json!({})).unwrap();
        assert_eq!(Nop::invert(&a).unwrap(), vec![]);
        let a = Executed::new("nop", json!({"message": null}), json!({}), json!({})).unwrap();
        assert_eq!(Nop::invert(&a).unwrap(), vec![]);
    }

    #[test]
    fn nop_refuses_parameters_that_watcher_would_refuse() {
        let missing = Executed::new("nop", json!({}), json!({}), json!({})).unwrap();
        assert!(matches!(Nop::invert(&missing), Err(Error::InvalidInput(_))));
        let number = Executed::new("nop", json!({"message": 3}), json!({}), json!({})).unwrap();
        assert!(matches!(Nop::invert(&number), Err(Error::InvalidInput(_))));
    }

    #[test]
    fn schema_requires_message() {
        let m = Nop::metadata();
        assert_eq!(m.action_type, "nop");
        assert_eq!(m.parameters_schema["required"], json!(["message"]));
        assert_eq!(m.parameters_schema["additionalProperties"], Value::Bool(false));
    }
}
