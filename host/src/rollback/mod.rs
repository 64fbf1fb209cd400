//! The rollback planner: turns an executed plan into the plan that undoes it.
//!
//! It refuses plans that cannot be rolled back (not finished, finished too
//! long ago, already rolled back, an action type with no inverter), asks the
//! inverter plugin of every SUCCEEDED action for its inverse (FAILED,
//! SKIPPED and CANCELLED actions changed nothing), orders the inverses in
//! reverse topological order of the original DAG ([`inverse_dag`]), checks
//! their parameters against their types' schemas, and stores the new plan
//! and the original's `rolled_back_by` link in one transaction. That
//! transaction re-checks the link, so of simultaneous requests exactly one
//! wins.

mod inverse_dag;

use crate::action_types::Validator;
use crate::lifecycle::{self, may_roll_back};
use crate::plugins::{validator_for, Executed, Inverse, PluginError, Snapshot};
use chrono::Utc;
use rollback_store::{Action, ActionPlan, ActionState, PlanState, Store, StoreError};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// Options of a rollback request.
#[derive(Debug, Clone, Copy, Default, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Options {
    /// Plan it, answer it, store nothing.
    #[serde(default)]
    pub dry_run: bool,
    /// Skip actions whose type has no inverter (and list them) instead of
    /// refusing.
    #[serde(default)]
    pub allow_partial: bool,
    /// Store the new plan PENDING and run it at once.
    #[serde(default)]
    pub auto_start: bool,
}

/// A planned (and, unless dry run, stored) rollback.
#[derive(Debug)]
pub struct Planned {
    /// The new plan.
    pub plan: ActionPlan,
    /// Its actions.
    pub actions: Vec<Action>,
    /// SUCCEEDED actions left out because their type has no inverter
    /// (`allow_partial`): (uuid, action type).
    pub not_inverted: Vec<(Uuid, String)>,
    /// Actions interrupted by a stop whose outcome the driver could not
    /// observe, so they may or may not need undoing: (uuid, action type,
    /// reason). Not inverted.
    pub unknown: Vec<(Uuid, String, String)>,
}

/// An inverse acting on the original's resource keeps the original's
/// `resource_name` (Watcher's name for it: a node's, a host's, a server's),
/// so progress and the page show names, not uuids, on the way back too —
/// when the inverse's schema takes the field.
fn keep_resource_name(original: &Action, inv: &mut Inverse, validator: &Validator) {
    let (Some(name), Some(id)) =
        (original.input_parameters.get("resource_name"), original.input_parameters.get("resource_id"))
    else {
        return;
    };
    if inv.input_parameters.contains_key("resource_name")
        || inv.input_parameters.get("resource_id") != Some(id)
    {
        return;
    }
    inv.input_parameters.insert("resource_name".into(), name.clone());
    let params = Value::Object(std::mem::take(&mut inv.input_parameters));
    let taken = validator.validate(&params).is_ok();
    if let Value::Object(map) = params {
        inv.input_parameters = map;
    }
    if !taken {
        inv.input_parameters.remove("resource_name");
    }
}

