//! One home for action types: what each built-in type's parameters mean
//! (typed, parsed once), and which JSON Schema validates a type's
//! `input_parameters` ([`schemas`]).
//!
//! A new built-in action type goes here: a struct for its parameters, a
//! variant of [`Operation`], a fallback schema in [`schemas`], an executor
//! in each cloud driver and an inverter plugin under `plugins/`. Kinds added
//! at run time need none of this: they are [`Operation::Custom`] and their
//! plugin's schema validates them.

pub mod schemas;

pub use schemas::{builtin_validator, Validator};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A compute service's state, as Watcher names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ServiceState {
    /// Schedulable.
    Enabled,
    /// Not schedulable.
    Disabled,
}

/// A bare-metal node's power state, as Watcher names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PowerState {
    /// Powered on.
    On,
    /// Powered off.
    Off,
}

/// How an instance moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MigrationType {
    /// While running (`os-migrateLive`); needs an ACTIVE instance.
    Live,
    /// Stopped, moved, restarted (`migrate` + confirm).
    Cold,
}

/// How a volume moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VolumeMigrationType {
    /// Swap the volume under a running instance.
    Swap,
    /// Change its type (and so maybe its backend).
    Retype,
    /// Move it to another pool.
    Migrate,
}

/// `migrate`: move an instance off `source_node`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Migrate {
    /// The instance's uuid.
    pub resource_id: String,
    /// Live or cold.
    pub migration_type: MigrationType,
    /// The host it must be on.
    pub source_node: String,
    /// Where to; `None` lets the scheduler pick.
    #[serde(default)]
    pub destination_node: Option<String>,
}

/// `change_nova_service_state`: enable or disable a compute service.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChangeServiceState {
    /// The service's host.
    pub resource_id: String,
    /// The wanted state.
    pub state: ServiceState,
    /// Why it is disabled (kept only when disabling).
    #[serde(default)]
    pub disabled_reason: Option<String>,
}

/// `change_node_power_state`: power a bare-metal node on or off.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ChangePowerState {
    /// The node's name.
    pub resource_id: String,
    /// The wanted power state.
    pub state: PowerState,
}

/// `resize`: give an instance another flavor.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Resize {
    /// The instance's uuid.
    pub resource_id: String,
    /// The new flavor's name.
    pub flavor: String,
}

/// `volume_migrate`: move or retype a volume.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct VolumeMigrate {
    /// The volume's uuid.
    pub resource_id: String,
    /// Swap, retype or migrate.
    pub migration_type: VolumeMigrationType,
    /// The destination pool, if it moves.
    #[serde(default)]
    pub destination_node: Option<String>,
    /// The new type, if it is retyped.
    #[serde(default)]
    pub destination_type: Option<String>,
}

/// `stop` and `start`: one instance.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct InstanceRef {
    /// The instance's uuid.
    pub resource_id: String,
}

/// `nop`: log a message.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Nop {
    /// What to log.
    #[serde(default)]
    pub message: Option<String>,
}

/// `sleep`: wait.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Sleep {
    /// Seconds (≥ 0).
    pub duration: f64,
}

/// An action's parameters, typed by its action type.
#[derive(Debug, Clone, PartialEq)]
pub enum Operation {
    /// `migrate`.
    Migrate(Migrate),
    /// `change_nova_service_state`.
    ChangeNovaServiceState(ChangeServiceState),
    /// `change_node_power_state`.
    ChangeNodePowerState(ChangePowerState),
    /// `resize`.
    Resize(Resize),
    /// `volume_migrate`.
    VolumeMigrate(VolumeMigrate),
    /// `stop`.
    Stop(InstanceRef),
    /// `start` (the inverse of `stop`).
    Start(InstanceRef),
    /// `nop`.
    Nop(Nop),
    /// `sleep`.
    Sleep(Sleep),
    /// A type with no built-in meaning (a kind added with a plugin); its
    /// parameters were checked against the plugin's schema only.
    Custom(String),
}

/// The built-in action types: Watcher's, plus `start`.
pub const BUILTIN: &[&str] = &[
    "migrate",
    "change_nova_service_state",
    "change_node_power_state",
    "resize",
    "volume_migrate",
    "stop",
    "start",
    "nop",
    "sleep",
];

fn typed<T: serde::de::DeserializeOwned>(
    action_type: &str,
    params: &Map<String, Value>,
) -> Result<T, String> {
    T::deserialize(&Value::Object(params.clone()))
        .map_err(|e| format!("invalid input_parameters for {action_type}: {e}"))
}

