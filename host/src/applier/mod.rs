//! The applier: runs action plans against a [`CloudDriver`].
//!
//! A started plan goes PENDING → ONGOING → SUCCEEDED | FAILED (or
//! CANCELLING → CANCELLED), through the transition table in
//! [`crate::lifecycle`]. Actions run in DAG order, independent
//! branches concurrently up to a bound; an action whose parent FAILED or was
//! CANCELLED never runs and ends CANCELLED. SKIPPED parents count as done.
//!
//! The plan's actions are read once, in the transaction that begins the
//! plan; from then on their states are kept in memory ([`schedule`]) and
//! each action costs only its own durable writes (see [`execute`]). A
//! panicking driver or a failing store ends that action FAILED and the plan
//! still settles. See [`recover`] for what a restart does with a plan that
//! was running.

mod execute;
pub mod leases;
mod recover;
mod schedule;

pub use recover::{recover, Recovery};

use crate::cloud::CloudDriver;
use crate::lifecycle::{self, blocking, move_action, ActionTrigger, LifecycleError, Outcome};
use chrono::Utc;
use rollback_store::{Action, ActionState, Store};
use schedule::Schedule;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
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
    /// Permits to run a plan: the plans beyond the bound wait, PENDING, in
    /// the order they were started (tokio's semaphore is fair).
    plan_slots: Arc<tokio::sync::Semaphore>,
    /// Plans running here, each with its "being cancelled" flag.
    running: Mutex<HashMap<Uuid, Arc<AtomicBool>>>,
    /// On a shared store: this instance's name and lease length.
    holder: Option<Arc<Holder>>,
}

/// Who holds leases here, and for how long ([`leases`]).
pub struct Holder {
    /// This instance's id.
    pub owner: String,
    /// A lease's length.
    pub ttl: std::time::Duration,
}

