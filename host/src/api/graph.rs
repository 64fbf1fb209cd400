//! `GET /v1/action_plans/{uuid}/graph`: a picture of a plan (see
//! [`crate::graph`]). SVG by default, `?format=dot` for Graphviz text.
//! A rollback plan is drawn beside the plan it undoes, and so is a plan
//! that was rolled back; `?dry_run=true` draws any other plan beside the
//! rollback it would get now (nothing stored).

use super::error::ApiError;
use super::extract::{parse_uuid, Params, PathParam};
use crate::auth::{Access, Identity, Rule};
use crate::graph::{GraphError, Picture};
use crate::plans::ActionsOf;
use crate::rollback::Options;
use crate::service::Service;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Extension;
use rollback_store::{Action, ActionPlan};

/// Pictures being laid out at once, at most.
static DRAWING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

#[utoipa::path(get, path = "/v1/action_plans/{uuid}/graph", tag = "action_plans", operation_id = "action_plan_graph",
    params(("uuid" = uuid::Uuid, Path, description = "The plan to draw"),
        ("format" = Option<String>, Query, description = "`svg` (default) or `dot`"),
        ("dry_run" = Option<bool>, Query, description = "Draw beside the rollback this plan would get now")),
    responses((status = 200, description = "The picture: SVG, or DOT with format=dot",
        content((String = "image/svg+xml"), (String = "text/vnd.graphviz")))))]
pub(super) async fn graph(
    State(state): State<Service>,
    PathParam(uuid): PathParam,
    caller: Option<Extension<Identity>>,
    access: Option<Extension<Access>>,
    params: Params,
) -> Result<Response, ApiError> {
    let uuid = parse_uuid("action_plan_uuid", &uuid)?;
    let dot = match params.get("format").unwrap_or("svg") {
        "svg" => false,
        "dot" => true,
        other => {
            return Err(ApiError::bad_request(format!("Invalid format {other:?}: expected svg or dot.")))
        }
    };
    let dry_run = match params.get("dry_run").map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "0" | "no") => false,
        Some("true" | "1" | "yes") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!("Invalid dry_run {other:?}: expected true or false.")))
        }
    };
    if dry_run {
        // A dry run plans the rollback: all of its plugin calls, the CPU an
        // admin's rollback needs within its deadline. It takes the
        // rollback's rule, not only the reader's.
        if let (Some(Extension(identity)), Some(Extension(access))) = (&caller, &access) {
            if let Err(denied) = access.authorize(Rule::ActionPlanRollback.name(), identity) {
                return Err(ApiError::new(axum::http::StatusCode::FORBIDDEN, denied.to_string()));
            }
        }
    }
    let plan = state.plans.plan(uuid, false).await?;
    let (rollback_of, rolled_back_by) = (plan.rollback_of, plan.rolled_back_by);
    let actions = |u| state.plans.actions(ActionsOf::Plan(u), true);
    let this: (ActionPlan, Vec<Action>) = (plan, actions(uuid).await?);
    // (original, inverse, dry run)
    let (original, inverse, dry) = match (rollback_of, rolled_back_by) {
        (Some(of), _) => ((state.plans.plan(of, true).await?, actions(of).await?), Some(this), false),
        (None, Some(by)) => (this, Some((state.plans.plan(by, true).await?, actions(by).await?)), false),
        (None, None) if dry_run => {
            let planned = state
                .plans
                .rollback(uuid, Options { dry_run: true, allow_partial: true, auto_start: false })
                .await?;
            (this, Some((planned.plan, planned.actions)), true)
        }
        (None, None) => (this, None, false),
    };
    // Layout is CPU-bound and cannot be interrupted once started: only a
    // few at a time, the others are told to come back. The permit goes
    // with the layout, not with the request: a request abandoned at its
    // deadline still holds it until its layout ends.
    let Ok(drawing) = DRAWING.try_acquire() else {
        return Err(ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "Too many plans are being drawn at once; try again shortly.",
        ));
    };
    let render = move || {
        let _drawing = drawing;
        let picture = Picture {
            original: (&original.0, &original.1),
            inverse: inverse.as_ref().map(|(p, a)| (p, a.as_slice())),
            dry_run: dry,
        };
        if dot {
            Ok((crate::graph::dot(&picture), "text/vnd.graphviz; charset=utf-8"))
        } else {
            crate::graph::svg(&picture).map(|s| (s, "image/svg+xml"))
        }
    };
    match tokio::task::spawn_blocking(render).await {
        Ok(Ok((body, ty))) => Ok(([(header::CONTENT_TYPE, ty)], body).into_response()),
        Ok(Err(e @ (GraphError::TooLarge(_) | GraphError::TooManyEdges(_)))) => {
            Err(ApiError::bad_request(e.to_string()))
        }
        Ok(Err(e)) => Err(ApiError::internal(e.to_string())),
        Err(e) => Err(ApiError::internal(format!("drawing the plan failed: {e}"))),
    }
}
