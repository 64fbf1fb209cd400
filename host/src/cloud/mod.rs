//! Cloud drivers: what the applier acts on.
//!
//! A driver runs one action in two steps. [`CloudDriver::prepare`] checks
//! Watcher's pre-conditions and observes the **pre-state** (exactly what the
//! action will change); the applier makes that durable before calling
//! [`CloudDriver::apply`], which acts and reports the **result** (what
//! really happened, e.g. the destination the scheduler chose). `prepare`
//! reads the action's parameters once, typed ([`Operation`]), and hands
//! them to `apply` in [`Prepared::Run`]. Two drivers: [`simulated`] (the
//! embedded default, its cloud in the store) and [`openstack`] (Nova,
//! Cinder and Ironic through Keystone). A new one is a sibling module
//! implementing the same trait.

pub mod openstack;
pub mod simulated;

pub use crate::action_types::outcome::{Applied, Observed, Prepared};

use crate::action_types::Operation;
use rollback_store::{Action, Txn};
use serde_json::Value;

/// An error of the driver itself (not of the action): the store failed,
/// the cloud API is unreachable, ...
#[derive(Debug, thiserror::Error)]
#[error("cloud driver: {0}")]
pub struct DriverError(pub String);

/// Executes actions against a cloud.
pub trait CloudDriver: Send + Sync + 'static {
    /// Checks pre-conditions and observes the pre-state. Must not change
    /// anything.
    fn prepare(&self, action: &Action) -> Result<Prepared, DriverError>;

    /// How long the applier should wait, asynchronously and holding no
    /// thread, between recording the action ONGOING and calling `apply`
    /// (the simulated `sleep`). Most operations: none.
    fn wait(&self, _operation: &Operation) -> Option<std::time::Duration> {
        None
    }

    /// After a restart: whether `action`, interrupted while ONGOING (its
    /// pre-state recorded, its result not), made its change. Drivers that
    /// can look at the resource should compare it with the pre-state and
    /// the operation's target; the default cannot tell.
    fn observe(&self, _action: &Action) -> Observed {
        Observed::Unknown("the cloud driver cannot observe whether an interrupted action happened".into())
    }

    /// Whether this driver keeps the cloud's state in the store. Then the
    /// applier calls [`CloudDriver::apply_in`] inside the transaction that
    /// records the action's result, so the change and its record are
    /// durable together or not at all (a crash cannot leave a change that
    /// no rollback knows about). Drivers acting on a real cloud cannot, and
    /// use [`CloudDriver::apply`].
    fn in_store(&self) -> bool {
        false
    }

    /// Like [`CloudDriver::apply`], staging the change in `txn` (only
    /// called when [`CloudDriver::in_store`]). A refusal stages nothing.
    fn apply_in(
        &self,
        _txn: &mut Txn<'_>,
        _action: &Action,
        _pre_state: &Value,
        _operation: &Operation,
    ) -> Result<Applied, DriverError> {
        Err(DriverError("this driver does not act inside a store transaction".into()))
    }

    /// Performs the action. `pre_state` and `operation` are what `prepare`
    /// returned; a driver should refuse to act (`Applied::Refused`) when the
    /// cloud no longer matches `pre_state`. Returns the result on success.
    fn apply(
        &self,
        action: &Action,
        pre_state: &Value,
        operation: &Operation,
    ) -> Result<Applied, DriverError>;
}
