//! `/v1/actions`: list and detail (by plan or by audit), show, and PATCH to
//! skip a pending action (microversion 1.5).

use super::error::ApiError;
use super::extract::{parse_uuid, HostUrl, JsonBody, Params, PathParam, ShowDeleted};
use super::list::{collection, Dir, ListQuery, Row};
use super::patch;
use super::version::Version;
use super::views::{ActionPage, ActionView, Form};
use crate::lifecycle::LifecycleError;
use crate::plans::{ActionsOf, PlanError};
use crate::service::Service;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use rollback_store::ActionSortKey;
use rollback_store::ActionState;
use serde_json::{json, Map, Value};
use uuid::Uuid;

#[utoipa::path(get, path = "/v1/actions", tag = "actions", operation_id = "action_list",
    params(super::list::ListParams, super::list::ActionFilter, super::version::WatcherHeaders),
    responses((status = 200, description = "A page of actions (short form)", body = ActionPage)))]
pub(super) async fn list(
    state: State<Service>,
    params: Params,
    v: Version,
    sd: ShowDeleted,
    host: HostUrl,
) -> Result<Json<ActionPage>, ApiError> {
    list_impl(state, params, v, sd, host, Form::Short, "/v1/actions").await
}

#[utoipa::path(get, path = "/v1/actions/detail", tag = "actions", operation_id = "action_detail",
    params(super::list::ListParams, super::list::ActionFilter, super::version::WatcherHeaders),
    responses((status = 200, description = "A page of actions (detail form)", body = ActionPage)))]
pub(super) async fn detail(
    state: State<Service>,
    params: Params,
    v: Version,
    sd: ShowDeleted,
    host: HostUrl,
) -> Result<Json<ActionPage>, ApiError> {
    list_impl(state, params, v, sd, host, Form::Detail, "/v1/actions/detail").await
}

async fn list_impl(
    State(state): State<Service>,
    params: Params,
    version: Version,
    ShowDeleted(show_deleted): ShowDeleted,
    HostUrl(host): HostUrl,
    form: Form,
    path: &str,
) -> Result<Json<ActionPage>, ApiError> {
    let q = ListQuery::<ActionSortKey>::parse(&params, state.max_limit)?;
    let by = |k: &str| -> Result<Option<Uuid>, ApiError> {
        match params.get(k).filter(|v| !v.is_empty()) {
            Some(v) => parse_uuid(k, v).map(Some),
            None => Ok(None),
        }
    };
    let (plan, audit) = (by("action_plan_uuid")?, by("audit_uuid")?);
    let of = match (plan, audit) {
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request("Only one of action_plan_uuid or audit_uuid may be given."))
        }
        (Some(p), None) => ActionsOf::Plan(p),
        (None, Some(a)) => ActionsOf::Audit(a),
        (None, None) => ActionsOf::All,
    };
    // No filter: one page from the store's sort index. (A filter reads its
    // own index, bounded by a plan's or an audit's size, and sorts that.)
    let (actions, q) = if matches!(of, ActionsOf::All) {
        let desc = q.sort_dir == Dir::Desc;
        let page = state.plans.actions_page(q.sort_key, q.marker, desc, q.limit, show_deleted).await?;
        (page, ListQuery { marker: None, ..q })
    } else {
        (state.plans.actions(of, show_deleted).await?, q)
    };
    let rows = actions
        .iter()
        .map(|a| Row {
            position: q.sort_key.position(a),
            uuid: a.uuid,
            shown: ActionView::new(a, &host, version, form),
        })
        .collect();
    let filters = [("action_plan_uuid", plan), ("audit_uuid", audit)];
    let (actions, next) = collection(rows, &q, "Action", (&host, path), &filters)?;
    Ok(Json(ActionPage { actions, next }))
}

#[utoipa::path(get, path = "/v1/actions/{uuid}", tag = "actions", operation_id = "action_show",
    params(("uuid" = uuid::Uuid, Path, description = "The action's uuid"), super::version::WatcherHeaders),
    responses((status = 200, description = "The action", body = ActionView)))]
pub(super) async fn show(
    State(state): State<Service>,
    PathParam(uuid): PathParam,
    version: Version,
    ShowDeleted(show_deleted): ShowDeleted,
    HostUrl(host): HostUrl,
) -> Result<Json<ActionView>, ApiError> {
    let uuid = parse_uuid("action_uuid", &uuid)?;
    let action = state.plans.action(uuid, show_deleted).await?;
    Ok(Json(ActionView::new(&action, &host, version, Form::Detail)))
}

/// Skips a PENDING action (and may set its `status_message`), while its
/// plan has not started.
#[utoipa::path(patch, path = "/v1/actions/{uuid}", tag = "actions", operation_id = "action_update",
    params(("uuid" = uuid::Uuid, Path, description = "The action's uuid"), super::version::WatcherHeaders),
    request_body = Vec<super::patch::PatchOperation>,
    responses((status = 200, description = "The action after the change (skip)", body = ActionView)))]
pub(super) async fn patch(
    State(state): State<Service>,
    PathParam(uuid): PathParam,
    version: Version,
    HostUrl(host): HostUrl,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<ActionView>, ApiError> {
    let uuid = parse_uuid("action_uuid", &uuid)?;
    if !version.at_least(5) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Operation not permitted: updating an action needs microversion 1.5 or later (OpenStack-API-Version: infra-optim 1.5).",
        ));
    }
    let patch_body = body.clone();
    let action = state
        .plans
        .skip_action(uuid, move |action| {
            let doc = Map::from_iter([
                ("state".to_string(), json!(action.state.as_str())),
                ("status_message".to_string(), json!(action.status_message)),
            ]);
            let fields = patch::apply(&body, doc)?;
            let wanted = patch::string_field(&body, &fields, "state")?;
            let message = match &fields["status_message"] {
                Value::Null => None,
                Value::String(s) if s.len() <= 1024 => Some(s.clone()),
                Value::String(_) => {
                    return Err(LifecycleError::Invalid(
                        "status_message is longer than 1024 characters".into(),
                    ))
                }
                _ => return Err(LifecycleError::Invalid("status_message must be a string or null".into())),
            };
            let to = ActionState::parse(wanted)
                .ok_or_else(|| patch::refused(&body, format!("Invalid state: {wanted}")))?;
            Ok((to, message))
        })
        .await
        .map_err(|e| match e {
            PlanError::Lifecycle(LifecycleError::Transition(t)) => patch::refused(&patch_body, t).into(),
            other => ApiError::from(other),
        })?;
    Ok(Json(ActionView::new(&action, &host, version, Form::Detail)))
}
