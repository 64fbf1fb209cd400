//! `/v1/plugins` (our addition): list the active inverters, upload one for
//! an action type (`PUT`, the component's bytes as the body), remove an
//! upload. Uploads are stored durably before they become active and are
//! loaded again at start (see `service::uploads`).

use super::error::ApiError;
use super::extract::{body_rejection, media_type, PathParam};
use crate::plugins::{valid_action_type, Active, Source};
use crate::service::{Service, MAX_PLUGIN_BYTES};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// Where a plugin came from.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PluginSource {
    /// `upload` or `directory`.
    pub kind: String,
    /// For `directory`: the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
}

/// An active inverter plugin.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = Plugin)]
pub struct PluginView {
    /// The action type it inverts.
    pub action_type: String,
    /// Its version.
    pub plugin_version: String,
    /// What it does.
    pub description: String,
    /// The WIT contract it implements.
    pub contract_version: String,
    /// sha256 of the component.
    pub sha256: String,
    /// Which code its calls run: `optimized` (Cranelift), or `baseline`
    /// (Winch) until the optimized code compiled in the background is
    /// swapped in (`--plugin-compile`).
    #[schema(pattern = "^(optimized|baseline)$")]
    pub code: String,
    /// Bytes.
    pub size: u64,
    /// Where it came from.
    pub source: PluginSource,
    /// When it was loaded.
    pub loaded_at: String,
    /// The JSON Schema of the type's parameters.
    pub schema: Value,
}

/// The active plugins.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PluginList {
    /// One per action type.
    pub plugins: Vec<PluginView>,
}

impl PluginView {
    /// The view of an active plugin.
    pub fn new(a: &Active) -> PluginView {
        let m = a.plugin.metadata();
        let source = match &a.source {
            Source::Directory { file } => {
                PluginSource { kind: "directory".into(), file: Some(file.display().to_string()) }
            }
            Source::Upload => PluginSource { kind: "upload".into(), file: None },
        };
        PluginView {
            action_type: m.action_type.clone(),
            plugin_version: m.plugin_version.clone(),
            description: m.description.clone(),
            contract_version: a.plugin.contract_version().to_string(),
            sha256: a.plugin.sha256().to_string(),
            code: if a.plugin.optimized() { "optimized" } else { "baseline" }.into(),
            size: a.plugin.size() as u64,
            source,
            loaded_at: super::views::ts(&a.loaded_at),
            schema: m.parameters_schema.clone(),
        }
    }
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
    responses((status = 200, description = "The active inverters", body = PluginList)))]
pub(super) async fn list(State(state): State<Service>) -> Json<PluginList> {
    let snapshot = state.registry.snapshot();
    Json(PluginList { plugins: snapshot.values().map(PluginView::new).collect() })
}

#[utoipa::path(get, path = "/v1/plugins/{action_type}", tag = "plugins", operation_id = "plugin_show",
    params(("action_type" = String, Path, description = "The action type", pattern = "^[a-z][a-z0-9_]{0,63}$")),
    responses((status = 200, description = "The type's active inverter", body = PluginView)))]
pub(super) async fn show(
    State(state): State<Service>,
    PathParam(ty): PathParam,
) -> Result<Json<PluginView>, ApiError> {
    let ty = action_type(ty)?;
    let snapshot = state.registry.snapshot();
    let active =
        snapshot.get(&ty).ok_or_else(|| ApiError::not_found(format!("No plugin inverts `{ty}`.")))?;
    Ok(Json(PluginView::new(active)))
}

#[utoipa::path(put, path = "/v1/plugins/{action_type}", tag = "plugins", operation_id = "plugin_upload",
    params(("action_type" = String, Path, description = "The action type the component inverts", pattern = "^[a-z][a-z0-9_]{0,63}$")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "The component's bytes (Content-Type application/wasm or application/octet-stream)"),
    responses(
        (status = 200, description = "Replaced an upload", body = PluginView),
        (status = 201, description = "Stored and active", body = PluginView)))]
pub(super) async fn upload(
    State(state): State<Service>,
    PathParam(ty): PathParam,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<PluginView>), ApiError> {
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
    Ok((status, Json(PluginView::new(&active))))
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
