//! The plan domain: every operation on plans and actions that callers (the
//! HTTP API, later the CLI) may ask for, each one function over the store,
//! with the state rules in one table ([`crate::lifecycle`]).
//!
//! [`Plans`] is the entry point: it reads plans and actions, creates plans
//! ([`new_plan`] checks them), moves them through Watcher's states, rolls
//! them back (through [`crate::rollback`]) and hands started plans to the
//! [`Applier`]. It knows nothing of HTTP: errors are [`PlanError`]s that
//! the API renders.

mod error;
pub mod import;
pub mod new_plan;

pub use error::PlanError;
pub use new_plan::NewPlan;

use crate::applier::Applier;
use crate::lifecycle::{self, LifecycleError};
use crate::openstack_api::Session;
use crate::plugins::{validator_for, Registry};
use crate::rollback::{Options, Planned, Planner, RollbackLimits};
use chrono::Utc;
use import::ImportError;
use rollback_store::{
    Action, ActionPlan, ActionSortKey, ActionState, PlanSortKey, PlanSource, PlanState, Store,
};
use std::sync::Arc;
use uuid::Uuid;

/// Which actions a list asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionsOf {
    /// Every action.
    All,
    /// The actions of one plan.
    Plan(Uuid),
    /// The actions of the plans of one audit.
    Audit(Uuid),
}

/// The plan operations. Cheap to clone.
#[derive(Clone)]
pub struct Plans {
    store: Store,
    registry: Registry,
    applier: Applier,
    limits: RollbackLimits,
}

/// [`lifecycle::blocking`] for this layer's closures.
async fn blocking<T, F>(f: F) -> Result<T, PlanError>
where
    F: FnOnce() -> Result<T, PlanError> + Send + 'static,
    T: Send + 'static,
{
    lifecycle::blocking(f).await
}

fn visible<T>(record: Option<T>, deleted: impl Fn(&T) -> bool, show_deleted: bool) -> Option<T> {
    record.filter(|r| show_deleted || !deleted(r))
}

impl Plans {
    /// Plans over `store`, validated by the schemas of `registry`'s plugins
    /// (or the built-in fallback), run by `applier`, rollable back for
    /// `limits.window` after they finish, within `limits`.
    pub fn new(store: Store, registry: Registry, applier: Applier, limits: RollbackLimits) -> Self {
        Plans { store, registry, applier, limits }
    }

    /// One plan; a deleted one only with `show_deleted`.
    pub async fn plan(&self, uuid: Uuid, show_deleted: bool) -> Result<ActionPlan, PlanError> {
        let store = self.store.clone();
        blocking(move || {
            visible(store.plan(uuid)?, |p| p.state == PlanState::Deleted, show_deleted)
                .ok_or(LifecycleError::NotFound { kind: "ActionPlan", uuid }.into())
        })
        .await
    }

    /// Every plan (of one audit, when given), in creation order.
    pub async fn plans(&self, audit: Option<Uuid>, show_deleted: bool) -> Result<Vec<ActionPlan>, PlanError> {
        let store = self.store.clone();
        let mut plans = blocking(move || match audit {
            Some(a) => Ok(store.plans_of_audit(a)?),
            None => Ok(store.plans()?),
        })
        .await?;
        plans.retain(|p| show_deleted || p.state != PlanState::Deleted);
        Ok(plans)
    }

    /// One page of plans from the store's sort index: up to `limit` in the
    /// order of `sort_key` (ties in creation order), after the plan `marker`, deleted ones only
    /// with `show_deleted`. Costs the page, not the table.
    pub async fn plans_page(
        &self,
        sort_key: PlanSortKey,
        marker: Option<Uuid>,
        descending: bool,
        limit: usize,
        show_deleted: bool,
    ) -> Result<Vec<ActionPlan>, PlanError> {
        let store = self.store.clone();
        blocking(move || {
            let keep = |p: &ActionPlan| show_deleted || p.state != PlanState::Deleted;
            Ok(store.plans_page(sort_key, marker, descending, limit, keep)?)
        })
        .await
    }

