//! `POST /v1/action_plans/{uuid}/rollback`: the endpoint this project
//! exists for. Body optional: `{"dry_run", "allow_partial", "auto_start"}`.

use super::error::ApiError;
use super::extract::{body_bytes, parse_json, parse_uuid, HostUrl, PathParam};
use super::version::Version;
use super::views;
use crate::metrics::METRICS;
use crate::rollback::Options;
use crate::service::Service;
use axum::extract::{Request, State};
use axum::Json;
use serde_json::{json, Value};

#[utoipa::path(post, path = "/v1/action_plans/{uuid}/rollback", tag = "action_plans", operation_id = "action_plan_rollback",
    params(("uuid" = uuid::Uuid, Path, description = "The plan to roll back"), crate::api::openapi::schemas::WatcherHeaders),
    request_body(content = Option<crate::rollback::Options>, description = "Optional"),
    responses((status = 200, description = "The rollback plan with its actions (stored unless dry_run)", body = crate::api::openapi::schemas::ActionPlan)))]
pub(super) async fn rollback(
    State(state): State<Service>,
    PathParam(uuid): PathParam,
    version: Version,
    HostUrl(host): HostUrl,
    request: Request,
) -> Result<Json<Value>, ApiError> {
    let uuid = parse_uuid("action_plan_uuid", &uuid)?;
    let options: Options = match body_bytes(request, &()).await? {
        Some(bytes) => parse_json(&bytes)?,
        None => Options::default(),
    };
    let planned = match state.plans.rollback(uuid, options).await {
        Ok(planned) => {
            METRICS.rollback(if options.dry_run { "dry_run" } else { "created" });
            planned
        }
        Err(e) => {
            let e = ApiError::from(e);
            METRICS.rollback(if e.status.is_client_error() { "refused" } else { "error" });
            return Err(e);
        }
    };
    let mut body = views::plan_with_actions(&planned.plan, &planned.actions, &host, version);
    body["not_inverted"] =
        planned.not_inverted.iter().map(|(u, t)| json!({"uuid": u, "action_type": t})).collect();
    body["unknown"] = planned
        .unknown
        .iter()
        .map(|(u, t, why)| json!({"uuid": u, "action_type": t, "reason": why}))
        .collect();
    body["dry_run"] = json!(options.dry_run);
    Ok(Json(body))
}
