//! Which JSON Schema validates an action type's `input_parameters`, and
//! the compiled validators.
//!
//! One source for plan creation and for checking a rollback's output:
//! the active plugin's schema (from its `metadata`, compiled when the plugin
//! loads; a schema that does not compile refuses the plugin); when no plugin
//! for the type is loaded, the **built-in fallback** below, which covers
//! Watcher's action types (docs/design.md, "Data model") and `start`, so that plans of
//! those types validate on a server with no plugins. Validators are compiled
//! once per (type, schema digest) and shared.

use serde_json::{json, Value};

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

/// How deep an action's `input_parameters` or `expected_state` may nest
/// (objects and arrays). serde_json refuses to read past 128 levels, and a
/// stored action nests its parameters a level or two deeper than they were
/// sent: a value near that limit would make the record unreadable for good.
pub const MAX_JSON_DEPTH: usize = 32;

/// How deeply `v` nests (a scalar is 0, `{}` and `[]` are 1), counted
/// without recursion.
pub fn json_depth(v: &Value) -> usize {
    let mut deepest = 0;
    let mut stack = vec![(v, 0usize)];
    while let Some((v, d)) = stack.pop() {
        match v {
            Value::Object(m) => {
                deepest = deepest.max(d + 1);
                stack.extend(m.values().map(|c| (c, d + 1)));
            }
            Value::Array(a) => {
                deepest = deepest.max(d + 1);
                stack.extend(a.iter().map(|c| (c, d + 1)));
            }
            _ => {}
        }
    }
    deepest
}

/// The pattern of a uuid in a schema (Watcher's).
pub const UUID_PATTERN: &str =
    "^([a-fA-F0-9]){8}-([a-fA-F0-9]){4}-([a-fA-F0-9]){4}-([a-fA-F0-9]){4}-([a-fA-F0-9]){12}$";

/// An object schema of `properties`, `required`, and nothing else.
pub(super) fn object(properties: Value, required: &[&str]) -> Value {
    json!({
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": false,
    })
}

/// A uuid (Watcher's pattern).
pub(super) fn uuid() -> Value {
    json!({"type": "string", "pattern": UUID_PATTERN})
}

/// A name: a non-empty string.
pub(super) fn name() -> Value {
    json!({"type": "string", "minLength": 1})
}

/// A name, or null.
pub(super) fn nullable_name() -> Value {
    json!({"anyOf": [{"type": "string", "minLength": 1}, {"type": "null"}]})
}

/// The built-in fallback schema for `action_type`, if it is one Watcher
/// defines (or `start`): each type's module has its own (`Builtin::schema`).
pub fn builtin_schema(action_type: &str) -> Option<Value> {
    super::builtin_schema_of(action_type)
}

/// A compiled schema. Cheap to clone.
#[derive(Clone)]
pub struct Validator {
    schema: Arc<Value>,
    compiled: Arc<jsonschema::Validator>,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator").field("schema", &self.schema).finish()
    }
}

/// Compiled validators by (action type, sha256 of the schema's JSON text).
type Cache = HashMap<(String, [u8; 32]), Validator>;

/// The most validators kept; past it the cache starts over (schemas are
/// few: one per type and version, so this is only a bound on uploads).
const CACHE_CAPACITY: usize = 512;

static CACHE: LazyLock<Mutex<Cache>> = LazyLock::new(|| Mutex::new(HashMap::new()));

impl Validator {
    /// Compiles `schema` for `action_type`, or takes the validator compiled
    /// before for the same type and schema. Errors say why the schema is
    /// not a usable JSON Schema.
    pub fn compile(action_type: &str, schema: &Value) -> Result<Validator, String> {
        let digest: [u8; 32] = Sha256::digest(schema.to_string().as_bytes()).into();
        let key = (action_type.to_string(), digest);
        if let Some(v) = CACHE.lock().expect("schema cache").get(&key) {
            return Ok(v.clone());
        }
        let compiled =
            jsonschema::validator_for(schema).map_err(|e| format!("the schema is invalid: {e}"))?;
        let v = Validator { schema: Arc::new(schema.clone()), compiled: Arc::new(compiled) };
        let mut cache = CACHE.lock().expect("schema cache");
        if cache.len() >= CACHE_CAPACITY {
            cache.clear();
        }
        cache.insert(key, v.clone());
        Ok(v)
    }

    /// The schema it checks.
    pub fn schema(&self) -> &Value {
        &self.schema
    }

    /// Checks `params`; the error lists up to ten violations, each with its
    /// JSON pointer.
    pub fn validate(&self, params: &Value) -> Result<(), String> {
        let errors: Vec<String> = self
            .compiled
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
}

/// The built-in fallback validator of `action_type`, if it has one.
/// Compiled once, at first use.
pub fn builtin_validator(action_type: &str) -> Option<Validator> {
    static BUILTIN: LazyLock<HashMap<&'static str, Validator>> = LazyLock::new(|| {
        super::BUILTIN
            .iter()
            .filter_map(|&ty| Some((ty, builtin_schema(ty)?)))
            .map(|(ty, schema)| (ty, Validator::compile(ty, &schema).expect("the built-in schemas compile")))
            .collect()
    });
    BUILTIN.get(action_type).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate(schema: &Value, params: &Value) -> Result<(), String> {
        Validator::compile("test", schema).unwrap().validate(params)
    }

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

    #[test]
    fn every_builtin_type_has_a_fallback_schema_and_validators_are_shared() {
        for ty in super::super::BUILTIN {
            assert!(builtin_validator(ty).is_some(), "{ty}");
        }
        let a = builtin_validator("migrate").unwrap();
        let b = builtin_validator("migrate").unwrap();
        assert!(Arc::ptr_eq(&a.compiled, &b.compiled), "compiled once per (type, schema)");
        let e = Validator::compile("x", &json!({"type": "no-such-type"})).unwrap_err();
        assert!(e.contains("invalid"), "{e}");
    }
}
