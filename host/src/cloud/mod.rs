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

use crate::action_types::Operation;
use rollback_store::{Action, Txn};
use serde_json::Value;

/// What `prepare` decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Prepared {
    /// Pre-conditions hold; run it. `note` becomes the action's
    /// `status_message` (e.g. "recorded as a no-op").
    Run {
        /// What the action will change, as it is now.
        pre_state: Value,
        /// A remark for the action's `status_message`, if any.
        note: Option<String>,
        /// The action's parameters, typed: what `apply` acts on.
        operation: Operation,
    },
    /// Nothing to do (e.g. the instance is already stopped): SKIPPED.
    Skip {
        /// Why.
        reason: String,
        /// What was observed.
        pre_state: Value,
    },
    /// The action cannot run (e.g. the destination is disabled): FAILED.
    Fail {
        /// Why.
        reason: String,
        /// What was observed.
        pre_state: Value,
    },
}

/// What a driver found when asked, after a restart, whether an action that
/// was running (ONGOING) when the service stopped made its change.
#[derive(Debug, Clone, PartialEq)]
pub enum Observed {
    /// It did; the result as observed. The action is recorded SUCCEEDED,
    /// so a rollback undoes it.
    Happened(Value),
    /// Nothing changed: the action is recorded FAILED.
    NotHappened,
    /// The driver cannot tell (and why): the action is recorded FAILED with
    /// that reason, and a rollback of its plan lists it as unknown.
    Unknown(String),
}

/// What applying an action did.
#[derive(Debug, Clone, PartialEq)]
pub enum Applied {
    /// It was done; the result (what really happened) is recorded.
    Done(Value),
    /// The cloud refused it, or no longer matched the pre-state: the
    /// action FAILED with this reason (nothing was changed by us).
    Refused(String),
}

impl From<Result<Value, String>> for Applied {
    fn from(r: Result<Value, String>) -> Self {
        match r {
            Ok(v) => Applied::Done(v),
            Err(why) => Applied::Refused(why),
        }
    }
}

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
