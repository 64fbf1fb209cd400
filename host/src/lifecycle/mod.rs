//! The one transition table for plans and actions, and every state change
//! as a function over a store [`Txn`].
//!
//! Watcher's states and the moves between them, each tagged with what
//! causes it: an operator (`PATCH`, `start`, `DELETE`, skipping an action),
//! the applier (begin, run, finish, settle), recovery after a restart
//! (interrupt), or the rollback planner ("may be rolled back"). Nothing else
//! in the crate writes a plan's or an action's state; a move that is not in
//! the table is refused with Watcher's message for its cause.
//!
//! This layer sits below the applier and the rollback planner, which both
//! change states through it, and below [`crate::plans`], the front door
//! that calls them; it imports none of them. It also owns the bounds every
//! plan keeps ([`MAX_PLAN_ACTIONS`], [`DEFAULT_ROLLBACK_WINDOW`]) and
//! [`blocking`], the one way its callers run store work off the async
//! threads.

mod error;
pub mod lease;

pub use error::LifecycleError;

use crate::cloud::Observed;
use chrono::Utc;
use rollback_store::{Action, ActionPlan, ActionState, PlanState, StoreError, Timestamp, Txn};
use uuid::Uuid;

/// What moves a plan from one state to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanTrigger {
    /// `PATCH /v1/action_plans/{uuid}` on `/state`.
    Patch,
    /// `POST /v1/action_plans/{uuid}/start`.
    Start,
    /// `DELETE /v1/action_plans/{uuid}` (soft).
    Delete,
    /// The applier takes a started plan.
    Begin,
    /// The applier finishes a plan.
    Settle,
    /// A restart finds a plan that was running.
    Interrupt,
}

/// What moves an action from one state to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionTrigger {
    /// An operator skips it (`PATCH /v1/actions/{uuid}`, microversion 1.5),
    /// or changes the message of one already skipped.
    Skip,
    /// The applier is about to act; the pre-state is recorded.
    Run,
    /// The driver acted (SUCCEEDED) or failed (FAILED).
    Finish,
    /// Its pre-conditions say there is nothing to do (SKIPPED), or that it
    /// cannot run (FAILED; Watcher passes through ONGOING, we record both in
    /// one write), or its resource drifted (SKIPPED).
    Refuse,
    /// It will never run: its plan was cancelled or a parent did not succeed.
    Cancel,
    /// A restart found it running (FAILED) or not started (CANCELLED).
    Interrupt,
    /// Its plan was deleted.
    Delete,
}

use ActionState as A;
use PlanState as P;

/// The most actions one plan may have (a rollback's own bound too).
pub const MAX_PLAN_ACTIONS: usize = 10_000;

/// The default rollback window: plans finished within the last hour, as in
/// Watcher's approved spec.
pub const DEFAULT_ROLLBACK_WINDOW: std::time::Duration = std::time::Duration::from_secs(3600);

/// Runs blocking store work off the async threads; a task that panics or
/// is cancelled is a [`LifecycleError::Internal`].
pub async fn blocking<T, E, F>(f: F) -> Result<T, E>
where
    F: FnOnce() -> Result<T, E> + Send + 'static,
    T: Send + 'static,
    E: From<LifecycleError> + Send + 'static,
{
    tokio::task::spawn_blocking(f).await.map_err(|e| E::from(LifecycleError::Internal(e.to_string())))?
}

/// Every allowed plan transition.
pub const PLAN_TRANSITIONS: &[(PlanTrigger, PlanState, PlanState)] = &[
    (PlanTrigger::Patch, P::Recommended, P::Pending),
    (PlanTrigger::Patch, P::Recommended, P::Cancelled),
    (PlanTrigger::Patch, P::Pending, P::Cancelled),
    (PlanTrigger::Patch, P::Ongoing, P::Cancelling),
    (PlanTrigger::Start, P::Recommended, P::Pending),
    (PlanTrigger::Begin, P::Pending, P::Ongoing),
    (PlanTrigger::Settle, P::Ongoing, P::Succeeded),
    (PlanTrigger::Settle, P::Ongoing, P::Failed),
    (PlanTrigger::Settle, P::Cancelling, P::Cancelled),
    (PlanTrigger::Interrupt, P::Ongoing, P::Failed),
    (PlanTrigger::Interrupt, P::Cancelling, P::Cancelled),
    // Watcher's deletable states.
    (PlanTrigger::Delete, P::Succeeded, P::Deleted),
    (PlanTrigger::Delete, P::Recommended, P::Deleted),
    (PlanTrigger::Delete, P::Failed, P::Deleted),
    (PlanTrigger::Delete, P::Superseded, P::Deleted),
    (PlanTrigger::Delete, P::Cancelled, P::Deleted),
];

