//! The values a plugin reads and writes, as `serde_json` values.

use crate::bindings::exports::watcher::rollback::inverter as wit;
use crate::Error;
use serde_json::{Map, Value};

/// What a plugin says about itself.
#[derive(Debug, Clone, PartialEq)]
pub struct Metadata {
    /// The Watcher action type this plugin inverts.
    pub action_type: String,
    /// The plugin's version; `env!("CARGO_PKG_VERSION")` is a good choice.
    pub plugin_version: String,
    /// One line for operators: what the inverse is.
    pub description: String,
    /// JSON Schema of the action's `input_parameters`.
    pub parameters_schema: Value,
}

impl Metadata {
    /// Builds the metadata.
    pub fn new(
        action_type: impl Into<String>,
        plugin_version: impl Into<String>,
        description: impl Into<String>,
        parameters_schema: Value,
    ) -> Self {
        Metadata {
            action_type: action_type.into(),
            plugin_version: plugin_version.into(),
            description: description.into(),
            parameters_schema,
        }
    }

    pub(crate) fn into_wit(self) -> wit::PluginMetadata {
        wit::PluginMetadata {
            action_type: self.action_type,
            plugin_version: self.plugin_version,
            description: self.description,
            parameters_schema: self.parameters_schema.to_string(),
        }
    }
}

/// An action of the original plan that executed successfully.
#[derive(Debug, Clone, PartialEq)]
pub struct Executed {
    /// The action's uuid.
    pub action_uuid: String,
    /// Its action type.
    pub action_type: String,
    /// Its `input_parameters`.
    pub parameters: Map<String, Value>,
    /// What the applier saw just before acting.
    pub pre_state: Map<String, Value>,
    /// What really happened.
    pub result: Map<String, Value>,
}

/// Parses one of the contract's JSON-object strings. `null` reads as empty.
fn object(what: &str, text: &str) -> Result<Map<String, Value>, Error> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(Value::Null) => Ok(Map::new()),
        Ok(other) => Err(Error::invalid_input(format!("{what} must be a JSON object, got {other}"))),
        Err(e) => Err(Error::invalid_input(format!("{what} is not JSON: {e}"))),
    }
}

fn field<'a>(map: &'a Map<String, Value>, section: &str, key: &str) -> Result<&'a Value, Error> {
    match map.get(key) {
        Some(Value::Null) | None => Err(Error::invalid_input(format!("{section} lacks `{key}`"))),
        Some(v) => Ok(v),
    }
}

fn string<'a>(map: &'a Map<String, Value>, section: &str, key: &str) -> Result<&'a str, Error> {
    field(map, section, key)?
        .as_str()
        .ok_or_else(|| Error::invalid_input(format!("{section} `{key}` must be a string")))
}

fn optional_string<'a>(
    map: &'a Map<String, Value>,
    section: &str,
    key: &str,
) -> Result<Option<&'a str>, Error> {
    match map.get(key) {
        Some(Value::Null) | None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(Error::invalid_input(format!("{section} `{key}` must be a string or null"))),
    }
}

impl Executed {
    /// Builds an executed action from values; for native unit tests.
    /// `null` for the pre-state or result reads as an empty object.
    pub fn new(action_type: &str, parameters: Value, pre_state: Value, result: Value) -> Result<Self, Error> {
        Ok(Executed {
            action_uuid: "00000000-0000-0000-0000-000000000000".into(),
            action_type: action_type.into(),
            parameters: object("input parameters", &parameters.to_string())?,
            pre_state: object("pre-state", &pre_state.to_string())?,
            result: object("result", &result.to_string())?,
        })
    }

    pub(crate) fn from_wit(raw: wit::ExecutedAction) -> Result<Self, Error> {
        Ok(Executed {
            parameters: object("input parameters", &raw.input_parameters)?,
            pre_state: object("pre-state", &raw.pre_state)?,
            result: object("result", &raw.result)?,
            action_uuid: raw.action_uuid,
            action_type: raw.action_type,
        })
    }

    /// A required input parameter (present and not null).
    pub fn param(&self, key: &str) -> Result<&Value, Error> {
        field(&self.parameters, "input parameters", key)
    }

    /// A required string input parameter.
    pub fn param_str(&self, key: &str) -> Result<&str, Error> {
        string(&self.parameters, "input parameters", key)
    }

    /// An optional string input parameter (absent or null → `None`).
    pub fn param_opt_str(&self, key: &str) -> Result<Option<&str>, Error> {
        optional_string(&self.parameters, "input parameters", key)
    }

    /// A required pre-state field.
    pub fn pre(&self, key: &str) -> Result<&Value, Error> {
        field(&self.pre_state, "pre-state", key)
    }

    /// A required string pre-state field.
    pub fn pre_str(&self, key: &str) -> Result<&str, Error> {
        string(&self.pre_state, "pre-state", key)
    }

