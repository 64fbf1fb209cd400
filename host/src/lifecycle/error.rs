//! Why a state change was refused.

use super::TransitionError;
use rollback_store::StoreError;
use uuid::Uuid;

/// Everything a state change (or a read on its way) can refuse with.
/// [`crate::plans::PlanError`] wraps it; the API maps each variant to a
/// status; messages are Watcher's where Watcher has one.
#[derive(Debug, thiserror::Error)]
pub enum LifecycleError {
    /// No such plan or action (or it is deleted).
    #[error("{kind} {uuid} could not be found.")]
    NotFound {
        /// `ActionPlan` or `Action`.
        kind: &'static str,
        /// The uuid asked for.
        uuid: Uuid,
    },
    /// The change asked for is not acceptable (a malformed patch).
    #[error("{0}")]
    Invalid(String),
    /// The transition table refuses the move.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// The move is valid but not now (e.g. skipping an action of a running plan).
    #[error("{0}")]
    Conflict(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A blocking task could not finish (it panicked or was cancelled).
    #[error("internal error: {0}")]
    Internal(String),
}