/// Every allowed action transition.
pub const ACTION_TRANSITIONS: &[(ActionTrigger, ActionState, ActionState)] = &[
    (ActionTrigger::Skip, A::Pending, A::Skipped),
    (ActionTrigger::Skip, A::Skipped, A::Skipped),
    (ActionTrigger::Run, A::Pending, A::Ongoing),
    (ActionTrigger::Finish, A::Ongoing, A::Succeeded),
    (ActionTrigger::Finish, A::Ongoing, A::Failed),
    (ActionTrigger::Refuse, A::Pending, A::Skipped),
    (ActionTrigger::Refuse, A::Pending, A::Failed),
    (ActionTrigger::Cancel, A::Pending, A::Cancelled),
    (ActionTrigger::Interrupt, A::Ongoing, A::Failed),
    (ActionTrigger::Interrupt, A::Ongoing, A::Succeeded),
    (ActionTrigger::Interrupt, A::Pending, A::Cancelled),
    // A deleted plan's actions, whatever they reached (its plan is not running).
    (ActionTrigger::Delete, A::Pending, A::Deleted),
    (ActionTrigger::Delete, A::Succeeded, A::Deleted),
    (ActionTrigger::Delete, A::Failed, A::Deleted),
    (ActionTrigger::Delete, A::Skipped, A::Deleted),
    (ActionTrigger::Delete, A::Cancelled, A::Deleted),
];

/// Plans in these states may be rolled back (if recent enough and not
/// rolled back already; see `rollback`).
pub const ROLLBACKABLE: &[PlanState] = &[P::Succeeded, P::Failed, P::Cancelled];

/// Whether a plan in `state` may be rolled back.
pub fn may_roll_back(state: PlanState) -> bool {
    ROLLBACKABLE.contains(&state)
}

/// A move the table does not allow, with Watcher's words for its cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// A plan move.
    #[error("{}", plan_message(*.trigger, *.from, *.to))]
    Plan {
        /// What asked for it.
        trigger: PlanTrigger,
        /// The state the plan is in.
        from: PlanState,
        /// The state asked for.
        to: PlanState,
    },
    /// An action move.
    #[error("{}", action_message(*.trigger, *.from, *.to))]
    Action {
        /// What asked for it.
        trigger: ActionTrigger,
        /// The state the action is in.
        from: ActionState,
        /// The state asked for.
        to: ActionState,
    },
}

fn plan_message(trigger: PlanTrigger, from: PlanState, to: PlanState) -> String {
    match trigger {
        // Watcher's PatchError reason (the API wraps it in "Couldn't apply patch …").
        PlanTrigger::Patch => format!("State transition not allowed: ({from} -> {to})"),
        PlanTrigger::Start => format!("Couldn't start when state is '{from}'."),
        PlanTrigger::Delete => format!("Couldn't delete when state is '{from}'."),
        PlanTrigger::Begin => format!("The applier cannot begin an action plan that is {from}."),
        PlanTrigger::Settle | PlanTrigger::Interrupt => {
            format!("An action plan cannot end as {to} when it is {from}.")
        }
    }
}

fn action_message(trigger: ActionTrigger, from: ActionState, to: ActionState) -> String {
    match trigger {
        ActionTrigger::Skip if from == to => {
            format!("State transition not allowed: ({from} -> {to}); only a SKIPPED action's status_message can change")
        }
        ActionTrigger::Skip => {
            format!("State transition not allowed: ({from} -> {to}); only PENDING -> SKIPPED")
        }
        _ => format!("An action cannot go from {from} to {to} ({trigger:?})."),
    }
}

