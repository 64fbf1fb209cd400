//! `GET /v1/cloud` and `PUT /v1/cloud` (our additions): the simulated
//! cloud's state, to inspect what plans did and to set it up for tests.
//! With another driver (`--driver openstack`) both answer 409: the cloud is
//! the real one, seen through its own APIs.

use super::error::ApiError;
use super::extract::JsonBody;
use crate::cloud::simulated::Simulated;
use crate::service::Service;
use axum::extract::State;
use axum::Json;
use serde_json::Value;

#[utoipa::path(get, path = "/v1/cloud", tag = "cloud", operation_id = "cloud_show",
    responses((status = 200, description = "The simulated cloud's document", body = Object)))]
pub(super) async fn show(State(state): State<Service>) -> Result<Json<Value>, ApiError> {
    let cloud = simulated(&state)?;
    let now = tokio::task::spawn_blocking(move || cloud.get()).await.map_err(ApiError::internal)??;
    Ok(Json(now))
}

#[utoipa::path(put, path = "/v1/cloud", tag = "cloud", operation_id = "cloud_replace",
    request_body(content = Object, description = "The new simulated cloud document"),
    responses((status = 200, description = "The stored document", body = Object)))]
pub(super) async fn replace(
    State(state): State<Service>,
    JsonBody(body): JsonBody<Value>,
) -> Result<Json<Value>, ApiError> {
    let cloud = simulated(&state)?;
    let stored = tokio::task::spawn_blocking(move || cloud.put(body)).await.map_err(ApiError::internal)??;
    tracing::info!("simulated cloud replaced");
    Ok(Json(stored))
}

/// The simulated cloud; refuses when the applier does not act on it.
fn simulated(state: &Service) -> Result<Simulated, ApiError> {
    if let Some(cloud) = &state.cloud {
        return Ok(cloud.clone());
    }
    Err(ApiError::conflict(
        "this service acts on an OpenStack cloud (--driver openstack); /v1/cloud is the simulated cloud's, which is not in use",
    ))
}
