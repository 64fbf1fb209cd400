//! `POST /v1/action_plans/{uuid}/rollback`: the endpoint this project
//! exists for. Body optional: `{"dry_run", "allow_partial", "auto_start"}`.

use super::error::ApiError;
use super::extract::{body_bytes, parse_json, parse_uuid, HostUrl, PathParam};
use super::version::Version;
use super::views::{self, Form};
use super::AppState;
use crate::rollback::{Options, Planner, RollbackError};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/v1/action_plans/{uuid}/rollback", post(rollback))
}

impl From<RollbackError> for ApiError {
    fn from(e: RollbackError) -> Self {
        match e {
            RollbackError::NotFound(_) => ApiError::not_found(e.to_string()),
            RollbackError::Plugin { .. } | RollbackError::InvalidInverse { .. } | RollbackError::Cycle => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
            }
            RollbackError::Store(s) => s.into(),
            _ => ApiError::bad_request(e.to_string()),
        }
    }
}

async fn rollback(
    State(state): State<AppState>,
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
    let worker = state.clone();
    let planned = tokio::task::spawn_blocking(move || {
        // The versions active now serve the whole rollback, whatever changes meanwhile.
        let plugins = worker.registry.plugins();
        let schema_for = |t: &str| crate::action_types::schema(&plugins, t);
        Planner {
            store: &worker.store,
            plugins: &plugins,
            window: worker.rollback_window,
            schema_for: &schema_for,
        }
        .rollback(uuid, options)
    })
    .await
    .map_err(ApiError::internal)??;
    if options.auto_start && !options.dry_run {
        state.applier.launch(planned.plan.uuid);
    }
    let mut body = views::plan(&planned.plan, &host, version, Form::Detail);
    body["actions"] =
        planned.actions.iter().map(|a| views::action(a, &host, version, Form::Detail)).collect();
    body["not_inverted"] =
        planned.not_inverted.iter().map(|(u, t)| json!({"uuid": u, "action_type": t})).collect();
    body["dry_run"] = json!(options.dry_run);
    Ok(Json(body))
}
