//! How records look on the wire: Watcher's JSON shapes as typed views, list
//! (short) and detail forms, `links`, timestamps, and fields that depend on
//! the microversion. Each view derives `Serialize` (the handlers answer
//! it), `ToSchema` (the OpenAPI document describes it) and `Deserialize`
//! (the CLI client reads it).
//!
//! A field that some forms leave out is an `Option<Option<T>>`: `None` is
//! absent, `Some(None)` is `null`, `Some(Some(v))` is `v`.

use super::version::Version;
use rollback_store::{Action, ActionPlan, Timestamp};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use uuid::Uuid;

/// Watcher's timestamp form: `2018-04-10T11:59:52.640067+00:00`.
pub fn ts(t: &Timestamp) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

/// A field present (maybe `null`) when the text has it, absent when not.
fn present<'de, T: Deserialize<'de>, D: Deserializer<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A link.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Link {
    /// URL.
    pub href: String,
    /// `self` or `bookmark`.
    pub rel: String,
}

/// `self` and `bookmark` links, as Watcher builds them.
pub fn links(host: &str, collection: &str, uuid: &Uuid) -> Vec<Link> {
    vec![
        Link { href: format!("{host}/v1/{collection}/{uuid}"), rel: "self".into() },
        Link { href: format!("{host}/{collection}/{uuid}"), rel: "bookmark".into() },
    ]
}

/// Which fields an answer shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Form {
    /// `GET /v1/action_plans`: Watcher's short list.
    Short,
    /// Detail lists and single records.
    Detail,
}

/// An action plan. List answers show a subset of the fields;
/// `status_message` from microversion 1.5. Creation and rollback answers
/// add the plan's actions.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = ActionPlan)]
pub struct PlanView {
    /// Its uuid.
    pub uuid: Uuid,
    /// The audit it came from.
    #[serde(default)]
    pub audit_uuid: Option<Uuid>,
    /// The strategy (`manual`, `rollback`, …).
    #[serde(default)]
    pub strategy_name: Option<String>,
    /// Watcher's state name.
    #[schema(example = "SUCCEEDED")]
    pub state: String,
    /// Why it is in its state.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub status_message: Option<Option<String>>,
    /// Efficacy of the plan.
    #[serde(default)]
    #[schema(value_type = Option<Value>)]
    pub global_efficacy: Vec<Value>,
    /// Efficacy indicators.
    #[serde(default)]
    #[schema(value_type = Option<Value>)]
    pub efficacy_indicators: Vec<Value>,
    /// Created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Last changed.
    #[serde(default)]
    pub updated_at: Option<String>,
    /// Soft-deleted.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub deleted_at: Option<Option<String>>,
    /// The applier host.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub hostname: Option<Option<String>>,
    /// The plan this one rolls back.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    #[schema(value_type = Option<Uuid>)]
    pub rollback_of: Option<Option<Uuid>>,
    /// The plan that rolls this one back.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    #[schema(value_type = Option<Uuid>)]
    pub rolled_back_by: Option<Option<Uuid>>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub finished_at: Option<Option<String>>,
    /// `self` and `bookmark`.
    pub links: Vec<Link>,
    /// Creation and rollback answers: the plan's actions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actions: Option<Vec<ActionView>>,
    /// Rollback answers: executed actions left out (`allow_partial`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_inverted: Option<Vec<NotInverted>>,
    /// Rollback answers: actions interrupted by a stop whose outcome could
    /// not be observed (they may or may not need undoing; not inverted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unknown: Option<Vec<UnknownOutcome>>,
    /// Rollback answers: whether nothing was stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    /// Detail of an imported plan: the Watcher action plan it came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceView>,
}

/// Where an imported plan came from (`plan import`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = PlanSource)]
pub struct SourceView {
    /// Watcher's endpoint.
    pub watcher_url: String,
    /// Watcher's action plan (the same uuid as the imported plan's).
    pub action_plan_uuid: Uuid,
    /// Its audit.
    pub audit_uuid: Option<Uuid>,
    /// The audit's name.
    pub audit_name: Option<String>,
    /// The strategy.
    pub strategy_name: Option<String>,
    /// The audit's goal.
    pub goal_name: Option<String>,
    /// Watcher's state for the plan once imported (CANCELLED).
    pub watcher_state: String,
    /// When it was imported.
    pub imported_at: String,
}

/// An action. List answers show a subset of the fields.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = Action)]
pub struct ActionView {
    /// Its uuid.
    pub uuid: Uuid,
    /// Its plan.
    pub action_plan_uuid: Uuid,
    /// The action type.
    pub action_type: String,
    /// Parameters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Value>)]
    pub input_parameters: Option<Map<String, Value>>,
    /// Actions that run before it.
    pub parents: Vec<Uuid>,
    /// Watcher's state name.
    pub state: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Why it is in its state.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub status_message: Option<Option<String>>,
    /// Created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    /// Last changed.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub updated_at: Option<Option<String>>,
    /// Soft-deleted.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub deleted_at: Option<Option<String>>,
    /// What it changed, as it was before.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    #[schema(value_type = Option<Value>)]
    pub pre_state: Option<Option<Value>>,
    /// What happened.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    #[schema(value_type = Option<Value>)]
    pub result: Option<Option<Value>>,
    /// For a rollback action: what the resource must look like to run it.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    #[schema(value_type = Option<Value>)]
    pub expected_state: Option<Option<Value>>,
    /// For a rollback action: the original action it undoes.
    #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "present")]
    #[schema(value_type = Option<Uuid>)]
    pub inverse_of: Option<Option<Uuid>>,
    /// `self` and `bookmark`.
    pub links: Vec<Link>,
}

