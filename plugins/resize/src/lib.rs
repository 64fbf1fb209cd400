//! Inverter for Watcher's `resize`: resize back to the flavor recorded
//! before the action (not to anything the parameters say).

use rollback_plugin_sdk::{
    export_inverter, json, Error, Executed, Inverse, Inverter, Metadata, UUID_PATTERN,
};

/// The `resize` inverter.
pub struct Resize;

impl Inverter for Resize {
    fn metadata() -> Metadata {
        Metadata::new(
            "resize",
            env!("CARGO_PKG_VERSION"),
            "Resizes the instance back to its recorded flavor.",
            json!({
                "type": "object",
                "properties": {
                    "resource_id": {"type": "string", "pattern": UUID_PATTERN},
                    "flavor": {"type": "string", "minLength": 1}
                },
                "required": ["resource_id", "flavor"],
                "additionalProperties": false
            }),
        )
    }

    fn invert(action: &Executed) -> Result<Vec<Inverse>, Error> {
        let id = action.param_str("resource_id")?;
        let was = action.pre_str("flavor")?;
        if was == action.res_str("flavor")? {
            return Ok(vec![]);
        }
        Ok(vec![Inverse::new("resize", json!({"resource_id": id, "flavor": was}))
            .expecting(&action.result)
            .describe(format!("Resize instance {id} back to {was}"))])
    }
}

export_inverter!(Resize);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resizes_back_to_the_recorded_flavor() {
        let id = "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a01";
        let a = Executed::new(
            "resize",
            json!({"resource_id": id, "flavor": "m1.large"}),
            json!({"flavor": "m1.small", "status": "ACTIVE"}),
            json!({"flavor": "m1.large", "status": "ACTIVE"}),
        )
        .unwrap();
        let inv = Resize::invert(&a).unwrap();
        assert_eq!(inv[0].parameters, *json!({"resource_id": id, "flavor": "m1.small"}).as_object().unwrap());
    }
}
