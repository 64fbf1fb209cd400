//! Inverter for Watcher's `sleep`: waiting changes nothing, so its
//! rollback is empty.

use rollback_plugin_sdk::{export_inverter, json, Error, Executed, Inverse, Inverter, Metadata};

/// The `sleep` inverter.
pub struct Sleep;

impl Inverter for Sleep {
    fn metadata() -> Metadata {
        Metadata::new(
            "sleep",
            env!("CARGO_PKG_VERSION"),
            "A sleep changes nothing, so its rollback is empty.",
            json!({
                "type": "object",
                "properties": {"duration": {"type": "number", "minimum": 0}},
                "required": ["duration"],
                "additionalProperties": false
            }),
        )
    }

    fn invert(action: &Executed) -> Result<Vec<Inverse>, Error> {
        action.param("duration")?;
        Ok(Vec::new())
    }
}

export_inverter!(Sleep);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sleep_inverts_to_nothing() {
        let a = Executed::new("sleep", json!({"duration": 3}), json!({}), json!({})).unwrap();
        assert!(Sleep::invert(&a).unwrap().is_empty());
    }
}
