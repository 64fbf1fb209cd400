//! The OpenStack driver (`serve --driver openstack`): every built-in action
//! type executed the way Watcher's applier executes it, through Nova,
//! Cinder and Ironic found in Keystone's catalog.
//!
//! `prepare` reads the pre-state from the APIs and checks Watcher's
//! pre-conditions; `apply` reads the resource again (and refuses if it moved
//! since `prepare`), makes the call, waits for the resource to settle
//! (polling every `poll`, at most `timeout`, then failing with what it last
//! saw) and records what really happened; `observe` looks at the resource
//! after a restart. What each type calls is in its own module of
//! `action_types` (its `OnOpenStack` executor); the steps every type
//! shares are `action_types::openstack`. This module is the adapter.

use super::{Applied, CloudDriver, DriverError, Observed, Prepared};
use crate::action_types::openstack::{self as steps, Os};
use crate::action_types::Operation;
use crate::openstack_api::{cinder, ironic, nova, ApiError, Session};
use rollback_store::Action;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub use crate::action_types::openstack::Options;

/// The driver.
pub struct OpenStack {
    session: Arc<Session>,
    options: Options,
}

impl OpenStack {
    /// A driver over a session.
    pub fn new(session: Arc<Session>, options: Options) -> Self {
        OpenStack { session, options }
    }

    /// Logs in and looks up the three services in the catalog: the URLs
    /// found, and for each service missing the reason (its actions will
    /// fail). Errs when the login fails or there is no compute endpoint.
    pub fn check(&self) -> Result<Vec<Result<String, String>>, ApiError> {
        self.session.check(&[nova::COMPUTE])?;
        Ok([nova::COMPUTE, cinder::VOLUME, ironic::BAREMETAL]
            .iter()
            .map(|api| self.session.check(&[*api]).map(|mut u| u.remove(0)).map_err(|e| e.to_string()))
            .collect())
    }

    fn os(&self) -> Os<'_> {
        Os::new(&self.session, &self.options)
    }
}

impl From<ApiError> for DriverError {
    fn from(e: ApiError) -> Self {
        DriverError(e.to_string())
    }
}

impl CloudDriver for OpenStack {
    fn prepare(&self, action: &Action) -> Result<Prepared, DriverError> {
        let operation = match Operation::parse(&action.action_type, &action.input_parameters) {
            Ok(op) => op,
            Err(reason) => {
                return Ok(Prepared::Fail { reason, pre_state: Value::Object(Default::default()) })
            }
        };
        Ok(steps::prepare(&self.os(), operation)?)
    }

    fn wait(&self, operation: &Operation) -> Option<Duration> {
        match operation {
            Operation::Sleep(s) => Some(s.waits(self.options.sleep_scale)),
            _ => None,
        }
    }

    fn apply(
        &self,
        action: &Action,
        pre_state: &Value,
        operation: &Operation,
    ) -> Result<Applied, DriverError> {
        Ok(steps::apply(&self.os(), &action.uuid.to_string(), pre_state, operation).into())
    }

    fn observe(&self, action: &Action) -> Observed {
        let Some(pre_state) = action.pre_state.as_ref() else {
            return Observed::NotHappened;
        };
        match Operation::parse(&action.action_type, &action.input_parameters) {
            Ok(op) => steps::observe(&self.os(), pre_state, &op),
            Err(e) => Observed::Unknown(e),
        }
    }
}
