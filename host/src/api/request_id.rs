//! Request ids, as oslo.middleware's `request_id` gives them to OpenStack
//! services: every request has `X-Openstack-Request-Id: req-<uuid>` —
//! the caller's own when it is well-formed, a new one otherwise — echoed in
//! the answer and carried by every log line of that request (the trace
//! span's `request_id` field).

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::request_id::{MakeRequestId, RequestId};

/// The header.
pub static HEADER: HeaderName = HeaderName::from_static("x-openstack-request-id");

/// Whether `v` is `req-` followed by a lower-case hyphenated uuid.
pub fn well_formed(v: &str) -> bool {
    v.strip_prefix("req-").is_some_and(|u| {
        u.len() == 36 && uuid::Uuid::parse_str(u).is_ok() && !u.bytes().any(|b| b.is_ascii_uppercase())
    })
}

/// Makes `req-<uuid4>`.
#[derive(Clone, Copy, Default)]
pub struct MakeReqId;

impl MakeRequestId for MakeReqId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        HeaderValue::from_str(&format!("req-{}", uuid::Uuid::new_v4())).ok().map(RequestId::new)
    }
}

/// Drops a caller's request id that is not well-formed, so that a new one
/// is made (runs before `SetRequestIdLayer`).
pub async fn drop_malformed(mut req: Request, next: Next) -> Response {
    let bad = req.headers().get(&HEADER).is_some_and(|v| !v.to_str().is_ok_and(well_formed));
    if bad {
        req.headers_mut().remove(&HEADER);
    }
    next.run(req).await
}

/// The trace span of a request: its id, method and path.
pub fn span(req: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let id = req.headers().get(&HEADER).and_then(|v| v.to_str().ok()).unwrap_or("-");
    tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_oslo_shaped_ids_are_kept() {
        assert!(well_formed("req-6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a01"));
        for bad in [
            "6f1c0c4e-4d1b-4a43-9e2a-1b7f8a2f0a01",
            "req-",
            "req-xyz",
            "req-6F1C0C4E-4D1B-4A43-9E2A-1B7F8A2F0A01",
        ] {
            assert!(!well_formed(bad), "{bad}");
        }
    }
}