    /// Like [`Plans::plans_page`], for actions.
    pub async fn actions_page(
        &self,
        sort_key: ActionSortKey,
        marker: Option<Uuid>,
        descending: bool,
        limit: usize,
        show_deleted: bool,
    ) -> Result<Vec<Action>, PlanError> {
        let store = self.store.clone();
        blocking(move || {
            let keep = |a: &Action| show_deleted || a.state != ActionState::Deleted;
            Ok(store.actions_page(sort_key, marker, descending, limit, keep)?)
        })
        .await
    }

    /// One action; a deleted one only with `show_deleted`.
    pub async fn action(&self, uuid: Uuid, show_deleted: bool) -> Result<Action, PlanError> {
        let store = self.store.clone();
        blocking(move || {
            visible(store.action(uuid)?, |a| a.state == ActionState::Deleted, show_deleted)
                .ok_or(LifecycleError::NotFound { kind: "Action", uuid }.into())
        })
        .await
    }

    /// Actions, in creation order (per plan, for an audit).
    pub async fn actions(&self, of: ActionsOf, show_deleted: bool) -> Result<Vec<Action>, PlanError> {
        let store = self.store.clone();
        let mut actions = blocking(move || match of {
            ActionsOf::Plan(p) => Ok(store.actions_of(p)?),
            ActionsOf::Audit(a) => {
                let mut out = Vec::new();
                for p in store.plans_of_audit(a)? {
                    out.extend(store.actions_of(p.uuid)?);
                }
                Ok(out)
            }
            ActionsOf::All => Ok(store.actions()?),
        })
        .await?;
        actions.retain(|a| show_deleted || a.state != ActionState::Deleted);
        Ok(actions)
    }

    /// Checks and stores a new plan (RECOMMENDED) with its actions.
    pub async fn create(&self, new: NewPlan) -> Result<(ActionPlan, Vec<Action>), PlanError> {
        let plugins = self.registry.snapshot();
        let checked = new_plan::check(&new, |t| validator_for(&plugins, t))?;
        self.store_new(Uuid::new_v4(), new, checked, None).await
    }

    /// Imports Watcher's RECOMMENDED plan `uuid` through `session` (see
    /// [`import`]): stored under Watcher's uuids, cancelled in Watcher.
    pub async fn import(
        &self,
        session: Option<Arc<Session>>,
        uuid: Uuid,
    ) -> Result<(ActionPlan, Vec<Action>), PlanError> {
        let session = session.ok_or(ImportError::NoSession)?;
        let store = self.store.clone();
        if blocking(move || Ok(store.plan(uuid)?)).await?.is_some() {
            return Err(ImportError::AlreadyImported(uuid).into());
        }
        let s = session.clone();
        let read = blocking(move || import::read(&s, uuid).map_err(PlanError::from)).await?;
        let plugins = self.registry.snapshot();
        let checked = new_plan::check(&read.new, |t| validator_for(&plugins, t))?;
        let watcher_state =
            blocking(move || import::take_over(&session, uuid).map_err(PlanError::from)).await?;
        let source = PlanSource { watcher_state, ..read.source };
        let stored = self.store_new(uuid, read.new, checked, Some(source)).await?;
        tracing::info!(plan = %uuid, "imported from Watcher (cancelled there)");
        Ok(stored)
    }

