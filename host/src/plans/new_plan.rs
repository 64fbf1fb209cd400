//! A new plan as a client submits it (`POST /v1/action_plans`) and its checks.
//! Parents may name another action of the request by uuid or by index; the
//! result must be a DAG with no dangling parent, and every action's
//! `input_parameters` must satisfy its action type's schema.

use super::PlanError;
use crate::action_types::{json_depth, Validator, MAX_JSON_DEPTH};
use crate::lifecycle::MAX_PLAN_ACTIONS;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::HashMap;
use uuid::Uuid;

/// The request body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPlan {
    /// Optional; a plan may stand alone.
    #[serde(default)]
    pub audit_uuid: Option<Uuid>,
    /// Defaults to `manual`.
    #[serde(default)]
    pub strategy_name: Option<String>,
    /// Optional.
    #[serde(default)]
    pub hostname: Option<String>,
    /// List of `{name, description, unit, value}`.
    #[serde(default)]
    pub global_efficacy: Vec<Value>,
    /// List of `{name, description, unit, value}`.
    #[serde(default)]
    pub efficacy_indicators: Vec<Value>,
    /// The actions.
    pub actions: Vec<NewAction>,
}

/// One action of the request.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewAction {
    /// Generated when absent.
    #[serde(default)]
    pub uuid: Option<Uuid>,
    /// The action type.
    pub action_type: String,
    /// Must satisfy the type's schema.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub input_parameters: Map<String, Value>,
    /// Other actions of this request, by uuid or index.
    #[serde(default)]
    pub parents: Vec<ParentRef>,
    /// Free text.
    #[serde(default)]
    pub description: Option<String>,
}

/// A parent, by index into the request's `actions` or by uuid.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ParentRef {
    /// Position in `actions`.
    Index(usize),
    /// The `uuid` of another action of the request.
    Uuid(Uuid),
}

/// A checked action: uuid assigned, parents resolved to uuids.
#[derive(Debug)]
pub struct CheckedAction {
    /// Its uuid.
    pub uuid: Uuid,
    /// The action type.
    pub action_type: String,
    /// Parameters.
    pub input_parameters: Map<String, Value>,
    /// Parents as uuids.
    pub parents: Vec<Uuid>,
    /// Description.
    pub description: String,
}

/// Refuses a value nested deeper than [`MAX_JSON_DEPTH`]: stored inside
/// its record, it would come near serde_json's own limit and could not be
/// read back.
fn too_deep(what: &str, v: &Value) -> Result<(), PlanError> {
    let depth = json_depth(v);
    if depth > MAX_JSON_DEPTH {
        return Err(PlanError::Invalid(format!(
            "{what} nest {depth} levels deep; the limit is {MAX_JSON_DEPTH}."
        )));
    }
    Ok(())
}

fn check_efficacy(field: &str, items: &[Value]) -> Result<(), PlanError> {
    for (i, item) in items.iter().enumerate() {
        let ok = item.as_object().is_some_and(|o| {
            o.get("name").is_some_and(Value::is_string)
                && o.keys().all(|k| matches!(k.as_str(), "name" | "description" | "unit" | "value"))
        });
        if !ok {
            return Err(PlanError::Invalid(format!(
                "{field}[{i}] must be an object with a string `name` and optional `description`, `unit`, `value`"
            )));
        }
        too_deep(&format!("{field}[{i}]"), item)?;
    }
    Ok(())
}

