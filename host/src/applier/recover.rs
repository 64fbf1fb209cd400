//! What a restart does with plans the previous process left running.
//!
//! Decision: a plan still PENDING (its start was acknowledged but no action
//! ran) is **resumed**. A plan ONGOING or CANCELLING is **not** resumed:
//! re-running an action that was ONGOING (a second migrate, say) is unsafe.
//! Instead each ONGOING action is **reconciled**: the driver observes
//! whether its change happened ([`crate::cloud::CloudDriver::observe`]) and the action is
//! recorded SUCCEEDED with the observed result (so a rollback undoes it),
//! FAILED, or FAILED as unknown with the reason (a rollback lists it). The
//! plan's PENDING actions end CANCELLED and the plan FAILED (CANCELLED if it
//! was being cancelled) — [`lifecycle::interrupt`]. What SUCCEEDED keeps its
//! pre-state and result, so the plan can still be rolled back.

use super::Applier;
use crate::cloud::Observed;
use crate::lifecycle::{self, LifecycleError};
use rollback_store::{ActionState, PlanState};
use std::collections::HashMap;
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
///
/// On a shared store (several instances) a plan is another instance's while
/// its lease lives: nothing is settled here; the applier's lease loops
/// start, and take over what lapsed ([`super::leases`]).
pub fn recover(applier: &Applier) -> Result<Recovery, LifecycleError> {
    let store = applier.store();
    let mut report = Recovery::default();
    if applier.start_leases() {
        return Ok(report);
    }
    for plan in store.plans()? {
        match plan.state {
            PlanState::Pending => {
                applier.launch(plan.uuid);
                report.resumed.push(plan.uuid);
            }
            PlanState::Ongoing | PlanState::Cancelling => {
                settle_interrupted(applier, plan.uuid)?;
                report.interrupted.push(plan.uuid);
            }
            _ => {}
        }
    }
    Ok(report)
}

/// Settles one interrupted plan by what the driver observes of its ONGOING
/// actions ([`lifecycle::interrupt`]).
pub(super) fn settle_interrupted(applier: &Applier, uuid: Uuid) -> Result<(), LifecycleError> {
    let store = applier.store();
    // Observe outside the transaction, on a thread of its own: a driver may
    // block on the cloud's API, which must not happen on the async
    // runtime's threads.
    let ongoing: Vec<_> =
        store.actions_of(uuid)?.into_iter().filter(|a| a.state == ActionState::Ongoing).collect();
    let driver = applier.driver();
    let observed: HashMap<Uuid, Observed> = std::thread::scope(|s| {
        s.spawn(|| ongoing.iter().map(|a| (a.uuid, driver.observe(a))).collect()).join().unwrap_or_else(
            |_| {
                let why = || Observed::Unknown("the cloud driver panicked while observing".into());
                ongoing.iter().map(|a| (a.uuid, why())).collect()
            },
        )
    });
    for (action, seen) in &observed {
        tracing::warn!(%action, ?seen, "interrupted action reconciled");
    }
    store.write(move |txn| lifecycle::interrupt(txn, uuid, &observed))?;
    Ok(())
}