    /// An optional string pre-state field.
    pub fn pre_opt_str(&self, key: &str) -> Result<Option<&str>, Error> {
        optional_string(&self.pre_state, "pre-state", key)
    }

    /// A required result field.
    pub fn res(&self, key: &str) -> Result<&Value, Error> {
        field(&self.result, "result", key)
    }

    /// A required string result field.
    pub fn res_str(&self, key: &str) -> Result<&str, Error> {
        string(&self.result, "result", key)
    }

    /// An optional string result field.
    pub fn res_opt_str(&self, key: &str) -> Result<Option<&str>, Error> {
        optional_string(&self.result, "result", key)
    }
}

/// One action of the rollback plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Inverse {
    /// The action type to run.
    pub action_type: String,
    /// Its `input_parameters` (a JSON object).
    pub parameters: Map<String, Value>,
    /// Indices of earlier inverse actions from the same call to wait for.
    pub depends_on: Vec<u32>,
    /// Human-readable description.
    pub description: String,
    /// What the inverse expects to find before it runs (see the contract).
    pub expected_state: Map<String, Value>,
    /// Run before, not after, the inverses of the original's dependents.
    pub before_dependents: bool,
}

impl Inverse {
    /// An inverse action. `parameters` should be a JSON object; anything else
    /// is stored under the key `"value"` so the host can report it.
    pub fn new(action_type: impl Into<String>, parameters: Value) -> Self {
        let parameters = match parameters {
            Value::Object(map) => map,
            other => Map::from_iter([("value".to_string(), other)]),
        };
        Inverse {
            action_type: action_type.into(),
            parameters,
            depends_on: Vec::new(),
            description: String::new(),
            expected_state: Map::new(),
            before_dependents: false,
        }
    }

    /// Runs only after the inverse action at `index` (from the same list).
    pub fn after(mut self, index: u32) -> Self {
        self.depends_on.push(index);
        self
    }

    /// The state to expect before running (usually the original action's
    /// `result`); the applier skips this action when the resource differs.
    pub fn expecting(mut self, state: &Map<String, Value>) -> Self {
        self.expected_state = state.clone();
        self
    }

    /// Marks an inverse that restores something the other inverses need
    /// (re-enabling a service, powering a node on): it runs before the
    /// inverses of the actions that depended on the original, not after.
    pub fn before_dependents(mut self) -> Self {
        self.before_dependents = true;
        self
    }

    /// Sets the description.
    pub fn describe(mut self, description: impl Into<String>) -> Self {
        self.description = description.into();
        self
    }

    pub(crate) fn into_wit(self) -> wit::InverseAction {
        wit::InverseAction {
            action_type: self.action_type,
            input_parameters: text(&self.parameters),
            depends_on: self.depends_on,
            description: self.description,
            expected_state: text(&self.expected_state),
            before_dependents: self.before_dependents,
        }
    }
}

/// An object as JSON text, written straight into a `String` (a `Value`'s
/// `Display` goes through `fmt` and costs several times more).
fn text(object: &Map<String, Value>) -> String {
    serde_json::to_string(object).expect("a JSON map serializes")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn missing_or_null_fields_are_invalid_input() {
        let a = Executed::new("x", json!({"a": null, "n": 3}), json!(null), json!({})).unwrap();
        assert!(matches!(a.param("a"), Err(Error::InvalidInput(m)) if m.contains("`a`")));
        assert!(matches!(a.param_str("n"), Err(Error::InvalidInput(m)) if m.contains("must be a string")));
        assert_eq!(a.param_opt_str("a").unwrap(), None);
        assert!(a.pre("host").is_err(), "null pre-state reads as empty");
    }

    #[test]
    fn non_object_json_is_invalid_input() {
        let raw = wit::ExecutedAction {
            action_uuid: "u".into(),
            action_type: "x".into(),
            input_parameters: "[1,2]".into(),
            pre_state: "{}".into(),
            result: "{}".into(),
        };
        assert!(matches!(Executed::from_wit(raw), Err(Error::InvalidInput(m)) if m.contains("JSON object")));
        let raw = wit::ExecutedAction {
            action_uuid: "u".into(),
            action_type: "x".into(),
            input_parameters: "{".into(),
            pre_state: "{}".into(),
            result: "{}".into(),
        };
        assert!(matches!(Executed::from_wit(raw), Err(Error::InvalidInput(m)) if m.contains("not JSON")));
    }

    #[test]
    fn inverse_crosses_as_json_text_with_dependencies() {
        let w = Inverse::new("start", json!({"resource_id": "i"})).after(0).describe("d").into_wit();
        assert_eq!(serde_json::from_str::<Value>(&w.input_parameters).unwrap(), json!({"resource_id": "i"}));
        assert_eq!(w.depends_on, vec![0]);
        assert_eq!(w.description, "d");
    }
}