/// A page of action plans.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = ActionPlanCollection)]
pub struct PlanPage {
    /// The page.
    pub action_plans: Vec<PlanView>,
    /// The next page, when this one is full.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// A page of actions.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = ActionCollection)]
pub struct ActionPage {
    /// The page.
    pub actions: Vec<ActionView>,
    /// The next page, when this one is full.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// An executed action left out of a partial rollback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NotInverted {
    /// The action.
    pub uuid: Uuid,
    /// Its type (no inverter is loaded for it).
    pub action_type: String,
}

/// An interrupted action whose outcome is unknown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = UnknownOutcome)]
pub struct UnknownOutcome {
    /// The action.
    pub uuid: Uuid,
    /// Its type.
    pub action_type: String,
    /// Why the driver could not tell.
    pub reason: String,
}

impl PlanView {
    /// `p` as `version` shows it in `form`.
    pub fn new(p: &ActionPlan, host: &str, version: Version, form: Form) -> PlanView {
        let detail = form == Form::Detail;
        let only_detail = |v| detail.then_some(v);
        PlanView {
            uuid: p.uuid,
            audit_uuid: p.audit_uuid,
            strategy_name: Some(p.strategy_name.clone()),
            state: p.state.as_str().to_string(),
            status_message: (detail && version.at_least(5)).then(|| p.status_message.clone()),
            global_efficacy: p.global_efficacy.clone(),
            efficacy_indicators: p.efficacy_indicators.clone(),
            created_at: detail.then(|| ts(&p.created_at)),
            updated_at: p.updated_at.as_ref().map(ts),
            deleted_at: only_detail(p.deleted_at.as_ref().map(ts)),
            hostname: detail.then(|| p.hostname.clone()),
            rollback_of: detail.then_some(p.rollback_of),
            rolled_back_by: detail.then_some(p.rolled_back_by),
            finished_at: only_detail(p.finished_at.as_ref().map(ts)),
            links: links(host, "action_plans", &p.uuid),
            actions: None,
            not_inverted: None,
            unknown: None,
            dry_run: None,
            source: p.source.as_ref().filter(|_| detail).map(|s| SourceView {
                watcher_url: s.watcher_url.clone(),
                action_plan_uuid: s.action_plan_uuid,
                audit_uuid: s.audit_uuid,
                audit_name: s.audit_name.clone(),
                strategy_name: s.strategy_name.clone(),
                goal_name: s.goal_name.clone(),
                watcher_state: s.watcher_state.clone(),
                imported_at: ts(&s.imported_at),
            }),
        }
    }

    /// A plan with its actions, as creation and rollback answer.
    pub fn with_actions(p: &ActionPlan, actions: &[Action], host: &str, version: Version) -> PlanView {
        PlanView {
            actions: Some(actions.iter().map(|a| ActionView::new(a, host, version, Form::Detail)).collect()),
            ..PlanView::new(p, host, version, Form::Detail)
        }
    }
}

impl ActionView {
    /// `a` as `version` shows it in `form`.
    pub fn new(a: &Action, host: &str, version: Version, form: Form) -> ActionView {
        let detail = form == Form::Detail;
        ActionView {
            uuid: a.uuid,
            action_plan_uuid: a.action_plan_uuid,
            action_type: a.action_type.clone(),
            input_parameters: detail.then(|| a.input_parameters.clone()),
            parents: a.parents.clone(),
            state: a.state.as_str().to_string(),
            description: detail.then(|| a.description.clone()),
            status_message: (detail && version.at_least(5)).then(|| a.status_message.clone()),
            created_at: detail.then(|| ts(&a.created_at)),
            updated_at: detail.then(|| a.updated_at.as_ref().map(ts)),
            deleted_at: detail.then(|| a.deleted_at.as_ref().map(ts)),
            pre_state: detail.then(|| a.pre_state.clone()),
            result: detail.then(|| a.result.clone()),
            expected_state: detail.then(|| a.expected_state.clone()),
            inverse_of: detail.then_some(a.inverse_of),
            links: links(host, "actions", &a.uuid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rollback_store::PlanState;

    #[test]
    fn timestamps_look_like_watchers() {
        let t = chrono::Utc.with_ymd_and_hms(2018, 4, 10, 11, 59, 52).unwrap()
            + chrono::Duration::microseconds(640067);
        assert_eq!(ts(&t), "2018-04-10T11:59:52.640067+00:00");
    }

    #[test]
    fn the_short_form_shows_watchers_fields_and_null_stays_null() {
        let p = ActionPlan::new(Uuid::nil(), "manual", PlanState::Recommended, chrono::Utc::now());
        let short =
            serde_json::to_value(PlanView::new(&p, "http://h", super::super::version::MAX, Form::Short))
                .unwrap();
        // The whole short form's fields are checked over HTTP (blackbox/api_plans.rs).
        for absent in ["created_at", "status_message", "hostname", "rolled_back_by", "actions", "dry_run"] {
            assert!(short.get(absent).is_none(), "{absent} is not in the short form: {short}");
        }
        assert_eq!(short["audit_uuid"], Value::Null);
        let detail = PlanView::new(&p, "http://h", super::super::version::MAX, Form::Detail);
        let text = serde_json::to_string(&detail).unwrap();
        assert!(
            text.contains("\"status_message\":null") && text.contains("\"rolled_back_by\":null"),
            "{text}"
        );
        let back: PlanView = serde_json::from_str(&text).unwrap();
        assert_eq!(back.status_message, Some(None), "null is read back as present and null");
        assert_eq!(back.hostname, Some(None));
    }
}
