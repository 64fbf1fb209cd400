//! What a restart does with plans the previous process left running.
//!
//! Decision: a plan still PENDING (its start was acknowledged but no action
//! ran) is **resumed**. A plan ONGOING or CANCELLING is **not** resumed:
//! an action that was ONGOING may or may not have changed the cloud, and
//! re-running it (a second migrate, say) is unsafe. So its ONGOING actions
//! end FAILED and its PENDING actions CANCELLED, each with a message saying
//! why, and the plan ends FAILED (CANCELLED if it was being cancelled) with
//! a `status_message` saying it was interrupted. What SUCCEEDED keeps its
//! pre-state and result, so the plan can still be rolled back.

use super::Applier;
use chrono::Utc;
use rollback_store::{ActionState, PlanState, StoreError};
use uuid::Uuid;

/// What [`recover`] did.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Recovery {
    /// Plans resumed (they were PENDING).
    pub resumed: Vec<Uuid>,
    /// Plans ended because they were interrupted.
    pub interrupted: Vec<Uuid>,
}

/// The `status_message` of an interrupted plan.
pub fn interrupted_message(in_flight: usize, not_started: usize) -> String {
    format!(
        "Interrupted: rollback-host stopped while this plan was running; {in_flight} action(s) in progress \
         were marked FAILED (the cloud may or may not reflect them) and {not_started} not yet started were \
         marked CANCELLED."
    )
}

/// Settles interrupted plans and resumes pending ones. Call once at start,
/// inside the tokio runtime, before serving.
pub fn recover(applier: &Applier) -> Result<Recovery, StoreError> {
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
                store.write(move |txn| {
                    let now = Utc::now();
                    let (mut in_flight, mut not_started) = (0, 0);
                    for mut a in txn.actions_of(uuid)? {
                        let message = match a.state {
                            ActionState::Ongoing => {
                                in_flight += 1;
                                a.state = ActionState::Failed;
                                "Interrupted: rollback-host stopped while this action was running; the cloud may or may not reflect it."
                            }
                            ActionState::Pending => {
                                not_started += 1;
                                a.state = ActionState::Cancelled;
                                "Interrupted: rollback-host stopped before this action ran."
                            }
                            _ => continue,
                        };
                        a.status_message = Some(message.into());
                        a.updated_at = Some(now);
                        txn.update_action(a)?;
                    }
                    let mut plan = txn.plan_required(uuid)?;
                    plan.state = if plan.state == PlanState::Cancelling { PlanState::Cancelled } else { PlanState::Failed };
                    plan.status_message = Some(interrupted_message(in_flight, not_started));
                    plan.updated_at = Some(now);
                    plan.finished_at = Some(now);
                    txn.update_plan(plan)
                })?;
                report.interrupted.push(plan.uuid);
            }
            _ => {}
        }
    }
    Ok(report)
}
