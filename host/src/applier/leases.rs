//! The applier on a shared store: claiming, renewing and taking over plan
//! leases ([`crate::lifecycle::lease`]).
//!
//! Two loops per instance, each waking every third of the lease:
//! - **renew**: extends the lease of every plan this instance runs or holds
//!   waiting for a slot; a plan found CANCELLING (cancelled through another
//!   instance) is told to stop starting actions; a plan whose lease another
//!   instance now holds (this one could not renew in time) is stopped too.
//! - **take over**: reads every lease; one that lapsed (its owner died, or
//!   never claimed an offer) is claimed here, and its plan resumed if
//!   PENDING, or, if ONGOING or CANCELLING, settled as a restart settles it
//!   ([`super::recover`]): each ONGOING action by what the driver observes,
//!   the PENDING ones CANCELLED, the plan FAILED (or CANCELLED). A lease whose
//!   plan already ended is removed.
//!
//! Takeover happens within one lease and one third after the owner's last
//! renewal.

use super::{Applier, Holder};
use crate::lifecycle::{lease, LifecycleError};
use rollback_store::{PlanState, StoreError};
use std::sync::Arc;
use uuid::Uuid;

/// The machine's host name.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "host".into())
}

/// A name for an instance that has none: host, process id and a random tag
/// (its leases are taken over only once they lapse, even by itself).
pub fn instance_id() -> String {
    let tag = Uuid::new_v4().simple().to_string();
    format!("{}:{}:{}", hostname(), std::process::id(), &tag[..8])
}

/// Claims `plan`'s lease for this instance (see [`lease::claim`]); the plan's
/// state when granted.
pub(super) fn claim(
    applier: &Applier,
    holder: &Holder,
    plan: Uuid,
    takeover: bool,
) -> Result<Option<PlanState>, StoreError> {
    let (owner, ttl) = (holder.owner.clone(), holder.ttl);
    applier.store().write(move |txn| {
        if !lease::claim(txn, plan, &owner, ttl, takeover)? {
            return Ok(None);
        }
        Ok(txn.plan(plan)?.map(|p| p.state))
    })
}

/// Starts both loops (on the current tokio runtime), after settling the
/// plans this instance held before it restarted (leases under its own name
/// with nothing running here: its previous life's).
pub(super) fn start(applier: &Applier, holder: Arc<Holder>) {
    let own = take_over(applier, &holder, true);
    if !own.is_empty() {
        tracing::warn!(
            plans = own.len(),
            "plans this instance held before it stopped were resumed or settled"
        );
    }
    let every = holder.ttl / 3;
    let (a, h) = (applier.clone(), Arc::clone(&holder));
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let (a, h) = (a.clone(), Arc::clone(&h));
            let _ = tokio::task::spawn_blocking(move || renew(&a, &h)).await;
        }
    });
    let a = applier.clone();
    tokio::spawn(async move {
        loop {
            let (a2, h) = (a.clone(), Arc::clone(&holder));
            let _ = tokio::task::spawn_blocking(move || take_over(&a2, &h, false)).await;
            tokio::time::sleep(every).await;
        }
    });
}

/// What a renewal found.
enum Renewal {
    /// Renewed; the plan's state.
    Renewed(Option<PlanState>),
    /// Still offered: this instance's claim has not run yet.
    Offered,
    /// Another instance holds it.
    Lost,
}

fn renew(applier: &Applier, holder: &Holder) {
    for plan in applier.running() {
        let (owner, ttl) = (holder.owner.clone(), holder.ttl);
        let renewed = applier.store().write(move |txn| {
            match lease::read(txn, plan)? {
                // Released: the plan just ended.
                None => return Ok(Renewal::Renewed(None)),
                Some(l) if l.owner.is_none() && !l.expired(lease::now_ms()) => return Ok(Renewal::Offered),
                Some(_) => {}
            }
            if !lease::claim(txn, plan, &owner, ttl, true)? {
                return Ok::<_, StoreError>(Renewal::Lost);
            }
            Ok(Renewal::Renewed(txn.plan(plan)?.map(|p| p.state)))
        });
        match renewed {
            Ok(Renewal::Renewed(Some(PlanState::Cancelling))) => applier.cancel(plan),
            Ok(Renewal::Renewed(_) | Renewal::Offered) => {}
            Ok(Renewal::Lost) => {
                tracing::error!(%plan, "another instance took over this plan's lease (it could not be renewed in time); this instance stops running it");
                applier.cancel(plan);
            }
            Err(e) => tracing::warn!(%plan, "the plan's lease could not be renewed: {e}"),
        }
    }
}

/// One pass over the leases; returns the plans taken over: those whose
/// lease lapsed, and with `own`, those held under this instance's name.
pub(super) fn take_over(applier: &Applier, holder: &Holder, own: bool) -> Vec<Uuid> {
    let leases = match applier.store().blobs(lease::PREFIX) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("the plan leases could not be read: {e}");
            return Vec::new();
        }
    };
    let now = lease::now_ms();
    let mut taken = Vec::new();
    for (name, bytes) in leases {
        let Some(plan) = lease::plan_of(&name) else { continue };
        let lease = lease::parse(&bytes);
        let lapsed = lease.as_ref().is_none_or(|l| l.expired(now));
        let mine = own && lease.is_some_and(|l| l.owner.as_deref() == Some(holder.owner.as_str()));
        if !(lapsed || mine) || applier.is_running(plan) {
            continue;
        }
        match claim(applier, holder, plan, !mine) {
            Ok(Some(state)) => {
                taken.push(plan);
                if let Err(e) = settle(applier, plan, state) {
                    tracing::error!(%plan, "taking over the plan failed: {e}; another pass will try again");
                }
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(%plan, "a lapsed lease could not be claimed: {e}"),
        }
    }
    taken
}

/// What the new owner of a lapsed lease does with its plan.
fn settle(applier: &Applier, plan: Uuid, state: PlanState) -> Result<(), LifecycleError> {
    match state {
        PlanState::Pending => {
            tracing::warn!(%plan, "took over a PENDING plan whose instance went away; resuming it");
            applier.launch(plan);
        }
        PlanState::Ongoing | PlanState::Cancelling => {
            tracing::warn!(%plan, "took over a running plan whose instance went away; settling it");
            super::recover::settle_interrupted(applier, plan)?;
        }
        _ => {
            applier.store().write(move |txn| {
                lease::release(txn, plan);
                Ok::<_, StoreError>(())
            })?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn instance_ids_differ_between_instances_of_one_process() {
        assert_ne!(super::instance_id(), super::instance_id());
    }
}
