//! Start-up: from a [`Config`] to a [`Running`] service, and serving it.
//! The top of the library: it wires [`crate::service`] and serves it with
//! [`crate::api`]; nothing below imports it.
//!
//! The one way a service comes to life: the binary (`rollback-host serve`)
//! only turns its flags and configuration file into a [`Config`]; the
//! failpoints binary and the in-process tests call [`start`] the same way,
//! so what they run is what production runs. In order, [`start`]:
//! opens the store, reads (or makes) the compile cache's key, starts the
//! plugin runtime and the registry (with the operator's pins), wires the
//! [`Service`] over the cloud driver, seeds the simulated cloud (only when
//! it is the driver), restores uploaded plugins, starts the plugins
//! directory's watch, evicts compiled code of plugins no longer loaded, and
//! settles the plans a previous process left running. [`Running::serve`]
//! then serves HTTP until the shutdown future resolves, or until the store
//! stops taking writes (fail-stop).

use crate::api::{self, Bounds};
use crate::applier::Recovery;
use crate::auth::Access;
use crate::cloud::simulated::{CloudError, DEFAULT_SEED};
use crate::cloud::CloudDriver;
use crate::lifecycle::LifecycleError;
use crate::plugins::{Limits, PluginError, Registry, Runtime};
use crate::service::{Options, Service};
use rollback_store::{Store, StoreError};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How often the plugins directory is scanned by default; changes land
/// within it.
pub const DEFAULT_WATCH_EVERY: Duration = Duration::from_millis(500);

/// The cloud the applier acts on.
#[derive(Clone)]
pub enum Cloud {
    /// The embedded simulated cloud, its state in the store; seeded with
    /// `seed` (or the built-in seed) when the store has no cloud yet.
    Simulated {
        /// The first state of the cloud (a `GET /v1/cloud` document).
        seed: Option<serde_json::Value>,
    },
    /// Another driver (`serve --driver openstack`).
    Driver(Arc<dyn CloudDriver>),
}

/// Where the store comes from.
#[derive(Clone)]
pub enum StoreAt {
    /// Open (or create) the store in this directory.
    Dir(PathBuf),
    /// A store already open (a test that wrote records before starting).
    Open(Store),
    /// The shared MySQL/MariaDB store; `local` is this instance's own
    /// directory (its compile cache).
    Mysql {
        /// The database and how to log in.
        options: rollback_store::MysqlOptions,
        /// This instance's directory (created if missing).
        local: PathBuf,
    },
}

/// Everything a service starts from.
#[derive(Clone)]
pub struct Config {
    /// The session `plan import` finds Watcher with (the OpenStack
    /// driver's); `None`: imports are refused.
    pub watcher: Option<Arc<crate::openstack_api::Session>>,
    /// The store.
    pub store: StoreAt,
    /// How a new data directory keeps its pages (`StoreAt::Dir` only; an
    /// existing one keeps its own).
    pub store_compression: rollback_store::Compression,
    /// Directory of inverter components to load and watch.
    pub plugins_dir: Option<PathBuf>,
    /// How often the plugins directory is scanned.
    pub watch_every: Duration,
    /// Directory caching compiled plugins (`None`: `compile-cache` beside
    /// the store, or no cache for a store opened elsewhere).
    pub compile_cache: Option<PathBuf>,
    /// The sandbox's bounds.
    pub limits: Limits,
    /// Digests allowed per action type (types not named are not restricted).
    pub pins: BTreeMap<String, Vec<String>>,
    /// The assembly's knobs.
    pub options: Options,
    /// The cloud the applier acts on.
    pub cloud: Cloud,
    /// The executable plugin compiles run in, within the limits' compile
    /// bounds (the binary passes itself); `None`: in this process,
    /// unbounded. Not used with `registry`.
    pub compile_worker: Option<PathBuf>,
    /// A registry whose plugins are already loaded, used instead of a new
    /// runtime (then `limits`, `pins` and `compile_cache` are its own): for
    /// tests that start many services over the same compiled plugins.
    pub registry: Option<Registry>,
}

impl Config {
    /// The defaults for `store`: no plugins directory, the
    /// default limits, no pins, the simulated cloud with the built-in seed.
    pub fn new(store: StoreAt) -> Config {
        Config {
            store,
            store_compression: rollback_store::Compression::None,
            plugins_dir: None,
            watch_every: DEFAULT_WATCH_EVERY,
            compile_cache: None,
            limits: Limits::default(),
            pins: BTreeMap::new(),
            options: Options::default(),
            cloud: Cloud::Simulated { seed: None },
            compile_worker: None,
            registry: None,
            watcher: None,
        }
    }
}

