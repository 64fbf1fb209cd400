//! The API's gate: who may call which route. Every route's guard (a policy
//! rule, or open) is declared with the route itself (`super::routes`); a
//! matched route missing from that table is refused (fail closed).
//!
//! [`hosts`] runs before routing: with `--auth none` it answers 400 to a
//! `Host` that is not loopback or configured (DNS rebinding) and 403 to a
//! state-changing request a browser marks as cross-site. [`authorize`]
//! runs after routing: it identifies the caller (`X-Auth-Token`) and checks
//! the route's rule, answering 401 (with `WWW-Authenticate`) or 403 in
//! Watcher's error body.

use super::error::ApiError;
use super::forwarded::Peer;
use super::routes::{guard_of, Guard};
use crate::auth::{Access, Denied, Mode};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Before routing: the `Host` and cross-site checks of `--auth none`.
pub async fn hosts(State(access): State<Access>, req: Request, next: Next) -> Response {
    if matches!(access.mode, Mode::None) {
        let host = req.headers().get(header::HOST).and_then(|h| h.to_str().ok()).or(req.uri().host());
        match host {
            Some(h) if access.host_allowed(h) => {}
            _ => {
                return ApiError::bad_request(
                    "Host not allowed: without authentication only loopback names (or --allowed-host names) are served.",
                )
                .into_response()
            }
        }
        if !req.method().is_safe() && cross_site(&req) {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "Cross-site requests may not change anything on an unauthenticated service.",
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// Whether a browser says this request comes from another site.
fn cross_site(req: &Request) -> bool {
    let h = req.headers();
    if let Some(site) = h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        if !matches!(site, "same-origin" | "none") {
            return true;
        }
    }
    match (
        h.get(header::ORIGIN).and_then(|v| v.to_str().ok()),
        h.get(header::HOST).and_then(|v| v.to_str().ok()),
    ) {
        (Some(origin), Some(host)) => origin.split_once("://").map(|(_, rest)| rest) != Some(host),
        (Some(_), None) => true,
        _ => false,
    }
}

/// After routing: identify the caller and check the route's rule.
pub async fn authorize(State(access): State<Access>, mut req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_string());
    let Some(route) = route else { return next.run(req).await };
    let rule = match guard_of(req.method(), &route) {
        Some(Guard::Open) => return next.run(req).await,
        Some(Guard::Policy(rule)) => rule.name(),
        None => {
            tracing::error!(method = %req.method(), %route, "no guard for this route; refused");
            return deny(&access, Denied::Forbidden("(unlisted route)"));
        }
    };
    let token = req.headers().get("x-auth-token").and_then(|v| v.to_str().ok());
    let identity = match access.identify(token).await {
        Ok(i) => i,
        Err(d) => {
            if let Denied::Unauthenticated = d {
                // At WARN, with the peer, for fail2ban-style tooling; never the token.
                let client = req.extensions().get::<Peer>().map(|p| p.0.ip().to_string()).unwrap_or_default();
                let token = if token.is_some() { "invalid" } else { "missing" };
                tracing::warn!(%client, method = %req.method(), %route, token, "authentication failed");
            }
            return deny(&access, d);
        }
    };
    if let Err(d) = access.authorize(rule, &identity) {
        tracing::info!(user = %identity.user, rule, "refused by policy");
        return deny(&access, d);
    }
    req.extensions_mut().insert(identity);
    // For the few handlers that check a second rule themselves (a graph's
    // dry run is a rollback's planning).
    req.extensions_mut().insert(access);
    next.run(req).await
}

fn deny(access: &Access, why: Denied) -> Response {
    let status = match why {
        Denied::Unauthenticated => StatusCode::UNAUTHORIZED,
        Denied::Forbidden(_) => StatusCode::FORBIDDEN,
        Denied::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    };
    let mut resp = ApiError::new(status, why.to_string()).into_response();
    if status == StatusCode::UNAUTHORIZED {
        let challenge = match &access.mode {
            Mode::Keystone(k) => format!("Keystone uri=\"{}\"", k.www_authenticate_uri()),
            _ => "Token realm=\"rollback-host\"".to_string(),
        };
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
    }
    resp
}
