//! What a restart does with plans the previous process left running.
//!
//! Decision: a plan still PENDING (its start was acknowledged but no action
//! ran) is **resumed**. A plan ONGOING or CANCELLING is **not** resumed:
//! an action that was ONGOING may or may not have changed the cloud, and
//! re-running it (a second migrate, say) is unsafe. So it is interrupted
//! ([`lifecycle::interrupt`]): its ONGOING actions end FAILED and its
//! PENDING actions CANCELLED, each with a message saying why, and the plan
//! ends FAILED (CANCELLED if it was being cancelled). What SUCCEEDED keeps
//! its pre-state and result, so the plan can still be rolled back.

use super::Applier;
use crate::plans::{lifecycle, PlanError};
use rollback_store::PlanState;
use uuid::Uuid;

/// What [`recover`] did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Recovery {
    /// Plans resumed (they were PENDING).
    pub resumed: Vec<Uuid>,
    /// Plans ended because they were interrupted.
    pub interrupted: Vec<Uuid>,
}

/// Settles interrupted plans and resumes pending ones. Call once at start,
/// inside the tokio runtime, before serving.
pub fn recover(applier: &Applier) -> Result<Recovery, PlanError> {
    let store = applier.store();
    let mut report = Recovery::default();
    for plan in store.plans()? {
        match plan.state {
            PlanState::Pending => {
                applier.launch(plan.uuid);
                report.resumed.push(plan.uuid);
            }
            PlanState::Ongoing | PlanState::Cancelling => {
                let uuid = plan.uuid;
                store.write(move |txn| lifecycle::interrupt(txn, uuid))?;
                report.interrupted.push(uuid);
            }
            _ => {}
        }
    }
    Ok(report)
}
