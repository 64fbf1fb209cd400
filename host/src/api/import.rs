//! `POST /v1/action_plans/import`: take a live Watcher's RECOMMENDED action
//! plan (see [`crate::plans::import`]). Body: `{"action_plan_uuid": UUID,
//! "auto_start": false}`. Answers 201 with the stored plan (Watcher's uuid)
//! and its actions, started when `auto_start` is true.

use super::error::ApiError;
use super::extract::{HostUrl, JsonBody};
use super::version::Version;
use super::views::PlanView;
use crate::service::Service;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

/// The request body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImportRequest {
    /// Watcher's action plan (RECOMMENDED).
    pub action_plan_uuid: Uuid,
    /// Start the imported plan at once.
    #[serde(default)]
    pub auto_start: bool,
}

#[utoipa::path(post, path = "/v1/action_plans/import", tag = "action_plans", operation_id = "action_plan_import",
    params(super::version::WatcherHeaders), request_body = ImportRequest,
    responses((status = 201, description = "Imported (cancelled in Watcher), RECOMMENDED or started, with its actions; its `source` names Watcher's plan, audit, strategy and goal", body = PlanView,
        headers(("Location" = String, description = "The imported plan's URL (Watcher's uuid)")))))]
pub(super) async fn import(
    State(state): State<Service>,
    version: Version,
    HostUrl(host): HostUrl,
    JsonBody(body): JsonBody<Value>,
) -> Result<Response, ApiError> {
    let request: ImportRequest = serde_json::from_value(body)
        .map_err(|e| ApiError::bad_request(format!("Invalid import request: {e}")))?;
    let (mut plan, actions) = state.plans.import(state.watcher.clone(), request.action_plan_uuid).await?;
    if request.auto_start {
        plan = state.plans.start(plan.uuid).await?;
    }
    let location = format!("{host}/v1/action_plans/{}", plan.uuid);
    let body = PlanView::with_actions(&plan, &actions, &host, version);
    Ok((StatusCode::CREATED, [(header::LOCATION, location)], Json(body)).into_response())
}
