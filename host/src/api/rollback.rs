//! `POST /v1/action_plans/{uuid}/rollback`: the endpoint this project
//! exists for. Body optional: `{"dry_run", "allow_partial", "auto_start"}`.

use super::error::ApiError;
use super::extract::{body_bytes, parse_json, parse_uuid, HostUrl, PathParam};
use super::version::Version;
use super::views::{NotInverted, PlanView, UnknownOutcome};
use crate::metrics::METRICS;
use crate::rollback::Options;
use crate::service::Service;
use axum::extract::{Request, State};
use axum::Json;

#[utoipa::path(post, path = "/v1/action_plans/{uuid}/rollback", tag = "action_plans", operation_id = "action_plan_rollback",
    params(("uuid" = uuid::Uuid, Path, description = "The plan to roll back"), super::version::WatcherHeaders),
    request_body(content = Option<crate::rollback::Options>, description = "Optional"),
    responses((status = 200, description = "The rollback plan with its actions (stored unless dry_run)", body = PlanView)))]
pub(super) async fn rollback(
    State(state): State<Service>,
    PathParam(uuid): PathParam,
    version: Version,
    HostUrl(host): HostUrl,
    request: Request,
) -> Result<Json<PlanView>, ApiError> {
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
    let not_inverted =
        planned.not_inverted.into_iter().map(|(uuid, action_type)| NotInverted { uuid, action_type });
    let unknown = planned.unknown.into_iter().map(|(uuid, action_type, reason)| UnknownOutcome {
        uuid,
        action_type,
        reason,
    });
    Ok(Json(PlanView {
        not_inverted: Some(not_inverted.collect()),
        unknown: Some(unknown.collect()),
        dry_run: Some(options.dry_run),
        ..PlanView::with_actions(&planned.plan, &planned.actions, &host, version)
    }))
}
