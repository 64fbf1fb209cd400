//! `GET /` and `GET /v1`: the version documents Watcher serves.

use super::extract::HostUrl;
use super::version::{MAX, MIN};
use axum::Json;
use serde_json::{json, Value};

fn version_entry(host: &str) -> Value {
    json!({
        "id": "v1",
        "links": [{"href": format!("{host}/v1/"), "rel": "self"}],
        "min_version": MIN.to_string(),
        "max_version": MAX.to_string(),
        "status": "CURRENT",
    })
}

#[utoipa::path(get, path = "/", tag = "meta", operation_id = "versions",
    responses((status = 200, description = "The API versions", body = crate::api::openapi::schemas::Versions)))]
pub(super) async fn root(HostUrl(host): HostUrl) -> Json<Value> {
    Json(json!({
        "default_version": version_entry(&host),
        "description": "rollback-host: a Watcher-compatible service that stores, applies and rolls back action plans.",
        "name": "OpenStack Watcher API",
        "versions": [version_entry(&host)],
    }))
}

fn collection(host: &str, name: &str) -> Value {
    json!([
        {"href": format!("{host}/v1/{name}/"), "rel": "self"},
        {"href": format!("{host}/{name}/"), "rel": "bookmark"},
    ])
}

#[utoipa::path(get, path = "/v1", tag = "meta", operation_id = "version_v1",
    responses((status = 200, description = "The v1 document", body = Object)))]
pub(super) async fn v1(HostUrl(host): HostUrl) -> Json<Value> {
    Json(json!({
        "id": "v1",
        "links": [{"href": format!("{host}/v1/"), "rel": "self"}],
        "media_types": [{"base": "application/json", "type": "application/vnd.openstack.watcher.v1+json"}],
        "action_plans": collection(&host, "action_plans"),
        "actions": collection(&host, "actions"),
    }))
}
