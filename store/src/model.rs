//! The records: action plans and actions, with Watcher's field and state
//! names. These are what the store keeps; the API renders them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

/// Timestamps are UTC.
pub type Timestamp = DateTime<Utc>;

/// Watcher's action plan states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PlanState {
    /// Proposed by a strategy (or created here); not started.
    Recommended,
    /// Started; waiting for the applier.
    Pending,
    /// The applier is running its actions.
    Ongoing,
    /// Finished; at least one action failed.
    Failed,
    /// Finished; every action that ran succeeded (some may be skipped).
    Succeeded,
    /// Soft-deleted; shown only with `X-Show-Deleted`.
    Deleted,
    /// Cancelled before or while it ran.
    Cancelled,
    /// Replaced by a newer recommendation (Watcher's decision engine sets it).
    Superseded,
    /// Cancel requested while ONGOING; running actions finish first.
    Cancelling,
}

/// Watcher's action states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActionState {
    /// Not run yet.
    Pending,
    /// Running; its pre-state is recorded.
    Ongoing,
    /// Ran (or was refused by its pre-conditions) and failed.
    Failed,
    /// Ran; its result is recorded.
    Succeeded,
    /// Its plan was soft-deleted.
    Deleted,
    /// Will never run (plan cancelled, or a parent failed).
    Cancelled,
    /// Watcher's state for an action being cancelled (not used by this applier).
    Cancelling,
    /// Not run: skipped by an operator or found unnecessary.
    Skipped,
}

macro_rules! state_names {
    ($ty:ty { $($v:ident => $s:literal),* $(,)? }) => {
        impl $ty {
            /// Every state, in Watcher's order.
            pub const ALL: &'static [$ty] = &[$(<$ty>::$v),*];

            /// Watcher's name for the state, e.g. `RECOMMENDED`.
            pub fn as_str(self) -> &'static str {
                match self { $(<$ty>::$v => $s),* }
            }

            /// Parses Watcher's name for a state.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($s => Some(<$ty>::$v),)* _ => None }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

state_names!(PlanState {
    Recommended => "RECOMMENDED", Pending => "PENDING", Ongoing => "ONGOING",
    Failed => "FAILED", Succeeded => "SUCCEEDED", Deleted => "DELETED",
    Cancelled => "CANCELLED", Superseded => "SUPERSEDED", Cancelling => "CANCELLING",
});

state_names!(ActionState {
    Pending => "PENDING", Ongoing => "ONGOING", Failed => "FAILED",
    Succeeded => "SUCCEEDED", Deleted => "DELETED", Cancelled => "CANCELLED",
    Cancelling => "CANCELLING", Skipped => "SKIPPED",
});

/// An action plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionPlan {
    /// Creation order; Watcher's `id`, the default sort key.
    pub id: u64,
    /// Its identity, Watcher's `uuid`.
    pub uuid: Uuid,
    /// The Watcher audit that produced it, if any.
    pub audit_uuid: Option<Uuid>,
    /// The strategy that produced it (`manual` or `rollback` for plans made here).
    pub strategy_name: String,
    /// Watcher's state.
    pub state: PlanState,
    /// Why it is in its state (a failure's reason, a skip's cause); Watcher's 1.5 field.
    pub status_message: Option<String>,
    /// List of `{name, description, unit, value}` objects.
    pub global_efficacy: Vec<Value>,
    /// List of `{name, description, unit, value}` objects.
    pub efficacy_indicators: Vec<Value>,
    /// When it was stored.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Option<Timestamp>,
    /// When it was soft-deleted.
    pub deleted_at: Option<Timestamp>,
    /// The Watcher applier host that ran it, if any.
    pub hostname: Option<String>,
    /// The plan this one undoes.
    pub rollback_of: Option<Uuid>,
    /// The plan that undoes this one.
    pub rolled_back_by: Option<Uuid>,
    /// When the plan reached SUCCEEDED, FAILED or CANCELLED.
    pub finished_at: Option<Timestamp>,
    /// Where the plan came from, when it was imported (from a live Watcher).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<PlanSource>,
}

/// The Watcher action plan a plan was imported from (`plan import`). The
/// imported plan keeps Watcher's uuids (the plan's and its actions').
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSource {
    /// Watcher's endpoint the plan was read from.
    pub watcher_url: String,
    /// Watcher's action plan (the imported plan has the same uuid).
    pub action_plan_uuid: Uuid,
    /// The audit that produced it.
    pub audit_uuid: Option<Uuid>,
    /// The audit's name.
    pub audit_name: Option<String>,
    /// The strategy that produced it.
    pub strategy_name: Option<String>,
    /// The audit's goal.
    pub goal_name: Option<String>,
    /// Watcher's state for it once imported (CANCELLED: its own applier
    /// will never run it).
    pub watcher_state: String,
    /// When it was imported.
    pub imported_at: Timestamp,
}

/// An action of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Action {
    /// Creation order; Watcher's `id`, the default sort key.
    pub id: u64,
    /// Its identity, Watcher's `uuid`.
    pub uuid: Uuid,
    /// The plan it belongs to.
    pub action_plan_uuid: Uuid,
    /// What it does, e.g. `migrate`.
    pub action_type: String,
    /// Its parameters, valid for its type's schema.
    pub input_parameters: Map<String, Value>,
    /// Actions that must finish first.
    pub parents: Vec<Uuid>,
    /// Watcher's state.
    pub state: ActionState,
    /// Free text for operators.
    pub description: String,
    /// Why it is in its state (a failure's reason, a skip's cause); Watcher's 1.5 field.
    pub status_message: Option<String>,
    /// When it was stored.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Option<Timestamp>,
    /// When it was soft-deleted.
    pub deleted_at: Option<Timestamp>,
    /// What the applier saw just before acting.
    pub pre_state: Option<Value>,
    /// What really happened.
    pub result: Option<Value>,
    /// For a rollback action: the state it expects to find on its resource
    /// (a JSON object); the applier skips it when the resource differs.
    #[serde(default)]
    pub expected_state: Option<Value>,
    /// For a rollback action: the action of the original plan it undoes
    /// (several inverse actions may undo one action).
    #[serde(default)]
    pub inverse_of: Option<Uuid>,
    /// A FAILED action interrupted by a stop whose outcome the cloud driver
    /// could not observe after the restart: it may or may not have made its
    /// change, so a rollback lists it instead of inverting it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub outcome_unknown: bool,
}

