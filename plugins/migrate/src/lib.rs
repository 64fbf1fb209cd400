//! Inverter for Watcher's `migrate`: move the instance back from where it
//! really went (the recorded result, which is the scheduler's pick when
//! `destination_node` was null) to where it was (the recorded pre-state),
//! with the same migration type.

use rollback_plugin_sdk::{
    export_inverter, json, Error, Executed, Inverse, Inverter, Metadata, UUID_PATTERN,
};

/// The `migrate` inverter.
pub struct Migrate;

impl Inverter for Migrate {
    fn metadata() -> Metadata {
        Metadata::new(
            "migrate",
            env!("CARGO_PKG_VERSION"),
            "Migrates the instance back from its actual destination to its recorded source host.",
            json!({
                "type": "object",
                "properties": {
                    "resource_id": {"type": "string", "pattern": UUID_PATTERN},
                    "resource_name": {"type": "string"},
                    "migration_type": {"type": "string", "enum": ["live", "cold"]},
                    "source_node": {"type": "string", "minLength": 1},
                    "destination_node": {"anyOf": [{"type": "string", "minLength": 1}, {"type": "null"}]}
                },
                "required": ["resource_id", "migration_type", "source_node"],
                "additionalProperties": false
            }),
        )
    }

    fn invert(action: &Executed) -> Result<Vec<Inverse>, Error> {
        let id = action.param_str("resource_id")?;
        let migration_type = action.param_str("migration_type")?;
        let was = action.pre_str("host")?;
        let now = action.res_str("host")?;
        if was == now {
            return Ok(vec![]);
        }
        let mut params = json!({
            "resource_id": id,
            "migration_type": migration_type,
            "source_node": now,
            "destination_node": was,
        });
        if let Some(name) = action.param_opt_str("resource_name")? {
            params["resource_name"] = json!(name);
        }
        Ok(vec![Inverse::new("migrate", params)
            .expecting(&action.result)
            .describe(format!("Migrate instance {id} back from {now} to {was}"))])
    }
}

export_inverter!(Migrate);

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a01";

    #[test]
    fn moves_back_from_the_scheduler_pick_not_from_the_parameters() {
        let a = Executed::new(
            "migrate",
            json!({"resource_id": ID, "migration_type": "live", "source_node": "c1", "destination_node": null}),
            json!({"host": "c1", "status": "ACTIVE"}),
            json!({"host": "c3", "status": "ACTIVE"}),
        )
        .unwrap();
        let inv = Migrate::invert(&a).unwrap();
        assert_eq!(inv.len(), 1);
        assert_eq!(
            inv[0].parameters,
            *json!({"resource_id": ID, "migration_type": "live", "source_node": "c3", "destination_node": "c1"}).as_object().unwrap()
        );
        assert_eq!(inv[0].expected_state, a.result, "it expects the instance where the migrate left it");
    }

    #[test]
    fn nothing_to_undo_when_it_did_not_move() {
        let a = Executed::new(
            "migrate",
            json!({"resource_id": ID, "migration_type": "cold", "source_node": "c1"}),
            json!({"host": "c1"}),
            json!({"host": "c1"}),
        )
        .unwrap();
        assert!(Migrate::invert(&a).unwrap().is_empty());
    }

    #[test]
    fn missing_records_are_invalid_input() {
        let a = Executed::new(
            "migrate",
            json!({"resource_id": ID, "migration_type": "live", "source_node": "c1"}),
            json!({}),
            json!({}),
        )
        .unwrap();
        assert!(
            matches!(Migrate::invert(&a), Err(Error::InvalidInput(m)) if m.contains("pre-state lacks `host`"))
        );
    }
}
