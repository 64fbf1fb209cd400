//! `rollback-host serve`: load the plugins and start the HTTP service.

use anyhow::Context;
use rollback_host::api;
use rollback_host::cloud::simulated::DEFAULT_SEED;
use rollback_host::plugins::{Limits, Registry, Runtime};
use rollback_host::service::{Options, Service, MAX_LIMIT};
use rollback_store::Store;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// TOML file of defaults for these flags (keys are the long flag names);
    /// environment variables and flags override it.
    #[arg(long, env = "ROLLBACK_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    /// Address and port to listen on.
    #[arg(long, env = "ROLLBACK_LISTEN", default_value = "127.0.0.1:9322")]
    listen: SocketAddr,

    /// Directory of the database (created if missing).
    #[arg(long, env = "ROLLBACK_DATA_DIR", default_value = "rollback-data")]
    data_dir: PathBuf,

    /// Directory of inverter components (`*.wasm`) to load at start.
    #[arg(long, env = "ROLLBACK_PLUGINS_DIR")]
    plugins_dir: Option<PathBuf>,

    /// JSON file seeding the simulated cloud on first start (when the store
    /// has no cloud yet); without it a small built-in seed is used.
    #[arg(long, env = "ROLLBACK_CLOUD_SEED")]
    cloud_seed: Option<PathBuf>,

    /// Multiplies the duration of `sleep` actions (1 = real time).
    #[arg(long, env = "ROLLBACK_SLEEP_SCALE", default_value_t = 1.0)]
    sleep_scale: f64,

    /// Only allow these digests for a type: `TYPE=SHA256`, repeatable (or
    /// comma-separated in the environment variable). Types not named are not
    /// restricted.
    #[arg(long = "pin", env = "ROLLBACK_PLUGIN_PINS", value_delimiter = ',', value_parser = parse_pin)]
    pins: Vec<(String, String)>,

    /// Directory caching compiled plugins for fast starts
    /// (default: `<data-dir>/compile-cache`).
    #[arg(long, env = "ROLLBACK_COMPILE_CACHE")]
    compile_cache: Option<PathBuf>,

    /// Seconds after a plan finishes during which it may be rolled back.
    #[arg(long, env = "ROLLBACK_WINDOW", default_value_t = 3600)]
    rollback_window: u64,

    /// Actions of one plan that may run at once.
    #[arg(long, env = "ROLLBACK_APPLIER_CONCURRENCY", default_value_t = 4)]
    applier_concurrency: usize,

    /// Most inverse actions one rollback may have.
    #[arg(long, env = "ROLLBACK_MAX_ACTIONS", default_value_t = rollback_host::plans::MAX_PLAN_ACTIONS)]
    rollback_max_actions: usize,

    /// Seconds all plugin calls of one rollback may take together.
    #[arg(long, env = "ROLLBACK_DEADLINE_SECONDS", default_value_t = 10.0)]
    rollback_deadline_s: f64,

    /// Most plugin types that may be uploaded over the API.
    #[arg(long, env = "ROLLBACK_MAX_UPLOADED_PLUGINS", default_value_t = 64)]
    max_uploaded_plugins: usize,

    /// Plans that may run at once; the others wait their turn, PENDING.
    #[arg(long, env = "ROLLBACK_MAX_RUNNING_PLANS", default_value_t = 8)]
    max_running_plans: usize,

    /// The cloud the applier acts on: the embedded simulated one, or an
    /// OpenStack cloud (see the `--os-*` flags and docs/openstack.md).
    #[arg(long, env = "ROLLBACK_DRIVER", value_enum, default_value = "simulated")]
    driver: super::openstack::Driver,

    #[command(flatten)]
    openstack: super::openstack::OpenStackArgs,

    #[command(flatten)]
    limits: Limits,

    #[command(flatten)]
    auth: super::access::AuthArgs,

    #[command(flatten)]
    bounds: api::Bounds,
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let access = args.auth.access(&args.listen)?;
    let store = Store::open(&args.data_dir)
        .with_context(|| format!("opening the store in {}", args.data_dir.display()))?;
    tracing::info!(data_dir = %args.data_dir.display(), "store open");
    let cache_dir = args.compile_cache.clone().unwrap_or_else(|| args.data_dir.join("compile-cache"));
    let cache_key = compile_cache_key(&store).context("reading the compile cache's key")?;
    let runtime = Runtime::with_cache(args.limits.clone(), &cache_dir, cache_key)
        .context("starting the plugin runtime")?;
    let mut pins: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (ty, digest) in &args.pins {
        pins.entry(ty.clone()).or_default().push(digest.clone());
    }
    let registry = Registry::new(runtime.clone(), pins);
    let options = Options {
        rollback_window: std::time::Duration::from_secs(args.rollback_window),
        applier_concurrency: args.applier_concurrency,
        max_running_plans: args.max_running_plans,
        rollback_max_actions: args.rollback_max_actions,
        max_uploaded_plugins: args.max_uploaded_plugins,
        rollback_deadline: std::time::Duration::from_secs_f64(args.rollback_deadline_s.clamp(0.001, 3600.0)),
        sleep_scale: args.sleep_scale,
        max_limit: MAX_LIMIT,
    };
    let driver = match args.driver {
        super::openstack::Driver::Simulated => None,
        super::openstack::Driver::Openstack => Some(args.openstack.driver(args.sleep_scale)?),
    };
    let service = Service::with_driver(store, registry.clone(), &options, driver);

    let seed: serde_json::Value = match &args.cloud_seed {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?
        }
        None => serde_json::from_str(DEFAULT_SEED).expect("the built-in seed is JSON"),
    };
    if !service.simulated() {
        if args.cloud_seed.is_some() {
            tracing::warn!("--cloud-seed ignored: the applier acts on OpenStack, not on the simulated cloud");
        }
    } else if service.seed_cloud(seed).context("seeding the simulated cloud")? {
        tracing::info!("simulated cloud seeded");
    } else if args.cloud_seed.is_some() {
        tracing::warn!(
            "the store already holds a simulated cloud; --cloud-seed ignored (PUT /v1/cloud replaces it)"
        );
    }
    service.restore_uploads().context("reading uploaded plugins")?;
    if let Some(dir) = &args.plugins_dir {
        registry.watch(dir.clone(), WATCH_EVERY).context("starting the plugins directory watch")?;
    }
    // Compiled code of plugins no longer active goes.
    let active = registry.snapshot().values().map(|a| a.plugin.sha256().to_string()).collect();
    let evicted = runtime.evict_cache_except(&active);
    if evicted > 0 {
        tracing::info!(evicted, "compile cache: removed entries of plugins no longer loaded");
    }

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        super::access::announce(&access).await?;
        let recovery = service.recover().context("recovering interrupted plans")?;
        for plan in &recovery.interrupted {
            tracing::warn!(%plan, "action plan was interrupted by a stop; marked as such");
        }
        for plan in &recovery.resumed {
            tracing::info!(%plan, "pending action plan resumed");
        }
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        tracing::info!(address = %listener.local_addr()?, "rollback-host listening");
        // Fail-stop: a store that cannot make writes durable stops the service.
        let (stopped_tx, mut stopped_rx) = tokio::sync::oneshot::channel();
        let watched = service.clone();
        let stop = async move {
            tokio::select! {
                () = shutdown_signal() => {}
                e = watched.store_stopped() => {
                    tracing::error!("stopping: {e}");
                    let _ = stopped_tx.send(e);
                }
            }
        };
        api::serve(listener, service, access, &args.bounds, stop).await.context("serving HTTP")?;
        match stopped_rx.try_recv() {
            Ok(e) => Err(anyhow::Error::new(e).context("the store stopped taking writes")),
            Err(_) => Ok(()),
        }
    })
}

/// The key that authenticates the compile cache's files, kept in the store
/// (created once, 32 random bytes).
fn compile_cache_key(store: &Store) -> Result<[u8; 32], rollback_store::StoreError> {
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

/// Parses `TYPE=SHA256`.
fn parse_pin(s: &str) -> Result<(String, String), String> {
    let (ty, digest) = s.split_once('=').ok_or("expected TYPE=SHA256")?;
    if !rollback_host::plugins::valid_action_type(ty) {
        return Err(format!("invalid action type {ty:?}"));
    }
    if digest.len() != 64 || !digest.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("{digest:?} is not a sha256 hex digest"));
    }
    Ok((ty.to_string(), digest.to_ascii_lowercase()))
}

/// How often the plugins directory is scanned; changes land within it.
const WATCH_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
