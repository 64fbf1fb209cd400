//! API errors, rendered in Watcher's body so that python-watcherclient can
//! parse them: `{"error_message": "<JSON text of {faultcode, faultstring,
//! debuginfo}>"}`.

use crate::cloud::simulated::CloudError;
use crate::lifecycle::LifecycleError;
use crate::plans::import::ImportError;
use crate::plans::PlanError;
use crate::plugins::RegistryError;
use crate::rollback::RollbackError;
use crate::service::UploadError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rollback_store::StoreError;

/// An error answer: a status and a message for the user.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for the user.
    pub message: String,
}

impl ApiError {
    /// An error with any status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError { status, message: message.into() }
    }

    /// 400.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }

    /// 409.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, message)
    }

    /// 500; the detail goes to the log, not to the client.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        tracing::error!("internal error: {detail}");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal error; see the server log.")
    }

    /// The `error_message` body Watcher sends.
    pub fn body(&self) -> ErrorBody {
        let faultcode = if self.status.is_server_error() { "Server" } else { "Client" };
        let inner = Fault { faultcode, faultstring: &self.message, debuginfo: None };
        ErrorBody { error_message: serde_json::to_string(&inner).expect("a fault serializes") }
    }
}

/// Watcher's error body: `error_message` is the JSON text of
/// `{"faultcode", "faultstring", "debuginfo"}`.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// JSON text.
    pub error_message: String,
}

/// What `error_message` holds (as text).
#[derive(serde::Serialize)]
struct Fault<'a> {
    faultcode: &'a str,
    faultstring: &'a str,
    debuginfo: Option<&'a str>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, axum::Json(self.body())).into_response()
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound { kind, uuid } => {
                ApiError::not_found(format!("{kind} {uuid} could not be found."))
            }
            StoreError::Exists { kind, uuid } => {
                ApiError::conflict(format!("{kind} with UUID {uuid} already exists."))
            }
            StoreError::Poisoned(_) | StoreError::Closed => {
                tracing::error!("store unavailable: {e}");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The store cannot make writes durable; the service is stopping. Nothing was changed.",
                )
            }
            StoreError::Unavailable(why) => {
                tracing::error!("database unavailable: {why}");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "The database is unavailable; the change was not confirmed. Read it back before trying again.",
                )
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<PlanError> for ApiError {
    fn from(e: PlanError) -> Self {
        match e {
            PlanError::Invalid(_) => ApiError::bad_request(e.to_string()),
            PlanError::Lifecycle(l) => l.into(),
            PlanError::Rollback(r) => r.into(),
            PlanError::Import(i) => i.into(),
        }
    }
}

impl From<LifecycleError> for ApiError {
    fn from(e: LifecycleError) -> Self {
        match e {
            LifecycleError::NotFound { .. } => ApiError::not_found(e.to_string()),
            LifecycleError::Invalid(_) | LifecycleError::Transition(_) => {
                ApiError::bad_request(e.to_string())
            }
            LifecycleError::Conflict(_) => ApiError::conflict(e.to_string()),
            LifecycleError::Store(s) => s.into(),
            LifecycleError::Internal(_) => ApiError::internal(e),
        }
    }
}

impl From<ImportError> for ApiError {
    fn from(e: ImportError) -> Self {
        use ImportError::*;
        match e {
            NotFound(_) => ApiError::not_found(e.to_string()),
            NoSession | NotRecommended { .. } | AlreadyImported(_) | StartedInWatcher { .. } => {
                ApiError::conflict(e.to_string())
            }
            NoExecutor { .. } => ApiError::bad_request(e.to_string()),
            Watcher(_) | Malformed(..) => ApiError::new(StatusCode::BAD_GATEWAY, e.to_string()),
        }
    }
}

impl From<RollbackError> for ApiError {
    fn from(e: RollbackError) -> Self {
        match e {
            RollbackError::NotFound(_) => ApiError::not_found(e.to_string()),
            RollbackError::Plugin { .. } | RollbackError::InvalidInverse { .. } | RollbackError::Cycle => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string())
            }
            RollbackError::Store(s) => s.into(),
            RollbackError::TooBig { .. } => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()),
            RollbackError::Deadline { .. } => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
            _ => ApiError::bad_request(e.to_string()),
        }
    }
}

impl From<UploadError> for ApiError {
    fn from(e: UploadError) -> Self {
        match e {
            UploadError::Refused(RegistryError::NotPinned { .. }) => {
                ApiError::new(StatusCode::FORBIDDEN, e.to_string())
            }
            UploadError::Refused(_) => ApiError::bad_request(e.to_string()),
            UploadError::NotFound(_) => ApiError::not_found(e.to_string()),
            UploadError::FromDirectory { .. } | UploadError::TooMany { .. } => {
                ApiError::conflict(e.to_string())
            }
            UploadError::Store(s) => s.into(),
            UploadError::Internal(_) => ApiError::internal(e),
        }
    }
}

impl From<CloudError> for ApiError {
    fn from(e: CloudError) -> Self {
        match e {
            CloudError::Invalid(m) => ApiError::bad_request(format!("Invalid cloud: {m}")),
            CloudError::Store(s) => s.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_nests_the_fault_as_a_json_string() {
        let body = ApiError::bad_request("nope").body();
        let inner: serde_json::Value = serde_json::from_str(&body.error_message).unwrap();
        assert_eq!(
            inner,
            serde_json::json!({"faultcode": "Client", "faultstring": "nope", "debuginfo": null})
        );
        let inner = ApiError::internal("disk on fire").body();
        assert!(inner.error_message.contains("\"faultcode\":\"Server\""));
        assert!(!inner.error_message.contains("disk on fire"), "details stay in the log");
    }
}
