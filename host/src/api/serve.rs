//! The HTTP server loop and the request bounds: hyper with a timer, so a
//! client that sends its headers too slowly is cut off; a cap on open
//! connections (accepting waits while it is reached); a cap on requests in
//! flight (503 beyond it) and a deadline for each request (503 after it,
//! body reading included), both answered in Watcher's error body.

use super::error::ApiError;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;

/// How much of the server one client, and all of them, may hold (and
/// which proxies in front of it are believed).
#[derive(Debug, Clone, clap::Args)]
pub struct Bounds {
    /// Seconds a client has to send a request's headers (also the longest
    /// an idle keep-alive connection is kept).
    #[arg(long, env = "ROLLBACK_HEADER_TIMEOUT", default_value_t = 10)]
    pub header_timeout_s: u64,
    /// Seconds one request may take, reading its body included; 503 after.
    #[arg(long, env = "ROLLBACK_REQUEST_TIMEOUT", default_value_t = 60)]
    pub request_timeout_s: u64,
    /// Open connections at most; further clients wait to be accepted.
    #[arg(long, env = "ROLLBACK_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,
    /// Requests being served at once at most; more get 503 at once.
    #[arg(long, env = "ROLLBACK_MAX_REQUESTS", default_value_t = 256)]
    pub max_requests: usize,
    /// Reverse proxies (addresses or CIDR networks, repeatable) whose
    /// `X-Forwarded-Proto`/`X-Forwarded-Host` name the URLs in answers.
    #[arg(long = "trusted-proxy", env = "ROLLBACK_TRUSTED_PROXIES", value_delimiter = ',',
        value_parser = super::forwarded::parse_proxy)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            header_timeout_s: 10,
            request_timeout_s: 60,
            max_connections: 1024,
            max_requests: 256,
            trusted_proxies: Vec::new(),
        }
    }
}

/// What the per-request bound middleware needs.
#[derive(Clone)]
pub struct RequestBounds {
    in_flight: Arc<Semaphore>,
    timeout: Duration,
}

impl RequestBounds {
    /// From the configured bounds.
    pub fn new(b: &Bounds) -> Self {
        RequestBounds {
            in_flight: Arc::new(Semaphore::new(b.max_requests.max(1))),
            timeout: Duration::from_secs(b.request_timeout_s.max(1)),
        }
    }
}

/// Middleware: the in-flight cap and the request deadline.
pub async fn bound(State(b): State<RequestBounds>, req: Request, next: Next) -> Response {
    let Ok(_permit) = b.in_flight.clone().try_acquire_owned() else {
        let mut resp = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Too many requests in progress; try again shortly.",
        )
        .into_response();
        resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return resp;
    };
    match tokio::time::timeout(b.timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("The request took longer than {} s and was abandoned.", b.timeout.as_secs()),
        )
        .into_response(),
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets open
/// requests finish (up to the request timeout).
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    bounds: &Bounds,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let connections = Arc::new(Semaphore::new(bounds.max_connections.max(1)));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(Duration::from_secs(bounds.header_timeout_s.max(1)));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = connections.clone().acquire_owned() => p.expect("the semaphore is never closed"),
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // EMFILE and friends: wait a little rather than spin.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // Every request of the connection carries its peer address.
        let app = tower::util::MapRequest::new(
            app.clone(),
            move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(super::forwarded::Peer(peer));
                req
            },
        );
        let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
            drop(permit);
        });
    }
    let grace = Duration::from_secs(bounds.request_timeout_s.max(1));
    if tokio::time::timeout(grace, graceful.shutdown()).await.is_err() {
        tracing::warn!("connections still open after {} s; closing them", grace.as_secs());
    }
    Ok(())
}
