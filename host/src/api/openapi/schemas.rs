//! The shapes of the API's answers, for the OpenAPI document. The views
//! (`api::views`) build these bodies; schemathesis and the tests check
//! that every answer matches what is written here.

#![allow(dead_code)] // Read by utoipa's derive, never constructed.

use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Watcher's error body: `error_message` is the JSON text of
/// `{"faultcode", "faultstring", "debuginfo"}`.
#[derive(ToSchema)]
pub struct ErrorBody {
    /// JSON text.
    error_message: String,
}

/// A link.
#[derive(ToSchema)]
pub struct Link {
    /// URL.
    href: String,
    /// `self` or `bookmark`.
    rel: String,
}

/// An action plan. List answers show a subset of the fields;
/// `status_message` from microversion 1.5. Creation and rollback answers
/// add the plan's actions.
#[derive(ToSchema)]
pub struct ActionPlan {
    /// Its uuid.
    uuid: Uuid,
    /// The audit it came from.
    audit_uuid: Option<Uuid>,
    /// The strategy (`manual`, `rollback`, …).
    strategy_name: Option<String>,
    /// Watcher's state name.
    #[schema(example = "SUCCEEDED")]
    state: String,
    /// Why it is in its state.
    status_message: Option<String>,
    /// Efficacy of the plan.
    global_efficacy: Option<Value>,
    /// Efficacy indicators.
    efficacy_indicators: Option<Value>,
    /// Created.
    created_at: Option<String>,
    /// Last changed.
    updated_at: Option<String>,
    /// Soft-deleted.
    deleted_at: Option<String>,
    /// The applier host.
    hostname: Option<String>,
    /// The plan this one rolls back.
    rollback_of: Option<Uuid>,
    /// The plan that rolls this one back.
    rolled_back_by: Option<Uuid>,
    /// When it finished.
    finished_at: Option<String>,
    /// `self` and `bookmark`.
    links: Vec<Link>,
    /// Creation and rollback answers: the plan's actions.
    actions: Option<Vec<Action>>,
    /// Rollback answers: executed actions left out (`allow_partial`).
    not_inverted: Option<Vec<NotInverted>>,
    /// Rollback answers: actions interrupted by a stop whose outcome could
    /// not be observed (they may or may not need undoing; not inverted).
    unknown: Option<Vec<UnknownOutcome>>,
    /// Rollback answers: whether nothing was stored.
    dry_run: Option<bool>,
}

/// An action. List answers show a subset of the fields.
#[derive(ToSchema)]
pub struct Action {
    /// Its uuid.
    uuid: Uuid,
    /// Its plan.
    action_plan_uuid: Uuid,
    /// The action type.
    action_type: String,
    /// Parameters.
    input_parameters: Option<Value>,
    /// Actions that run before it.
    parents: Vec<Uuid>,
    /// Watcher's state name.
    state: String,
    /// Free text.
    description: Option<String>,
    /// Why it is in its state.
    status_message: Option<String>,
    /// Created.
    created_at: Option<String>,
    /// Last changed.
    updated_at: Option<String>,
    /// Soft-deleted.
    deleted_at: Option<String>,
    /// What it changed, as it was before.
    pre_state: Option<Value>,
    /// What happened.
    result: Option<Value>,
    /// For a rollback action: what the resource must look like to run it.
    expected_state: Option<Value>,
    /// For a rollback action: the original action it undoes.
    inverse_of: Option<Uuid>,
    /// `self` and `bookmark`.
    links: Vec<Link>,
}

/// A page of action plans.
#[derive(ToSchema)]
pub struct ActionPlanCollection {
    /// The page.
    action_plans: Vec<ActionPlan>,
    /// The next page, when this one is full.
    next: Option<String>,
}

/// A page of actions.
#[derive(ToSchema)]
pub struct ActionCollection {
    /// The page.
    actions: Vec<Action>,
    /// The next page, when this one is full.
    next: Option<String>,
}

/// An executed action left out of a partial rollback.
#[derive(ToSchema)]
pub struct NotInverted {
    /// The action.
    uuid: Uuid,
    /// Its type (no inverter is loaded for it).
    action_type: String,
}

/// An interrupted action whose outcome is unknown.
#[derive(ToSchema)]
pub struct UnknownOutcome {
    /// The action.
    uuid: Uuid,
    /// Its type.
    action_type: String,
    /// Why the driver could not tell.
    reason: String,
}

/// One JSON Patch operation (RFC 6902); Watcher accepts `replace` of
/// `/state` (plans) and of `/state` or `/status_message` (actions).
#[derive(ToSchema)]
pub struct PatchOperation {
    /// `replace`, `add`, `remove`, …
    op: String,
    /// A JSON pointer.
    path: String,
    /// The new value.
    value: Option<Value>,
}

/// Where a plugin came from.
#[derive(ToSchema)]
pub struct PluginSource {
    /// `upload` or `directory`.
    kind: String,
    /// For `directory`: the file.
    file: Option<String>,
}

/// An active inverter plugin.
#[derive(ToSchema)]
pub struct Plugin {
    /// The action type it inverts.
    action_type: String,
    /// Its version.
    plugin_version: String,
    /// What it does.
    description: String,
    /// The WIT contract it implements.
    contract_version: String,
    /// sha256 of the component.
    sha256: String,
    /// Which code its calls run: `optimized` (Cranelift), or `baseline`
    /// (Winch) until the optimized code compiled in the background is
    /// swapped in (`--plugin-compile`).
    #[schema(pattern = "^(optimized|baseline)$")]
    code: String,
    /// Bytes.
    size: u64,
    /// Where it came from.
    source: PluginSource,
    /// When it was loaded.
    loaded_at: String,
    /// The JSON Schema of the type's parameters.
    schema: Value,
}

/// The active plugins.
#[derive(ToSchema)]
pub struct PluginList {
    /// One per action type.
    plugins: Vec<Plugin>,
}

/// Liveness.
#[derive(ToSchema)]
pub struct Health {
    /// `ok`.
    status: String,
    /// The action types with an active inverter.
    plugins: Vec<String>,
}

/// A version document (`GET /`, `GET /v1`).
#[derive(ToSchema)]
pub struct Versions {
    /// Free text.
    description: Option<String>,
    /// The API's name.
    name: Option<String>,
}

/// Query of the list routes.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page size (at most the server's max_limit).
    limit: Option<String>,
    /// The last uuid of the previous page.
    marker: Option<String>,
    /// The field to sort by (`id`: creation order).
    sort_key: Option<String>,
    /// `asc` or `desc`.
    sort_dir: Option<String>,
}

/// Filter of the plan lists.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PlanFilter {
    /// Only plans of this audit.
    audit_uuid: Option<String>,
}

/// Filter of the action lists.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActionFilter {
    /// Only actions of this plan.
    action_plan_uuid: Option<String>,
    /// Only actions of this audit's plans.
    audit_uuid: Option<String>,
}

/// Headers every Watcher route reads.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct WatcherHeaders {
    /// Microversion, e.g. `infra-optim 1.5`.
    #[param(rename = "OpenStack-API-Version")]
    openstack_api_version: Option<String>,
    /// `True` shows soft-deleted records.
    #[param(rename = "X-Show-Deleted")]
    x_show_deleted: Option<String>,
}