/// Checks a plan move against the table.
pub fn plan_transition(trigger: PlanTrigger, from: PlanState, to: PlanState) -> Result<(), TransitionError> {
    if PLAN_TRANSITIONS.contains(&(trigger, from, to)) {
        Ok(())
    } else {
        Err(TransitionError::Plan { trigger, from, to })
    }
}

/// Checks an action move against the table.
pub fn action_transition(
    trigger: ActionTrigger,
    from: ActionState,
    to: ActionState,
) -> Result<(), TransitionError> {
    if ACTION_TRANSITIONS.contains(&(trigger, from, to)) {
        Ok(())
    } else {
        Err(TransitionError::Action { trigger, from, to })
    }
}

/// Moves `plan` to `to` (checked), stamping `updated_at` and, when it ends,
/// `finished_at`; stages the write.
pub fn move_plan(
    txn: &mut Txn<'_>,
    plan: &mut ActionPlan,
    trigger: PlanTrigger,
    to: PlanState,
    now: Timestamp,
) -> Result<(), LifecycleError> {
    plan_transition(trigger, plan.state, to)?;
    plan.state = to;
    plan.updated_at = Some(now);
    match to {
        P::Succeeded | P::Failed | P::Cancelled => plan.finished_at = Some(now),
        P::Deleted => plan.deleted_at = Some(now),
        _ => {}
    }
    match to {
        P::Pending => lease::offer(txn, plan.uuid),
        P::Succeeded | P::Failed | P::Cancelled | P::Deleted => lease::release(txn, plan.uuid),
        _ => {}
    }
    txn.update_plan(plan.clone())?;
    Ok(())
}

/// Moves `action` to `to` (checked) with `message` as its
/// `status_message`, stamping `updated_at`; stages the write.
pub fn move_action(
    txn: &mut Txn<'_>,
    action: &mut Action,
    trigger: ActionTrigger,
    to: ActionState,
    message: Option<String>,
    now: Timestamp,
) -> Result<(), LifecycleError> {
    action_transition(trigger, action.state, to)?;
    action.state = to;
    action.status_message = message;
    action.updated_at = Some(now);
    if to == A::Deleted {
        action.deleted_at = Some(now);
    }
    txn.update_action(action.clone())?;
    Ok(())
}

/// A plan the caller may act on: not deleted.
pub fn live_plan(txn: &Txn<'_>, uuid: Uuid) -> Result<ActionPlan, LifecycleError> {
    txn.plan(uuid)?
        .filter(|p| p.state != P::Deleted)
        .ok_or(LifecycleError::NotFound { kind: "ActionPlan", uuid })
}

/// Stores copies of a new plan and its actions with fresh ids, and answers
/// the ids given. A store write may run more than once, so the caller
/// keeps its own copy ([`NewPlan`]) and takes the ids of the attempt that
/// committed.
pub fn insert(txn: &mut Txn<'_>, plan: &ActionPlan, actions: &[Action]) -> Result<Ids, StoreError> {
    let mut stored = plan.clone();
    stored.id = txn.next_id()?;
    let mut ids = Ids { plan: stored.id, actions: Vec::with_capacity(actions.len()) };
    txn.insert_plan(stored)?;
    if plan.state == P::Pending {
        lease::offer(txn, plan.uuid);
    }
    for a in actions {
        let mut stored = a.clone();
        stored.id = txn.next_id()?;
        ids.actions.push(stored.id);
        txn.insert_action(stored)?;
    }
    Ok(ids)
}

/// The ids [`insert`] gave a plan and its actions.
#[derive(Debug)]
pub struct Ids {
    plan: u64,
    actions: Vec<u64>,
}

/// A plan and its actions on their way into the store: shared with the
/// write's closure (which may run more than once), then taken back with
/// the ids of the write that committed — one copy of every action, not
/// one per attempt plus one to return.
pub struct NewPlan(std::sync::Arc<(ActionPlan, Vec<Action>)>);

impl NewPlan {
    /// Holds `plan` and `actions` (ids not yet given).
    pub fn new(plan: ActionPlan, actions: Vec<Action>) -> Self {
        NewPlan(std::sync::Arc::new((plan, actions)))
    }

    /// Another handle, for the write's closure.
    pub fn share(&self) -> Self {
        NewPlan(self.0.clone())
    }