impl ActionPlan {
    /// A new plan: no audit, no efficacy, not linked, timestamps unset but
    /// `created_at`. `id` is assigned when stored (see `Txn::next_id`).
    pub fn new(
        uuid: Uuid,
        strategy_name: impl Into<String>,
        state: PlanState,
        created_at: Timestamp,
    ) -> Self {
        ActionPlan {
            id: 0,
            uuid,
            audit_uuid: None,
            strategy_name: strategy_name.into(),
            state,
            status_message: None,
            global_efficacy: Vec::new(),
            efficacy_indicators: Vec::new(),
            created_at,
            updated_at: None,
            deleted_at: None,
            hostname: None,
            rollback_of: None,
            rolled_back_by: None,
            finished_at: None,
            source: None,
        }
    }
}

impl Action {
    /// A new PENDING action of `plan`, not yet executed.
    pub fn new(
        uuid: Uuid,
        plan: Uuid,
        action_type: impl Into<String>,
        input_parameters: Map<String, Value>,
        parents: Vec<Uuid>,
        created_at: Timestamp,
    ) -> Self {
        Action {
            id: 0,
            uuid,
            action_plan_uuid: plan,
            action_type: action_type.into(),
            input_parameters,
            parents,
            state: ActionState::Pending,
            description: String::new(),
            status_message: None,
            created_at,
            updated_at: None,
            deleted_at: None,
            pre_state: None,
            result: None,
            expected_state: None,
            inverse_of: None,
            outcome_unknown: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_names_round_trip_through_serde_and_parse() {
        for s in PlanState::ALL {
            let json = serde_json::to_string(s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(PlanState::parse(s.as_str()), Some(*s));
        }
        for s in ActionState::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
            assert_eq!(ActionState::parse(s.as_str()), Some(*s));
        }
        assert_eq!(PlanState::parse("recommended"), None, "names are case-sensitive, as in Watcher");
    }
}
