//! Why a plan operation was refused.

use super::lifecycle::TransitionError;
use crate::rollback::RollbackError;
use rollback_store::StoreError;
use uuid::Uuid;

/// Everything a plan operation can refuse with. The API maps each variant
/// to a status; messages are Watcher's where Watcher has one.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// No such plan or action (or it is deleted).
    #[error("{kind} {uuid} could not be found.")]
    NotFound {
        /// `ActionPlan` or `Action`.
        kind: &'static str,
        /// The uuid asked for.
        uuid: Uuid,
    },
    /// The request itself is not acceptable (a new plan that does not
    /// check, a malformed patch).
    #[error("{0}")]
    Invalid(String),
    /// The transition table refuses the move.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// The move is valid but not now (e.g. skipping an action of a running plan).
    #[error("{0}")]
    Conflict(String),
    /// A rollback was refused.
    #[error(transparent)]
    Rollback(#[from] RollbackError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A blocking task could not finish (it panicked or was cancelled).
    #[error("internal error: {0}")]
    Internal(String),
}