    /// The plan.
    pub fn plan(&self) -> &ActionPlan {
        &self.0 .0
    }

    /// [`insert`] of the plan and its actions.
    pub fn insert(&self, txn: &mut Txn<'_>) -> Result<Ids, StoreError> {
        insert(txn, &self.0 .0, &self.0 .1)
    }

    /// The plan and its actions with the ids `ids` gave them. Cheap once
    /// every other handle is dropped (the write's closure is, when the
    /// write returns); copies otherwise.
    pub fn stored(self, ids: Ids) -> (ActionPlan, Vec<Action>) {
        let (mut plan, mut actions) = std::sync::Arc::unwrap_or_clone(self.0);
        plan.id = ids.plan;
        for (a, id) in actions.iter_mut().zip(ids.actions) {
            a.id = id;
        }
        (plan, actions)
    }
}

/// `PATCH` on a plan's state: `wanted` turns the plan as it is now into the
/// state asked for (it applies the JSON Patch). Cancelling a plan that has
/// not run cancels its actions.
pub fn patch(
    txn: &mut Txn<'_>,
    uuid: Uuid,
    wanted: impl FnOnce(&ActionPlan) -> Result<PlanState, LifecycleError>,
) -> Result<ActionPlan, LifecycleError> {
    let mut plan = live_plan(txn, uuid)?;
    let to = wanted(&plan)?;
    let now = Utc::now();
    let never_started = matches!(plan.state, P::Recommended | P::Pending);
    move_plan(txn, &mut plan, PlanTrigger::Patch, to, now)?;
    if to == P::Cancelled {
        cancel_pending_actions(txn, uuid, "Not run: the action plan was cancelled.", now)?;
        if never_started {
            release(txn, &plan, now)?;
        }
    }
    Ok(plan)
}

/// A rollback plan dropped before it ever ran (cancelled or deleted while
/// RECOMMENDED or PENDING) gives its original back: the original's
/// `rolled_back_by` is cleared, so a stray rollback request cannot block
/// the real one forever. The dropped plan keeps its `rollback_of`.
fn release(txn: &mut Txn<'_>, plan: &ActionPlan, now: Timestamp) -> Result<(), LifecycleError> {
    let Some(original) = plan.rollback_of else { return Ok(()) };
    if let Some(mut o) = txn.plan(original)? {
        if o.rolled_back_by == Some(plan.uuid) {
            o.rolled_back_by = None;
            o.updated_at = Some(now);
            txn.update_plan(o)?;
            tracing::info!(%original, rollback = %plan.uuid, "unstarted rollback plan dropped; the original can be rolled back again");
        }
    }
    Ok(())
}

/// `start`: RECOMMENDED → PENDING.
pub fn start(txn: &mut Txn<'_>, uuid: Uuid) -> Result<ActionPlan, LifecycleError> {
    let mut plan = live_plan(txn, uuid)?;
    move_plan(txn, &mut plan, PlanTrigger::Start, P::Pending, Utc::now())?;
    Ok(plan)
}

/// Soft delete: the plan and its actions become DELETED.
pub fn delete(txn: &mut Txn<'_>, uuid: Uuid) -> Result<ActionPlan, LifecycleError> {
    let mut plan = live_plan(txn, uuid)?;
    let now = Utc::now();
    let never_started = matches!(plan.state, P::Recommended | P::Pending);
    move_plan(txn, &mut plan, PlanTrigger::Delete, P::Deleted, now)?;
    if never_started {
        release(txn, &plan, now)?;
    }
    for mut a in txn.actions_of(uuid)? {
        if a.state != A::Deleted {
            let message = a.status_message.take();
            move_action(txn, &mut a, ActionTrigger::Delete, A::Deleted, message, now)?;
        }
    }
    Ok(plan)
}