impl Operation {
    /// Reads `params` as the parameters of `action_type`. Fields the type
    /// does not use are ignored (a plugin's schema may allow more); a
    /// missing or mistyped field is an error naming it.
    pub fn parse(action_type: &str, params: &Map<String, Value>) -> Result<Operation, String> {
        Ok(match action_type {
            "migrate" => Operation::Migrate(typed(action_type, params)?),
            "change_nova_service_state" => Operation::ChangeNovaServiceState(typed(action_type, params)?),
            "change_node_power_state" => Operation::ChangeNodePowerState(typed(action_type, params)?),
            "resize" => Operation::Resize(typed(action_type, params)?),
            "volume_migrate" => Operation::VolumeMigrate(typed(action_type, params)?),
            "stop" => Operation::Stop(typed(action_type, params)?),
            "start" => Operation::Start(typed(action_type, params)?),
            "nop" => Operation::Nop(typed(action_type, params)?),
            "sleep" => {
                let sleep: Sleep = typed(action_type, params)?;
                if !(sleep.duration.is_finite() && sleep.duration >= 0.0) {
                    return Err(format!(
                        "invalid input_parameters for sleep: duration {} is not ≥ 0",
                        sleep.duration
                    ));
                }
                Operation::Sleep(sleep)
            }
            other => Operation::Custom(other.to_string()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(ty: &str, v: Value) -> Result<Operation, String> {
        Operation::parse(ty, v.as_object().unwrap())
    }

    #[test]
    fn builtin_types_parse_to_typed_parameters() {
        let m = parse(
            "migrate",
            json!({"resource_id": "i", "migration_type": "cold", "source_node": "c1", "destination_node": null, "resource_name": "web"}),
        )
        .unwrap();
        assert_eq!(
            m,
            Operation::Migrate(Migrate {
                resource_id: "i".into(),
                migration_type: MigrationType::Cold,
                source_node: "c1".into(),
                destination_node: None,
            })
        );
        assert!(matches!(
            parse("change_nova_service_state", json!({"resource_id": "c1", "state": "disabled"})).unwrap(),
            Operation::ChangeNovaServiceState(ChangeServiceState { state: ServiceState::Disabled, .. })
        ));
        assert_eq!(
            parse("snapshot_instance", json!({"x": 1})).unwrap(),
            Operation::Custom("snapshot_instance".into())
        );
        for ty in BUILTIN {
            assert!(!matches!(parse(ty, json!({})), Ok(Operation::Custom(_))), "{ty} is built in");
        }
    }

    #[test]
    fn unknown_enum_values_and_missing_fields_are_refused_by_name() {
        let e =
            parse("migrate", json!({"resource_id": "i", "migration_type": "teleport", "source_node": "c1"}))
                .unwrap_err();
        assert!(e.contains("teleport"), "{e}");
        let e = parse("resize", json!({"resource_id": "i"})).unwrap_err();
        assert!(e.contains("flavor"), "{e}");
        assert!(parse("sleep", json!({"duration": -1})).is_err());
    }

    /// A value the schema `prop` accepts (a minimal one).
    fn sample(prop: &Value) -> Value {
        if let Some(first) = prop["enum"].as_array().and_then(|e| e.first()) {
            return first.clone();
        }
        if prop["pattern"].is_string() {
            return json!("6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a01");
        }
        let ty = match &prop["type"] {
            Value::String(t) => t.as_str(),
            Value::Array(ts) => ts[0].as_str().unwrap_or("string"),
            _ => prop["anyOf"][0]["type"].as_str().unwrap_or("string"),
        };
        match ty {
            "number" | "integer" => json!(1),
            "boolean" => json!(true),
            _ => json!("x"),
        }
    }

    /// The typed parameters and the fallback schema of each built-in type
    /// agree: every minimal instance the schema accepts parses; every value
    /// of an enum the schema lists parses; a property whose absence the
    /// typed parameters refuse is one the schema requires.
    #[test]
    fn each_builtin_schema_matches_its_typed_parameters() {
        for ty in BUILTIN {
            let schema = schemas::builtin_schema(ty).expect("a built-in has a fallback schema");
            let validator = builtin_validator(ty).unwrap();
            let props = schema["properties"].as_object().unwrap();
            let required: Vec<&str> =
                schema["required"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
            let minimal: Map<String, Value> =
                required.iter().map(|r| (r.to_string(), sample(&props[*r]))).collect();
            assert!(
                validator.validate(&Value::Object(minimal.clone())).is_ok(),
                "{ty}: the schema refuses its own minimal instance"
            );
            assert!(
                !matches!(Operation::parse(ty, &minimal), Err(_) | Ok(Operation::Custom(_))),
                "{ty}: the typed parameters refuse what the schema accepts: {:?}",
                Operation::parse(ty, &minimal)
            );
            for (name, prop) in props {
                for value in prop["enum"].as_array().into_iter().flatten() {
                    let mut one = minimal.clone();
                    one.insert(name.clone(), value.clone());
                    assert!(
                        Operation::parse(ty, &one).is_ok(),
                        "{ty}: {name} = {value} is in the schema's enum"
                    );
                }
                let mut without = minimal.clone();
                without.remove(name);
                if Operation::parse(ty, &without).is_err() {
                    assert!(required.contains(&name.as_str()), "{ty}: {name} is needed but not required");
                }
            }
        }
    }
}
