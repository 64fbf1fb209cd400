//! Every route, declared once: its handler (whose `#[utoipa::path]` gives
//! the method, the path and the OpenAPI entry) and who may call it (a
//! policy [`Rule`], or open). The router, the OpenAPI document and the
//! guard's table are all built from [`declared`], so a route cannot exist
//! unguarded or undocumented, and a guarded route cannot name a rule
//! without a default (rules are an enum with exhaustive defaults). The
//! document names each guarded operation's rule (`x-policy-rule`).
//!
//! A new route is one line here plus its handler.

use super::{action_plans, actions, cloud, graph, import, metrics, openapi, plugins, rollback, root, ui};
use crate::auth::Rule;
use crate::service::{Service, MAX_PLUGIN_BYTES};
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::Router;
use std::sync::OnceLock;
use utoipa::openapi::extensions::ExtensionsBuilder;
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::OpenApi as Document;
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouter};
use utoipa_axum::routes;

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Anyone (version documents, health, metrics, the page, the document).
    Open,
    /// Callers the policy rule allows.
    Policy(Rule),
}

/// One method on one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// The method (HEAD is served by GET's handler).
    pub method: Method,
    /// The path, as axum and the document write it (`/v1/actions/{uuid}`).
    pub path: String,
    /// Who may call it.
    pub guard: Guard,
}

/// Collections also answer with a trailing slash (Watcher's clients use
/// both); the twin shares the handler, the guard and, in the document, the
/// entry (its operation id suffixed `_slash`).
pub const TWINS: &[&str] = &["/v1", "/v1/action_plans", "/v1/actions", "/v1/plugins"];

/// The declaration: every route with its guard.
fn declared() -> Vec<(Guard, UtoipaMethodRouter<Service>)> {
    use Guard::{Open, Policy};
    use Rule::*;
    vec![
        (Open, routes!(root::root)),
        (Open, routes!(root::v1)),
        (Open, routes!(super::healthz)),
        (Open, routes!(metrics::metrics)),
        (Open, routes!(openapi::document)),
        (Open, routes!(ui::index)),
        (Open, routes!(ui::script)),
        (Open, routes!(ui::style)),
        (Policy(ActionPlanGetAll), routes!(action_plans::list)),
        (Policy(ActionPlanCreate), routes!(action_plans::create)),
        (Policy(ActionPlanDetail), routes!(action_plans::detail)),
        (Policy(ActionPlanGet), routes!(action_plans::show)),
        (Policy(ActionPlanUpdate), routes!(action_plans::patch)),
        (Policy(ActionPlanDelete), routes!(action_plans::delete)),
        (Policy(ActionPlanStart), routes!(action_plans::start)),
        (Policy(ActionPlanRollback), routes!(rollback::rollback)),
        (Policy(ActionPlanImport), routes!(import::import)),
        (Policy(ActionPlanGet), routes!(graph::graph)),
        (Policy(ActionGetAll), routes!(actions::list)),
        (Policy(ActionDetail), routes!(actions::detail)),
        (Policy(ActionGet), routes!(actions::show)),
        (Policy(ActionUpdate), routes!(actions::patch)),
        (Policy(PluginGetAll), routes!(plugins::list)),
        (Policy(PluginGet), routes!(plugins::show)),
        (Policy(PluginCreate), plugin_body(routes!(plugins::upload))),
        (Policy(PluginDelete), routes!(plugins::remove)),
        (Policy(CloudGet), routes!(cloud::show)),
        (Policy(CloudUpdate), routes!(cloud::replace)),
    ]
}

/// An upload's body may be a whole component.
fn plugin_body((schemas, paths, method_router): UtoipaMethodRouter<Service>) -> UtoipaMethodRouter<Service> {
    (schemas, paths, method_router.layer(DefaultBodyLimit::max(MAX_PLUGIN_BYTES)))
}

/// The routes (axum), their document (paths, schemas and, on guarded
/// operations, the token requirement) and their table, from one
/// declaration.
pub(super) fn build(base: Document) -> (Router<Service>, Document, Vec<Route>) {
    let mut router = OpenApiRouter::with_openapi(base);
    let mut table = Vec::new();
    for (guard, (schemas, mut paths, method_router)) in declared() {
        for (path, item) in paths.paths.iter_mut() {
            for (method, op) in operations(item) {
                if let Guard::Policy(rule) = guard {
                    op.security = Some(vec![SecurityRequirement::new("token", Vec::<String>::new())]);
                    // The rule a policy file overrides for it, for operators (and the
                    // black-box policy tests).
                    let rule = ExtensionsBuilder::new().add("x-policy-rule", rule.name()).build();
                    op.extensions.get_or_insert_with(Default::default).merge(rule);
                }
                table.push(Route { method: method.clone(), path: path.clone(), guard });
                if TWINS.contains(&path.as_str()) {
                    table.push(Route { method, path: format!("{path}/"), guard });
                }
            }
            if TWINS.contains(&path.as_str()) {
                router = router.route(&format!("{path}/"), method_router.clone());
            }
        }
        router = router.routes((schemas, paths, method_router));
    }
    let (router, doc) = router.split_for_parts();
    (router, doc, table)
}

/// Every route (and its trailing-slash twin), with its guard.
pub fn table() -> &'static [Route] {
    static TABLE: OnceLock<Vec<Route>> = OnceLock::new();
    TABLE.get_or_init(|| build(Document::default()).2)
}

/// Who may call `method` on the matched `path`; `None` for a route that
/// does not exist. HEAD is GET's.
pub fn guard_of(method: &Method, path: &str) -> Option<Guard> {
    let method = if method == Method::HEAD { &Method::GET } else { method };
    table().iter().find(|r| r.method == *method && r.path == path).map(|r| r.guard)
}

/// The operations of a path item, with their methods.
pub(super) fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> impl Iterator<Item = (Method, &mut utoipa::openapi::path::Operation)> {
    [
        (Method::GET, &mut item.get),
        (Method::PUT, &mut item.put),
        (Method::POST, &mut item.post),
        (Method::DELETE, &mut item.delete),
        (Method::PATCH, &mut item.patch),
        (Method::HEAD, &mut item.head),
    ]
    .into_iter()
    .filter_map(|(m, o)| o.as_mut().map(|o| (m, o)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_has_one_guard_and_head_is_gets() {
        let mut seen = std::collections::BTreeSet::new();
        for r in table() {
            assert!(seen.insert((r.method.to_string(), r.path.clone())), "{} {} twice", r.method, r.path);
        }
        assert_eq!(guard_of(&Method::HEAD, "/v1/actions"), Some(Guard::Policy(Rule::ActionGetAll)));
        assert_eq!(guard_of(&Method::GET, "/v1/actions/"), Some(Guard::Policy(Rule::ActionGetAll)));
        assert_eq!(guard_of(&Method::POST, "/v1/actions"), None);
        assert_eq!(guard_of(&Method::GET, "/healthz"), Some(Guard::Open));
    }
}
