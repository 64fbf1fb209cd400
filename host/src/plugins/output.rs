//! Checks on what a plugin returns. Plugin output is untrusted: every string
//! is size-bounded, every JSON text must parse to the right shape, and every
//! dependency index must point backwards.

use super::bindings;
use super::error::PluginError;
use super::limits::Limits;
use crate::action_types::{json_depth, MAX_JSON_DEPTH};
use serde_json::{Map, Value};

/// What a plugin says about itself, checked.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Metadata {
    /// The action type the plugin inverts.
    pub action_type: String,
    /// The plugin's own version.
    pub plugin_version: String,
    /// One line for operators.
    pub description: String,
    /// JSON Schema of the action's `input_parameters`.
    pub parameters_schema: Value,
}

/// One inverse action, checked.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Inverse {
    /// The action type to run.
    pub action_type: String,
    /// Its `input_parameters`.
    pub input_parameters: Map<String, Value>,
    /// Indices of earlier inverse actions (from the same call) it waits for.
    pub depends_on: Vec<usize>,
    /// Human-readable description.
    pub description: String,
    /// What the inverse expects to find before it runs (may be empty).
    pub expected_state: Map<String, Value>,
    /// Runs before, not after, the inverses of the original's dependents.
    pub before_dependents: bool,
}

const MAX_ACTION_TYPE_LEN: usize = 64;
const MAX_VERSION_LEN: usize = 64;
const MAX_DESCRIPTION_LEN: usize = 4096;

/// An action type is 1–64 characters of `a-z`, `0-9` and `_`, starting with
/// a letter, as Watcher's own action types are.
pub fn valid_action_type(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z'))
        && s.len() <= MAX_ACTION_TYPE_LEN
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

fn bad_meta(plugin: &str, reason: impl Into<String>) -> PluginError {
    PluginError::BadMetadata { plugin: plugin.to_string(), reason: reason.into() }
}

pub(crate) fn check_metadata(
    plugin: &str,
    raw: bindings::PluginMetadata,
    limits: &Limits,
) -> Result<Metadata, PluginError> {
    let total = raw.action_type.len()
        + raw.plugin_version.len()
        + raw.description.len()
        + raw.parameters_schema.len();
    if total > limits.max_output_bytes() {
        return Err(PluginError::OutputTooLarge {
            plugin: plugin.to_string(),
            reason: format!("metadata is {total} bytes, the limit is {}", limits.max_output_bytes()),
        });
    }
    if !valid_action_type(&raw.action_type) {
        return Err(bad_meta(
            plugin,
            format!(
                "action type {:?} must be 1-{MAX_ACTION_TYPE_LEN} characters of a-z, 0-9 and _, starting with a letter",
                cut(&raw.action_type, QUOTED_BYTES)
            ),
        ));
    }
    if raw.plugin_version.is_empty() || raw.plugin_version.len() > MAX_VERSION_LEN {
        return Err(bad_meta(plugin, format!("plugin version must be 1-{MAX_VERSION_LEN} bytes")));
    }
    if raw.description.len() > MAX_DESCRIPTION_LEN {
        return Err(bad_meta(plugin, format!("description is longer than {MAX_DESCRIPTION_LEN} bytes")));
    }
    let schema: Value = serde_json::from_str(&raw.parameters_schema)
        .map_err(|e| bad_meta(plugin, format!("parameters schema is not JSON: {e}")))?;
    if !schema.is_object() {
        return Err(bad_meta(plugin, "parameters schema must be a JSON object"));
    }
    Ok(Metadata {
        action_type: raw.action_type,
        plugin_version: raw.plugin_version,
        description: raw.description,
        parameters_schema: schema,
    })
}

fn bad_output(plugin: &str, reason: impl Into<String>) -> PluginError {
    PluginError::BadOutput { plugin: plugin.to_string(), reason: reason.into() }
}

/// How much of an untrusted name an error message quotes.
const QUOTED_BYTES: usize = 80;

/// Untrusted text cut to at most `max` bytes on a character boundary, with
/// a visible ` …[cut]` when anything was cut. The one truncation rule for
/// everything a plugin says (log lines, refusals, names in errors).
pub(crate) fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} …[cut]", &s[..end])
}

