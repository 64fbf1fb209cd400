//! Example of a custom action kind that Watcher does not have:
//! `snapshot_instance` takes a named snapshot of an instance; its rollback
//! deletes that snapshot. Built by `make plugins` into
//! `target/example-plugins/`, not loaded by default: upload it to a running
//! server with `PUT /v1/plugins/snapshot_instance` (see docs/).

use rollback_plugin_sdk::{export_inverter, json, Error, Executed, Inverse, Inverter, Metadata};

/// The `snapshot_instance` inverter.
pub struct SnapshotInstance;

impl Inverter for SnapshotInstance {
    fn metadata() -> Metadata {
        Metadata::new(
            "snapshot_instance",
            env!("CARGO_PKG_VERSION"),
            "Deletes the snapshot the action took.",
            json!({
                "type": "object",
                "properties": {
                    "resource_id": {"type": "string", "minLength": 1},
                    "snapshot_name": {"type": "string", "minLength": 1}
                },
                "required": ["resource_id", "snapshot_name"],
                "additionalProperties": false
            }),
        )
    }

    fn invert(action: &Executed) -> Result<Vec<Inverse>, Error> {
        let id = action.param_str("resource_id")?;
        let name = action.param_str("snapshot_name")?;
        Ok(vec![Inverse::new("delete_snapshot", json!({"resource_id": id, "snapshot_name": name}))
            .describe(format!("Delete snapshot {name} of instance {id}"))])
    }
}

export_inverter!(SnapshotInstance);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_is_undone_by_deleting_it() {
        let a = Executed::new(
            "snapshot_instance",
            json!({"resource_id": "i-1", "snapshot_name": "before-upgrade"}),
            json!({}),
            json!({}),
        )
        .unwrap();
        let inv = SnapshotInstance::invert(&a).unwrap();
        assert_eq!(inv[0].action_type, "delete_snapshot");
        assert_eq!(inv[0].parameters["snapshot_name"], "before-upgrade");
    }
}
