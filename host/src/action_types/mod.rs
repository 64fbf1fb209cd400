//! One home per action type: a module for each built-in type holds its
//! typed parameters, its fallback JSON Schema, what it does to the
//! simulated cloud ([`Simulate`]) and what it calls on OpenStack
//! ([`OnOpenStack`]). The drivers (`cloud::simulated`, `cloud::openstack`)
//! only dispatch to them. [`schemas`] compiles and caches JSON Schemas.
//!
//! A new built-in action type is one module here (a parameter struct
//! implementing [`Builtin`], [`Simulate`] and [`OnOpenStack`]) plus one line
//! in the `builtin_types!` table below (which also declares the module),
//! and an inverter crate under `plugins/`. Kinds added at run time need none of this: they are
//! [`Operation::Custom`] and their plugin's schema validates them.

pub mod openstack;
pub mod outcome;
pub mod schemas;
pub mod simulated;

pub use schemas::{builtin_validator, json_depth, Validator, MAX_JSON_DEPTH};

use crate::openstack_api::ApiError;
use serde::de::DeserializeOwned;
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

/// A built-in action type's parameters: its name, its fallback schema and
/// any check serde cannot express.
pub trait Builtin: DeserializeOwned + Simulate + OnOpenStack {
    /// The action type.
    const NAME: &'static str;
    /// The JSON Schema its parameters are checked against when no plugin
    /// for the type is loaded (Watcher's, `additionalProperties: false`).
    fn schema() -> Value;
    /// A check beyond the schema's types (e.g. a number's range).
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

/// What an action type does to the simulated cloud: Watcher's
/// pre-conditions and the change, read from the cloud as it is (a pure
/// function, tested without a store).
pub trait Simulate {
    /// Checks the pre-conditions on `cloud` and decides the change.
    fn decide(&self, cloud: &simulated::model::Cloud) -> simulated::Decision;
}

/// What an action type calls on OpenStack, following Watcher's applier.
pub trait OnOpenStack {
    /// The fields the action changes, as they are now (the pre-state's
    /// shape), and whether the resource is busy.
    fn look(&self, os: &openstack::Os<'_>) -> Result<openstack::Look, ApiError>;
    /// Watcher's pre-conditions and the pre-state.
    fn prepare(&self, os: &openstack::Os<'_>) -> Result<openstack::Check, ApiError>;
    /// Acts and waits until the resource settles; `Err` is the action's
    /// FAILED reason.
    fn apply(&self, os: &openstack::Os<'_>, action: &str) -> Result<Value, String>;
    /// Whether the action changes a resource (`nop` and `sleep` do not:
    /// they are not looked at before acting, and happened once begun).
    fn changes_a_resource(&self) -> bool {
        true
    }
}

fn typed<T: DeserializeOwned>(action_type: &str, params: &Map<String, Value>) -> Result<T, String> {
    T::deserialize(&Value::Object(params.clone()))
        .map_err(|e| format!("invalid input_parameters for {action_type}: {e}"))
}

/// The table of built-in types: one line each, `Variant(module::Params)`.
/// It declares each type's module and makes [`Operation`], [`BUILTIN`],
/// [`Operation::parse`], the dispatch to each type's executors, and
/// [`schemas::builtin_schema`].
macro_rules! builtin_types {
    ($($variant:ident($module:ident :: $params:ident)),+ $(,)?) => {
        $(
            pub mod $module;
        )+

        /// An action's parameters, typed by its action type.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Operation {
            $(
                #[doc = concat!("`", stringify!($module), "`.")]
                $variant($module::$params),
            )+
            /// A type with no built-in meaning (a kind added with a plugin);
            /// its parameters were checked against the plugin's schema only.
            Custom(String),
        }

        /// The built-in action types: Watcher's, plus `start`.
        pub const BUILTIN: &[&str] = &[$(<$module::$params as Builtin>::NAME),+];

        impl Operation {
            /// Reads `params` as the parameters of `action_type`. Fields the
            /// type does not use are ignored (a plugin's schema may allow
            /// more); a missing or mistyped field is an error naming it.
            pub fn parse(action_type: &str, params: &Map<String, Value>) -> Result<Operation, String> {
                $(
                    if action_type == <$module::$params as Builtin>::NAME {
                        let p: $module::$params = typed(action_type, params)?;
                        p.check()?;
                        return Ok(Operation::$variant(p));
                    }
                )+
                Ok(Operation::Custom(action_type.to_string()))
            }

            /// Its simulated executor; `None` for a custom kind.
            pub fn simulated(&self) -> Option<&dyn Simulate> {
                match self {
                    $(Operation::$variant(p) => Some(p),)+
                    Operation::Custom(_) => None,
                }
            }

            /// Its OpenStack executor; `None` for a custom kind.
            pub fn on_openstack(&self) -> Option<&dyn OnOpenStack> {
                match self {
                    $(Operation::$variant(p) => Some(p),)+
                    Operation::Custom(_) => None,
                }
            }
        }

        /// The fallback schema of a built-in type.
        fn builtin_schema_of(action_type: &str) -> Option<Value> {
            $(
                if action_type == <$module::$params as Builtin>::NAME {
                    return Some(<$module::$params as Builtin>::schema());
                }
            )+
            None
        }
    };
}

builtin_types! {
    Migrate(migrate::Migrate),
    ChangeNovaServiceState(change_nova_service_state::ChangeServiceState),
    ChangeNodePowerState(change_node_power_state::ChangePowerState),
    Resize(resize::Resize),
    VolumeMigrate(volume_migrate::VolumeMigrate),
    Stop(stop::Stop),
    Start(start::Start),
    Nop(nop::Nop),
    Sleep(sleep::Sleep),
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
            Operation::Migrate(migrate::Migrate {
                resource_id: "i".into(),
                migration_type: migrate::MigrationType::Cold,
                source_node: "c1".into(),
                destination_node: None,
            })
        );
        assert!(matches!(
            parse("change_nova_service_state", json!({"resource_id": "c1", "state": "disabled"})).unwrap(),
            Operation::ChangeNovaServiceState(change_nova_service_state::ChangeServiceState {
                state: ServiceState::Disabled,
                ..
            })
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
