//! One action, from PENDING to its final state, in two halves: [`begin`]
//! (the driver checks and observes, the applier records ONGOING with the
//! pre-state, durable before the driver acts) and [`finish`] (the driver
//! acts, the result is recorded). Between them the applier waits, holding
//! no thread, as long as the driver asks (`CloudDriver::wait`). A driver that
//! panics or a store that fails ends the action FAILED with the reason; the
//! caller never sees a panic.

use crate::action_types::Operation;
use crate::cloud::{Applied, CloudDriver, Prepared};
use crate::lifecycle::{move_action, ActionTrigger, LifecycleError};
use chrono::Utc;
use rollback_store::{Action, ActionState, Store};
use serde_json::Value;
use std::sync::Arc;

/// Moves `action` to `to` durably (the in-memory copy follows).
fn record(
    store: &Store,
    action: &mut Action,
    trigger: ActionTrigger,
    to: ActionState,
    message: Option<String>,
    pre_state: Option<Value>,
    result: Option<Value>,
) -> Result<(), LifecycleError> {
    let mut next = action.clone();
    if pre_state.is_some() {
        next.pre_state = pre_state;
    }
    if result.is_some() {
        next.result = result;
    }
    let written = store.write(move |txn| {
        let mut next = next.clone();
        move_action(txn, &mut next, trigger, to, message.clone(), Utc::now())?;
        Ok::<_, LifecycleError>(next)
    })?;
    *action = written;
    Ok(())
}

/// What `begin` leaves for `finish`: the driver must act.
pub(super) struct Started {
    pre_state: Value,
    note: Option<String>,
    /// The typed parameters (the applier asks the driver how long to wait).
    pub operation: Operation,
}

/// First half: the driver checks and observes; the action ends SKIPPED or
/// FAILED here, or is recorded ONGOING with its pre-state and returned as
/// [`Started`]. Never panics (see [`guarded`]).
pub(super) fn begin(store: &Store, driver: &dyn CloudDriver, action: &mut Action) -> Option<Started> {
    let started = guarded(store, action, |action| steps(store, driver, action)).flatten();
    if started.is_none() {
        counted(action);
    }
    started
}

/// Counts an action that reached its final state (see `crate::metrics`).
fn counted(action: &Action) {
    crate::metrics::METRICS.action_finished(&action.action_type, action.state.as_str());
}

/// Second half: the driver acts and the result is recorded. Never panics.
/// A driver whose cloud lives in the store ([`CloudDriver::in_store`])
/// acts inside the transaction that records the result: both are durable,
/// or neither.
pub(super) fn finish(store: &Store, driver: &Arc<dyn CloudDriver>, action: &mut Action, started: Started) {
    guarded(store, action, |action| {
        let Started { pre_state, note, operation } = started;
        if !driver.in_store() {
            let (to, message, result) = outcome(action, driver.apply(action, &pre_state, &operation), note);
            return record(store, action, ActionTrigger::Finish, to, message, None, result);
        }
        let (d, next) = (Arc::clone(driver), action.clone());
        let together = store.write(move |txn| {
            // A driver error may leave a change staged: returning an error
            // abandons the whole transaction (the failure is recorded
            // below, alone).
            let mut next = next.clone();
            let applied = d.apply_in(txn, &next, &pre_state, &operation).map_err(Abandoned::Driver)?;
            let (to, message, result) = outcome(&next, Ok(applied), note.clone());
            if result.is_some() {
                next.result = result;
            }
            move_action(txn, &mut next, ActionTrigger::Finish, to, message, Utc::now())?;
            Ok::<_, Abandoned>(next)
        });
        match together {
            Ok(written) => {
                *action = written;
                Ok(())
            }
            Err(Abandoned::Driver(e)) => {
                let why = e.to_string();
                tracing::warn!(action = %action.uuid, "FAILED: {why}");
                record(store, action, ActionTrigger::Finish, ActionState::Failed, Some(why), None, None)
            }
            Err(Abandoned::Plan(e)) => Err(e),
        }
    });
    counted(action);
}

/// Why the transaction of a change and its record was abandoned.
enum Abandoned {
    /// The driver failed (a change may have been staged).
    Driver(crate::cloud::DriverError),
    /// The store or the transition table refused.
    Plan(LifecycleError),
}

impl From<LifecycleError> for Abandoned {
    fn from(e: LifecycleError) -> Self {
        Abandoned::Plan(e)
    }
}

impl From<rollback_store::StoreError> for Abandoned {
    fn from(e: rollback_store::StoreError) -> Self {
        Abandoned::Plan(e.into())
    }
}

