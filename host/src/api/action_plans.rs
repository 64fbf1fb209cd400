//! `/v1/action_plans`: list, detail, show, create, PATCH (Watcher's state
//! transitions), start, and soft delete. Each handler parses, calls one
//! [`Plans`](crate::plans::Plans) operation, and renders.

use super::error::ApiError;
use super::extract::{parse_uuid, HostUrl, JsonBody, Params, PathParam, ShowDeleted};
use super::list::{collection, Dir, ListQuery, Row};
use super::patch;
use super::version::Version;
use super::views::{Form, PlanPage, PlanView};
use crate::lifecycle::LifecycleError;
use crate::plans::{NewPlan, PlanError};
use crate::service::Service;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use rollback_store::PlanSortKey;
use rollback_store::PlanState;
use serde_json::{json, Map, Value};

#[utoipa::path(get, path = "/v1/action_plans", tag = "action_plans", operation_id = "action_plan_list",
    params(super::list::ListParams, super::list::PlanFilter, super::version::WatcherHeaders),
    responses((status = 200, description = "A page of plans (short form)", body = PlanPage)))]
pub(super) async fn list(
    state: State<Service>,
    params: Params,
    v: Version,
    sd: ShowDeleted,
    host: HostUrl,
) -> Result<Json<PlanPage>, ApiError> {
    list_impl(state, params, v, sd, host, Form::Short, "/v1/action_plans").await
}

#[utoipa::path(get, path = "/v1/action_plans/detail", tag = "action_plans", operation_id = "action_plan_detail",
    params(super::list::ListParams, super::list::PlanFilter, super::version::WatcherHeaders),
    responses((status = 200, description = "A page of plans (detail form)", body = PlanPage)))]
pub(super) async fn detail(
    state: State<Service>,
    params: Params,
    v: Version,
    sd: ShowDeleted,
    host: HostUrl,
) -> Result<Json<PlanPage>, ApiError> {
    list_impl(state, params, v, sd, host, Form::Detail, "/v1/action_plans/detail").await
}

async fn list_impl(
    State(state): State<Service>,
    params: Params,
    version: Version,
    ShowDeleted(show_deleted): ShowDeleted,
    HostUrl(host): HostUrl,
    form: Form,
    path: &str,
) -> Result<Json<PlanPage>, ApiError> {
    let q = ListQuery::<PlanSortKey>::parse(&params, state.max_limit)?;
    let audit = match params.get("audit_uuid").filter(|a| !a.is_empty()) {
        Some(a) => Some(parse_uuid("audit_uuid", a)?),
        None => None,
    };
    // No filter: one page from the store's sort index. (A filter reads its
    // own index, bounded by a plan's or an audit's size, and sorts that.)
    let (plans, q) = if audit.is_none() {
        let desc = q.sort_dir == Dir::Desc;
        let page = state.plans.plans_page(q.sort_key, q.marker, desc, q.limit, show_deleted).await?;
        (page, ListQuery { marker: None, ..q })
    } else {
        (state.plans.plans(audit, show_deleted).await?, q)
    };
    let rows = plans
        .iter()
        .map(|p| Row {
            position: q.sort_key.position(p),
            uuid: p.uuid,
            shown: PlanView::new(p, &host, version, form),
        })
        .collect();
    let filters = [("audit_uuid", audit)];
    let (action_plans, next) = collection(rows, &q, "ActionPlan", (&host, path), &filters)?;
    Ok(Json(PlanPage { action_plans, next }))
}

#[utoipa::path(get, path = "/v1/action_plans/{uuid}", tag = "action_plans", operation_id = "action_plan_show",
    params(("uuid" = uuid::Uuid, Path, description = "The plan's uuid"), super::version::WatcherHeaders),
    responses((status = 200, description = "The plan", body = PlanView)))]
