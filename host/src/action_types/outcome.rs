//! What a driver's steps answer for an action: the decision of `prepare`
//! ([`Prepared`]), the outcome of `apply` ([`Applied`]), and what `observe`
//! found after a restart ([`Observed`]). Defined here, where each type's
//! executors produce them; `cloud` (the drivers' contract) re-exports them.

use super::Operation;
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