/// The final state, message and result of what the driver answered.
fn outcome(
    action: &Action,
    applied: Result<Applied, crate::cloud::DriverError>,
    note: Option<String>,
) -> (ActionState, Option<String>, Option<Value>) {
    match applied {
        Ok(Applied::Done(result)) => (ActionState::Succeeded, note, Some(result)),
        Ok(Applied::Refused(reason)) => {
            tracing::warn!(action = %action.uuid, "FAILED: {reason}");
            (ActionState::Failed, Some(reason), None)
        }
        Err(e) => (ActionState::Failed, Some(e.to_string()), None),
    }
}

/// Runs `f`; a panic in it (the driver's) or a store error ends the action
/// FAILED with the reason (and if even that cannot be written, the
/// in-memory record says FAILED anyway, so the plan's dependents are
/// cancelled and it settles). `None` then.
fn guarded<T>(
    store: &Store,
    action: &mut Action,
    f: impl FnOnce(&mut Action) -> Result<T, LifecycleError>,
) -> Option<T> {
    let run = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(action)));
    let why = match run {
        Ok(Ok(value)) => return Some(value),
        Ok(Err(e)) => format!("The applier could not record this action: {e}"),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".into());
            format!("The cloud driver failed unexpectedly (panic: {what}); the cloud may or may not reflect this action.")
        }
    };
    tracing::error!(action = %action.uuid, "FAILED: {why}");
    let trigger = match action.state {
        ActionState::Pending => ActionTrigger::Refuse,
        _ => ActionTrigger::Finish,
    };
    if action.state == ActionState::Pending || action.state == ActionState::Ongoing {
        if let Err(e) = record(store, action, trigger, ActionState::Failed, Some(why.clone()), None, None) {
            tracing::error!(action = %action.uuid, "cannot record the failure: {e}");
            action.state = ActionState::Failed;
            action.status_message = Some(why);
        }
    }
    None
}

/// The first half's steps; an `Err` is a store failure.
fn steps(
    store: &Store,
    driver: &dyn CloudDriver,
    action: &mut Action,
) -> Result<Option<Started>, LifecycleError> {
    let prepared = match driver.prepare(action) {
        Ok(p) => p,
        Err(e) => {
            let why = e.to_string();
            tracing::warn!(action = %action.uuid, "FAILED: {why}");
            record(store, action, ActionTrigger::Refuse, ActionState::Failed, Some(why), None, None)?;
            return Ok(None);
        }
    };
    // A rollback action whose resource no longer matches what it expects
    // (gone, moved, changed) is drift, not a failure: skip it, saying why,
    // so its dependents still run.
    let drift = match &prepared {
        Prepared::Run { pre_state, .. } | Prepared::Fail { pre_state, .. } => drifted(action, pre_state),
        Prepared::Skip { .. } => None,
    };
    let refuse = |action: &mut Action, to: ActionState, why: String, pre_state: Value| {
        if to == ActionState::Failed {
            tracing::warn!(action = %action.uuid, "FAILED: {why}");
        } else {
            tracing::info!(action = %action.uuid, "SKIPPED: {why}");
        }
        record(store, action, ActionTrigger::Refuse, to, Some(why), Some(pre_state), None).map(|()| None)
    };
    match (prepared, drift) {
        (Prepared::Skip { reason, pre_state }, _) => refuse(action, ActionState::Skipped, reason, pre_state),
        (Prepared::Fail { reason, pre_state }, Some(drift)) => {
            refuse(action, ActionState::Skipped, format!("{drift} ({reason})"), pre_state)
        }
        (Prepared::Fail { reason, pre_state }, None) => {
            refuse(action, ActionState::Failed, reason, pre_state)
        }
        (Prepared::Run { pre_state, .. }, Some(drift)) => {
            refuse(action, ActionState::Skipped, drift, pre_state)
        }
        (Prepared::Run { pre_state, note, operation }, None) => {
            // The pre-state is durable before anything changes.
            record(
                store,
                action,
                ActionTrigger::Run,
                ActionState::Ongoing,
                None,
                Some(pre_state.clone()),
                None,
            )?;
            Ok(Some(Started { pre_state, note, operation }))
        }
    }
}

/// For an action with an expected state (a rollback action): why the
/// observed pre-state does not match it, if it does not. Every expected key
/// must be present with the same value.
fn drifted(action: &Action, observed: &Value) -> Option<String> {
    let expected = action.expected_state.as_ref()?.as_object()?;
    let differing: Vec<String> = expected
        .iter()
        .filter(|(k, v)| observed.get(k.as_str()) != Some(*v))
        .map(|(k, v)| {
            format!("{k}: expected {v}, found {}", observed.get(k.as_str()).unwrap_or(&Value::Null))
        })
        .collect();
    (!differing.is_empty()).then(|| {
        format!(
            "Skipped: the resource changed since the action being rolled back ran ({}); nothing was done.",
            differing.join(", ")
        )
    })
}
