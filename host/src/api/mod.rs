//! The HTTP API (axum): Watcher's v1 resources and our additions.
//!
//! Every request passes microversion negotiation (`version`), a 1 MiB body
//! limit and a panic guard; every error is an [`ApiError`] in Watcher's body.
//! Resources: `root` (version documents), `action_plans`, `actions`,
//! `cloud` (the simulated cloud) and `GET /healthz`.

mod action_plans;
mod actions;
mod cloud;
mod error;
mod extract;
mod list;
mod new_plan;
mod patch;
mod plugins;
mod rollback;
mod root;
mod version;
mod views;

pub use error::ApiError;
pub use extract::MAX_BODY_BYTES;
pub use plugins::{BLOB_PREFIX, MAX_PLUGIN_BYTES};

use crate::applier::Applier;
use crate::cloud::simulated::Simulated;
use crate::plugins::Registry;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rollback_store::Store;
use std::sync::Arc;

/// Watcher's `api.max_limit`: the largest page a list returns.
pub const MAX_LIMIT: usize = 1000;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Plans and actions.
    pub store: Store,
    /// The active inverter per action type.
    pub registry: Registry,
    /// Largest page size.
    pub max_limit: usize,
    /// Runs started plans.
    pub applier: Applier,
    /// The simulated cloud, when that is the driver.
    pub cloud: Option<Simulated>,
    /// How long after finishing a plan may be rolled back.
    pub rollback_window: std::time::Duration,
}

/// The default rollback window: plans finished within the last hour, as in
/// Watcher's approved spec.
pub const DEFAULT_ROLLBACK_WINDOW: std::time::Duration = std::time::Duration::from_secs(3600);

impl AppState {
    /// State over `store` with `plugins`, the simulated cloud `cloud` as the
    /// applier's driver, and Watcher's default page cap.
    pub fn new(store: Store, registry: Registry, cloud: Simulated, concurrency: usize) -> Self {
        let applier = Applier::new(store.clone(), Arc::new(cloud.clone()), concurrency);
        AppState {
            store,
            registry,
            max_limit: MAX_LIMIT,
            applier,
            cloud: Some(cloud),
            rollback_window: DEFAULT_ROLLBACK_WINDOW,
        }
    }
}

/// Runs blocking store work off the async threads.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f).await.map_err(ApiError::internal)?
}

/// The service's routes and middleware.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .merge(root::routes())
        .merge(action_plans::routes())
        .merge(actions::routes())
        .merge(cloud::routes())
        .merge(rollback::routes())
        .merge(plugins::routes())
        .fallback(|| async { ApiError::not_found("The resource could not be found.") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed.")
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(version::negotiate))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("a request handler panicked").into_response()
}

/// Liveness: the process answers, the store reads, and the plugins loaded.
async fn healthz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let store = state.store.clone();
    blocking(move || Ok(store.plan(uuid::Uuid::nil())?)).await?;
    Ok(Json(serde_json::json!({
        "status": "ok",
        "plugins": state.registry.snapshot().keys().collect::<Vec<_>>(),
    })))
}

/// Serves `router(state)` on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}
