//! `/v1/action_plans`: list, detail, show, create, PATCH (Watcher's state
//! transitions), start, and soft delete.

use super::error::ApiError;
use super::extract::{parse_uuid, HostUrl, JsonBody, Params, PathParam, ShowDeleted};
use super::list::{collection, ListQuery, Row};
use super::new_plan::{self, NewPlan};
use super::version::{Version, MAX};
use super::views::{self, Form};
use super::{blocking, AppState};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use rollback_store::{Action, ActionPlan, ActionState, PlanState, Store, Txn};
use serde_json::{json, Map, Value};
use uuid::Uuid;

/// Fields a plan list may be sorted by.
const SORT_KEYS: &[&str] = &[
    "id",
    "uuid",
    "audit_uuid",
    "strategy_name",
    "state",
    "status_message",
    "created_at",
    "updated_at",
    "deleted_at",
    "hostname",
    "finished_at",
    "rollback_of",
    "rolled_back_by",
];

/// The PATCH transitions Watcher allows.
const PATCH_TRANSITIONS: &[(PlanState, PlanState)] = &[
    (PlanState::Recommended, PlanState::Pending),
    (PlanState::Recommended, PlanState::Cancelled),
    (PlanState::Ongoing, PlanState::Cancelling),
    (PlanState::Pending, PlanState::Cancelled),
];

/// States a plan may be deleted from (Watcher's list).
const DELETABLE: &[PlanState] = &[
    PlanState::Succeeded,
    PlanState::Recommended,
    PlanState::Failed,
    PlanState::Superseded,
    PlanState::Cancelled,
];

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/action_plans", get(list).post(create))
        .route("/v1/action_plans/", get(list).post(create))
        .route("/v1/action_plans/detail", get(detail))
        .route("/v1/action_plans/{uuid}", get(show).patch(patch).delete(delete))
        .route("/v1/action_plans/{uuid}/start", post(start))
}

fn not_found(uuid: Uuid) -> ApiError {
    ApiError::not_found(format!("ActionPlan {uuid} could not be found."))
}

/// A plan the caller may see: deleted ones only with `X-Show-Deleted`.
pub(super) fn visible_plan(
    plan: Option<ActionPlan>,
    uuid: Uuid,
    show_deleted: bool,
) -> Result<ActionPlan, ApiError> {
    plan.filter(|p| show_deleted || p.state != PlanState::Deleted).ok_or_else(|| not_found(uuid))
}

fn txn_plan(txn: &Txn<'_>, uuid: Uuid) -> Result<ActionPlan, ApiError> {
    visible_plan(txn.plan(uuid)?, uuid, false)
}

async fn list(
    state: State<AppState>,
    params: Params,
    v: Version,
    sd: ShowDeleted,
    host: HostUrl,
) -> Result<Json<Value>, ApiError> {
    list_impl(state, params, v, sd, host, Form::Short, "/v1/action_plans").await
}

async fn detail(
    state: State<AppState>,
    params: Params,
    v: Version,
    sd: ShowDeleted,
    host: HostUrl,
) -> Result<Json<Value>, ApiError> {
    list_impl(state, params, v, sd, host, Form::Detail, "/v1/action_plans/detail").await
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
    let audit = match params.get("audit_uuid").filter(|a| !a.is_empty()) {
        Some(a) => Some(parse_uuid("audit_uuid", a)?),
        None => None,
    };
    let store = state.store.clone();
    let plans = blocking(move || match audit {
        Some(a) => Ok(store.plans_of_audit(a)?),
        None => Ok(store.plans()?),
    })
    .await?;
    let rows = plans
        .iter()
        .filter(|p| show_deleted || p.state != PlanState::Deleted)
        .map(|p| Row {
            id: p.id,
            uuid: p.uuid,
            detail: views::plan(p, &host, MAX, Form::Detail),
            shown: views::plan(p, &host, version, form),
        })
        .collect();
    let filters = [("audit_uuid", audit)];
    Ok(Json(collection(rows, &q, "ActionPlan", "action_plans", &host, path, &filters)?))
}

async fn show(
    State(state): State<AppState>,
    PathParam(uuid): PathParam,
    version: Version,
    ShowDeleted(show_deleted): ShowDeleted,
    HostUrl(host): HostUrl,
) -> Result<Json<Value>, ApiError> {
    let uuid = parse_uuid("action_plan_uuid", &uuid)?;
    let store = state.store.clone();
    let plan = blocking(move || visible_plan(store.plan(uuid)?, uuid, show_deleted)).await?;
    Ok(Json(views::plan(&plan, &host, version, Form::Detail)))
}

/// The plan with its actions, as `POST` answers.
fn plan_with_actions(plan: &ActionPlan, actions: &[Action], host: &str, version: Version) -> Value {
    let mut body = views::plan(plan, host, version, Form::Detail);
    body["actions"] =
        Value::Array(actions.iter().map(|a| views::action(a, host, version, Form::Detail)).collect());
    body
}

