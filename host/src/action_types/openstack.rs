//! OpenStack as action types see it: [`Os`], the context a type's
//! [`OnOpenStack`] executor calls through (the service clients of
//! `openstack_api` and the driver's waiting), the [`Look`] at a resource
//! and the [`Check`] of Watcher's pre-conditions; and the steps every type
//! shares: [`prepare`], [`apply`] (which first refuses when the resource
//! moved since `prepare`) and [`observe`] after a restart. `cloud::openstack`
//! (the driver) calls these.
//!
//! Pre-states and results have the simulated cloud's shapes (`{"host"}`,
//! `{"state", "disabled_reason"}`, `{"power"}`, `{"flavor"}`,
//! `{"pool", "type"}`, `{"status"}`), so the same inverters and drift
//! checks work unchanged.

use super::outcome::{Observed, Prepared};
use super::{Operation, PowerState};
use crate::openstack_api::cinder::Cinder;
use crate::openstack_api::ironic::{Ironic, Node};
use crate::openstack_api::nova::{Nova, Server};
use crate::openstack_api::{ApiError, Found, Session};
use serde_json::{json, Value};
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

/// What an executor calls through: the session and how to wait.
pub struct Os<'a> {
    /// The logged-in session.
    pub session: &'a Session,
    /// How to wait.
    pub options: &'a Options,
    /// The last server request Nova accepted (server, request id): where an
    /// action that fails later reads Nova's reason.
    pub accepted: std::cell::RefCell<Option<(String, String)>>,
}

/// What one look at an action's resource found.
pub struct Look {
    /// The pre-state's fields as they are now; `None`: the resource is gone.
    pub state: Option<Value>,
    /// Why the resource is not settled (a task under way), if it is not.
    pub busy: Option<String>,
}

/// Watcher's pre-conditions, checked.
pub enum Check {
    /// They hold; the pre-state.
    Run(Value),
    /// Nothing to do: SKIPPED.
    Skip(String, Value),
    /// It cannot run: FAILED.
    Fail(String, Value),
}

/// Run, with the pre-state.
pub fn run(pre_state: Value) -> Check {
    Check::Run(pre_state)
}

/// SKIPPED, with the reason.
pub fn skip(reason: String, pre_state: Value) -> Check {
    Check::Skip(reason, pre_state)
}

/// FAILED, with the reason.
pub fn fail(reason: String, pre_state: Value) -> Check {
    Check::Fail(reason, pre_state)
}

impl<'a> Os<'a> {
    /// A context over `session`.
    pub fn new(session: &'a Session, options: &'a Options) -> Self {
        Os { session, options, accepted: Default::default() }
    }

    /// `POST /servers/{id}/action`; remembers Nova's request id.
    pub fn act(&self, id: &str, body: &Value) -> Result<(), String> {
        let request = self.nova().action(id, body).map_err(|e| e.to_string())?;
        *self.accepted.borrow_mut() = request.map(|r| (id.to_string(), r));
        Ok(())
    }

    /// `reason`, with Nova's own record of why the last accepted request
    /// failed (when it has one) and the request id.
    fn with_nova_reason(&self, reason: String) -> String {
        let Some((server, request)) = self.accepted.borrow().clone() else { return reason };
        match self.nova().failure(&server, &request) {
            Ok(Some(why)) => format!("{reason} {why}."),
            Ok(None) => format!("{reason} (Nova request {request})"),
            Err(e) => format!("{reason} (Nova request {request}; its record could not be read: {e})"),
        }
    }

    /// Nova.
    pub fn nova(&self) -> Nova<'_> {
        Nova(self.session)
    }

    /// Cinder.
    pub fn cinder(&self) -> Cinder<'_> {
        Cinder(self.session)
    }

    /// Ironic.
    pub fn ironic(&self) -> Ironic<'_> {
        Ironic(self.session)
    }

    /// A look at a server: `field` of it, busy while a task runs or a
    /// resize awaits confirmation.
    pub fn server_look(&self, id: &str, field: fn(&Server) -> Value) -> Result<Look, ApiError> {
        Ok(match self.nova().server(id)? {
            None => Look { state: None, busy: None },
            Some(s) => Look {
                state: Some(field(&s)),
                busy: (!s.settled() || s.status == "VERIFY_RESIZE").then(|| s.describe()),
            },
        })
    }

    /// Polls `read` until `done` holds for what it returns; gives up after
    /// the timeout with the last observation. `what` names the wait.
    pub fn settle<T>(
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

    /// After a `migrate` or `resize` call: waits for VERIFY_RESIZE, confirms,
    /// waits for the status the instance had `before`.
    pub fn confirmed(&self, id: &str, before: &Server, what: &str) -> Result<Server, String> {
        let nova = || self.nova().server(id);
        let s = self.settle(
            &format!("{what} to reach VERIFY_RESIZE"),
            nova,
            // Nova sets the task before it answers 202: settled without
            // VERIFY_RESIZE means it gave up.
            |s| matches!(s.status.as_str(), "VERIFY_RESIZE" | "ERROR") || s.settled(),
            Server::describe,
        )?;
        if s.status != "VERIFY_RESIZE" {
            return Err(format!("{what} of {id} failed: {}.", s.describe()));
        }
        self.act(id, &json!({"confirmResize": null}))?;
        let s = self.settle(
            &format!("the confirmed {} to return to {}", what.trim_start_matches("the "), before.status),
            nova,
            |s| s.settled() && s.status != "VERIFY_RESIZE",
            Server::describe,
        )?;
        if s.status != before.status {
            return Err(format!(
                "{what} of {id} was confirmed but the instance is {}: {}.",
                s.status,
                s.describe()
            ));
        }
        Ok(s)
    }
}