/// Checks the plan: sizes, efficacy shapes, parents, acyclicity, schemas.
/// `validator_for` gives the validator of an action type (see
/// `action_types::validator_for`), or `None` for an unknown type.
pub fn check(
    plan: &NewPlan,
    validator_for: impl Fn(&str) -> Option<Validator>,
) -> Result<Vec<CheckedAction>, PlanError> {
    let n = plan.actions.len();
    if n > MAX_PLAN_ACTIONS {
        return Err(PlanError::Invalid(format!(
            "A plan may have at most {MAX_PLAN_ACTIONS} actions; this one has {n}."
        )));
    }
    check_efficacy("global_efficacy", &plan.global_efficacy)?;
    check_efficacy("efficacy_indicators", &plan.efficacy_indicators)?;
    if plan.strategy_name.as_deref().is_some_and(|s| s.len() > 255) {
        return Err(PlanError::Invalid("strategy_name is longer than 255 characters".into()));
    }

    let uuids: Vec<Uuid> = plan.actions.iter().map(|a| a.uuid.unwrap_or_else(Uuid::new_v4)).collect();
    let mut index_of = HashMap::with_capacity(n);
    for (i, u) in uuids.iter().enumerate() {
        if index_of.insert(*u, i).is_some() {
            return Err(PlanError::Invalid(format!("actions[{i}]: uuid {u} is used twice in this plan")));
        }
    }

    // Resolve parents to indices.
    let mut parents: Vec<Vec<usize>> = Vec::with_capacity(n);
    for (i, a) in plan.actions.iter().enumerate() {
        let mut ps = Vec::with_capacity(a.parents.len());
        for p in &a.parents {
            let j = match p {
                ParentRef::Index(j) if *j < n => *j,
                ParentRef::Index(j) => {
                    return Err(PlanError::Invalid(format!(
                        "actions[{i}]: parent index {j} is out of range (0..{n})"
                    )))
                }
                ParentRef::Uuid(u) => *index_of.get(u).ok_or_else(|| {
                    PlanError::Invalid(format!("actions[{i}]: parent {u} is not an action of this plan"))
                })?,
            };
            if j == i {
                return Err(PlanError::Invalid(format!("actions[{i}] names itself as a parent")));
            }
            if !ps.contains(&j) {
                ps.push(j);
            }
        }
        parents.push(ps);
    }
    check_acyclic(&parents)?;

    // Parameters against each type's schema.
    let mut validators: HashMap<&str, Validator> = HashMap::new();
    for (i, a) in plan.actions.iter().enumerate() {
        if !crate::plugins::valid_action_type(&a.action_type) {
            return Err(PlanError::Invalid(format!("actions[{i}]: invalid action_type {:?}", a.action_type)));
        }
        if !validators.contains_key(a.action_type.as_str()) {
            let validator = validator_for(&a.action_type).ok_or_else(|| {
                PlanError::Invalid(format!(
                    "actions[{i}]: unknown action_type {:?}: no built-in schema and no plugin provides one",
                    a.action_type
                ))
            })?;
            validators.insert(&a.action_type, validator);
        }
        let params = Value::Object(a.input_parameters.clone());
        too_deep(&format!("actions[{i}] ({}): input_parameters", a.action_type), &params)?;
        validators[a.action_type.as_str()].validate(&params).map_err(|e| {
            PlanError::Invalid(format!("actions[{i}] ({}): invalid input_parameters: {e}", a.action_type))
        })?;
    }

    Ok(plan
        .actions
        .iter()
        .zip(parents)
        .enumerate()
        .map(|(i, (a, ps))| CheckedAction {
            uuid: uuids[i],
            action_type: a.action_type.clone(),
            input_parameters: a.input_parameters.clone(),
            parents: ps.into_iter().map(|j| uuids[j]).collect(),
            description: a.description.clone().unwrap_or_default(),
        })
        .collect())
}