/// Why the service could not start or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The store could not be opened or read.
    #[error("the store in {dir}: {source}")]
    Open {
        /// Its directory.
        dir: String,
        /// Why.
        source: StoreError,
    },
    /// The store failed after it was opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The plugin runtime could not start.
    #[error("starting the plugin runtime: {0}")]
    Runtime(PluginError),
    /// The plugins directory's watch could not start.
    #[error("starting the plugins directory watch: {0}")]
    Watch(std::io::Error),
    /// The simulated cloud's seed was refused.
    #[error("seeding the simulated cloud: {0}")]
    Seed(#[from] CloudError),
    /// Recovering interrupted plans failed.
    #[error("recovering interrupted plans: {0}")]
    Recover(#[from] LifecycleError),
    /// A start-up task could not finish.
    #[error("internal error: {0}")]
    Internal(String),
    /// Serving HTTP failed.
    #[error("serving HTTP: {0}")]
    Serve(std::io::Error),
    /// The store stopped taking writes while serving (fail-stop).
    #[error("the store stopped taking writes: {0}")]
    Stopped(StoreError),
}

/// A started service: plans interrupted by the last stop are settled,
/// pending ones resumed.
pub struct Running {
    /// The service every request reaches.
    pub service: Service,
    /// What recovery did at start.
    pub recovery: Recovery,
    /// Whether the simulated cloud was seeded at this start.
    pub seeded: bool,
}

/// Starts a service from `config`. Call inside a tokio runtime: the
/// applier's tasks run on it; the blocking start-up work runs off its
/// threads.
pub async fn start(config: Config) -> Result<Running, StartError> {
    let (service, seeded) = tokio::task::spawn_blocking(move || assemble(config))
        .await
        .map_err(|e| StartError::Internal(e.to_string()))??;
    let recovery = service.recover()?;
    if service.store.shared() {
        // Follow what other instances upload and remove.
        let follower = service.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(crate::service::UPLOAD_SYNC_EVERY).await;
                match follower.sync_uploads().await {
                    Ok((loaded, removed)) if !loaded.is_empty() || !removed.is_empty() => {
                        tracing::info!(?loaded, ?removed, "plugin uploads followed from the shared store")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!("following the shared store's plugin uploads failed: {e}"),
                }
            }
        });
    }
    for plan in &recovery.interrupted {
        tracing::warn!(%plan, "action plan was interrupted by a stop; marked as such");
    }
    for plan in &recovery.resumed {
        tracing::info!(%plan, "pending action plan resumed");
    }
    Ok(Running { service, recovery, seeded })
}

/// Everything but recovery, on a blocking thread.
fn assemble(config: Config) -> Result<(Service, bool), StartError> {
    let (store, cache_dir) = match config.store {
        StoreAt::Dir(dir) => {
            let store = Store::open_with(&dir, config.store_compression)
                .map_err(|source| StartError::Open { dir: dir.display().to_string(), source })?;
            let compression = store.compression().unwrap_or_default();
            if compression != config.store_compression {
                tracing::info!(?compression, "the data directory keeps the compression it was created with");
            }
            tracing::info!(data_dir = %dir.display(), ?compression, "store open");
            let cache = config.compile_cache.unwrap_or_else(|| dir.join("compile-cache"));
            (store, Some(cache))
        }
        StoreAt::Open(store) => (store, config.compile_cache),
        StoreAt::Mysql { options, local } => {
            let store = Store::connect(&options)
                .map_err(|source| StartError::Open { dir: options.url.clone(), source })?;
            std::fs::create_dir_all(&local)
                .map_err(|e| StartError::Open { dir: local.display().to_string(), source: e.into() })?;
            let cache = config.compile_cache.unwrap_or_else(|| local.join("compile-cache"));
            (store, Some(cache))
        }
    };
    let registry = match config.registry {
        Some(registry) => registry,
        None => {
            let runtime = match cache_dir {
                Some(dir) => Runtime::with_cache(config.limits, &dir, compile_cache_key(&store)?),
                None => Runtime::new(config.limits),
            }
            .map_err(StartError::Runtime)?;
            if let Some(exe) = config.compile_worker {
                runtime.compile_in_workers(exe);
            }
            Registry::new(runtime, config.pins)
        }
    };
    let (driver, seed) = match config.cloud {
        Cloud::Simulated { seed } => (None, Some(seed)),
        Cloud::Driver(d) => (Some(d), None),
    };
    let mut service = Service::with_driver(store, registry.clone(), &config.options, driver);
    service.watcher = config.watcher;
    let mut seeded = false;
    if let (Some(seed), true) = (seed, service.simulated()) {
        let given = seed.is_some();
        let seed =
            seed.unwrap_or_else(|| serde_json::from_str(DEFAULT_SEED).expect("the built-in seed is JSON"));
        seeded = service.seed_cloud(seed)?;
        if seeded {
            tracing::info!("simulated cloud seeded");
        } else if given {
            tracing::warn!(
                "the store already holds a simulated cloud; --cloud-seed ignored (PUT /v1/cloud replaces it)"
            );
        }
    }
    service.restore_uploads()?;
    if let Some(dir) = config.plugins_dir {
        registry.watch(dir, config.watch_every).map_err(StartError::Watch)?;
    }
    // Compiled code of plugins no longer active goes.
    let active = registry.snapshot().values().map(|a| a.plugin.sha256().to_string()).collect();
    let evicted = registry.runtime().evict_cache_except(&active);
    if evicted > 0 {
        tracing::info!(evicted, "compile cache: removed entries of plugins no longer loaded");
    }
    Ok((service, seeded))
}