/// A node's power as Watcher names it, from Ironic's.
pub fn ironic_power(node: &Node) -> Option<&'static str> {
    match node.power_state.as_deref() {
        Some("power on") => Some("on"),
        Some("power off") => Some("off"),
        _ => None,
    }
}

/// Ironic's power target for Watcher's state.
pub fn power_target(state: PowerState) -> &'static str {
    match state {
        PowerState::On => "power on",
        PowerState::Off => "power off",
    }
}

fn no_executor(op: &Operation) -> String {
    let ty = match op {
        Operation::Custom(t) => t.as_str(),
        _ => "?",
    };
    format!("The OpenStack driver has no executor for action type `{ty}`")
}

/// Checks Watcher's pre-conditions and reads the pre-state.
pub fn prepare(os: &Os<'_>, op: Operation) -> Result<Prepared, ApiError> {
    let Some(executor) = op.on_openstack() else {
        return Ok(Prepared::Fail {
            reason: format!("{}; nothing was done.", no_executor(&op)),
            pre_state: json!({}),
        });
    };
    Ok(match executor.prepare(os)? {
        Check::Run(pre_state) => Prepared::Run { pre_state, note: None, operation: op },
        Check::Skip(reason, pre_state) => Prepared::Skip { reason, pre_state },
        Check::Fail(reason, pre_state) => Prepared::Fail { reason, pre_state },
    })
}

/// Acts; `Err` is the action's FAILED reason. Refuses when the resource is
/// not as prepared any more.
pub fn apply(os: &Os<'_>, action: &str, pre_state: &Value, op: &Operation) -> Result<Value, String> {
    let Some(executor) = op.on_openstack() else {
        return Err(format!("{}.", no_executor(op)));
    };
    if executor.changes_a_resource() {
        let now = executor.look(os).map_err(|e| e.to_string())?;
        if now.state.as_ref() != Some(pre_state) || now.busy.is_some() {
            return Err(format!(
                "the cloud changed since the action was prepared: expected {pre_state}, found {}{}",
                now.state.map(|s| s.to_string()).unwrap_or_else(|| "nothing (the resource is gone)".into()),
                now.busy.map(|b| format!(" (busy: {b})")).unwrap_or_default()
            ));
        }
    }
    executor.apply(os, action).map_err(|reason| os.with_nova_reason(reason))
}

/// After a restart: whether the interrupted action changed its resource.
pub fn observe(os: &Os<'_>, pre_state: &Value, op: &Operation) -> Observed {
    let Some(executor) = op.on_openstack() else {
        // Its `prepare` failed it: the driver never acts on a custom kind.
        return Observed::NotHappened;
    };
    if !executor.changes_a_resource() {
        // Nothing to change: it happened once it began.
        return match executor.apply(os, "observed") {
            Ok(result) => Observed::Happened(result),
            Err(e) => Observed::Unknown(e),
        };
    }
    // Still changing (a live migration Nova carries on with): wait for it to
    // settle, as the interrupted action would have, within the action
    // timeout. A resize or cold migration waiting to be confirmed does not
    // settle by itself: judged as it is.
    let until = Instant::now() + os.options.timeout;
    let mut seen = executor.look(os);
    while let Ok(Look { busy: Some(busy), .. }) = &seen {
        if busy.contains("VERIFY_RESIZE") || Instant::now() >= until {
            break;
        }
        tracing::info!(
            "an interrupted action's resource is still changing ({busy}); waiting for it to settle"
        );
        std::thread::sleep(os.options.poll.max(std::time::Duration::from_millis(200)));
        seen = executor.look(os);
    }
    match seen {
        Err(e) => Observed::Unknown(format!("the resource could not be looked at: {e}")),
        Ok(Look { state: None, .. }) => Observed::Unknown("the resource no longer exists".into()),
        Ok(Look { busy: Some(busy), .. }) => {
            Observed::Unknown(format!("the resource was still changing when the service restarted ({busy})"))
        }
        Ok(Look { state: Some(now), .. }) if &now == pre_state => Observed::NotHappened,
        Ok(Look { state: Some(now), .. }) => Observed::Happened(now),
    }
}
