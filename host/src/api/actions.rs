//! `/v1/actions`: list and detail (by plan or by audit), show, and PATCH to
//! skip a pending action (microversion 1.5).

use super::action_plans::visible_plan;
use super::error::ApiError;
use super::extract::{parse_uuid, HostUrl, JsonBody, Params, PathParam, ShowDeleted};
use super::list::{collection, ListQuery, Row};
use super::version::{Version, MAX};
use super::views::{self, Form};
use super::{blocking, AppState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use chrono::Utc;
use rollback_store::{Action, ActionState, PlanState};
use serde_json::{json, Map, Value};
use uuid::Uuid;

/// Fields an action list may be sorted by.
const SORT_KEYS: &[&str] = &[
    "id",
    "uuid",
    "action_plan_uuid",
    "action_type",
    "state",
    "description",
    "status_message",
    "created_at",
    "updated_at",
    "deleted_at",
];

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/actions", get(list))
        .route("/v1/actions/", get(list))
        .route("/v1/actions/detail", get(detail))
        .route("/v1/actions/{uuid}", get(show).patch(patch))
}

fn not_found(uuid: Uuid) -> ApiError {
    ApiError::not_found(format!("Action {uuid} could not be found."))
}

fn visible(a: Option<Action>, uuid: Uuid, show_deleted: bool) -> Result<Action, ApiError> {
    a.filter(|a| show_deleted || a.state != ActionState::Deleted).ok_or_else(|| not_found(uuid))
}

async fn list(
    state: State<AppState>,
    params: Params,
    v: Version,
    sd: ShowDeleted,
    host: HostUrl,
) -> Result<Json<Value>, ApiError> {
    list_impl(state, params, v, sd, host, Form::Short, "/v1/actions").await
}

async fn detail(
    state: State<AppState>,
    params: Params,
    v: Version,
    sd: ShowDeleted,
    host: HostUrl,
) -> Result<Json<Value>, ApiError> {
    list_impl(state, params, v, sd, host, Form::Detail, "/v1/actions/detail").await
}

async fn list_impl(
    State(state): State<AppState>,
    params: Params,
    version: Version,
    ShowDeleted(show_deleted): ShowDeleted,
    HostUrl(host): HostUrl,
    form: Form,
    path: &str,
) -> Result<Json<Value>, ApiError> {
    let q = ListQuery::parse(&params, SORT_KEYS, state.max_limit)?;
    let by = |k: &str| -> Result<Option<Uuid>, ApiError> {
        match params.get(k).filter(|v| !v.is_empty()) {
            Some(v) => parse_uuid(k, v).map(Some),
            None => Ok(None),
        }
    };
    let (plan, audit) = (by("action_plan_uuid")?, by("audit_uuid")?);
    if plan.is_some() && audit.is_some() {
        return Err(ApiError::bad_request("Only one of action_plan_uuid or audit_uuid may be given."));
    }
    let store = state.store.clone();
    let actions = blocking(move || match (plan, audit) {
        (Some(p), _) => Ok(store.actions_of(p)?),
        (None, Some(a)) => {
            let mut out = Vec::new();
            for p in store.plans_of_audit(a)? {
                out.extend(store.actions_of(p.uuid)?);
            }
            Ok(out)
        }
        (None, None) => Ok(store.actions()?),
    })
    .await?;
    let rows = actions
        .iter()
        .filter(|a| show_deleted || a.state != ActionState::Deleted)
        .map(|a| Row {
            id: a.id,
            uuid: a.uuid,
            detail: views::action(a, &host, MAX, Form::Detail),
            shown: views::action(a, &host, version, form),
        })
        .collect();
    let filters = [("action_plan_uuid", plan), ("audit_uuid", audit)];
    Ok(Json(collection(rows, &q, "Action", "actions", &host, path, &filters)?))
}

async fn show(
    State(state): State<AppState>,
    PathParam(uuid): PathParam,
    version: Version,
    ShowDeleted(show_deleted): ShowDeleted,
    HostUrl(host): HostUrl,
) -> Result<Json<Value>, ApiError> {
    let uuid = parse_uuid("action_uuid", &uuid)?;
    let store = state.store.clone();
    let action = blocking(move || visible(store.action(uuid)?, uuid, show_deleted)).await?;
    Ok(Json(views::action(&action, &host, version, Form::Detail)))
}

/// Skips a PENDING action (and may set its `status_message`), while its
/// plan has not started.
async fn patch(
    State(state): State<AppState>,
    PathParam(uuid): PathParam,
    version: Version,
    HostUrl(host): HostUrl,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let uuid = parse_uuid("action_uuid", &uuid)?;
    if !version.at_least(5) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Operation not permitted: updating an action needs microversion 1.5 or later (OpenStack-API-Version: infra-optim 1.5).",
        ));
    }
    let store = state.store.clone();
    let action = blocking(move || {
        store.write(move |txn| {
            let mut action = visible(txn.action(uuid)?, uuid, false)?;
            let plan = visible_plan(txn.plan(action.action_plan_uuid)?, action.action_plan_uuid, false)?;
            if !matches!(plan.state, PlanState::Recommended | PlanState::Pending) {
                return Err(ApiError::conflict(format!(
                    "Action {uuid} can be skipped only while its action plan is RECOMMENDED or PENDING; it is {}.",
                    plan.state
                )));
            }
            let doc = Map::from_iter([
                ("state".to_string(), json!(action.state.as_str())),
                ("status_message".to_string(), json!(action.status_message)),
            ]);
            let fields = super::patch::apply(&body, doc)?;
            let wanted = super::patch::string_field(&body, &fields, "state")?;
            let message = match &fields["status_message"] {
                Value::Null => None,
                Value::String(s) if s.len() <= 1024 => Some(s.clone()),
                Value::String(_) => return Err(ApiError::bad_request("status_message is longer than 1024 characters")),
                _ => return Err(ApiError::bad_request("status_message must be a string or null")),
            };
            let to = ActionState::parse(wanted)
                .ok_or_else(|| ApiError::bad_request(format!("Couldn't apply patch '{body}'. Reason: Invalid state: {wanted}")))?;
            if to != action.state && !(action.state == ActionState::Pending && to == ActionState::Skipped) {
                return Err(ApiError::bad_request(format!(
                    "Couldn't apply patch '{body}'. Reason: State transition not allowed: ({} -> {to}); only PENDING -> SKIPPED",
                    action.state
                )));
            }
            if to == action.state && to != ActionState::Skipped {
                return Err(ApiError::bad_request(format!(
                    "Couldn't apply patch '{body}'. Reason: only a SKIPPED action's status_message can change"
                )));
            }
            action.state = to;
            action.status_message = message;
            action.updated_at = Some(Utc::now());
            txn.update_action(action.clone())?;
            Ok::<_, ApiError>(action)
        })
    })
    .await?;
    tracing::info!(action = %action.uuid, state = %action.state, "action patched");
    Ok(Json(views::action(&action, &host, version, Form::Detail)))
}
