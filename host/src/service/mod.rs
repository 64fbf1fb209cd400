//! The assembled service: the one place that wires the store, the plugin
//! registry, the cloud driver, the applier and the plan domain together.
//! [`crate::server::start`] builds it (for the binary and the in-process
//! tests alike) with [`Service::with_driver`].

mod uploads;

pub use uploads::{UploadError, BLOB_PREFIX, MAX_PLUGIN_BYTES, UPLOAD_INDEX, UPLOAD_SYNC_EVERY};

use crate::applier::{recover, Applier, Recovery};
use crate::cloud::simulated::{CloudError, Simulated};
use crate::cloud::CloudDriver;
use crate::lifecycle::{LifecycleError, DEFAULT_ROLLBACK_WINDOW, MAX_PLAN_ACTIONS};
use crate::plans::Plans;
use crate::plugins::Registry;
use crate::rollback::RollbackLimits;
use rollback_store::Store;
use std::sync::Arc;
use std::time::Duration;

/// Watcher's `api.max_limit`: the largest page a list returns.
pub const MAX_LIMIT: usize = 1000;

/// Actions of one plan that may run at once, by default.
pub const DEFAULT_APPLIER_CONCURRENCY: usize = 4;
/// Plans that may run at once, by default.
pub const DEFAULT_MAX_RUNNING_PLANS: usize = 8;
/// Plugin types that may be uploaded over the API, by default.
pub const DEFAULT_MAX_UPLOADED_PLUGINS: usize = 64;
/// The time all plugin calls of one rollback may take together, by default.
pub const DEFAULT_ROLLBACK_DEADLINE: Duration = Duration::from_secs(10);

/// The knobs of the assembly (the CLI's `serve` flags set them).
#[derive(Debug, Clone)]
pub struct Options {
    /// How long after finishing a plan may be rolled back.
    pub rollback_window: Duration,
    /// Actions of one plan that may run at once.
    pub applier_concurrency: usize,
    /// Plans that may run at once; the others wait their turn, PENDING.
    pub max_running_plans: usize,
    /// Multiplies the simulated cloud's `sleep` durations (1.0 = real time).
    pub sleep_scale: f64,
    /// The largest page a list returns.
    pub max_limit: usize,
    /// Most inverse actions one rollback may have.
    pub rollback_max_actions: usize,
    /// The time all plugin calls of one rollback may take together.
    pub rollback_deadline: Duration,
    /// Most plugin types uploaded over the API.
    pub max_uploaded_plugins: usize,
    /// On a shared store, how long a plan's lease lasts without renewal:
    /// another instance takes over a plan within about 4/3 of it after its
    /// instance died.
    pub plan_lease: Duration,
    /// On a shared store, this instance's name in plan leases: stable across
    /// its restarts, so that a restarted instance settles its own plans at
    /// once (`None`: a random one; its plans are taken over when their
    /// leases lapse).
    pub instance: Option<String>,
}

/// The default [`Options::plan_lease`].
pub const DEFAULT_PLAN_LEASE: Duration = Duration::from_secs(10);

impl Default for Options {
    fn default() -> Self {
        Options {
            rollback_window: DEFAULT_ROLLBACK_WINDOW,
            applier_concurrency: DEFAULT_APPLIER_CONCURRENCY,
            max_running_plans: DEFAULT_MAX_RUNNING_PLANS,
            sleep_scale: 1.0,
            max_limit: MAX_LIMIT,
            rollback_max_actions: MAX_PLAN_ACTIONS,
            rollback_deadline: DEFAULT_ROLLBACK_DEADLINE,
            max_uploaded_plugins: DEFAULT_MAX_UPLOADED_PLUGINS,
            plan_lease: DEFAULT_PLAN_LEASE,
            instance: None,
        }
    }
}

/// Everything a request can reach. Cheap to clone.
#[derive(Clone)]
pub struct Service {
    /// Plans and actions, the cloud document, uploaded plugins.
    pub store: Store,
    /// The active inverter per action type.
    pub registry: Registry,
    /// The plan operations.
    pub plans: Plans,
    /// The simulated cloud, when it is the driver the applier acts
    /// through (`None` with another driver).
    pub cloud: Option<Simulated>,
    /// The largest page a list returns.
    pub max_limit: usize,
    /// The cloud session `plan import` reaches Watcher with.
    pub watcher: Option<Arc<crate::openstack_api::Session>>,
    applier: Applier,
    /// Held by an upload or removal from check to activation.
    uploads: Arc<tokio::sync::Mutex<()>>,
    max_uploads: usize,
}

impl Service {
    /// Wires a service over `store` and `registry`: the plan domain, and the
    /// applier acting through `driver`, or through the simulated cloud when
    /// none is given. `server::start` is its one caller.
    pub(crate) fn with_driver(
        store: Store,
        registry: Registry,
        options: &Options,
        driver: Option<Arc<dyn CloudDriver>>,
    ) -> Service {
        let (cloud, driver): (_, Arc<dyn CloudDriver>) = match driver {
            Some(d) => (None, d),
            None => {
                let cloud = Simulated::new(store.clone(), options.sleep_scale);
                (Some(cloud.clone()), Arc::new(cloud))
            }
        };
        let applier = Applier::new(
            store.clone(),
            driver,
            options.applier_concurrency,
            options.max_running_plans,
            options.plan_lease,
            options.instance.clone(),
        );
        let limits = RollbackLimits {
            window: options.rollback_window,
            max_actions: options.rollback_max_actions,
            deadline: options.rollback_deadline,
        };
        let plans = Plans::new(store.clone(), registry.clone(), applier.clone(), limits);
        Service {
            store,
            registry,
            plans,
            cloud,
            max_limit: options.max_limit,
            watcher: None,
            applier,
            uploads: Arc::new(tokio::sync::Mutex::new(())),
            max_uploads: options.max_uploaded_plugins,
        }
    }

    /// Whether the applier acts on the simulated cloud (`GET/PUT /v1/cloud`
    /// show and replace it only then).
    pub fn simulated(&self) -> bool {
        self.cloud.is_some()
    }

    /// Seeds the simulated cloud unless the store already has one; returns
    /// whether it seeded (never with another driver).
    pub fn seed_cloud(&self, seed: serde_json::Value) -> Result<bool, CloudError> {
        self.cloud.as_ref().map_or(Ok(false), |c| c.seed_if_empty(seed))
    }

    /// Settles plans a previous process left running and resumes pending
    /// ones. Call once, inside the tokio runtime, before serving.
    pub fn recover(&self) -> Result<Recovery, LifecycleError> {
        recover(&self.applier)
    }

    /// Whether the store can commit and answers a read (for `/healthz`).
    pub async fn store_reads(&self) -> Result<(), LifecycleError> {
        self.store.health()?;
        let store = self.store.clone();
        crate::lifecycle::blocking(move || Ok(store.plan(uuid::Uuid::nil()).map(drop)?)).await
    }

    /// Resolves, with the reason, once the store stops taking writes (a
    /// commit failed to reach the disk, or the committer is gone). The
    /// binary then stops serving and exits non-zero, so that a supervisor
    /// restarts it from what is durable.
    pub async fn store_stopped(&self) -> rollback_store::StoreError {
        loop {
            if let Err(e) = self.store.health() {
                return e;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
