//! The HTTP API (axum). For now only `GET /healthz`; the Watcher v1
//! resources are added by the store/API work.

use crate::plugins::LoadedPlugin;
use axum::{extract::State, routing::get, Json, Router};
use std::collections::BTreeMap;
use std::sync::Arc;

/// What every handler can reach.
#[derive(Clone, Default)]
pub struct AppState {
    /// The active inverter per action type.
    pub plugins: Arc<BTreeMap<String, LoadedPlugin>>,
}

/// The service's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .with_state(state)
}

/// Liveness: the process answers and says how many plugins it has loaded.
async fn healthz(State(state): State<AppState>) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "status": "ok",
        "plugins": state.plugins.keys().collect::<Vec<_>>(),
    }))
}

/// Serves `router(state)` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
