//! The applier: runs action plans against a [`CloudDriver`].
//!
//! A started plan goes PENDING → ONGOING → SUCCEEDED | FAILED (or
//! CANCELLING → CANCELLED). Actions run in DAG order, independent branches
//! concurrently up to a bound; an action whose parent FAILED or was
//! CANCELLED never runs and ends CANCELLED. SKIPPED parents count as done.
//!
//! Each action: the driver checks pre-conditions and observes the pre-state;
//! the action is written ONGOING **with its pre-state, durably, before the
//! driver acts**; then its result (or failure) is written. See [`recover`]
//! for what a restart does with a plan that was running.

mod recover;

pub use recover::{recover, Recovery};

use crate::cloud::{CloudDriver, Prepared};
use chrono::Utc;
use rollback_store::{Action, ActionPlan, ActionState, PlanState, Store, StoreError};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

/// Runs plans in the background. Cheap to clone.
#[derive(Clone)]
pub struct Applier {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    driver: Arc<dyn CloudDriver>,
    concurrency: usize,
    running: Mutex<HashSet<Uuid>>,
}

/// The plan's message when some actions were skipped (Watcher's words).
pub const SKIPPED_MESSAGE: &str = "One or more actions were skipped.";

impl Applier {
    /// An applier over `store` acting through `driver`, running at most
    /// `concurrency` actions of one plan at once.
    pub fn new(store: Store, driver: Arc<dyn CloudDriver>, concurrency: usize) -> Self {
        Applier {
            inner: Arc::new(Inner {
                store,
                driver,
                concurrency: concurrency.max(1),
                running: Mutex::new(HashSet::new()),
            }),
        }
    }

    /// Starts running a PENDING plan in the background (on the current tokio
    /// runtime). Does nothing if it is already running here.
    pub fn launch(&self, plan: Uuid) {
        if !self.inner.running.lock().expect("running set").insert(plan) {
            return;
        }
        let inner = Arc::clone(&self.inner);
        tokio::spawn(async move {
            if let Err(e) = run_plan(&inner, plan).await {
                tracing::error!(%plan, "the applier stopped on a store error: {e}");
            }
            inner.running.lock().expect("running set").remove(&plan);
        });
    }

    /// Whether a plan is being run by this applier now.
    pub fn is_running(&self, plan: Uuid) -> bool {
        self.inner.running.lock().expect("running set").contains(&plan)
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| StoreError::Engine(format!("applier task: {e}")))?
}

/// PENDING → ONGOING, then schedule actions until none can run, then settle
/// the plan's final state.
async fn run_plan(inner: &Arc<Inner>, plan_uuid: Uuid) -> Result<(), StoreError> {
    let store = inner.store.clone();
    let began = blocking(move || {
        store.write(move |txn| {
            let Some(mut plan) = txn.plan(plan_uuid)? else {
                return Ok(false);
            };
            if plan.state != PlanState::Pending {
                return Ok(false);
            }
            plan.state = PlanState::Ongoing;
            plan.updated_at = Some(Utc::now());
            txn.update_plan(plan)?;
            Ok(true)
        })
    })
    .await?;
    if !began {
        return Ok(());
    }
    tracing::info!(plan = %plan_uuid, "action plan ONGOING");

    let mut tasks = tokio::task::JoinSet::new();
    let mut in_flight: HashSet<Uuid> = HashSet::new();
    loop {
        let store = inner.store.clone();
        let (plan, actions) = blocking(move || {
            let plan =
                store.plan(plan_uuid)?.ok_or(StoreError::NotFound { kind: "ActionPlan", uuid: plan_uuid })?;
            Ok((plan, store.actions_of(plan_uuid)?))
        })
        .await?;
        let cancelling = plan.state == PlanState::Cancelling;

        let (ready, doomed) = classify(&actions, &in_flight);
        if !doomed.is_empty() {
            let store = inner.store.clone();
            blocking(move || cancel_doomed(&store, doomed)).await?;
            continue;
        }
        if !cancelling {
            for action in ready.into_iter().take(inner.concurrency.saturating_sub(in_flight.len())) {
                in_flight.insert(action.uuid);
                let inner = Arc::clone(inner);
                tasks.spawn_blocking(move || {
                    let uuid = action.uuid;
                    (uuid, execute(&inner, action))
                });
            }
        }
        match tasks.join_next().await {
            Some(Ok((uuid, outcome))) => {
                in_flight.remove(&uuid);
                outcome?;
            }
            Some(Err(e)) => return Err(StoreError::Engine(format!("action task: {e}"))),
            None => break,
        }
    }

    let store = inner.store.clone();
    let plan = blocking(move || settle(&store, plan_uuid)).await?;
    tracing::info!(plan = %plan_uuid, state = %plan.state, "action plan finished");
    Ok(())
}

/// Splits PENDING actions into those ready to run (every parent SUCCEEDED
/// or SKIPPED) and those that never will (a parent FAILED or CANCELLED).
fn classify(actions: &[Action], in_flight: &HashSet<Uuid>) -> (Vec<Action>, Vec<(Uuid, String)>) {
    let state: HashMap<Uuid, ActionState> = actions.iter().map(|a| (a.uuid, a.state)).collect();
    let mut ready = Vec::new();
    let mut doomed = Vec::new();
    for a in actions.iter().filter(|a| a.state == ActionState::Pending && !in_flight.contains(&a.uuid)) {
        let parents: Vec<(Uuid, Option<ActionState>)> =
            a.parents.iter().map(|p| (*p, state.get(p).copied())).collect();
        if let Some((p, s)) = parents.iter().find(|(_, s)| {
            matches!(s, Some(ActionState::Failed | ActionState::Cancelled | ActionState::Deleted) | None)
        }) {
            let s = s.map(|s| s.to_string()).unwrap_or_else(|| "missing".into());
            doomed.push((a.uuid, format!("Not run: parent action {p} is {s}.")));
        } else if parents
            .iter()
            .all(|(_, s)| matches!(s, Some(ActionState::Succeeded | ActionState::Skipped)))
        {
            ready.push(a.clone());
        }
    }
    (ready, doomed)
}