/// Why a rollback was refused.
#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    /// Unknown or deleted plan.
    #[error("ActionPlan {0} could not be found.")]
    NotFound(Uuid),
    /// Not SUCCEEDED, FAILED or CANCELLED.
    #[error("Action plan {uuid} is {state}; only SUCCEEDED, FAILED or CANCELLED plans can be rolled back.")]
    WrongState {
        /// The plan.
        uuid: Uuid,
        /// Its state.
        state: PlanState,
    },
    /// Finished longer ago than the window.
    #[error("Action plan {uuid} finished {age_s} s ago; plans can be rolled back within {window_s} s of finishing (rollback_window).")]
    TooOld {
        /// The plan.
        uuid: Uuid,
        /// Seconds since it finished.
        age_s: u64,
        /// The window in seconds.
        window_s: u64,
    },
    /// Rolled back before.
    #[error("Action plan {uuid} was already rolled back by action plan {by}.")]
    AlreadyRolledBack {
        /// The plan.
        uuid: Uuid,
        /// The rollback plan.
        by: Uuid,
    },
    /// Executed actions whose types have no inverter.
    #[error("No inverter plugin is loaded for action type(s): {}. Load one, or pass allow_partial to skip those actions.", .0.join(", "))]
    NoInverter(Vec<String>),
    /// A plugin failed or refused.
    #[error("Cannot invert action {action} ({action_type}): {error}")]
    Plugin {
        /// The original action.
        action: Uuid,
        /// Its type.
        action_type: String,
        /// What the plugin runtime reported (names the plugin and cause).
        error: PluginError,
    },
    /// A plugin produced an inverse action that is not valid.
    #[error(
        "The inverter for action {action} ({action_type}) produced an invalid {produced} action: {reason}"
    )]
    InvalidInverse {
        /// The original action.
        action: Uuid,
        /// Its type.
        action_type: String,
        /// The inverse action's type.
        produced: String,
        /// What is wrong.
        reason: String,
    },
    /// The inverses' ordering requests contradict each other.
    #[error(
        "The inverters' ordering requests (before-dependents) form a cycle; the rollback cannot be ordered."
    )]
    Cycle,
    /// The inverse would be bigger than a plan may be.
    #[error(
        "The rollback would have more than {max} actions (the most a rollback may have); it was not stored."
    )]
    TooBig {
        /// The cap.
        max: usize,
    },
    /// The plugin calls together took longer than the rollback's deadline.
    #[error("Inverting the plan's actions took longer than {seconds} s (the rollback deadline); nothing was stored.")]
    Deadline {
        /// The deadline in seconds.
        seconds: f64,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The bounds of one rollback.
#[derive(Debug, Clone, Copy)]
pub struct RollbackLimits {
    /// How long after finishing a plan may be rolled back.
    pub window: Duration,
    /// Most inverse actions in all (a plan's own bound by default).
    pub max_actions: usize,
    /// The time all of its plugin calls together may take. Checked between
    /// calls, so it can be overrun by at most one call's own deadline.
    pub deadline: Duration,
}

impl Default for RollbackLimits {
    fn default() -> Self {
        RollbackLimits {
            window: lifecycle::DEFAULT_ROLLBACK_WINDOW,
            max_actions: lifecycle::MAX_PLAN_ACTIONS,
            deadline: Duration::from_secs(10),
        }
    }
}

/// What the inverter answered for one action of the original plan.
enum Answer {
    /// Its inverses (none for an action that changed nothing).
    Inverses(Vec<Inverse>),
    /// The plugin failed or refused.
    Failed(PluginError),
    /// Not asked: the deadline passed first.
    NotAsked,
}

/// Everything the planner needs.
pub struct Planner<'a> {
    /// Plans and actions.
    pub store: &'a Store,
    /// The active plugins: the inverter per action type, and the schemas
    /// the inverses are checked against (see `action_types::validator_for`).
    pub plugins: &'a Snapshot,
    /// The window, the size cap and the deadline.
    pub limits: RollbackLimits,
}

fn check_rollbackable(plan: &ActionPlan, window: Duration) -> Result<(), RollbackError> {
    if !may_roll_back(plan.state) {
        return Err(RollbackError::WrongState { uuid: plan.uuid, state: plan.state });
    }
    if let Some(by) = plan.rolled_back_by {
        return Err(RollbackError::AlreadyRolledBack { uuid: plan.uuid, by });
    }
    let finished = plan.finished_at.or(plan.updated_at).unwrap_or(plan.created_at);
    let age = (Utc::now() - finished).to_std().unwrap_or_default();
    if age > window {
        return Err(RollbackError::TooOld {
            uuid: plan.uuid,
            age_s: age.as_secs(),
            window_s: window.as_secs(),
        });
    }
    Ok(())
}

