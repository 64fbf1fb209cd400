//! JSON Patch (RFC 6902) on the few fields Watcher lets clients change.
//!
//! The patch is applied with the `json-patch` crate to a document that holds
//! only the patchable fields; any result that gained or lost a field is
//! refused, which covers `add`, `remove`, `move` and `copy` alike.

use crate::lifecycle::LifecycleError;
use serde_json::{Map, Value};

/// One JSON Patch operation (RFC 6902); Watcher accepts `replace` of
/// `/state` (plans) and of `/state` or `/status_message` (actions).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // The document's description; `apply` reads the body with json-patch.
pub struct PatchOperation {
    /// `replace`, `add`, `remove`, …
    op: String,
    /// A JSON pointer.
    path: String,
    /// The new value.
    value: Option<serde_json::Value>,
}

/// Watcher's PatchError: the patch and why it cannot apply.
pub fn refused(patch: &Value, reason: impl std::fmt::Display) -> LifecycleError {
    LifecycleError::Invalid(format!("Couldn't apply patch '{patch}'. Reason: {reason}"))
}

/// Applies `patch` (the request body) to `doc`, whose keys are exactly the
/// patchable fields. Returns the patched fields.
pub fn apply(patch: &Value, doc: Map<String, Value>) -> Result<Map<String, Value>, LifecycleError> {
    let ops: json_patch::Patch = serde_json::from_value(patch.clone())
        .map_err(|e| refused(patch, format!("not a JSON Patch document (a list of operations): {e}")))?;
    if ops.0.is_empty() {
        return Err(refused(patch, "the patch has no operations"));
    }
    let allowed: Vec<String> = doc.keys().map(|k| format!("/{k}")).collect();
    let only = || refused(patch, format!("only {} can be patched", allowed.join(", ")));
    for op in &ops.0 {
        let from = match op {
            json_patch::PatchOperation::Move(m) => Some(m.from.to_string()),
            json_patch::PatchOperation::Copy(c) => Some(c.from.to_string()),
            _ => None,
        };
        let touches_other = std::iter::once(op.path().to_string()).chain(from).any(|p| !allowed.contains(&p));
        if touches_other {
            return Err(only());
        }
    }
    let mut patched = Value::Object(doc);
    json_patch::patch(&mut patched, &ops.0).map_err(|e| refused(patch, e))?;
    let Value::Object(fields) = patched else {
        return Err(refused(patch, "the patch replaced the whole document"));
    };
    let keys: Vec<String> = fields.keys().map(|k| format!("/{k}")).collect();
    if keys != allowed {
        return Err(refused(patch, format!("only {} can be patched", allowed.join(", "))));
    }
    Ok(fields)
}

/// The patched value of `field` as a string.
pub fn string_field<'a>(
    patch: &Value,
    fields: &'a Map<String, Value>,
    field: &str,
) -> Result<&'a str, LifecycleError> {
    fields
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| refused(patch, format!("/{field} must be a string")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn doc() -> Map<String, Value> {
        json!({"state": "RECOMMENDED"}).as_object().unwrap().clone()
    }

    #[test]
    fn replaces_the_state() {
        let p = json!([{"op": "replace", "path": "/state", "value": "PENDING"}]);
        assert_eq!(apply(&p, doc()).unwrap()["state"], "PENDING");
    }

    #[test]
    fn refuses_other_fields_and_shapes() {
        for p in [
            json!([{"op": "replace", "path": "/uuid", "value": "x"}]),
            json!([{"op": "add", "path": "/uuid", "value": "x"}]),
            json!([{"op": "remove", "path": "/state"}]),
            json!([{"op": "replace", "path": "", "value": []}]),
            json!({"op": "replace", "path": "/state", "value": "PENDING"}),
            json!([]),
            json!([{"op": "frobnicate", "path": "/state"}]),
        ] {
            let e = apply(&p, doc()).unwrap_err();
            assert!(
                matches!(&e, LifecycleError::Invalid(m) if m.starts_with("Couldn't apply patch")),
                "{p}: {e}"
            );
        }
    }
}
