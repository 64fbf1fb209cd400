//! Microversion negotiation, as Watcher does it: the client may send
//! `OpenStack-API-Version: infra-optim X.Y` (or `latest`); every answer
//! carries the supported range and the version used.

use super::error::ApiError;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// A microversion `major.minor`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    /// Always 1.
    pub major: u16,
    /// 0 to [`MAX`]'s minor.
    pub minor: u16,
}

/// The oldest microversion served.
pub const MIN: Version = Version { major: 1, minor: 0 };
/// The newest microversion served.
pub const MAX: Version = Version { major: 1, minor: 5 };
/// The service type named in the header.
pub const SERVICE: &str = "infra-optim";
/// The header.
pub const HEADER: &str = "openstack-api-version";

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl Version {
    /// `1.5` and later show `status_message` and allow skipping actions.
    pub fn at_least(self, minor: u16) -> bool {
        self >= Version { major: 1, minor }
    }
}

/// Reads the requested version; absent (or for another service) means the
/// minimum, as in Watcher.
pub fn requested(headers: &HeaderMap) -> Result<Version, ApiError> {
    for value in headers.get_all(HEADER) {
        let text =
            value.to_str().map_err(|_| ApiError::bad_request("Invalid OpenStack-API-Version header"))?;
        for part in text.split(',') {
            let mut words = part.split_whitespace();
            let (Some(service), Some(v)) = (words.next(), words.next()) else {
                continue;
            };
            if !service.eq_ignore_ascii_case(SERVICE) {
                continue;
            }
            if v.eq_ignore_ascii_case("latest") {
                return Ok(MAX);
            }
            let parsed = v
                .split_once('.')
                .and_then(|(a, b)| Some(Version { major: a.parse().ok()?, minor: b.parse().ok()? }));
            let Some(version) = parsed else {
                return Err(ApiError::bad_request(format!(
                    "Invalid API version format: {v:?}; expected X.Y or latest"
                )));
            };
            if version < MIN || version > MAX {
                return Err(ApiError::new(
                    StatusCode::NOT_ACCEPTABLE,
                    format!("Version {version} was requested but the minor version is not supported by this service. The supported version range is: [{MIN}, {MAX}]."),
                ));
            }
            return Ok(version);
        }
    }
    Ok(MIN)
}

fn header(value: String) -> HeaderValue {
    HeaderValue::from_str(&value).expect("version headers are ASCII")
}

/// Middleware: negotiates the version, stores it in the request's
/// extensions, and stamps the version headers on every answer.
pub async fn negotiate(mut req: Request, next: Next) -> Response {
    let negotiated = requested(req.headers());
    let (version, mut response) = match negotiated {
        Ok(v) => {
            req.extensions_mut().insert(v);
            (v, next.run(req).await)
        }
        Err(e) => (MIN, e.into_response()),
    };
    let h = response.headers_mut();
    h.insert(HeaderName::from_static("openstack-api-minimum-version"), header(format!("{SERVICE} {MIN}")));
    h.insert(HeaderName::from_static("openstack-api-maximum-version"), header(format!("{SERVICE} {MAX}")));
    h.insert(HeaderName::from_static(HEADER), header(format!("{SERVICE} {version}")));
    h.insert(axum::http::header::VARY, HeaderValue::from_static("OpenStack-API-Version"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(v: &str) -> Result<Version, ApiError> {
        let mut h = HeaderMap::new();
        h.insert(HEADER, HeaderValue::from_str(v).unwrap());
        requested(&h)
    }

    #[test]
    fn negotiates_like_watcher() {
        assert_eq!(requested(&HeaderMap::new()).unwrap(), MIN);
        assert_eq!(with("infra-optim 1.5").unwrap(), MAX);
        assert_eq!(with("infra-optim latest").unwrap(), MAX);
        assert_eq!(with("compute 2.1").unwrap(), MIN, "another service's version is not ours");
        assert_eq!(with("infra-optim 1.6").unwrap_err().status, StatusCode::NOT_ACCEPTABLE);
        assert_eq!(with("infra-optim 0.9").unwrap_err().status, StatusCode::NOT_ACCEPTABLE);
        assert_eq!(with("infra-optim 2.0").unwrap_err().status, StatusCode::NOT_ACCEPTABLE);
        assert_eq!(with("infra-optim one").unwrap_err().status, StatusCode::BAD_REQUEST);
    }
}

/// Headers every Watcher route reads (the microversion here, `X-Show-Deleted`
/// in `extract`), as the OpenAPI document states them.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // The document's description of what the extractors read.
pub struct WatcherHeaders {
    /// Microversion, e.g. `infra-optim 1.5`.
    #[param(rename = "OpenStack-API-Version")]
    openstack_api_version: Option<String>,
    /// `True` shows soft-deleted records.
    #[param(rename = "X-Show-Deleted")]
    x_show_deleted: Option<String>,
}