pub(super) async fn show(
    State(state): State<Service>,
    PathParam(uuid): PathParam,
    version: Version,
    ShowDeleted(show_deleted): ShowDeleted,
    HostUrl(host): HostUrl,
) -> Result<Json<PlanView>, ApiError> {
    let uuid = parse_uuid("action_plan_uuid", &uuid)?;
    let plan = state.plans.plan(uuid, show_deleted).await?;
    Ok(Json(PlanView::new(&plan, &host, version, Form::Detail)))
}

#[utoipa::path(post, path = "/v1/action_plans", tag = "action_plans", operation_id = "action_plan_create",
    params(super::version::WatcherHeaders), request_body = crate::plans::NewPlan,
    responses((status = 201, description = "Stored, RECOMMENDED, with its actions", body = PlanView,
        headers(("Location" = String, description = "The new plan's URL")))))]
pub(super) async fn create(
    State(state): State<Service>,
    version: Version,
    HostUrl(host): HostUrl,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let new: NewPlan = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request(format!("Invalid action plan: {e}")))?;
    let (plan, actions) = state.plans.create(new).await?;
    let location = format!("{host}/v1/action_plans/{}", plan.uuid);
    let body = PlanView::with_actions(&plan, &actions, &host, version);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(body)).into_response())
}

#[utoipa::path(patch, path = "/v1/action_plans/{uuid}", tag = "action_plans", operation_id = "action_plan_update",
    params(("uuid" = uuid::Uuid, Path, description = "The plan's uuid"), super::version::WatcherHeaders),
    request_body = Vec<super::patch::PatchOperation>,
    responses((status = 200, description = "The plan after the state change", body = PlanView)))]
pub(super) async fn patch(
    State(state): State<Service>,
    PathParam(uuid): PathParam,
    version: Version,
    HostUrl(host): HostUrl,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<PlanView>, ApiError> {
    let uuid = parse_uuid("action_plan_uuid", &uuid)?;
    let patch_body = body.clone();
    let plan = state
        .plans
        .patch(uuid, move |plan| {
            let doc = Map::from_iter([("state".to_string(), json!(plan.state.as_str()))]);
            let fields = patch::apply(&body, doc)?;
            let wanted = patch::string_field(&body, &fields, "state")?;
            PlanState::parse(wanted).ok_or_else(|| patch::refused(&body, format!("Invalid state: {wanted}")))
        })
        .await
        .map_err(|e| match e {
            PlanError::Lifecycle(LifecycleError::Transition(t)) => patch::refused(&patch_body, t).into(),
            other => ApiError::from(other),
        })?;
    Ok(Json(PlanView::new(&plan, &host, version, Form::Detail)))
}

#[utoipa::path(post, path = "/v1/action_plans/{uuid}/start", tag = "action_plans", operation_id = "action_plan_start",
    params(("uuid" = uuid::Uuid, Path, description = "The plan's uuid"), super::version::WatcherHeaders),
    responses((status = 200, description = "PENDING; the applier runs it", body = PlanView)))]
pub(super) async fn start(
    State(state): State<Service>,
    PathParam(uuid): PathParam,
    version: Version,
    HostUrl(host): HostUrl,
) -> Result<Json<PlanView>, ApiError> {
    let uuid = parse_uuid("action_plan_uuid", &uuid)?;
    let plan = state.plans.start(uuid).await?;
    Ok(Json(PlanView::new(&plan, &host, version, Form::Detail)))
}

#[utoipa::path(delete, path = "/v1/action_plans/{uuid}", tag = "action_plans", operation_id = "action_plan_delete",
    params(("uuid" = uuid::Uuid, Path, description = "The plan's uuid")),
    responses((status = 204, description = "Soft-deleted with its actions")))]
pub(super) async fn delete(
    State(state): State<Service>,
    PathParam(uuid): PathParam,
) -> Result<StatusCode, ApiError> {
    let uuid = parse_uuid("action_plan_uuid", &uuid)?;
    state.plans.delete(uuid).await?;
    Ok(StatusCode::NO_CONTENT)
}