impl Running {
    /// Serves HTTP on `listener` until `shutdown` resolves (Ok) or the store
    /// stops taking writes (Err: the process should exit non-zero so that a
    /// supervisor restarts it from what is durable).
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        access: Access,
        bounds: &Bounds,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartError> {
        let bounds = &within_open_files(bounds);
        let (stopped_tx, mut stopped_rx) = tokio::sync::oneshot::channel();
        let watched = self.service.clone();
        let stop = async move {
            tokio::select! {
                () = shutdown => {}
                e = watched.store_stopped() => {
                    tracing::error!("stopping: {e}");
                    let _ = stopped_tx.send(e);
                }
            }
        };
        api::serve(listener, self.service, access, bounds, stop).await.map_err(StartError::Serve)?;
        match stopped_rx.try_recv() {
            Ok(e) => Err(StartError::Stopped(e)),
            Err(_) => Ok(()),
        }
    }
}

/// Descriptors kept for everything but connections: the store's files, the
/// compile cache, plugin loads, Keystone and the cloud's APIs.
pub const RESERVED_FILES: usize = 128;

/// `bounds` with `max_connections` under the process's open-file limit.
/// The soft limit is raised to the hard one first (a shell's or a unit's
/// default is often 1,024, the default `--max-connections`); if even that
/// leaves fewer than `max_connections` + [`RESERVED_FILES`] descriptors,
/// fewer connections are served at once (the others wait to be accepted),
/// so a flood of idle connections cannot starve the store of descriptors
/// and stop the service.
fn within_open_files(bounds: &Bounds) -> Bounds {
    let mut bounds = bounds.clone();
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => limit,
        Err(e) => {
            tracing::warn!("cannot read the open-file limit: {e}");
            return bounds;
        }
    };
    let room = usize::try_from(limit).unwrap_or(usize::MAX).saturating_sub(RESERVED_FILES).max(16);
    if bounds.max_connections > room {
        tracing::warn!(
            open_files = limit,
            asked = bounds.max_connections,
            served = room,
            "fewer connections served at once than --max-connections: the open-file limit leaves room for {room}"
        );
        bounds.max_connections = room;
    }
    bounds
}

/// The key that authenticates the compile cache's files, kept in the store
/// (created once, 32 random bytes).
fn compile_cache_key(store: &Store) -> Result<[u8; 32], StoreError> {
    let decode =
        |v: &serde_json::Value| -> Option<[u8; 32]> { hex::decode(v.as_str()?).ok()?.try_into().ok() };
    if let Some(key) = store.document(CACHE_KEY_DOC)?.as_ref().and_then(decode) {
        return Ok(key);
    }
    let mut fresh = [0u8; 32];
    fresh[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    fresh[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    store.write(move |txn| {
        // Another start may have made one meanwhile: keep the first.
        if let Some(key) = txn.document(CACHE_KEY_DOC)?.as_ref().and_then(decode) {
            return Ok(key);
        }
        txn.put_document(CACHE_KEY_DOC, serde_json::Value::String(hex::encode(fresh)));
        Ok(fresh)
    })
}

const CACHE_KEY_DOC: &str = "compile_cache_key";
