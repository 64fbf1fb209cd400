//! Inverter for Watcher's `resize`: resize back to the flavor recorded
//! before the action (not to anything the parameters say), and to the host
//! recorded then (real Nova moves a resized server to a host of its
//! scheduler's choosing): `destination_node` is that host.

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
                    "resource_name": {"type": "string"},
                    "flavor": {"type": "string", "minLength": 1},
                    "destination_node": {"type": ["string", "null"], "minLength": 1}
                },
                "required": ["resource_id", "flavor"],
                "additionalProperties": false
            }),
        )
    }

    fn invert(action: &Executed) -> Result<Vec<Inverse>, Error> {
        let id = action.param_str("resource_id")?;
        let was = action.pre_str("flavor")?;
        // Records from before hosts were recorded have none.
        let host = action.pre_state.get("host").and_then(|h| h.as_str());
        let moved = host.is_some() && host != action.result.get("host").and_then(|h| h.as_str());
        if was == action.res_str("flavor")? && !moved {
            return Ok(vec![]);
        }
        let mut params = json!({"resource_id": id, "flavor": was});
        if let Some(h) = host {
            params["destination_node"] = json!(h);
        }
        let to = host.map(|h| format!(" on {h}")).unwrap_or_default();
        Ok(vec![Inverse::new("resize", params)
            .expecting(&action.result)
            .describe(format!("Resize instance {id} back to {was}{to}"))])
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

    #[test]
    fn resizes_back_onto_the_host_it_was_on() {
        // Real Nova moved it to compute-2 while resizing.
        let id = "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a01";
        let a = Executed::new(
            "resize",
            json!({"resource_id": id, "flavor": "m1.large"}),
            json!({"flavor": "m1.small", "host": "compute-1"}),
            json!({"flavor": "m1.large", "host": "compute-2"}),
        )
        .unwrap();
        let inv = Resize::invert(&a).unwrap();
        assert_eq!(
            inv[0].parameters,
            *json!({"resource_id": id, "flavor": "m1.small", "destination_node": "compute-1"}).as_object().unwrap()
        );
        assert_eq!(inv[0].expected_state.get("host"), Some(&json!("compute-2")));
    }
}
