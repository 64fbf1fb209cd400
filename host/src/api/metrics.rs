//! `GET /metrics` (Prometheus text) and the middleware that counts every
//! request by route template, method and status, with its latency.
//!
//! The route template is known only after routing, so a route layer
//! ([`mark_route`]) leaves it on the response for the outer layer
//! ([`count`]) that times the whole request, rejections by the outer
//! layers (bounds, `Host` checks) included, as route `unmatched`.

use crate::metrics::METRICS;
use crate::service::Service;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rollback_store::PlanState;
use std::time::Instant;

/// The matched route's template, carried on the response.
#[derive(Clone)]
struct RouteTemplate(String);

/// Route layer: tags the response with the matched route template.
pub async fn mark_route(matched: Option<MatchedPath>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    if let Some(m) = matched {
        resp.extensions_mut().insert(RouteTemplate(m.as_str().to_string()));
    }
    resp
}

/// The method as a metric label: one of HTTP's standard methods, or
/// `OTHER`. The counter runs before anything refuses a request, and hyper
/// accepts any token as a method: labelled verbatim, made-up methods would
/// each add a series forever (memory an unauthenticated caller controls).
fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method as M;
    match *method {
        M::GET => "GET",
        M::HEAD => "HEAD",
        M::POST => "POST",
        M::PUT => "PUT",
        M::PATCH => "PATCH",
        M::DELETE => "DELETE",
        M::OPTIONS => "OPTIONS",
        M::TRACE => "TRACE",
        M::CONNECT => "CONNECT",
        _ => "OTHER",
    }
}

/// Outer layer: counts and times every request.
pub async fn count(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = method_label(req.method());
    let resp = next.run(req).await;
    let route = resp.extensions().get::<RouteTemplate>().map_or("unmatched", |r| r.0.as_str());
    METRICS.request(route, method, resp.status().as_u16(), start.elapsed().as_secs_f64());
    resp
}

/// `GET /metrics`: every series, the store gauges refreshed when stale.
#[utoipa::path(get, path = "/metrics", tag = "meta", operation_id = "metrics",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain", body = String)))]
pub(super) async fn metrics(State(state): State<Service>) -> Response {
    if METRICS.gauges_stale() {
        let store = state.store.clone();
        let counted = tokio::task::spawn_blocking(move || -> Result<_, rollback_store::StoreError> {
            let mut counts: Vec<(&str, i64)> = PlanState::ALL.iter().map(|s| (s.as_str(), 0)).collect();
            for plan in store.plans()?.iter().filter(|p| p.deleted_at.is_none()) {
                if let Some(c) = counts.iter_mut().find(|(s, _)| *s == plan.state.as_str()) {
                    c.1 += 1;
                }
            }
            Ok((counts, store.size_on_disk()?))
        })
        .await;
        match counted {
            Ok(Ok((counts, size))) => METRICS.set_store(&counts, size),
            Ok(Err(e)) => tracing::warn!("metrics: cannot count the store: {e}"),
            Err(e) => tracing::warn!("metrics: counting the store failed: {e}"),
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], METRICS.encode()).into_response()
}
