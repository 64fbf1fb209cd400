//! `GET /v1/cloud` and `PUT /v1/cloud` (our additions): the simulated
//! cloud's state, to inspect what plans did and to set it up for tests.

use super::error::ApiError;
use super::extract::JsonBody;
use super::{blocking, AppState};
use crate::cloud::simulated::{CloudError, Simulated};
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::Value;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/v1/cloud", get(show).put(replace))
}

impl From<CloudError> for ApiError {
    fn from(e: CloudError) -> Self {
        match e {
            CloudError::Invalid(m) => ApiError::bad_request(format!("Invalid cloud: {m}")),
            CloudError::Store(s) => s.into(),
        }
    }
}

fn simulated(state: &AppState) -> Result<Simulated, ApiError> {
    state.cloud.clone().ok_or_else(|| ApiError::not_found("This server does not run the simulated cloud."))
}

async fn show(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let cloud = simulated(&state)?;
    Ok(Json(blocking(move || Ok(cloud.get()?)).await?))
}

async fn replace(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let cloud = simulated(&state)?;
    let stored = blocking(move || Ok(cloud.put(body)?)).await?;
    tracing::info!("simulated cloud replaced");
    Ok(Json(stored))
}