pub(crate) fn check_inverses(
    plugin: &str,
    raw: Vec<bindings::InverseAction>,
    limits: &Limits,
) -> Result<Vec<Inverse>, PluginError> {
    if raw.len() > limits.max_inverse_actions {
        return Err(PluginError::OutputTooLarge {
            plugin: plugin.to_string(),
            reason: format!("{} inverse actions, the limit is {}", raw.len(), limits.max_inverse_actions),
        });
    }
    let total: usize = raw
        .iter()
        .map(|a| {
            a.action_type.len()
                + a.input_parameters.len()
                + a.description.len()
                + a.expected_state.len()
                + 4 * a.depends_on.len()
        })
        .sum();
    if total > limits.max_output_bytes() {
        return Err(PluginError::OutputTooLarge {
            plugin: plugin.to_string(),
            reason: format!("{total} bytes of output, the limit is {}", limits.max_output_bytes()),
        });
    }
    raw.into_iter()
        .enumerate()
        .map(|(i, a)| {
            if !valid_action_type(&a.action_type) {
                return Err(bad_output(
                    plugin,
                    format!(
                        "inverse action {i}: invalid action type {:?}",
                        cut(&a.action_type, QUOTED_BYTES)
                    ),
                ));
            }
            if a.description.len() > MAX_DESCRIPTION_LEN {
                return Err(bad_output(plugin, format!("inverse action {i}: description too long")));
            }
            let input_parameters = match serde_json::from_str::<Value>(&a.input_parameters) {
                Ok(Value::Object(map)) => map,
                Ok(_) => {
                    return Err(bad_output(
                        plugin,
                        format!("inverse action {i}: input parameters are not a JSON object"),
                    ))
                }
                Err(e) => {
                    return Err(bad_output(
                        plugin,
                        format!("inverse action {i}: input parameters are not JSON: {e}"),
                    ))
                }
            };
            let mut depends_on = Vec::with_capacity(a.depends_on.len());
            for d in a.depends_on {
                let d = d as usize;
                if d >= i {
                    return Err(bad_output(
                        plugin,
                        format!(
                            "inverse action {i} depends on {d}; dependencies must point to earlier actions"
                        ),
                    ));
                }
                if !depends_on.contains(&d) {
                    depends_on.push(d);
                }
            }
            let expected_state = match serde_json::from_str::<Value>(&a.expected_state) {
                Ok(Value::Object(map)) => map,
                _ => {
                    return Err(bad_output(
                        plugin,
                        format!("inverse action {i}: expected state is not a JSON object"),
                    ))
                }
            };
            for (what, map) in [("input parameters", &input_parameters), ("expected state", &expected_state)] {
                let depth = json_depth(&Value::Object(map.clone()));
                if depth > MAX_JSON_DEPTH {
                    return Err(bad_output(
                        plugin,
                        format!("inverse action {i}: {what} nest {depth} levels deep, the limit is {MAX_JSON_DEPTH}"),
                    ));
                }
            }
            Ok(Inverse {
                action_type: a.action_type,
                input_parameters,
                depends_on,
                description: a.description,
                expected_state,
                before_dependents: a.before_dependents,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv(ty: &str, params: &str, deps: Vec<u32>) -> bindings::InverseAction {
        bindings::InverseAction {
            action_type: ty.into(),
            input_parameters: params.into(),
            depends_on: deps,
            description: String::new(),
            expected_state: "{}".into(),
            before_dependents: false,
        }
    }

    #[test]
    fn action_types_are_snake_case_identifiers() {
        assert!(valid_action_type("change_nova_service_state"));
        assert!(!valid_action_type(""));
        assert!(!valid_action_type("Migrate"));
        assert!(!valid_action_type("1st"));
        assert!(!valid_action_type("a/b"));
        assert!(!valid_action_type(&"a".repeat(65)));
    }

    #[test]
    fn forward_or_self_dependencies_are_refused() {
        let l = Limits::default();
        let err = check_inverses("p", vec![inv("nop", "{}", vec![0])], &l).unwrap_err();
        assert!(err.to_string().contains("earlier actions"), "{err}");
        let ok =
            check_inverses("p", vec![inv("nop", "{}", vec![]), inv("nop", "{}", vec![0, 0])], &l).unwrap();
        assert_eq!(ok[1].depends_on, vec![0], "duplicate dependencies are folded");
    }

    #[test]
    fn parameters_must_be_a_json_object() {
        let l = Limits::default();
        for bad in ["[1]", "not json", "\"s\""] {
            let err = check_inverses("p", vec![inv("nop", bad, vec![])], &l).unwrap_err();
            assert!(matches!(err, PluginError::BadOutput { .. }), "{bad}: {err}");
        }
    }

    /// Regression: an inverse nested near serde_json's 128-level limit was
    /// stored one level deeper, and every later read of the actions failed
    /// ("recursion limit exceeded") for good.
    #[test]
    fn deeply_nested_output_is_refused() {
        let nested = |n: usize| format!("{{\"a\": {}{}}}", "[".repeat(n), "]".repeat(n));
        let limits = Limits::default();
        assert!(check_inverses("p", vec![inv("nop", &nested(MAX_JSON_DEPTH - 1), vec![])], &limits).is_ok());
        let e = check_inverses("p", vec![inv("nop", &nested(120), vec![])], &limits).unwrap_err();
        assert!(e.to_string().contains("nest 121 levels deep"), "{e}");
        let mut deep_state = inv("nop", "{}", vec![]);
        deep_state.expected_state = nested(120);
        let e = check_inverses("p", vec![deep_state], &limits).unwrap_err();
        assert!(e.to_string().contains("expected state nest"), "{e}");
    }

    #[test]
    fn too_many_inverse_actions_are_refused() {
        let l = Limits { max_inverse_actions: 2, ..Limits::default() };
        let err = check_inverses("p", (0..3).map(|_| inv("nop", "{}", vec![])).collect(), &l).unwrap_err();
        assert!(matches!(err, PluginError::OutputTooLarge { .. }), "{err}");
    }

    #[test]
    fn oversized_output_is_refused() {
        let l = Limits { max_output_kib: 1, ..Limits::default() };
        let big = format!("{{\"k\":\"{}\"}}", "x".repeat(2000));
        let err = check_inverses("p", vec![inv("nop", &big, vec![])], &l).unwrap_err();
        assert!(matches!(err, PluginError::OutputTooLarge { .. }), "{err}");
    }

    #[test]
    fn metadata_schema_must_be_an_object() {
        let l = Limits::default();
        let raw = |schema: &str| bindings::PluginMetadata {
            action_type: "nop".into(),
            plugin_version: "1.0.0".into(),
            description: "d".into(),
            parameters_schema: schema.into(),
        };
        assert!(check_metadata("p", raw("{\"type\":\"object\"}"), &l).is_ok());
        assert!(matches!(check_metadata("p", raw("[]"), &l), Err(PluginError::BadMetadata { .. })));
        assert!(matches!(check_metadata("p", raw("{"), &l), Err(PluginError::BadMetadata { .. })));
    }
}