impl Applier {
    /// An applier over `store` acting through `driver`, running at most
    /// `concurrency` actions of one plan at once and at most `plans` plans.
    /// On a shared store, plans are claimed with leases of `lease` each
    /// under the name `instance` (a random one when `None`).
    pub fn new(
        store: Store,
        driver: Arc<dyn CloudDriver>,
        concurrency: usize,
        plans: usize,
        lease: std::time::Duration,
        instance: Option<String>,
    ) -> Self {
        let holder = store.shared().then(|| {
            Arc::new(Holder {
                owner: instance.unwrap_or_else(leases::instance_id),
                ttl: lease.max(std::time::Duration::from_millis(300)),
            })
        });
        Applier {
            inner: Arc::new(Inner {
                holder,
                store,
                driver,
                concurrency: concurrency.max(1),
                plan_slots: Arc::new(tokio::sync::Semaphore::new(plans.max(1))),
                running: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// Starts running a PENDING plan in the background (on the current tokio
    /// runtime) as soon as a plan slot is free; until then it stays
    /// PENDING. Does nothing if it is already running or waiting here.
    pub fn launch(&self, plan: Uuid) {
        let cancelled = Arc::new(AtomicBool::new(false));
        {
            let mut running = self.inner.running.lock().expect("running set");
            if running.contains_key(&plan) {
                return;
            }
            running.insert(plan, Arc::clone(&cancelled));
        }
        let inner = Arc::clone(&self.inner);
        let me = self.clone();
        tokio::spawn(async move {
            if let Some(holder) = inner.holder.clone() {
                // A shared store: run it only with its lease.
                let claimed =
                    tokio::task::spawn_blocking(move || leases::claim(&me, &holder, plan, false)).await;
                match claimed {
                    Ok(Ok(Some(_))) => {}
                    Ok(Ok(None)) => {
                        tracing::info!(%plan, "another instance holds this plan's lease; not running it here");
                        inner.running.lock().expect("running set").remove(&plan);
                        return;
                    }
                    Ok(Err(e)) => {
                        tracing::error!(%plan, "the plan's lease could not be claimed: {e}; another instance will take it over");
                        inner.running.lock().expect("running set").remove(&plan);
                        return;
                    }
                    Err(_) => return,
                }
            }
            let _slot = Arc::clone(&inner.plan_slots).acquire_owned().await;
            if let Err(e) = run_plan(&inner, plan, &cancelled).await {
                tracing::error!(%plan, "the applier could not finish the plan: {e}; a restart will mark it interrupted");
            }
            inner.running.lock().expect("running set").remove(&plan);
        });
    }

    /// Tells a running plan (now CANCELLING) to start no more actions.
    pub fn cancel(&self, plan: Uuid) {
        if let Some(flag) = self.inner.running.lock().expect("running set").get(&plan) {
            flag.store(true, Ordering::SeqCst);
        }
    }

    /// The plans running or waiting for a slot here.
    pub fn running(&self) -> Vec<Uuid> {
        self.inner.running.lock().expect("running set").keys().copied().collect()
    }

    /// On a shared store, starts the lease loops and returns true.
    pub(crate) fn start_leases(&self) -> bool {
        match &self.inner.holder {
            Some(holder) => {
                leases::start(self, Arc::clone(holder));
                true
            }
            None => false,
        }
    }

    /// This instance's id in leases (shared stores only).
    pub fn instance(&self) -> Option<&str> {
        self.inner.holder.as_ref().map(|h| h.owner.as_str())
    }

    /// Whether a plan is being run by this applier now.
    pub fn is_running(&self, plan: Uuid) -> bool {
        self.inner.running.lock().expect("running set").contains_key(&plan)
    }

    pub(crate) fn store(&self) -> &Store {
        &self.inner.store
    }

    pub(crate) fn driver(&self) -> &dyn CloudDriver {
        self.inner.driver.as_ref()
    }
}

/// One action: [`execute::begin`] on a blocking thread, the driver's wait
/// (if any) asynchronously, then [`execute::finish`] on a blocking thread.
async fn run_action(inner: Arc<Inner>, i: usize, mut action: Action) -> (usize, Action) {
    let (store, driver) = (inner.store.clone(), Arc::clone(&inner.driver));
    let begun = tokio::task::spawn_blocking(move || {
        let started = execute::begin(&store, driver.as_ref(), &mut action);
        (action, started)
    })
    .await;
    let (mut action, started) = match begun {
        Ok(done) => done,
        // `begin` catches panics: a join error means the runtime is stopping.
        Err(e) => panic!("action task: {e}"),
    };
    let Some(started) = started else { return (i, action) };
    if let Some(wait) = inner.driver.wait(&started.operation) {
        tokio::time::sleep(wait).await;
    }
    let (store, driver) = (inner.store.clone(), Arc::clone(&inner.driver));
    let finished = tokio::task::spawn_blocking(move || {
        execute::finish(&store, &driver, &mut action, started);
        action
    })
    .await;
    match finished {
        Ok(action) => (i, action),
        Err(e) => panic!("action task: {e}"),
    }
}

/// PENDING → ONGOING, then schedule actions until none can run, then settle
/// the plan's final state.
async fn run_plan(inner: &Arc<Inner>, plan_uuid: Uuid, cancelled: &AtomicBool) -> Result<(), LifecycleError> {
    let store = inner.store.clone();
    let Some((_, actions)) =
        blocking(move || store.write(move |txn| lifecycle::begin(txn, plan_uuid))).await?
    else {
        return Ok(());
    };
    tracing::info!(plan = %plan_uuid, actions = actions.len(), "action plan ONGOING");

    let mut schedule = Schedule::new(actions);
    let mut tasks = tokio::task::JoinSet::new();
    let mut in_flight = 0usize;
    loop {
        let doomed = schedule.take_doomed();
        if !doomed.is_empty() {
            let records: Vec<_> =
                doomed.iter().map(|(i, why)| (schedule.action(*i).clone(), why.clone())).collect();
            let store = inner.store.clone();
            let written = blocking(move || {
                store.write(move |txn| {
                    let now = Utc::now();
                    let mut out = Vec::with_capacity(records.len());
                    for (mut a, why) in records.clone() {
                        move_action(
                            txn,
                            &mut a,
                            ActionTrigger::Cancel,
                            ActionState::Cancelled,
                            Some(why),
                            now,
                        )?;
                        out.push(a);
                    }
                    Ok::<_, LifecycleError>(out)
                })
            })
            .await?;
            for ((i, _), a) in doomed.into_iter().zip(written) {
                schedule.finished(i, a);
            }
            continue;
        }
        if !cancelled.load(Ordering::SeqCst) {
            while in_flight < inner.concurrency {
                let Some((i, action)) = schedule.next_ready() else { break };
                in_flight += 1;
                tasks.spawn(run_action(Arc::clone(inner), i, action));
            }
        }
        match tasks.join_next().await {
            Some(Ok((i, action))) => {
                in_flight -= 1;
                schedule.finished(i, action);
            }
            // `execute` catches panics; a join error means the runtime is going away.
            Some(Err(e)) => return Err(LifecycleError::Internal(format!("action task: {e}"))),
            None => break,
        }
    }

    let mut outcome = Outcome::default();
    for a in schedule.into_actions() {
        match a.state {
            ActionState::Pending => outcome.never_ran.push(a),
            ActionState::Failed => {
                outcome.failed += 1;
                outcome.first_failure.get_or_insert(a);
            }
            ActionState::Skipped => outcome.skipped = true,
            _ => {}
        }
    }
    let store = inner.store.clone();
    let plan =
        blocking(move || store.write(move |txn| lifecycle::settle(txn, plan_uuid, outcome.clone()))).await?;
    tracing::info!(plan = %plan_uuid, state = %plan.state, "action plan finished");
    Ok(())
}
