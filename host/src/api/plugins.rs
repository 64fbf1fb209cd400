//! `/v1/plugins` (our addition): list the active inverters, upload one for
//! an action type (`PUT`, the component's bytes as the body), remove an
//! upload. Uploads are stored durably before they become active and are
//! loaded again at start.

use super::error::ApiError;
use super::extract::{body_rejection, PathParam};
use super::AppState;
use crate::plugins::{valid_action_type, Active, RegistryError, Source};
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use rollback_store::StoreError;
use serde_json::{json, Value};

/// The largest component accepted by `PUT` (8 MiB).
pub const MAX_PLUGIN_BYTES: usize = 8 << 20;

/// Store blob names of uploads: `plugin/<action_type>`.
pub const BLOB_PREFIX: &str = "plugin/";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/plugins", get(list))
        .route("/v1/plugins/", get(list))
        .route("/v1/plugins/{action_type}", get(show).put(upload).delete(remove))
        .layer(DefaultBodyLimit::max(MAX_PLUGIN_BYTES))
}

fn view(a: &Active) -> Value {
    let m = a.plugin.metadata();
    json!({
        "action_type": m.action_type,
        "plugin_version": m.plugin_version,
        "description": m.description,
        "contract_version": a.plugin.contract_version(),
        "sha256": a.plugin.sha256(),
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

async fn list(State(state): State<AppState>) -> Json<Value> {
    let snapshot = state.registry.snapshot();
    Json(json!({ "plugins": snapshot.values().map(view).collect::<Vec<_>>() }))
}

async fn show(State(state): State<AppState>, PathParam(ty): PathParam) -> Result<Json<Value>, ApiError> {
    let ty = action_type(ty)?;
    let snapshot = state.registry.snapshot();
    let active =
        snapshot.get(&ty).ok_or_else(|| ApiError::not_found(format!("No plugin inverts `{ty}`.")))?;
    Ok(Json(view(active)))
}

async fn upload(
    State(state): State<AppState>,
    PathParam(ty): PathParam,
    headers: HeaderMap,
    body: Result<Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let ty = action_type(ty)?;
    let body = body.map_err(|r| body_rejection(r, MAX_PLUGIN_BYTES))?;
    let ct = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = ct.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence != "application/wasm" && essence != "application/octet-stream" {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Unsupported content type {ct:?}; send the component as application/wasm."),
        ));
    }
    let existed = state.registry.snapshot().get(&ty).is_some_and(|a| a.source == Source::Upload);
    let (registry, store, bytes, t) =
        (state.registry.clone(), state.store.clone(), body.to_vec(), ty.clone());
    let active = tokio::task::spawn_blocking(move || {
        // Check first (nothing changes if refused), store durably, then activate.
        let plugin = registry.check(&t, &bytes).map_err(|e| match e {
            RegistryError::NotPinned { .. } => {
                ApiError::new(StatusCode::FORBIDDEN, format!("Plugin refused: {e}"))
            }
            other => ApiError::bad_request(format!("Plugin refused: {other}")),
        })?;
        let name = format!("{BLOB_PREFIX}{t}");
        store.write(move |txn| {
            txn.put_blob(&name, bytes);
            Ok::<_, StoreError>(())
        })?;
        Ok::<_, ApiError>(registry.activate_upload(plugin))
    })
    .await
    .map_err(ApiError::internal)??;
    let status = if existed { StatusCode::OK } else { StatusCode::CREATED };
    Ok((status, Json(view(&active))))
}

async fn remove(State(state): State<AppState>, PathParam(ty): PathParam) -> Result<StatusCode, ApiError> {
    let ty = action_type(ty)?;
    let snapshot = state.registry.snapshot();
    match snapshot.get(&ty).map(|a| &a.source) {
        None => return Err(ApiError::not_found(format!("No plugin inverts `{ty}`."))),
        Some(Source::Directory { file }) => {
            return Err(ApiError::conflict(format!(
                "The plugin for `{ty}` comes from the plugins directory ({}); delete that file instead.",
                file.display()
            )))
        }
        Some(Source::Upload) => {}
    }
    let (registry, store) = (state.registry.clone(), state.store.clone());
    tokio::task::spawn_blocking(move || {
        let name = format!("{BLOB_PREFIX}{ty}");
        store.write(move |txn| {
            txn.delete_blob(&name);
            Ok::<_, StoreError>(())
        })?;
        registry.remove_upload(&ty);
        Ok::<_, ApiError>(())
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(StatusCode::NO_CONTENT)
}
