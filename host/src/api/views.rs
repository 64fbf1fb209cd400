//! How records look on the wire: Watcher's JSON shapes, list (short) and
//! detail forms, `links`, timestamps, and fields that depend on the version.

use super::version::Version;
use rollback_store::{Action, ActionPlan, Timestamp};
use serde_json::{json, Map, Value};

/// Watcher's timestamp form: `2018-04-10T11:59:52.640067+00:00`.
pub fn ts(t: &Timestamp) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

fn opt_ts(t: &Option<Timestamp>) -> Value {
    t.as_ref().map(|t| Value::String(ts(t))).unwrap_or(Value::Null)
}

/// `self` and `bookmark` links, as Watcher builds them.
pub fn links(host: &str, collection: &str, uuid: &str) -> Value {
    json!([
        {"rel": "self", "href": format!("{host}/v1/{collection}/{uuid}")},
        {"rel": "bookmark", "href": format!("{host}/{collection}/{uuid}")},
    ])
}

/// Which fields an answer shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `GET /v1/action_plans`: Watcher's short list.
    Short,
    /// Detail lists and single records.
    Detail,
}

fn keep(map: &mut Map<String, Value>, fields: &[&str]) {
    map.retain(|k, _| fields.contains(&k.as_str()));
}

/// An action plan.
pub fn plan(p: &ActionPlan, host: &str, version: Version, form: Form) -> Value {
    let mut m = Map::new();
    m.insert("uuid".into(), json!(p.uuid));
    m.insert("audit_uuid".into(), json!(p.audit_uuid));
    m.insert("strategy_name".into(), json!(p.strategy_name));
    m.insert("state".into(), json!(p.state.as_str()));
    if version.at_least(5) {
        m.insert("status_message".into(), json!(p.status_message));
    }
    m.insert("global_efficacy".into(), json!(p.global_efficacy));
    m.insert("efficacy_indicators".into(), json!(p.efficacy_indicators));
    m.insert("created_at".into(), json!(ts(&p.created_at)));
    m.insert("updated_at".into(), opt_ts(&p.updated_at));
    m.insert("deleted_at".into(), opt_ts(&p.deleted_at));
    m.insert("hostname".into(), json!(p.hostname));
    m.insert("rollback_of".into(), json!(p.rollback_of));
    m.insert("rolled_back_by".into(), json!(p.rolled_back_by));
    m.insert("finished_at".into(), opt_ts(&p.finished_at));
    if form == Form::Short {
        keep(
            &mut m,
            &[
                "uuid",
                "state",
                "efficacy_indicators",
                "global_efficacy",
                "updated_at",
                "audit_uuid",
                "strategy_name",
            ],
        );
    }
    m.insert("links".into(), links(host, "action_plans", &p.uuid.to_string()));
    Value::Object(m)
}

/// An action.
pub fn action(a: &Action, host: &str, version: Version, form: Form) -> Value {
    let mut m = Map::new();
    m.insert("uuid".into(), json!(a.uuid));
    m.insert("action_plan_uuid".into(), json!(a.action_plan_uuid));
    m.insert("action_type".into(), json!(a.action_type));
    m.insert("input_parameters".into(), Value::Object(a.input_parameters.clone()));
    m.insert("parents".into(), json!(a.parents));
    m.insert("state".into(), json!(a.state.as_str()));
    m.insert("description".into(), json!(a.description));
    if version.at_least(5) {
        m.insert("status_message".into(), json!(a.status_message));
    }
    m.insert("created_at".into(), json!(ts(&a.created_at)));
    m.insert("updated_at".into(), opt_ts(&a.updated_at));
    m.insert("deleted_at".into(), opt_ts(&a.deleted_at));
    m.insert("pre_state".into(), a.pre_state.clone().unwrap_or(Value::Null));
    m.insert("result".into(), a.result.clone().unwrap_or(Value::Null));
    m.insert("expected_state".into(), a.expected_state.clone().unwrap_or(Value::Null));
    m.insert("inverse_of".into(), json!(a.inverse_of));
    if form == Form::Short {
        keep(&mut m, &["uuid", "parents", "state", "action_plan_uuid", "action_type"]);
    }
    m.insert("links".into(), links(host, "actions", &a.uuid.to_string()));
    Value::Object(m)
}

/// A plan with its actions, as creation and rollback answer.
pub fn plan_with_actions(p: &ActionPlan, actions: &[Action], host: &str, version: Version) -> Value {
    let mut body = plan(p, host, version, Form::Detail);
    body["actions"] = actions.iter().map(|a| action(a, host, version, Form::Detail)).collect();
    body
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn timestamps_look_like_watchers() {
        let t = chrono::Utc.with_ymd_and_hms(2018, 4, 10, 11, 59, 52).unwrap()
            + chrono::Duration::microseconds(640067);
        assert_eq!(ts(&t), "2018-04-10T11:59:52.640067+00:00");
    }
}
