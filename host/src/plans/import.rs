//! `plan import`: take the action plan a live Watcher's audit recommended
//! and store it as a plan of this service, faithfully: Watcher's uuids (the
//! plan's and each action's), action types, `input_parameters` (compute
//! node uuids included: the OpenStack driver looks them up) and parents;
//! the source (Watcher's URL, plan, audit, strategy, goal) is recorded.
//!
//! One plan is never executed by both Watcher's applier and this service:
//! the import cancels the plan in Watcher (`PATCH` to `CANCELLED`) before
//! storing it, then reads its actions again — all must still be PENDING
//! (Watcher's applier ran none). A plan Watcher had started in between is
//! refused (it stays cancelled in Watcher: an operator sees what Watcher
//! did before anything is rolled back). A plan not RECOMMENDED, one
//! imported before (its uuid is taken here), one with an action type the
//! OpenStack driver has no executor for, and an unreachable Watcher are
//! refused before anything changes in Watcher.

use super::new_plan::{NewAction, NewPlan, ParentRef};
use super::PlanError;
use crate::action_types::BUILTIN;
use crate::openstack_api::watcher::Watcher;
use crate::openstack_api::{ApiError, Session};
use chrono::Utc;
use rollback_store::PlanSource;
use serde_json::Value;
use uuid::Uuid;

/// Why an import was refused.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The service runs without a cloud session.
    #[error("this service has no OpenStack session to reach Watcher with: start it with --driver openstack")]
    NoSession,
    /// Watcher could not be found, reached, or answered an error.
    #[error("Watcher: {0}")]
    Watcher(#[from] ApiError),
    /// Watcher has no such plan.
    #[error("Watcher has no action plan {0}.")]
    NotFound(Uuid),
    /// Only RECOMMENDED plans are imported.
    #[error("Watcher's action plan {uuid} is {state}: only a RECOMMENDED plan can be imported.")]
    NotRecommended {
        /// The plan.
        uuid: Uuid,
        /// Its state in Watcher.
        state: String,
    },
    /// Its uuid is taken here.
    #[error("Watcher's action plan {0} was imported already (it is the plan of the same uuid here).")]
    AlreadyImported(Uuid),
    /// An action the driver cannot execute.
    #[error("action {action} is of type `{action_type}`, which the OpenStack driver has no executor for; nothing was imported.")]
    NoExecutor {
        /// The action.
        action: Uuid,
        /// Its type.
        action_type: String,
    },
    /// Watcher began running it before the cancel took.
    #[error("Watcher had started running action plan {uuid} ({detail}); it is now CANCELLED in Watcher and was not imported: check what Watcher did before rolling anything back.")]
    StartedInWatcher {
        /// The plan.
        uuid: Uuid,
        /// Which actions were not PENDING.
        detail: String,
    },
    /// Watcher answered something this service cannot read.
    #[error("Watcher's action plan {0} cannot be read: {1}")]
    Malformed(Uuid, String),
}

impl From<ImportError> for PlanError {
    fn from(e: ImportError) -> Self {
        PlanError::Import(e)
    }
}

/// What Watcher holds of one plan, read.
pub struct WatcherPlan {
    /// The plan as a submission to this service.
    pub new: NewPlan,
    /// Where it came from.
    pub source: PlanSource,
}

fn text(v: &Value, k: &str) -> Option<String> {
    v[k].as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

fn uuid_of(plan: Uuid, v: &Value, k: &str) -> Result<Option<Uuid>, ImportError> {
    match v[k].as_str() {
        None | Some("") => Ok(None),
        Some(s) => Uuid::try_parse(s)
            .map(Some)
            .map_err(|_| ImportError::Malformed(plan, format!("{k} {s:?} is no uuid"))),
    }
}

/// Reads Watcher's plan `uuid` (refusals before anything changes).
pub fn read(session: &Session, uuid: Uuid) -> Result<WatcherPlan, ImportError> {
    let watcher = Watcher(session);
    let url = watcher.url()?;
    let id = uuid.to_string();
    let plan = watcher.action_plan(&id)?.ok_or(ImportError::NotFound(uuid))?;
    let state = text(&plan, "state").unwrap_or_default();
    if state != "RECOMMENDED" {
        return Err(ImportError::NotRecommended { uuid, state });
    }
    let audit_uuid = uuid_of(uuid, &plan, "audit_uuid")?;
    let audit = match audit_uuid {
        Some(a) => watcher.audit(&a.to_string())?.unwrap_or(Value::Null),
        None => Value::Null,
    };
    let mut actions = Vec::new();
    for a in watcher.actions_of(&id)? {
        let action = uuid_of(uuid, &a, "uuid")?
            .ok_or_else(|| ImportError::Malformed(uuid, "an action has no uuid".into()))?;
        let action_type = text(&a, "action_type")
            .ok_or_else(|| ImportError::Malformed(uuid, format!("action {action} has no action_type")))?;
        // Every built-in type has an OpenStack executor; a kind added with
        // a plugin has none.
        if !BUILTIN.contains(&action_type.as_str()) {
            return Err(ImportError::NoExecutor { action, action_type });
        }
        let parents = a["parents"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|p| {
                p.as_str().and_then(|s| Uuid::try_parse(s).ok()).map(ParentRef::Uuid).ok_or_else(|| {
                    ImportError::Malformed(uuid, format!("action {action} has a parent that is no uuid: {p}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let input_parameters = a["input_parameters"].as_object().cloned().unwrap_or_default();
        actions.push(NewAction {
            uuid: Some(action),
            action_type,
            input_parameters,
            parents,
            description: text(&a, "description"),
        });
    }
    let strategy_name = text(&plan, "strategy_name");
    let source = PlanSource {
        watcher_url: url,
        action_plan_uuid: uuid,
        audit_uuid,
        audit_name: text(&audit, "name"),
        strategy_name: strategy_name.clone().or_else(|| text(&audit, "strategy_name")),
        goal_name: text(&audit, "goal_name"),
        watcher_state: state,
        imported_at: Utc::now(),
    };
    let efficacy = |k: &str| plan[k].as_array().cloned().unwrap_or_default();
    let new = NewPlan {
        audit_uuid,
        strategy_name,
        hostname: None,
        global_efficacy: efficacy("global_efficacy"),
        efficacy_indicators: efficacy("efficacy_indicators"),
        actions,
    };
    Ok(WatcherPlan { new, source })
}

/// Cancels Watcher's plan and checks that Watcher ran none of its actions:
/// Watcher's state for it afterwards.
pub fn take_over(session: &Session, uuid: Uuid) -> Result<String, ImportError> {
    let watcher = Watcher(session);
    let id = uuid.to_string();
    let state = match watcher.cancel(&id) {
        Ok(s) => s,
        Err(e) => {
            // Refused: read why (Watcher moved it on in between).
            let now = watcher.action_plan(&id)?.map(|p| text(&p, "state").unwrap_or_default());
            return match now {
                Some(state) if state != "RECOMMENDED" => Err(ImportError::NotRecommended { uuid, state }),
                _ => Err(e.into()),
            };
        }
    };
    let begun: Vec<String> = watcher
        .actions_of(&id)?
        .iter()
        .filter(|a| a["state"] != "PENDING" && a["state"] != "CANCELLED")
        .map(|a| format!("{} {}", text(a, "uuid").unwrap_or_default(), text(a, "state").unwrap_or_default()))
        .collect();
    if !begun.is_empty() {
        return Err(ImportError::StartedInWatcher { uuid, detail: begun.join(", ") });
    }
    Ok(state)
}
