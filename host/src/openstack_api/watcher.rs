//! The Watcher calls `plan import` makes: read an action plan, its actions
//! and its audit, and cancel the plan in Watcher so that Watcher's own
//! applier never runs what this service imported. API 1.0 (every Watcher
//! since Queens answers it).

use super::{seg, Api, ApiError, Found, Session};
use reqwest::Method;
use serde_json::{json, Value};

/// Watcher, as the catalog types it.
pub const INFRA_OPTIM: Api = Api {
    name: "infra-optim",
    types: &["infra-optim"],
    version: Some(("OpenStack-API-Version", "infra-optim 1.0")),
};

/// Watcher over a session.
pub struct Watcher<'a>(pub &'a Session);

impl Watcher<'_> {
    /// Watcher's endpoint in the catalog.
    pub fn url(&self) -> Result<String, ApiError> {
        Ok(self.0.check(&[INFRA_OPTIM])?.remove(0))
    }

    fn get(&self, path: &str) -> Result<Found<Value>, ApiError> {
        match self.0.call(&INFRA_OPTIM, Method::GET, path, None) {
            Ok(r) => Ok(Some(r.body)),
            Err(e) if e.status() == Some(404) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /v1/action_plans/{uuid}`.
    pub fn action_plan(&self, uuid: &str) -> Result<Found<Value>, ApiError> {
        self.get(&format!("/v1/action_plans/{}", seg(uuid)))
    }

    /// `GET /v1/audits/{uuid}`.
    pub fn audit(&self, uuid: &str) -> Result<Found<Value>, ApiError> {
        self.get(&format!("/v1/audits/{}", seg(uuid)))
    }

    /// Every action of a plan (`GET /v1/actions/detail?action_plan_uuid=`,
    /// following Watcher's `next` pages).
    pub fn actions_of(&self, plan: &str) -> Result<Vec<Value>, ApiError> {
        let mut out = Vec::new();
        let mut marker: Option<String> = None;
        loop {
            let mut path = format!("/v1/actions/detail?action_plan_uuid={}&limit=1000", seg(plan));
            if let Some(m) = &marker {
                path.push_str(&format!("&marker={}", seg(m)));
            }
            let r = self.0.call(&INFRA_OPTIM, Method::GET, &path, None)?;
            let page = r.body["actions"].as_array().cloned().unwrap_or_default();
            let last = page.last().and_then(|a| a["uuid"].as_str()).map(str::to_string);
            let more = r.body["next"].as_str().is_some_and(|n| !n.is_empty()) && !page.is_empty();
            out.extend(page);
            if !more || last == marker {
                return Ok(out);
            }
            marker = last;
        }
    }

    /// `PATCH /v1/action_plans/{uuid}` to `CANCELLED`: the plan's state as
    /// Watcher answers it.
    pub fn cancel(&self, uuid: &str) -> Result<String, ApiError> {
        let body = json!([{"op": "replace", "path": "/state", "value": "CANCELLED"}]);
        let r = self.0.call(
            &INFRA_OPTIM,
            Method::PATCH,
            &format!("/v1/action_plans/{}", seg(uuid)),
            Some(&body),
        )?;
        Ok(r.body["state"].as_str().unwrap_or("?").to_string())
    }
}
