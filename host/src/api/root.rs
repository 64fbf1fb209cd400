//! `GET /` and `GET /v1`: the version documents Watcher serves.

use super::extract::HostUrl;
use super::version::{MAX, MIN};
use super::views::Link;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A version document (`GET /`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Versions {
    /// The version clients get without asking for one.
    pub default_version: VersionEntry,
    /// Free text.
    pub description: String,
    /// The API's name.
    pub name: String,
    /// Every version served.
    pub versions: Vec<VersionEntry>,
}

/// One API version and its microversion range.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct VersionEntry {
    /// `v1`.
    pub id: String,
    /// Its root.
    pub links: Vec<Link>,
    /// The oldest microversion, e.g. `1.0`.
    pub min_version: String,
    /// The newest microversion, e.g. `1.5`.
    pub max_version: String,
    /// `CURRENT`.
    pub status: String,
}

/// The v1 document (`GET /v1`).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct V1 {
    /// `v1`.
    pub id: String,
    /// Its root.
    pub links: Vec<Link>,
    /// The media types it answers.
    pub media_types: Vec<MediaType>,
    /// The action plans' collection.
    pub action_plans: Vec<Link>,
    /// The actions' collection.
    pub actions: Vec<Link>,
}

/// A media type of the v1 API.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MediaType {
    /// `application/json`.
    pub base: String,
    /// Watcher's vendor type.
    #[serde(rename = "type")]
    pub media_type: String,
}

fn link(href: String, rel: &str) -> Link {
    Link { href, rel: rel.into() }
}

fn version_entry(host: &str) -> VersionEntry {
    VersionEntry {
        id: "v1".into(),
        links: vec![link(format!("{host}/v1/"), "self")],
        min_version: MIN.to_string(),
        max_version: MAX.to_string(),
        status: "CURRENT".into(),
    }
}

#[utoipa::path(get, path = "/", tag = "meta", operation_id = "versions",
    responses((status = 200, description = "The API versions", body = Versions)))]
pub(super) async fn root(HostUrl(host): HostUrl) -> Json<Versions> {
    Json(Versions {
        default_version: version_entry(&host),
        description:
            "rollback-host: a Watcher-compatible service that stores, applies and rolls back action plans."
                .into(),
        name: "OpenStack Watcher API".into(),
        versions: vec![version_entry(&host)],
    })
}

fn collection(host: &str, name: &str) -> Vec<Link> {
    vec![link(format!("{host}/v1/{name}/"), "self"), link(format!("{host}/{name}/"), "bookmark")]
}

#[utoipa::path(get, path = "/v1", tag = "meta", operation_id = "version_v1",
    responses((status = 200, description = "The v1 document", body = V1)))]
pub(super) async fn v1(HostUrl(host): HostUrl) -> Json<V1> {
    Json(V1 {
        id: "v1".into(),
        links: vec![link(format!("{host}/v1/"), "self")],
        media_types: vec![MediaType {
            base: "application/json".into(),
            media_type: "application/vnd.openstack.watcher.v1+json".into(),
        }],
        action_plans: collection(&host, "action_plans"),
        actions: collection(&host, "actions"),
    })
}
