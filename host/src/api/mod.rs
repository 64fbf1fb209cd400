//! The HTTP API (axum): Watcher's v1 resources and our additions. HTTP
//! only: each handler parses the request, calls one operation of the
//! [`Service`] (mostly [`crate::plans::Plans`]), and renders the answer.
//!
//! Every route is declared once, in `routes` (handler, OpenAPI entry,
//! policy rule). Every request gets a request id (`request_id`), then passes the bounds (`serve`: in-flight cap, deadline), the
//! `Host` check, microversion negotiation (`version`), a 1 MiB body limit,
//! a panic guard, and after routing the policy check (`guard`); every error
//! is an [`ApiError`] in Watcher's body.
//! Resources: `root` (version documents), `action_plans`, `actions`,
//! `rollback`, `graph` (a plan's picture), `plugins`, `cloud` (the
//! simulated cloud), `GET /healthz`, `GET /metrics` (`metrics`) and the
//! read-only web page `GET /ui` (`ui`). `forwarded` believes a trusted
//! proxy's `X-Forwarded-*` headers.

mod action_plans;
mod actions;
mod cloud;
mod error;
mod extract;
mod forwarded;
mod graph;
mod guard;
mod import;
mod list;
mod metrics;
pub mod openapi;
mod patch;
mod plugins;
mod request_id;
mod rollback;
mod root;
pub mod routes;
mod serve;
mod ui;
mod version;
pub mod views;

pub use error::ApiError;
use extract::MAX_BODY_BYTES;
pub use serve::Bounds;

use crate::auth::Access;
use crate::service::Service;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};

/// The service's routes and middleware, guarded by `access`, bounded by
/// `bounds`.
pub fn router(state: Service, access: Access, bounds: &Bounds) -> Router {
    let (routes, _, _) = routes::build(Default::default());
    routes
        .fallback(|| async { ApiError::not_found("The resource could not be found.") })
        .route_layer(axum::middleware::from_fn_with_state(access.clone(), guard::authorize))
        .route_layer(axum::middleware::from_fn(metrics::mark_route))
        .method_not_allowed_fallback(|| async {
            ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "Method not allowed.")
        })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn(version::negotiate))
        .layer(axum::middleware::from_fn_with_state(access, guard::hosts))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(panic_response))
        .layer(axum::middleware::from_fn_with_state(serve::RequestBounds::new(bounds), serve::bound))
        .layer(axum::middleware::from_fn(extract::declared_length))
        .layer(axum::middleware::from_fn_with_state(
            forwarded::TrustedProxies::new(&bounds.trusted_proxies),
            forwarded::forwarded,
        ))
        .layer(axum::middleware::from_fn(metrics::count))
        .layer(tower_http::trace::TraceLayer::new_for_http().make_span_with(request_id::span))
        .layer(tower_http::request_id::PropagateRequestIdLayer::new(request_id::HEADER.clone()))
        .layer(tower_http::request_id::SetRequestIdLayer::new(
            request_id::HEADER.clone(),
            request_id::MakeReqId,
        ))
        .layer(axum::middleware::from_fn(request_id::drop_malformed))
        .with_state(state)
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    ApiError::internal("a request handler panicked").into_response()
}

/// Liveness: the process answers, the store reads, and the plugins loaded.
#[utoipa::path(get, path = "/healthz", tag = "meta", operation_id = "healthz",
    responses((status = 200, description = "Alive: the store reads", body = Health)))]
pub(super) async fn healthz(State(state): State<Service>) -> Result<Json<Health>, ApiError> {
    state.store_reads().await?;
    Ok(Json(Health { status: "ok".into(), plugins: state.registry.snapshot().keys().cloned().collect() }))
}

/// Liveness.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// The action types with an active inverter.
    pub plugins: Vec<String>,
}

/// Serves `router(state, access, bounds)` on `listener` until `shutdown`
/// resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Service,
    access: Access,
    bounds: &Bounds,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve::serve(listener, router(state, access, bounds), bounds, shutdown).await
}
