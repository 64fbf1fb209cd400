//! `/v1/plugins` (our addition): list the active inverters, upload one for
//! an action type (`PUT`, the component's bytes as the body), remove an
//! upload. Uploads are stored durably before they become active and are
//! loaded again at start (see `service::uploads`).

use super::error::ApiError;
use super::extract::{body_rejection, media_type, PathParam};
use crate::plugins::{valid_action_type, Active};
use crate::service::{Service, MAX_PLUGIN_BYTES};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde_json::{json, Value};

fn view(a: &Active) -> Value {
    let m = a.plugin.metadata();
    json!({
        "action_type": m.action_type,
        "plugin_version": m.plugin_version,
        "description": m.description,
        "contract_version": a.plugin.contract_version(),
        "sha256": a.plugin.sha256(),
        "code": if a.plugin.optimized() { "optimized" } else { "baseline" },
        "size": a.plugin.size(),
        "source": a.source,
        "loaded_at": super::views::ts(&a.loaded_at),
        "schema": m.parameters_schema,
    })
}

fn action_type(raw: String) -> Result<String, ApiError> {
    if valid_action_type(&raw) {
        Ok(raw)
    } else {
        Err(ApiError::bad_request(format!(
            "Invalid action type {raw:?}: 1-64 characters of a-z, 0-9 and _, starting with a letter."
        )))
    }
}

#[utoipa::path(get, path = "/v1/plugins", tag = "plugins", operation_id = "plugin_list",
    responses((status = 200, description = "The active inverters", body = crate::api::openapi::schemas::PluginList)))]
pub(super) async fn list(State(state): State<Service>) -> Json<Value> {
    let snapshot = state.registry.snapshot();
    Json(json!({ "plugins": snapshot.values().map(view).collect::<Vec<_>>() }))
}

#[utoipa::path(get, path = "/v1/plugins/{action_type}", tag = "plugins", operation_id = "plugin_show",
    params(("action_type" = String, Path, description = "The action type", pattern = "^[a-z][a-z0-9_]{0,63}$")),
    responses((status = 200, description = "The type's active inverter", body = crate::api::openapi::schemas::Plugin)))]
pub(super) async fn show(
    State(state): State<Service>,
    PathParam(ty): PathParam,
) -> Result<Json<Value>, ApiError> {
    let ty = action_type(ty)?;
    let snapshot = state.registry.snapshot();
    let active =
        snapshot.get(&ty).ok_or_else(|| ApiError::not_found(format!("No plugin inverts `{ty}`.")))?;
    Ok(Json(view(active)))
}

#[utoipa::path(put, path = "/v1/plugins/{action_type}", tag = "plugins", operation_id = "plugin_upload",
    params(("action_type" = String, Path, description = "The action type the component inverts", pattern = "^[a-z][a-z0-9_]{0,63}$")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The component's bytes (Content-Type application/wasm or application/octet-stream)"),
    responses(
        (status = 200, description = "Replaced an upload", body = crate::api::openapi::schemas::Plugin),
        (status = 201, description = "Stored and active", body = crate::api::openapi::schemas::Plugin)))]
pub(super) async fn upload(
    State(state): State<Service>,
    PathParam(ty): PathParam,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let ty = action_type(ty)?;
    let body = body.map_err(|r| body_rejection(r, MAX_PLUGIN_BYTES))?;
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !matches!(media_type(ct).as_str(), "application/wasm" | "application/octet-stream") {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Unsupported content type {ct:?}; send the component as application/wasm."),
        ));
    }
    let (active, replaced) = state.upload_plugin(ty, body.to_vec()).await?;
    let status = if replaced { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(view(&active))))
}

#[utoipa::path(delete, path = "/v1/plugins/{action_type}", tag = "plugins", operation_id = "plugin_remove",
    params(("action_type" = String, Path, description = "The action type", pattern = "^[a-z][a-z0-9_]{0,63}$")),
    responses((status = 204, description = "Removed; a file version of the type, if any, is active again")))]
pub(super) async fn remove(
    State(state): State<Service>,
    PathParam(ty): PathParam,
) -> Result<StatusCode, ApiError> {
    let ty = action_type(ty)?;
    state.remove_plugin(ty).await?;
    Ok(StatusCode::NO_CONTENT)
}