/// Skips an action (or changes a skipped action's message) while its plan
/// has not started. `wanted` turns the action as it is now into the state
/// and message asked for (it applies the JSON Patch).
pub fn skip_action(
    txn: &mut Txn<'_>,
    uuid: Uuid,
    wanted: impl FnOnce(&Action) -> Result<(ActionState, Option<String>), LifecycleError>,
) -> Result<Action, LifecycleError> {
    let mut action = txn
        .action(uuid)?
        .filter(|a| a.state != A::Deleted)
        .ok_or(LifecycleError::NotFound { kind: "Action", uuid })?;
    let plan = live_plan(txn, action.action_plan_uuid)?;
    if !matches!(plan.state, P::Recommended | P::Pending) {
        return Err(LifecycleError::Conflict(format!(
            "Action {uuid} can be skipped only while its action plan is RECOMMENDED or PENDING; it is {}.",
            plan.state
        )));
    }
    let (to, message) = wanted(&action)?;
    move_action(txn, &mut action, ActionTrigger::Skip, to, message, Utc::now())?;
    Ok(action)
}

/// The applier takes a started plan: PENDING → ONGOING. Returns the plan
/// and its actions as of that moment (read in the same transaction, so no
/// operator change slips in between), or `None` if the plan is not PENDING
/// any more (cancelled, or taken by another run).
pub fn begin(txn: &mut Txn<'_>, uuid: Uuid) -> Result<Option<(ActionPlan, Vec<Action>)>, LifecycleError> {
    let Some(mut plan) = txn.plan(uuid)? else { return Ok(None) };
    if plan.state != P::Pending {
        return Ok(None);
    }
    move_plan(txn, &mut plan, PlanTrigger::Begin, P::Ongoing, Utc::now())?;
    let actions = txn.actions_of(uuid)?;
    Ok(Some((plan, actions)))
}

/// Cancels every PENDING action of a plan with `why`.
fn cancel_pending_actions(
    txn: &mut Txn<'_>,
    plan: Uuid,
    why: &str,
    now: Timestamp,
) -> Result<(), LifecycleError> {
    for mut a in txn.actions_of(plan)? {
        if a.state == A::Pending {
            move_action(txn, &mut a, ActionTrigger::Cancel, A::Cancelled, Some(why.into()), now)?;
        }
    }
    Ok(())
}

/// How the actions of a finished run ended, for [`settle`].
#[derive(Debug, Default, Clone)]
pub struct Outcome {
    /// Actions that never ran (PENDING when the run ended): they end CANCELLED.
    pub never_ran: Vec<Action>,
    /// The first FAILED action, if any.
    pub first_failure: Option<Action>,
    /// How many actions FAILED.
    pub failed: usize,
    /// Whether any action was SKIPPED.
    pub skipped: bool,
}

/// The plan's message when some actions were skipped (Watcher's words).
pub const SKIPPED_MESSAGE: &str = "One or more actions were skipped.";

/// The start of the plan's message when every action was skipped.
pub const NOTHING_DONE: &str = "Nothing was done:";

/// A SUCCEEDED plan with skipped actions: Watcher's words, or, when no
/// action succeeded, that nothing was done and the first skip's reason (a
/// plan whose hosts were all unknown SUCCEEDED with no word of it once).
fn skipped_message(actions: &[Action]) -> String {
    if actions.iter().any(|a| a.state == A::Succeeded) {
        return SKIPPED_MESSAGE.to_string();
    }
    let skipped: Vec<&Action> = actions.iter().filter(|a| a.state == A::Skipped).collect();
    let first = skipped.first().map(|a| {
        format!(
            "; the first, {} ({}): {}",
            a.uuid,
            a.action_type,
            a.status_message.as_deref().unwrap_or("no reason")
        )
    });
    format!(
        "{NOTHING_DONE} every action was SKIPPED ({} of {}){}",
        skipped.len(),
        actions.len(),
        first.unwrap_or_default()
    )
}