fn cancel_doomed(store: &Store, doomed: Vec<(Uuid, String)>) -> Result<(), StoreError> {
    store.write(move |txn| {
        let now = Utc::now();
        for (uuid, why) in doomed {
            if let Some(mut a) = txn.action(uuid)? {
                if a.state == ActionState::Pending {
                    a.state = ActionState::Cancelled;
                    a.status_message = Some(why);
                    a.updated_at = Some(now);
                    txn.update_action(a)?;
                }
            }
        }
        Ok(())
    })
}

/// Writes an action's new state, pre-state, result and message.
fn record(
    store: &Store,
    uuid: Uuid,
    state: ActionState,
    pre_state: Option<Value>,
    result: Option<Value>,
    message: Option<String>,
) -> Result<(), StoreError> {
    store.write(move |txn| {
        let mut a = txn.action(uuid)?.ok_or(StoreError::NotFound { kind: "Action", uuid })?;
        a.state = state;
        if pre_state.is_some() {
            a.pre_state = pre_state;
        }
        if result.is_some() {
            a.result = result;
        }
        a.status_message = message;
        a.updated_at = Some(Utc::now());
        txn.update_action(a)
    })
}

/// Runs one action to its final state.
fn execute(inner: &Inner, action: Action) -> Result<(), StoreError> {
    let store = &inner.store;
    let uuid = action.uuid;
    let prepared = match inner.driver.prepare(&action) {
        Ok(p) => p,
        Err(e) => return record(store, uuid, ActionState::Failed, None, None, Some(e.to_string())),
    };
    // A rollback action whose resource no longer matches what it expects
    // (gone, moved, changed) is drift, not a failure: skip it, saying why,
    // so its dependents still run.
    let drift = match &prepared {
        Prepared::Run { pre_state, .. } | Prepared::Fail { pre_state, .. } => drifted(&action, pre_state),
        Prepared::Skip { .. } => None,
    };
    match (prepared, drift) {
        (Prepared::Skip { reason, pre_state }, _) => {
            tracing::info!(action = %uuid, "SKIPPED: {reason}");
            record(store, uuid, ActionState::Skipped, Some(pre_state), None, Some(reason))
        }
        (Prepared::Fail { reason, pre_state }, Some(drift)) => {
            let why = format!("{drift} ({reason})");
            tracing::info!(action = %uuid, "SKIPPED: {why}");
            record(store, uuid, ActionState::Skipped, Some(pre_state), None, Some(why))
        }
        (Prepared::Fail { reason, pre_state }, None) => {
            tracing::warn!(action = %uuid, "FAILED: {reason}");
            record(store, uuid, ActionState::Failed, Some(pre_state), None, Some(reason))
        }
        (Prepared::Run { pre_state, .. }, Some(drift)) => {
            tracing::info!(action = %uuid, "SKIPPED: {drift}");
            record(store, uuid, ActionState::Skipped, Some(pre_state), None, Some(drift))
        }
        (Prepared::Run { pre_state, note }, None) => {
            // The pre-state is durable before anything changes.
            record(store, uuid, ActionState::Ongoing, Some(pre_state.clone()), None, None)?;
            match inner.driver.apply(&action, &pre_state) {
                Ok(Ok(result)) => record(store, uuid, ActionState::Succeeded, None, Some(result), note),
                Ok(Err(reason)) => {
                    tracing::warn!(action = %uuid, "FAILED: {reason}");
                    record(store, uuid, ActionState::Failed, None, None, Some(reason))
                }
                Err(e) => record(store, uuid, ActionState::Failed, None, None, Some(e.to_string())),
            }
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

/// The plan's final state from its actions: CANCELLED when it was being
/// cancelled, else FAILED if any action failed, else SUCCEEDED. Actions that
/// never ran end CANCELLED.
fn settle(store: &Store, plan_uuid: Uuid) -> Result<ActionPlan, StoreError> {
    store.write(move |txn| {
        let now = Utc::now();
        let mut plan = txn.plan_required(plan_uuid)?;
        let mut failed = Vec::new();
        let mut skipped = false;
        for mut a in txn.actions_of(plan_uuid)? {
            match a.state {
                ActionState::Pending => {
                    a.state = ActionState::Cancelled;
                    a.status_message = Some("Not run: the action plan was cancelled.".into());
                    a.updated_at = Some(now);
                    txn.update_action(a)?;
                }
                ActionState::Failed => failed.push(a),
                ActionState::Skipped => skipped = true,
                _ => {}
            }
        }
        let (state, message) = if plan.state == PlanState::Cancelling {
            (PlanState::Cancelled, None)
        } else if let Some(first) = failed.first() {
            let more = match failed.len() {
                1 => String::new(),
                n => format!(" ({} more action(s) failed)", n - 1),
            };
            let why = first.status_message.as_deref().unwrap_or("no reason given");
            (
                PlanState::Failed,
                Some(format!("Action {} ({}) failed: {why}{more}", first.uuid, first.action_type)),
            )
        } else {
            (PlanState::Succeeded, skipped.then(|| SKIPPED_MESSAGE.to_string()))
        };
        plan.state = state;
        plan.status_message = message;
        plan.updated_at = Some(now);
        plan.finished_at = Some(now);
        txn.update_plan(plan.clone())?;
        Ok(plan)
    })
}