/// Kahn's algorithm: refuses a cycle, naming the actions on it.
fn check_acyclic(parents: &[Vec<usize>]) -> Result<(), PlanError> {
    let n = parents.len();
    let mut children = vec![Vec::new(); n];
    let mut waiting: Vec<usize> = parents.iter().map(Vec::len).collect();
    for (i, ps) in parents.iter().enumerate() {
        for &p in ps {
            children[p].push(i);
        }
    }
    let mut ready: Vec<usize> = (0..n).filter(|&i| waiting[i] == 0).collect();
    let mut done = 0;
    while let Some(i) = ready.pop() {
        done += 1;
        for &c in &children[i] {
            waiting[c] -= 1;
            if waiting[c] == 0 {
                ready.push(c);
            }
        }
    }
    if done == n {
        return Ok(());
    }
    let stuck: Vec<String> = (0..n).filter(|&i| waiting[i] > 0).take(10).map(|i| i.to_string()).collect();
    Err(PlanError::Invalid(format!(
        "the actions' parents form a cycle (involving actions {})",
        stuck.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn plan(actions: Value) -> NewPlan {
        serde_json::from_value(json!({"actions": actions})).unwrap()
    }

    fn schemas(t: &str) -> Option<Validator> {
        crate::action_types::schemas::builtin_validator(t)
    }

    /// Regression: parameters (or efficacy values) nested near serde_json's
    /// limit were stored a level deeper and could not be read back.
    #[test]
    fn deeply_nested_values_are_refused() {
        let permissive = |_: &str| Validator::compile("anything", &json!({"type": "object"})).ok();
        let deep: Value = serde_json::from_str(&format!("{}{}", "[".repeat(100), "]".repeat(100))).unwrap();
        let p = plan(json!([{"action_type": "custom_kind", "input_parameters": {"x": deep}}]));
        let e = check(&p, permissive).unwrap_err().to_string();
        assert!(e.contains("input_parameters nest 101 levels deep"), "{e}");
        let mut p = plan(json!([]));
        p.global_efficacy = vec![json!({"name": "n", "value": deep})];
        let e = check(&p, permissive).unwrap_err().to_string();
        assert!(e.contains("global_efficacy[0] nest"), "{e}");
        let shallow = plan(json!([{"action_type": "custom_kind", "input_parameters": {"x": [[{"y": 1}]]}}]));
        assert!(check(&shallow, permissive).is_ok());
    }

    #[test]
    fn parents_by_index_and_uuid_resolve() {
        let u = "4cbc4ede-0d25-481b-b86e-998dbbd4f8bf";
        let p = plan(json!([
            {"uuid": u, "action_type": "nop", "input_parameters": {"message": "a"}},
            {"action_type": "sleep", "input_parameters": {"duration": 1}, "parents": [0]},
            {"action_type": "nop", "input_parameters": {"message": null}, "parents": [u, 1]},
        ]));
        let checked = check(&p, schemas).unwrap();
        assert_eq!(checked[1].parents, vec![checked[0].uuid]);
        assert_eq!(checked[2].parents, vec![checked[0].uuid, checked[1].uuid]);
    }

    #[test]
    fn cycles_dangling_parents_and_bad_parameters_are_refused() {
        let nop = json!({"message": "x"});
        let cases = [
            (
                json!([{"action_type": "nop", "input_parameters": nop, "parents": [1]}, {"action_type": "nop", "input_parameters": nop, "parents": [0]}]),
                "cycle",
            ),
            (json!([{"action_type": "nop", "input_parameters": nop, "parents": [0]}]), "itself"),
            (json!([{"action_type": "nop", "input_parameters": nop, "parents": [5]}]), "out of range"),
            (
                json!([{"action_type": "nop", "input_parameters": nop, "parents": ["4cbc4ede-0d25-481b-b86e-998dbbd4f8bf"]}]),
                "not an action of this plan",
            ),
            (json!([{"action_type": "nop", "input_parameters": {}}]), "invalid input_parameters"),
            (json!([{"action_type": "teleport", "input_parameters": {}}]), "unknown action_type"),
            (json!([{"action_type": "Bad Type", "input_parameters": {}}]), "invalid action_type"),
        ];
        for (actions, want) in cases {
            let err = check(&plan(actions.clone()), schemas).unwrap_err();
            assert!(err.to_string().contains(want), "{actions}: {err}");
        }
    }

    #[test]
    fn efficacy_items_need_a_name() {
        let p: NewPlan =
            serde_json::from_value(json!({"actions": [], "global_efficacy": [{"value": 1}]})).unwrap();
        assert!(check(&p, schemas).unwrap_err().to_string().contains("global_efficacy[0]"));
    }
}