/// The applier finishes a plan: CANCELLED if it was being cancelled, else
/// FAILED if any action failed (the message names the first), else
/// SUCCEEDED. Actions that never ran end CANCELLED.
pub fn settle(txn: &mut Txn<'_>, uuid: Uuid, outcome: Outcome) -> Result<ActionPlan, LifecycleError> {
    let now = Utc::now();
    let mut plan = txn.plan_required(uuid)?;
    for mut a in outcome.never_ran {
        move_action(
            txn,
            &mut a,
            ActionTrigger::Cancel,
            A::Cancelled,
            Some("Not run: the action plan was cancelled.".into()),
            now,
        )?;
    }
    let (to, message) = if plan.state == P::Cancelling {
        (P::Cancelled, None)
    } else if let Some(first) = &outcome.first_failure {
        let more = match outcome.failed {
            0 | 1 => String::new(),
            n => format!(" ({} more action(s) failed)", n - 1),
        };
        let why = first.status_message.as_deref().unwrap_or("no reason given");
        (P::Failed, Some(format!("Action {} ({}) failed: {why}{more}", first.uuid, first.action_type)))
    } else if outcome.skipped {
        (P::Succeeded, Some(skipped_message(&txn.actions_of(uuid)?)))
    } else {
        (P::Succeeded, None)
    };
    plan.status_message = message;
    move_plan(txn, &mut plan, PlanTrigger::Settle, to, now)?;
    Ok(plan)
}

/// The `status_message` of an interrupted plan.
pub fn interrupted_message(in_flight: usize, not_started: usize) -> String {
    format!(
        "Interrupted: rollback-host stopped while this plan was running; {in_flight} action(s) in progress \
         were settled by what the cloud driver observed (see each action) and {not_started} not yet started \
         were marked CANCELLED."
    )
}

/// How a FAILED action's message starts when, after a restart, the driver
/// could not tell whether it made its change. The record says so in
/// `outcome_unknown`; stores written before that field mark these actions
/// by this prefix only, which [`outcome_unknown`] still reads.
pub const UNKNOWN_PREFIX: &str = "Interrupted, outcome unknown:";

/// Whether `action` was interrupted with an outcome nobody could observe
/// (a rollback lists these instead of inverting them).
pub fn outcome_unknown(action: &Action) -> bool {
    action.state == A::Failed
        && (action.outcome_unknown
            || action.status_message.as_deref().is_some_and(|m| m.starts_with(UNKNOWN_PREFIX)))
}

/// A restart found `uuid` running. Its ONGOING actions are settled by what
/// the driver `observed` of each: SUCCEEDED with the observed result when
/// the change happened (so a rollback undoes it), FAILED when nothing
/// changed, FAILED with `outcome_unknown` set (and [`UNKNOWN_PREFIX`] and
/// the reason in its message) when the driver cannot tell (or was not asked). Its PENDING actions end CANCELLED, and
/// the plan FAILED (CANCELLED if it was being cancelled) with a message
/// saying so.
pub fn interrupt(
    txn: &mut Txn<'_>,
    uuid: Uuid,
    observed: &std::collections::HashMap<Uuid, Observed>,
) -> Result<ActionPlan, LifecycleError> {
    let now = Utc::now();
    let (mut in_flight, mut not_started) = (0, 0);
    for mut a in txn.actions_of(uuid)? {
        let (to, message) = match a.state {
            A::Ongoing => {
                in_flight += 1;
                match observed.get(&a.uuid) {
                    Some(Observed::Happened(result)) => {
                        a.result = Some(result.clone());
                        (A::Succeeded, "Interrupted by a stop; after the restart the cloud driver observed that the change happened.".to_string())
                    }
                    Some(Observed::NotHappened) => (
                        A::Failed,
                        "Interrupted by a stop; after the restart the cloud driver observed that nothing changed.".to_string(),
                    ),
                    Some(Observed::Unknown(why)) => {
                        a.outcome_unknown = true;
                        (A::Failed, format!("{UNKNOWN_PREFIX} {why}"))
                    }
                    None => {
                        a.outcome_unknown = true;
                        (A::Failed, format!("{UNKNOWN_PREFIX} the cloud driver was not asked"))
                    }
                }
            }
            A::Pending => {
                not_started += 1;
                (A::Cancelled, "Interrupted: rollback-host stopped before this action ran.".to_string())
            }
            _ => continue,
        };
        move_action(txn, &mut a, ActionTrigger::Interrupt, to, Some(message), now)?;
    }
    let mut plan = txn.plan_required(uuid)?;
    let to = if plan.state == P::Cancelling { P::Cancelled } else { P::Failed };
    plan.status_message = Some(interrupted_message(in_flight, not_started));
    move_plan(txn, &mut plan, PlanTrigger::Interrupt, to, now)?;
    Ok(plan)
}

#[cfg(test)]
mod tests;