    async fn store_new(
        &self,
        uuid: Uuid,
        new: NewPlan,
        checked: Vec<new_plan::CheckedAction>,
        source: Option<PlanSource>,
    ) -> Result<(ActionPlan, Vec<Action>), PlanError> {
        let now = Utc::now();
        let imported = source.is_some();
        let plan = ActionPlan {
            audit_uuid: new.audit_uuid,
            global_efficacy: new.global_efficacy,
            efficacy_indicators: new.efficacy_indicators,
            hostname: new.hostname,
            source,
            ..ActionPlan::new(
                uuid,
                new.strategy_name.unwrap_or_else(|| "manual".into()),
                PlanState::Recommended,
                now,
            )
        };
        let actions: Vec<Action> = checked
            .into_iter()
            .map(|c| Action {
                description: c.description,
                ..Action::new(c.uuid, plan.uuid, c.action_type, c.input_parameters, c.parents, now)
            })
            .collect();
        let store = self.store.clone();
        let stored = blocking(move || {
            let new = lifecycle::NewPlan::new(plan, actions);
            let shared = new.share();
            let ids = store.write(move |txn| {
                if imported && txn.plan(shared.plan().uuid)?.is_some() {
                    return Err(ImportError::AlreadyImported(shared.plan().uuid).into());
                }
                Ok::<_, PlanError>(shared.insert(txn)?)
            })?;
            Ok::<_, PlanError>(new.stored(ids))
        })
        .await?;
        tracing::info!(plan = %stored.0.uuid, actions = stored.1.len(), "action plan created");
        Ok(stored)
    }

    /// Hands a plan that is now PENDING to the applier; tells it when a
    /// plan is now CANCELLING.
    fn follow_up(&self, plan: &ActionPlan) {
        match plan.state {
            PlanState::Pending => self.applier.launch(plan.uuid),
            PlanState::Cancelling => self.applier.cancel(plan.uuid),
            _ => {}
        }
    }

    /// `PATCH` on a plan's state: `wanted` gives the state asked for from
    /// the plan as it is (inside the transaction).
    pub async fn patch<F>(&self, uuid: Uuid, wanted: F) -> Result<ActionPlan, PlanError>
    where
        F: Fn(&ActionPlan) -> Result<PlanState, LifecycleError> + Send + 'static,
    {
        let store = self.store.clone();
        let plan =
            lifecycle::blocking(move || store.write(move |txn| lifecycle::patch(txn, uuid, &wanted))).await?;
        tracing::info!(plan = %plan.uuid, state = %plan.state, "action plan patched");
        self.follow_up(&plan);
        Ok(plan)
    }

    /// Starts a RECOMMENDED plan.
    pub async fn start(&self, uuid: Uuid) -> Result<ActionPlan, PlanError> {
        let store = self.store.clone();
        let plan = lifecycle::blocking(move || store.write(move |txn| lifecycle::start(txn, uuid))).await?;
        tracing::info!(plan = %plan.uuid, "action plan started");
        self.follow_up(&plan);
        Ok(plan)
    }

    /// Soft-deletes a plan and its actions.
    pub async fn delete(&self, uuid: Uuid) -> Result<(), PlanError> {
        let store = self.store.clone();
        lifecycle::blocking(move || store.write(move |txn| lifecycle::delete(txn, uuid))).await?;
        tracing::info!(plan = %uuid, "action plan deleted");
        Ok(())
    }

    /// Skips an action of a plan that has not started: `wanted` gives the
    /// state and message asked for from the action as it is.
    pub async fn skip_action<F>(&self, uuid: Uuid, wanted: F) -> Result<Action, PlanError>
    where
        F: Fn(&Action) -> Result<(ActionState, Option<String>), LifecycleError> + Send + 'static,
    {
        let store = self.store.clone();
        let action =
            lifecycle::blocking(move || store.write(move |txn| lifecycle::skip_action(txn, uuid, &wanted)))
                .await?;
        tracing::info!(action = %action.uuid, state = %action.state, "action patched");
        Ok(action)
    }

    /// Plans the rollback of `uuid` and, unless a dry run, stores it (and
    /// starts it with `auto_start`). The plugins active now serve the whole
    /// rollback, whatever changes meanwhile.
    pub async fn rollback(&self, uuid: Uuid, options: Options) -> Result<Planned, PlanError> {
        let (store, plugins, limits) = (self.store.clone(), self.registry.snapshot(), self.limits);
        let planned = blocking(move || {
            Ok(Planner { store: &store, plugins: &plugins, limits }.rollback(uuid, options)?)
        })
        .await?;
        if !options.dry_run {
            self.follow_up(&planned.plan);
        }
        Ok(planned)
    }
}
