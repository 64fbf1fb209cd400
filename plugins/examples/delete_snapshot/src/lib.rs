//! Example custom kind, the counterpart of `snapshot_instance`: a deleted
//! snapshot cannot be brought back, so its inversion is refused with a
//! clear reason (a rollback of a plan containing it fails with that
//! message). It also gives `delete_snapshot` actions their parameter schema.

use rollback_plugin_sdk::{export_inverter, json, Error, Executed, Inverse, Inverter, Metadata};

/// The `delete_snapshot` inverter.
pub struct DeleteSnapshot;

impl Inverter for DeleteSnapshot {
    fn metadata() -> Metadata {
        Metadata::new(
            "delete_snapshot",
            env!("CARGO_PKG_VERSION"),
            "A deleted snapshot cannot be restored; inverting this action is refused.",
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
        let name = action.param_str("snapshot_name")?;
        Err(Error::not_invertible(format!("snapshot {name} was deleted; its data cannot be restored")))
    }
}

export_inverter!(DeleteSnapshot);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleting_cannot_be_undone() {
        let a = Executed::new(
            "delete_snapshot",
            json!({"resource_id": "i-1", "snapshot_name": "s"}),
            json!({}),
            json!({}),
        )
        .unwrap();
        assert!(matches!(DeleteSnapshot::invert(&a), Err(Error::NotInvertible(_))));
    }
}
