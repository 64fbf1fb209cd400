//! The simulated cloud: the embedded default driver. Its state is one JSON
//! document in the store (`cloud`), seeded from a file on first start,
//! shown by `GET /v1/cloud` and replaced by `PUT /v1/cloud`. Every change
//! is one store transaction that re-checks the pre-conditions, so parallel
//! actions on the same resource cannot both act.

pub use crate::action_types::simulated::model::{
    Cloud, ComputeService, Flavor, Instance, Node, PowerState, ServiceState, Status, Volume,
};
pub use crate::action_types::simulated::DEFAULT_SEED;

use super::{Applied, CloudDriver, DriverError, Prepared};
use crate::action_types::simulated as executors;
use crate::action_types::Operation;
use rollback_store::{Action, Store, StoreError, Txn};
use serde_json::Value;
use std::time::Duration;

/// The store document holding the cloud.
const DOCUMENT: &str = "cloud";

/// Why a cloud document was refused.
#[derive(Debug, thiserror::Error)]
pub enum CloudError {
    /// Not the cloud's shape.
    #[error("invalid cloud: {0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Parses and checks a cloud document.
pub fn parse(value: Value) -> Result<Cloud, CloudError> {
    let cloud: Cloud = serde_json::from_value(value).map_err(|e| CloudError::Invalid(e.to_string()))?;
    cloud.check().map_err(CloudError::Invalid)?;
    Ok(cloud)
}

/// Decodes the stored cloud document (none yet reads as an empty cloud).
fn decode(stored: Result<Option<Value>, StoreError>) -> Result<Cloud, DriverError> {
    match stored? {
        Some(v) => {
            serde_json::from_value(v).map_err(|e| DriverError(format!("stored cloud is unreadable: {e}")))
        }
        None => Ok(Cloud::default()),
    }
}

/// The simulated driver.
#[derive(Clone)]
pub struct Simulated {
    store: Store,
    time_scale: f64,
}

impl Simulated {
    /// A driver over `store`. `time_scale` multiplies every `sleep` (1.0 =
    /// real time; tests use a small value).
    pub fn new(store: Store, time_scale: f64) -> Self {
        Simulated { store, time_scale: time_scale.max(0.0) }
    }

    /// Seeds the cloud from `seed` unless the store already has one.
    /// Returns whether it seeded.
    pub fn seed_if_empty(&self, seed: Value) -> Result<bool, CloudError> {
        let cloud = parse(seed)?;
        let value = serde_json::to_value(&cloud).expect("cloud serializes");
        self.store.write(move |txn| {
            if txn.document(DOCUMENT)?.is_some() {
                return Ok(false);
            }
            txn.put_document(DOCUMENT, value.clone());
            Ok(true)
        })
    }

    /// The current cloud.
    pub fn get(&self) -> Result<Value, CloudError> {
        Ok(self.store.document(DOCUMENT)?.unwrap_or_else(|| serde_json::to_value(Cloud::default()).unwrap()))
    }

    /// Replaces the cloud (durably) after checking it.
    pub fn put(&self, value: Value) -> Result<Value, CloudError> {
        let cloud = parse(value)?;
        let value = serde_json::to_value(&cloud).expect("cloud serializes");
        let stored = value.clone();
        self.store.write(move |txn| {
            txn.put_document(DOCUMENT, value.clone());
            Ok::<_, CloudError>(())
        })?;
        Ok(stored)
    }
}

impl Simulated {
    /// How long a `sleep` of `seconds` really waits: clamped to
    /// 0..=1 h, then scaled by `time_scale`.
    pub fn sleep_for(&self, sleep: &crate::action_types::sleep::Sleep) -> Duration {
        sleep.waits(self.time_scale)
    }
}

impl CloudDriver for Simulated {
    fn wait(&self, operation: &Operation) -> Option<Duration> {
        match operation {
            Operation::Sleep(s) => Some(self.sleep_for(s)),
            _ => None,
        }
    }

    fn prepare(&self, action: &Action) -> Result<Prepared, DriverError> {
        let operation = match Operation::parse(&action.action_type, &action.input_parameters) {
            Ok(op) => op,
            Err(reason) => {
                return Ok(Prepared::Fail { reason, pre_state: Value::Object(Default::default()) })
            }
        };
        match operation {
            // These never touch the cloud: no read of its document.
            Operation::Nop(_) | Operation::Sleep(_) | Operation::Custom(_) => {
                Ok(executors::prepare(&Cloud::default(), &operation))
            }
            _ => Ok(executors::prepare(&decode(self.store.document(DOCUMENT))?, &operation)),
        }
    }

    fn in_store(&self) -> bool {
        true
    }

    /// An action's change and its result commit together (`apply_in`), so
    /// an action still ONGOING changed nothing.
    fn observe(&self, _action: &Action) -> super::Observed {
        super::Observed::NotHappened
    }

    fn apply_in(
        &self,
        txn: &mut Txn<'_>,
        action: &Action,
        pre_state: &Value,
        operation: &Operation,
    ) -> Result<Applied, DriverError> {
        match operation {
            // The applier has already waited (`wait`), without a thread.
            Operation::Sleep(s) => {
                let waited = self.sleep_for(s);
                Ok(Applied::Done(
                    serde_json::json!({"duration": s.duration, "waited_ms": waited.as_millis() as u64}),
                ))
            }
            Operation::Nop(n) => {
                tracing::info!(action = %action.uuid, "nop: {}", n.message.as_deref().unwrap_or(""));
                Ok(executors::apply(&mut Cloud::default(), operation, pre_state).into())
            }
            Operation::Custom(_) => Ok(executors::apply(&mut Cloud::default(), operation, pre_state).into()),
            _ => {
                let mut cloud = decode(txn.document(DOCUMENT))?;
                match executors::apply(&mut cloud, operation, pre_state) {
                    Ok(result) => {
                        txn.put_document(DOCUMENT, serde_json::to_value(&cloud).expect("cloud serializes"));
                        fail::fail_point!("simulated::changed", |_| Err(DriverError(
                            "injected failure after the cloud change was staged".into()
                        )));
                        Ok(Applied::Done(result))
                    }
                    // Nothing staged: the refusal writes nothing.
                    Err(reason) => Ok(Applied::Refused(reason)),
                }
            }
        }
    }

    fn apply(
        &self,
        action: &Action,
        pre_state: &Value,
        operation: &Operation,
    ) -> Result<Applied, DriverError> {
        let (action, pre, op, me) = (action.clone(), pre_state.clone(), operation.clone(), self.clone());
        self.store.write(move |txn| me.apply_in(txn, &action, &pre, &op))
    }
}

impl From<StoreError> for DriverError {
    fn from(e: StoreError) -> Self {
        DriverError(e.to_string())
    }
}
