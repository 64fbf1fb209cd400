//! Logging in to Keystone the way the `openstack` CLI does: a cloud of
//! clouds.yaml (`--os-cloud`) or the `OS_*` variables, read by
//! [`rollback_host::openstack_api::config`], a token from a
//! [`Session`], and this service's endpoint from its catalog (so `--url`
//! may be left out): type `rollback`, this service's own; else
//! `infra-optim`, Watcher's type, for a cloud where this service stands in
//! for Watcher (where a real Watcher answers it, the client says so: see
//! `Client::send`).

use super::ClientError;
use rollback_host::openstack_api::{Api, ApiError, CloudConfig, Session, SessionOptions};
use std::time::Duration;

/// This service's catalog types, preferred first.
const ROLLBACK: Api = Api { name: "rollback", types: &["rollback", "infra-optim"], version: None };

/// Logs in with the cloud `--os-cloud` names, else with `OS_*`: the token
/// and, when the catalog has one, the service's URL. `None` when neither
/// is set.
pub fn login(cloud: Option<&str>) -> Result<Option<(String, Option<String>)>, ClientError> {
    let Some(config) = CloudConfig::load(cloud).map_err(|e| ClientError::Auth(e.to_string()))? else {
        return Ok(None);
    };
    let options =
        SessionOptions { timeout: Duration::from_secs(120), retries: 2, ..SessionOptions::default() };
    let session = Session::new(config, options).map_err(|e| ClientError::Usage(e.to_string()))?;
    match session.token_for(&ROLLBACK) {
        Ok(found) => Ok(Some(found)),
        Err(ApiError::Unreachable { url, cause, .. }) => Err(ClientError::Unreachable { url, cause }),
        Err(e) => Err(ClientError::Auth(e.to_string())),
    }
}