impl Planner<'_> {
    /// Plans the rollback of `uuid` and, unless `dry_run`, stores it. Blocks
    /// (plugin calls and store writes).
    pub fn rollback(&self, uuid: Uuid, options: Options) -> Result<Planned, RollbackError> {
        let original = self
            .store
            .plan(uuid)?
            .filter(|p| p.state != PlanState::Deleted)
            .ok_or(RollbackError::NotFound(uuid))?;
        check_rollbackable(&original, self.limits.window)?;
        let actions = self.store.actions_of(uuid)?;

        // Which executed actions can be inverted.
        let succeeded = |a: &Action| a.state == ActionState::Succeeded;
        let missing: BTreeSet<String> = actions
            .iter()
            .filter(|a| succeeded(a) && !self.plugins.contains_key(&a.action_type))
            .map(|a| a.action_type.clone())
            .collect();
        if !missing.is_empty() && !options.allow_partial {
            return Err(RollbackError::NoInverter(missing.into_iter().collect()));
        }
        let not_inverted: Vec<(Uuid, String)> = actions
            .iter()
            .filter(|a| succeeded(a) && missing.contains(&a.action_type))
            .map(|a| (a.uuid, a.action_type.clone()))
            .collect();

        // Interrupted actions whose outcome nobody could observe.
        let unknown: Vec<(Uuid, String, String)> = actions
            .iter()
            .filter(|a| lifecycle::outcome_unknown(a))
            .map(|a| (a.uuid, a.action_type.clone(), a.status_message.clone().unwrap_or_default()))
            .collect();

        // Ask each inverter (all of a type's actions at once, in batches),
        // then take the answers in plan order, within the size cap and the
        // deadline: the first failure in plan order is the one reported.
        let answers = self.invert_all(&actions);
        let mut inverses = Vec::with_capacity(actions.len());
        let mut total = 0usize;
        for (a, answer) in actions.iter().zip(answers) {
            let mut list = match answer {
                Answer::Inverses(list) => list,
                Answer::Failed(error) => {
                    return Err(RollbackError::Plugin {
                        action: a.uuid,
                        action_type: a.action_type.clone(),
                        error,
                    })
                }
                Answer::NotAsked => {
                    return Err(RollbackError::Deadline { seconds: self.limits.deadline.as_secs_f64() })
                }
            };
            total += list.len();
            if total > self.limits.max_actions {
                return Err(RollbackError::TooBig { max: self.limits.max_actions });
            }
            for inv in &mut list {
                let validator = validator_for(self.plugins, &inv.action_type).ok_or_else(|| {
                    RollbackError::InvalidInverse {
                        action: a.uuid,
                        action_type: a.action_type.clone(),
                        produced: inv.action_type.clone(),
                        reason: "no schema (built-in or plugin) is known for that action type".into(),
                    }
                })?;
                // Checked as a JSON value without copying the map.
                let params = Value::Object(std::mem::take(&mut inv.input_parameters));
                let checked = validator.validate(&params);
                if let Value::Object(map) = params {
                    inv.input_parameters = map;
                }
                checked.map_err(|reason| RollbackError::InvalidInverse {
                    action: a.uuid,
                    action_type: a.action_type.clone(),
                    produced: inv.action_type.clone(),
                    reason,
                })?;
                keep_resource_name(a, inv, &validator);
            }
            inverses.push(list);
        }

        // Order them.
        let index: HashMap<Uuid, usize> = actions.iter().enumerate().map(|(i, a)| (a.uuid, i)).collect();
        let mut nodes: Vec<inverse_dag::Node> = actions
            .iter()
            .zip(&inverses)
            .map(|(a, list)| inverse_dag::Node {
                parents: a.parents.iter().filter_map(|p| index.get(p).copied()).collect(),
                inverse_deps: list.iter().map(|inv| inv.depends_on.clone()).collect(),
                early: list.iter().any(|inv| inv.before_dependents),
                resource: a
                    .input_parameters
                    .get("resource_id")
                    .and_then(Value::as_str)
                    .map(|id| format!("{}:{id}", a.action_type)),
            })
            .collect();
        let placed = match inverse_dag::build(&nodes) {
            Ok(p) => p,
            Err(inverse_dag::Cycle) => {
                // The before-dependents requests contradict the same-resource
                // order; strict reverse order is always acyclic.
                tracing::warn!(plan = %uuid, "before-dependents ordering would form a cycle; using strict reverse order");
                nodes.iter_mut().for_each(|n| n.early = false);
                inverse_dag::build(&nodes).map_err(|_| RollbackError::Cycle)?
            }
        };

        let now = Utc::now();
        let new_uuid = Uuid::new_v4();
        let uuids: Vec<Uuid> = placed.iter().map(|_| Uuid::new_v4()).collect();
        let new_actions: Vec<Action> = placed
            .iter()
            .enumerate()
            .map(|(k, p)| {
                // Each inverse is placed once: its parts move into the action.
                let inv = &mut inverses[p.original][p.step];
                let from = &actions[p.original];
                let expected_state = std::mem::take(&mut inv.expected_state);
                Action {
                    description: if inv.description.is_empty() {
                        format!("Rollback of action {} ({})", from.uuid, from.action_type)
                    } else {
                        std::mem::take(&mut inv.description)
                    },
                    expected_state: (!expected_state.is_empty()).then_some(Value::Object(expected_state)),
                    inverse_of: Some(from.uuid),
                    ..Action::new(
                        uuids[k],
                        new_uuid,
                        std::mem::take(&mut inv.action_type),
                        std::mem::take(&mut inv.input_parameters),
                        p.parents.iter().map(|&q| uuids[q]).collect(),
                        now,
                    )
                }
            })
            .collect();
        let plan = ActionPlan {
            audit_uuid: original.audit_uuid,
            hostname: original.hostname.clone(),
            rollback_of: Some(uuid),
            ..ActionPlan::new(
                new_uuid,
                "rollback",
                if options.auto_start { PlanState::Pending } else { PlanState::Recommended },
                now,
            )
        };
        if options.dry_run {
            return Ok(Planned { plan, actions: new_actions, not_inverted, unknown });
        }
        self.store_linked(uuid, plan, new_actions, not_inverted, unknown)
    }

    /// Each action's answer: the inverses of a SUCCEEDED action whose type
    /// has an inverter (one [`crate::plugins::LoadedPlugin::invert_many`]
    /// per type), nothing for the others. A type's actions after its first
    /// failure, and every action once the deadline has passed, are not
    /// asked.
    fn invert_all(&self, actions: &[Action]) -> Vec<Answer> {
        let empty = Value::Object(Map::new());
        let mut answers: Vec<Answer> = actions.iter().map(|_| Answer::Inverses(Vec::new())).collect();
        let mut by_type: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for (i, a) in actions.iter().enumerate() {
            if a.state == ActionState::Succeeded && self.plugins.contains_key(&a.action_type) {
                by_type.entry(a.action_type.as_str()).or_default().push(i);
            }
        }
        let started = Instant::now();
        for (action_type, indices) in by_type {
            let Some(active) = self.plugins.get(action_type) else { continue };
            let owned: Vec<(String, Value)> = indices
                .iter()
                .map(|&i| (actions[i].uuid.to_string(), Value::Object(actions[i].input_parameters.clone())))
                .collect();
            let executed: Vec<Executed<'_>> = indices
                .iter()
                .zip(&owned)
                .map(|(&i, (uuid, params))| Executed {
                    action_uuid: uuid,
                    action_type,
                    input_parameters: params,
                    pre_state: actions[i].pre_state.as_ref().unwrap_or(&empty),
                    result: actions[i].result.as_ref().unwrap_or(&empty),
                })
                .collect();
            let mut out = Vec::with_capacity(executed.len());
            let failed = active
                .plugin
                .invert_many(&executed, &mut out, || started.elapsed() <= self.limits.deadline)
                .err();
            let answered = out.len();
            for (&i, list) in indices.iter().zip(out) {
                answers[i] = Answer::Inverses(list);
            }
            match failed {
                Some(error) => answers[indices[answered]] = Answer::Failed(error),
                None => indices[answered..].iter().for_each(|&i| answers[i] = Answer::NotAsked),
            }
        }
        answers
    }

    /// Stores the new plan and links the original, in one transaction that
    /// re-checks the original first.
    fn store_linked(
        &self,
        original: Uuid,
        plan: ActionPlan,
        actions: Vec<Action>,
        not_inverted: Vec<(Uuid, String)>,
        unknown: Vec<(Uuid, String, String)>,
    ) -> Result<Planned, RollbackError> {
        let window = self.limits.window;
        let new = lifecycle::NewPlan::new(plan, actions);
        let shared = new.share();
        let ids = self.store.write(move |txn| {
            let mut orig = txn
                .plan(original)?
                .filter(|p| p.state != PlanState::Deleted)
                .ok_or(RollbackError::NotFound(original))?;
            check_rollbackable(&orig, window)?;
            let ids = shared.insert(txn)?;
            orig.rolled_back_by = Some(shared.plan().uuid);
            orig.updated_at = Some(Utc::now());
            txn.update_plan(orig)?;
            Ok::<_, RollbackError>(ids)
        })?;
        let (plan, actions) = new.stored(ids);
        tracing::info!(original = %original, rollback = %plan.uuid, actions = actions.len(), "rollback plan stored");
        Ok(Planned { plan, actions, not_inverted, unknown })
    }
}
