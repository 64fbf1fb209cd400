//! Request extractors that fail in Watcher's error format: JSON bodies
//! (415 wrong type, 413 too large, 400 malformed), query parameters, the
//! negotiated version, the `X-Show-Deleted` header and the host URL.

use super::error::ApiError;
use super::version::{Version, MIN};
use crate::service::MAX_PLUGIN_BYTES;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// A JSON request body of type `T`.
pub struct JsonBody<T>(pub T);

/// A content type's essence: the media type without parameters, lower case
/// (`Application/JSON; charset=UTF-8` → `application/json`).
pub fn media_type(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

/// Is this a JSON content type (`application/json`, `…+json`)?
fn is_json(content_type: &str) -> bool {
    let essence = media_type(content_type);
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// The body as bytes, bounded; `None` when empty.
pub async fn body_bytes<S: Send + Sync>(
    req: Request,
    state: &S,
) -> Result<Option<axum::body::Bytes>, ApiError> {
    let content_type =
        req.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let bytes = axum::body::Bytes::from_request(req, state)
        .await
        .map_err(|rejection| body_rejection(rejection, MAX_BODY_BYTES))?;
    if bytes.is_empty() {
        return Ok(None);
    }
    match content_type {
        Some(ct) if is_json(&ct) => Ok(Some(bytes)),
        Some(ct) => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("Unsupported content type {ct:?}; send application/json."),
        )),
        None => Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Missing Content-Type; send application/json.",
        )),
    }
}

/// Answers 413 at once when a request declares (`Content-Length`) a body
/// more than twice as large as its route accepts — a component upload
/// (`PUT /v1/plugins/{type}`, [`MAX_PLUGIN_BYTES`]) or anything else
/// ([`MAX_BODY_BYTES`]) — instead of waiting for bytes that will be refused
/// anyway until the request's deadline. Runs before the in-flight cap.
pub async fn declared_length(
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let declared = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(len) = declared {
        let upload = req.method() == axum::http::Method::PUT && req.uri().path().starts_with("/v1/plugins/");
        let limit = if upload { MAX_PLUGIN_BYTES } else { MAX_BODY_BYTES };
        // Up to twice the limit the body is read (to the limit) and refused
        // as it arrives, so that a client still writing it reads the 413
        // rather than a reset connection; far beyond, it is not worth
        // waiting for.
        if len > 2 * limit as u64 {
            return ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("Request body is larger than the limit of {limit} bytes."),
            )
            .into_response();
        }
    }
    next.run(req).await
}

/// A body that could not be read: 413 past `limit`, else 400.
pub fn body_rejection(rejection: axum::extract::rejection::BytesRejection, limit: usize) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("Request body is larger than the limit of {limit} bytes."),
        )
    } else {
        ApiError::bad_request(format!("Cannot read the request body: {rejection}"))
    }
}

/// Parses JSON text into `T` with a 400 that says where it went wrong.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("Malformed JSON in the request body: {e}")))
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match body_bytes(req, state).await? {
            Some(bytes) => parse_json(&bytes).map(JsonBody),
            None => Err(ApiError::bad_request("The request body is empty; a JSON document is required.")),
        }
    }
}

/// The single `{uuid}` segment of a route, undecoded-safe: a segment that is
/// not valid percent-encoded UTF-8 is a 400 in Watcher's form.
pub struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<String>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(p)| PathParam(p))
            .map_err(|e| ApiError::bad_request(format!("Invalid path: {e}")))
    }
}

/// Parses a uuid from a path or query value, naming the field when wrong.
pub fn parse_uuid(field: &str, value: &str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(value).map_err(|_| {
        ApiError::bad_request(format!(
            "Invalid input for field/attribute {field}. Value: '{value}'. Expected a UUID."
        ))
    })
}

/// Query parameters as a list of pairs.
pub struct Params(pub Vec<(String, String)>);

impl Params {
    /// The last value of `key`, if any.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map(|Query(v)| Params(v))
            .map_err(|e| ApiError::bad_request(format!("Invalid query string: {e}")))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Version {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get::<Version>().copied().unwrap_or(MIN))
    }
}

/// Whether `X-Show-Deleted: True` asks to see soft-deleted records.
pub struct ShowDeleted(pub bool);

impl<S: Send + Sync> FromRequestParts<S> for ShowDeleted {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let v = parts.headers.get("x-show-deleted").and_then(|v| v.to_str().ok()).unwrap_or("");
        Ok(ShowDeleted(matches!(v.to_ascii_lowercase().as_str(), "true" | "1" | "yes")))
    }
}

/// `SCHEME://HOST` as the client addressed us, for `links`: from a
/// trusted proxy's `X-Forwarded-*` (see `forwarded`), else `http://` and
/// the `Host` header.
pub struct HostUrl(pub String);

impl<S: Send + Sync> FromRequestParts<S> for HostUrl {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let host = parts
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .filter(|h| super::forwarded::valid_host(h))
            .unwrap_or("localhost");
        Ok(match parts.extensions.get::<super::forwarded::Origin>() {
            Some(o) => HostUrl(format!("{}://{}", o.scheme, o.host.as_deref().unwrap_or(host))),
            None => HostUrl(format!("http://{host}")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        assert!(is_json("application/json"));
        assert!(is_json("application/json; charset=UTF-8"));
        assert!(is_json("application/json-patch+json"));
        assert!(!is_json("text/plain"));
        assert!(!is_json("application/x-www-form-urlencoded"));
    }

    #[test]
    fn uuids_are_checked_and_named() {
        assert!(parse_uuid("x", "4cbc4ede-0d25-481b-b86e-998dbbd4f8bf").is_ok());
        let e = parse_uuid("action_plan_uuid", "nope").unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.contains("action_plan_uuid"));
    }
}