async fn create(
    State(state): State<AppState>,
    version: Version,
    HostUrl(host): HostUrl,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let new: NewPlan = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request(format!("Invalid action plan: {e}")))?;
    let plugins = state.registry.plugins();
    let checked = new_plan::check(&new, |t| crate::action_types::schema(&plugins, t))?;
    let now = Utc::now();
    let store = state.store.clone();
    let (plan, actions) = blocking(move || {
        store.write(move |txn| {
            let plan = ActionPlan {
                id: txn.next_id()?,
                audit_uuid: new.audit_uuid,
                global_efficacy: new.global_efficacy,
                efficacy_indicators: new.efficacy_indicators,
                hostname: new.hostname,
                ..ActionPlan::new(
                    Uuid::new_v4(),
                    new.strategy_name.unwrap_or_else(|| "manual".into()),
                    PlanState::Recommended,
                    now,
                )
            };
            txn.insert_plan(plan.clone())?;
            let mut actions = Vec::with_capacity(checked.len());
            for c in checked {
                let a = Action {
                    id: txn.next_id()?,
                    description: c.description,
                    ..Action::new(c.uuid, plan.uuid, c.action_type, c.input_parameters, c.parents, now)
                };
                txn.insert_action(a.clone())?;
                actions.push(a);
            }
            Ok::<_, ApiError>((plan, actions))
        })
    })
    .await?;
    tracing::info!(plan = %plan.uuid, actions = actions.len(), "action plan created");
    let location = format!("{host}/v1/action_plans/{}", plan.uuid);
    let body = plan_with_actions(&plan, &actions, &host, version);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(body)).into_response())
}

/// Moves a plan to `to`, with Watcher's side effects; used by PATCH and
/// `start`. Cancelling a plan that has not run cancels its actions.
fn transition(txn: &mut Txn<'_>, mut plan: ActionPlan, to: PlanState) -> Result<ActionPlan, ApiError> {
    let now = Utc::now();
    plan.state = to;
    plan.updated_at = Some(now);
    if to == PlanState::Cancelled {
        plan.finished_at = Some(now);
        for mut a in txn.actions_of(plan.uuid)? {
            if matches!(a.state, ActionState::Pending | ActionState::Ongoing) {
                a.state = ActionState::Cancelled;
                a.updated_at = Some(now);
                txn.update_action(a)?;
            }
        }
    }
    txn.update_plan(plan.clone())?;
    Ok(plan)
}

async fn patch(
    State(state): State<AppState>,
    PathParam(uuid): PathParam,
    version: Version,
    HostUrl(host): HostUrl,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let uuid = parse_uuid("action_plan_uuid", &uuid)?;
    let store: Store = state.store.clone();
    let plan = blocking(move || {
        store.write(move |txn| {
            let plan = txn_plan(txn, uuid)?;
            let doc = Map::from_iter([("state".to_string(), json!(plan.state.as_str()))]);
            let fields = super::patch::apply(&body, doc)?;
            let wanted = super::patch::string_field(&body, &fields, "state")?;
            let Some(to) = PlanState::parse(wanted) else {
                return Err(ApiError::bad_request(format!(
                    "Couldn't apply patch '{body}'. Reason: Invalid state: {wanted}"
                )));
            };
            if !PATCH_TRANSITIONS.contains(&(plan.state, to)) {
                return Err(ApiError::bad_request(format!(
                    "Couldn't apply patch '{body}'. Reason: State transition not allowed: ({} -> {to})",
                    plan.state
                )));
            }
            transition(txn, plan, to)
        })
    })
    .await?;
    tracing::info!(plan = %plan.uuid, state = %plan.state, "action plan patched");
    if plan.state == PlanState::Pending {
        state.applier.launch(plan.uuid);
    }
    Ok(Json(views::plan(&plan, &host, version, Form::Detail)))
}

async fn start(
    State(state): State<AppState>,
    PathParam(uuid): PathParam,
    version: Version,
    HostUrl(host): HostUrl,
) -> Result<Json<Value>, ApiError> {
    let uuid = parse_uuid("action_plan_uuid", &uuid)?;
    let store = state.store.clone();
    let plan = blocking(move || {
        store.write(move |txn| {
            let plan = txn_plan(txn, uuid)?;
            if plan.state != PlanState::Recommended {
                return Err(ApiError::bad_request(format!("Couldn't start when state is '{}'.", plan.state)));
            }
            transition(txn, plan, PlanState::Pending)
        })
    })
    .await?;
    tracing::info!(plan = %plan.uuid, "action plan started");
    state.applier.launch(plan.uuid);
    Ok(Json(views::plan(&plan, &host, version, Form::Detail)))
}

async fn delete(State(state): State<AppState>, PathParam(uuid): PathParam) -> Result<StatusCode, ApiError> {
    let uuid = parse_uuid("action_plan_uuid", &uuid)?;
    let store = state.store.clone();
    blocking(move || {
        store.write(move |txn| {
            let mut plan = txn_plan(txn, uuid)?;
            if !DELETABLE.contains(&plan.state) {
                return Err(ApiError::bad_request(format!(
                    "Couldn't delete when state is '{}'.",
                    plan.state
                )));
            }
            let now = Utc::now();
            for mut a in txn.actions_of(uuid)? {
                a.state = ActionState::Deleted;
                a.deleted_at = Some(now);
                txn.update_action(a)?;
            }
            plan.state = PlanState::Deleted;
            plan.deleted_at = Some(now);
            txn.update_plan(plan)?;
            Ok::<_, ApiError>(())
        })
    })
    .await?;
    tracing::info!(plan = %uuid, "action plan deleted");
    Ok(StatusCode::NO_CONTENT)
}
