//! The OpenStack driver (`serve --driver openstack`): every built-in action
//! type executed the way Watcher's applier executes it, through Nova,
//! Cinder and Ironic found in Keystone's catalog.
//!
//! `prepare` reads the pre-state from the APIs and checks Watcher's
//! pre-conditions; `apply` reads the resource again (and refuses if it moved
//! since `prepare`), makes the call, waits for the resource to settle
//! (polling every `poll`, at most `timeout`, then failing with what it last
//! saw) and records what really happened; `observe` looks at the resource
//! after a restart. Pre-states and results have the simulated cloud's
//! shapes (`{"host"}`, `{"state", "disabled_reason"}`, `{"power"}`,
//! `{"flavor"}`, `{"pool", "type"}`, `{"status"}`), so the same inverters
//! and drift checks work unchanged. The calls per type are in [`actions`].

mod actions;

use super::{Applied, CloudDriver, DriverError, Observed, Prepared};
use crate::action_types::Operation;
use crate::openstack_api::{cinder, ironic, nova, ApiError, Found, Session};
use rollback_store::Action;
use serde_json::Value;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the driver waits.
#[derive(Debug, Clone)]
pub struct Options {
    /// Between two looks at a resource that is changing (Watcher's
    /// `migration_interval`, 5 s).
    pub poll: Duration,
    /// Longest an action waits for its resource to settle (Watcher's
    /// `migration_max_retries` × `migration_interval`, 15 min).
    pub timeout: Duration,
    /// Multiplies `sleep` actions (1.0 = real time).
    pub sleep_scale: f64,
}

impl Default for Options {
    fn default() -> Self {
        Options { poll: Duration::from_secs(5), timeout: Duration::from_secs(900), sleep_scale: 1.0 }
    }
}

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

    /// Polls `read` until `done` holds for what it returns; gives up after
    /// the timeout with the last observation. `what` names the wait.
    fn settle<T>(
        &self,
        what: &str,
        mut read: impl FnMut() -> Result<Found<T>, ApiError>,
        done: impl Fn(&T) -> bool,
        describe: impl Fn(&T) -> String,
    ) -> Result<T, String> {
        let until = Instant::now() + self.options.timeout;
        loop {
            let seen = read().map_err(|e| format!("while waiting for {what}: {e}"))?;
            let Some(seen) = seen else {
                return Err(format!("the resource vanished while waiting for {what}"));
            };
            if done(&seen) {
                return Ok(seen);
            }
            if Instant::now() >= until {
                return Err(format!(
                    "timed out after {} s waiting for {what}; last observed: {}",
                    self.options.timeout.as_secs_f64(),
                    describe(&seen)
                ));
            }
            std::thread::sleep(self.options.poll);
        }
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
        Ok(self.prepare_op(operation)?)
    }

    fn wait(&self, operation: &Operation) -> Option<Duration> {
        match operation {
            Operation::Sleep(s) => Some(actions::sleep_for(s.duration, self.options.sleep_scale)),
            _ => None,
        }
    }

    fn apply(
        &self,
        action: &Action,
        pre_state: &Value,
        operation: &Operation,
    ) -> Result<Applied, DriverError> {
        Ok(self.apply_op(&action.uuid.to_string(), pre_state, operation).into())
    }

    fn observe(&self, action: &Action) -> Observed {
        let Some(pre_state) = action.pre_state.as_ref() else {
            return Observed::NotHappened;
        };
        match Operation::parse(&action.action_type, &action.input_parameters) {
            Ok(op) => self.observe_op(pre_state, &op),
            Err(e) => Observed::Unknown(e),
        }
    }
}
