//! Plan leases: on a shared store (MySQL), which instance runs a plan.
//!
//! Several instances share one database; a started plan must be executed by
//! exactly one of them at a time. Each PENDING, ONGOING or CANCELLING plan
//! has a lease, a small record `lease/<plan uuid>` in the store's blobs:
//! its owner (an instance id, or none yet) and when it expires (Unix
//! milliseconds, by the writer's clock: instances' clocks must agree to well
//! within a lease, as OpenStack's services already require).
//!
//! - A plan that becomes PENDING is **offered**: a lease with no owner,
//!   written in the same transaction ([`move_plan`](super::move_plan),
//!   [`insert`](super::insert)).
//! - The instance that started it **claims** it at once (an offered lease,
//!   or its own, or an expired one); another instance claims only an expired
//!   one ([`claim`] with `takeover`). The owner renews it every third of its
//!   length while it runs the plan.
//! - The lease goes when the plan ends ([`release`], in the transaction that
//!   ends it).
//!
//! On the embedded sled store (one process) nothing here is written.

use rollback_store::{StoreError, Txn};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Blob names of leases: `lease/<plan uuid>`.
pub const PREFIX: &str = "lease/";

/// How long an offered lease waits for its starter before anyone may take it.
pub const OFFER: std::time::Duration = std::time::Duration::from_secs(10);

/// One lease.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lease {
    /// The instance running the plan; `None`: offered, not claimed yet.
    pub owner: Option<String>,
    /// When it lapses (Unix milliseconds).
    pub expires_ms: i64,
}

impl Lease {
    /// Whether it has lapsed at `now_ms`.
    pub fn expired(&self, now_ms: i64) -> bool {
        self.expires_ms <= now_ms
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn name(plan: Uuid) -> String {
    format!("{PREFIX}{plan}")
}

/// The plan a lease blob is for.
pub fn plan_of(blob_name: &str) -> Option<Uuid> {
    blob_name.strip_prefix(PREFIX).and_then(|u| Uuid::parse_str(u).ok())
}

/// Parses a lease blob (`None`: unreadable, treated as lapsed).
pub fn parse(bytes: &[u8]) -> Option<Lease> {
    serde_json::from_slice(bytes).ok()
}

fn put(txn: &mut Txn<'_>, plan: Uuid, lease: &Lease) {
    txn.put_blob(&name(plan), serde_json::to_vec(lease).expect("a lease serializes"));
}

/// Offers the lease of a plan that became PENDING (shared stores only).
pub(crate) fn offer(txn: &mut Txn<'_>, plan: Uuid) {
    if txn.shared() {
        let expires_ms = now_ms() + OFFER.as_millis() as i64;
        put(txn, plan, &Lease { owner: None, expires_ms });
    }
}

/// Removes the lease of a plan that ended (shared stores only).
pub(crate) fn release(txn: &mut Txn<'_>, plan: Uuid) {
    if txn.shared() {
        txn.delete_blob(&name(plan));
    }
}

/// The lease of `plan`, if it has one.
pub fn read(txn: &Txn<'_>, plan: Uuid) -> Result<Option<Lease>, StoreError> {
    Ok(txn.blob(&name(plan))?.and_then(|b| parse(&b)))
}

/// Whether `owner` may take `lease` at `now_ms` (see [`claim`]).
fn grants(lease: Option<&Lease>, owner: &str, now_ms: i64, takeover: bool) -> bool {
    match lease {
        None => !takeover,
        Some(l) if l.owner.as_deref() == Some(owner) => true,
        Some(l) if l.expired(now_ms) => true,
        Some(l) => l.owner.is_none() && !takeover,
    }
}

/// Claims or renews `plan`'s lease for `owner` for `ttl`: granted when the
/// lease is `owner`'s, or lapsed, or (unless `takeover`) offered to
/// nobody yet, or absent (unless `takeover`). Returns whether it was.
pub fn claim(
    txn: &mut Txn<'_>,
    plan: Uuid,
    owner: &str,
    ttl: std::time::Duration,
    takeover: bool,
) -> Result<bool, StoreError> {
    let now = now_ms();
    let granted = grants(read(txn, plan)?.as_ref(), owner, now, takeover);
    if granted {
        put(txn, plan, &Lease { owner: Some(owner.to_string()), expires_ms: now + ttl.as_millis() as i64 });
    }
    Ok(granted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(owner: Option<&str>, expires_ms: i64) -> Lease {
        Lease { owner: owner.map(str::to_string), expires_ms }
    }

    #[test]
    fn a_live_lease_of_another_instance_is_never_taken() {
        let l = lease(Some("b"), 1_000);
        assert!(!grants(Some(&l), "a", 999, false));
        assert!(!grants(Some(&l), "a", 999, true));
        assert!(grants(Some(&l), "b", 999, true), "its owner renews it");
    }

    #[test]
    fn a_lapsed_lease_is_taken_by_anyone() {
        let l = lease(Some("b"), 1_000);
        assert!(grants(Some(&l), "a", 1_000, true));
        assert!(grants(Some(&l), "a", 5_000, false));
    }

    #[test]
    fn an_offer_goes_to_its_starter_until_it_lapses() {
        let offer = lease(None, 1_000);
        assert!(grants(Some(&offer), "a", 500, false), "the instance that started the plan claims it");
        assert!(!grants(Some(&offer), "c", 500, true), "a takeover waits for the offer to lapse");
        assert!(grants(Some(&offer), "c", 1_000, true));
    }

    #[test]
    fn no_lease_is_claimed_only_by_a_starter() {
        assert!(grants(None, "a", 0, false));
        assert!(!grants(None, "a", 0, true), "a plan that ended has no lease to take over");
    }

    #[test]
    fn lease_blobs_name_their_plan() {
        let u = Uuid::new_v4();
        assert_eq!(plan_of(&name(u)), Some(u));
        assert_eq!(plan_of("plugin/nop"), None);
        assert_eq!(parse(b"not json"), None);
    }
}
