//! Why a plan operation was refused: the front door's error wraps the
//! lifecycle's and the rollback planner's.

use crate::lifecycle::LifecycleError;
use crate::rollback::RollbackError;
use rollback_store::StoreError;

/// Everything a plan operation can refuse with. The API maps each variant
/// to a status; messages are Watcher's where Watcher has one.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A submitted plan that does not check.
    #[error("{0}")]
    Invalid(String),
    /// A state change (or a read) was refused.
    #[error(transparent)]
    Lifecycle(#[from] LifecycleError),
    /// A rollback was refused.
    #[error(transparent)]
    Rollback(#[from] RollbackError),
    /// An import from Watcher was refused.
    #[error(transparent)]
    Import(super::import::ImportError),
}

impl From<StoreError> for PlanError {
    fn from(e: StoreError) -> Self {
        PlanError::Lifecycle(e.into())
    }
}
