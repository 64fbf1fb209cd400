//! The `input_parameters` JSON Schemas of the action types, used to validate
//! new plans. A loaded plugin's own schema (from its `metadata`) wins; the
//! built-in table below covers Watcher's action types (DESIGN.md §3) and
//! `start`, the inverse of `stop`.

use serde_json::{json, Value};

const UUID_PATTERN: &str =
    "^([a-fA-F0-9]){8}-([a-fA-F0-9]){4}-([a-fA-F0-9]){4}-([a-fA-F0-9]){4}-([a-fA-F0-9]){12}$";

fn object(properties: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// The built-in schema for `action_type`, if it is one Watcher defines.
pub fn builtin_schema(action_type: &str) -> Option<Value> {
    let uuid = json!({"type": "string", "pattern": UUID_PATTERN});
    let name = json!({"type": "string", "minLength": 1});
    let nullable_name = json!({"anyOf": [{"type": "string", "minLength": 1}, {"type": "null"}]});
    Some(match action_type {
        "migrate" => object(
            json!({
                "resource_id": uuid,
                "resource_name": {"type": "string"},
                "migration_type": {"type": "string", "enum": ["live", "cold"]},
                "source_node": name,
                "destination_node": nullable_name,
            }),
            &["resource_id", "migration_type", "source_node"],
        ),
        "change_nova_service_state" => object(
            json!({
                "resource_id": name,
                "resource_name": {"type": "string"},
                "state": {"type": "string", "enum": ["enabled", "disabled"]},
                "disabled_reason": {"type": "string"},
            }),
            &["resource_id", "state"],
        ),
        "change_node_power_state" => object(
            json!({
                "resource_id": name,
                "resource_name": {"type": "string"},
                "state": {"type": "string", "enum": ["on", "off"]},
            }),
            &["resource_id", "state"],
        ),
        "resize" => object(json!({"resource_id": uuid, "flavor": name}), &["resource_id", "flavor"]),
        "volume_migrate" => object(
            json!({
                "resource_id": uuid,
                "resource_name": {"type": "string"},
                "migration_type": {"type": "string", "enum": ["swap", "retype", "migrate"]},
                "destination_node": nullable_name,
                "destination_type": nullable_name,
            }),
            &["resource_id", "migration_type"],
        ),
        "stop" | "start" => object(json!({"resource_id": uuid}), &["resource_id"]),
        "nop" => object(json!({"message": {"type": ["string", "null"]}}), &["message"]),
        "sleep" => object(json!({"duration": {"type": "number", "minimum": 0}}), &["duration"]),
        _ => return None,
    })
}

/// The schema for `action_type`: the active plugin's, else the built-in one.
pub fn schema(
    plugins: &std::collections::BTreeMap<String, crate::plugins::LoadedPlugin>,
    action_type: &str,
) -> Option<Value> {
    plugins
        .get(action_type)
        .map(|p| p.metadata().parameters_schema.clone())
        .or_else(|| builtin_schema(action_type))
}

/// Validates `params` against `schema`; the error lists every violation
/// with its JSON pointer.
pub fn validate(schema: &Value, params: &Value) -> Result<(), String> {
    let validator =
        jsonschema::validator_for(schema).map_err(|e| format!("the schema itself is invalid: {e}"))?;
    let errors: Vec<String> = validator
        .iter_errors(params)
        .take(10)
        .map(|e| {
            let at = e.instance_path().to_string();
            if at.is_empty() {
                e.to_string()
            } else {
                format!("{at}: {e}")
            }
        })
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watcher_types_have_schemas_that_refuse_extras_and_missing_fields() {
        let migrate = builtin_schema("migrate").unwrap();
        let ok = json!({"resource_id": "4cbc4ede-0d25-481b-b86e-998dbbd4f8bf", "migration_type": "live", "source_node": "c1", "destination_node": null});
        assert!(validate(&migrate, &ok).is_ok());
        let extra = json!({"resource_id": "4cbc4ede-0d25-481b-b86e-998dbbd4f8bf", "migration_type": "live", "source_node": "c1", "x": 1});
        assert!(validate(&migrate, &extra).unwrap_err().contains("x"));
        let bad = json!({"resource_id": "not-a-uuid", "migration_type": "warp", "source_node": "c1"});
        let msg = validate(&migrate, &bad).unwrap_err();
        assert!(msg.contains("/resource_id") && msg.contains("/migration_type"), "{msg}");
        assert!(validate(&builtin_schema("sleep").unwrap(), &json!({"duration": -1})).is_err());
        assert!(validate(&builtin_schema("nop").unwrap(), &json!({"message": null})).is_ok());
        assert!(builtin_schema("snapshot_instance").is_none());
    }
}
