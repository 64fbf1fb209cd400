//! Inverter for Watcher's `volume_migrate`: put the volume back in the pool
//! and type recorded before the action. When both changed it returns two
//! steps, a retype and then a migrate, each expecting the state the one
//! before leaves.

use rollback_plugin_sdk::{
    export_inverter, json, Error, Executed, Inverse, Inverter, Map, Metadata, Value, UUID_PATTERN,
};

/// The `volume_migrate` inverter.
pub struct VolumeMigrate;

fn state(pool: &str, volume_type: &str) -> Map<String, Value> {
    json!({"pool": pool, "type": volume_type}).as_object().cloned().unwrap_or_default()
}

impl Inverter for VolumeMigrate {
    fn metadata() -> Metadata {
        let name = json!({"anyOf": [{"type": "string", "minLength": 1}, {"type": "null"}]});
        Metadata::new(
            "volume_migrate",
            env!("CARGO_PKG_VERSION"),
            "Moves and/or retypes the volume back to its recorded pool and type.",
            json!({
                "type": "object",
                "properties": {
                    "resource_id": {"type": "string", "pattern": UUID_PATTERN},
                    "resource_name": {"type": "string"},
                    "migration_type": {"type": "string", "enum": ["swap", "retype", "migrate"]},
                    "destination_node": name,
                    "destination_type": name
                },
                "required": ["resource_id", "migration_type"],
                "additionalProperties": false
            }),
        )
    }

    fn invert(action: &Executed) -> Result<Vec<Inverse>, Error> {
        let id = action.param_str("resource_id")?;
        let (was_pool, was_type) = (action.pre_str("pool")?, action.pre_str("type")?);
        let (now_pool, now_type) = (action.res_str("pool")?, action.res_str("type")?);
        let mut steps = Vec::new();
        if was_type != now_type {
            steps.push(
                Inverse::new(
                    "volume_migrate",
                    json!({"resource_id": id, "migration_type": "retype", "destination_type": was_type}),
                )
                .expecting(&state(now_pool, now_type))
                .describe(format!("Retype volume {id} back to {was_type}")),
            );
        }
        if was_pool != now_pool {
            let mut step = Inverse::new(
                "volume_migrate",
                json!({"resource_id": id, "migration_type": "migrate", "destination_node": was_pool}),
            )
            .expecting(&state(now_pool, was_type))
            .describe(format!("Move volume {id} back to {was_pool}"));
            if !steps.is_empty() {
                step = step.after(0);
            }
            steps.push(step);
        }
        Ok(steps)
    }
}

export_inverter!(VolumeMigrate);

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "8a2b3c4d-1111-4a22-9b33-5c6d7e8f9a01";

    fn run(pre: Value, res: Value) -> Vec<Inverse> {
        let a = Executed::new(
            "volume_migrate",
            json!({"resource_id": ID, "migration_type": "migrate"}),
            pre,
            res,
        )
        .unwrap();
        VolumeMigrate::invert(&a).unwrap()
    }

    #[test]
    fn a_pool_move_is_moved_back() {
        let inv = run(json!({"pool": "a", "type": "ssd"}), json!({"pool": "b", "type": "ssd"}));
        assert_eq!(inv.len(), 1);
        assert_eq!(inv[0].parameters["destination_node"], "a");
        assert_eq!(inv[0].expected_state, state("b", "ssd"));
    }

    #[test]
    fn pool_and_type_changes_take_two_ordered_steps() {
        let inv = run(json!({"pool": "a", "type": "ssd"}), json!({"pool": "b", "type": "std"}));
        assert_eq!(inv.len(), 2);
        assert_eq!(inv[0].parameters["migration_type"], "retype");
        assert_eq!(inv[1].depends_on, vec![0]);
        assert_eq!(inv[1].expected_state, state("b", "ssd"), "the second step expects what the first leaves");
    }

    #[test]
    fn nothing_changed_nothing_to_undo() {
        assert!(run(json!({"pool": "a", "type": "ssd"}), json!({"pool": "a", "type": "ssd"})).is_empty());
    }
}
