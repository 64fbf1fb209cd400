//! The errors a plugin returns from `invert`.

use crate::bindings::exports::watcher::rollback::inverter::InvertError;

/// Why an action cannot be inverted. The host fails the rollback request
/// with this message, naming the action and the plugin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The action's parameters, pre-state or result lack something needed.
    InvalidInput(String),
    /// The action is understood but cannot be undone.
    NotInvertible(String),
    /// A bug in the plugin.
    Internal(String),
}

impl Error {
    /// A missing or ill-typed field in the input.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Error::InvalidInput(message.into())
    }

    /// The action cannot be undone.
    pub fn not_invertible(message: impl Into<String>) -> Self {
        Error::NotInvertible(message.into())
    }

    /// A bug in the plugin.
    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal(message.into())
    }

    pub(crate) fn into_wit(self) -> InvertError {
        match self {
            Error::InvalidInput(m) => InvertError::InvalidInput(m),
            Error::NotInvertible(m) => InvertError::NotInvertible(m),
            Error::Internal(m) => InvertError::Internal(m),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::InvalidInput(m) => write!(f, "invalid input: {m}"),
            Error::NotInvertible(m) => write!(f, "not invertible: {m}"),
            Error::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl std::error::Error for Error {}
