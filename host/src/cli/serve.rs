//! `rollback-host serve`: load the plugins and start the HTTP service.

use anyhow::Context;
use rollback_host::api::{self, AppState};
use rollback_host::applier::recover;
use rollback_host::cloud::simulated::{Simulated, DEFAULT_SEED};
use rollback_host::plugins::{Limits, LoadedPlugin, Runtime};
use rollback_store::Store;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
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

    /// Multiplies the duration of `sleep` actions in the simulated cloud
    /// (1 = real time).
    #[arg(long, env = "ROLLBACK_SLEEP_SCALE", default_value_t = 1.0)]
    sleep_scale: f64,

    /// Seconds after a plan finishes during which it may be rolled back.
    #[arg(long, env = "ROLLBACK_WINDOW", default_value_t = 3600)]
    rollback_window: u64,

    /// Actions of one plan that may run at once.
    #[arg(long, env = "ROLLBACK_APPLIER_CONCURRENCY", default_value_t = 4)]
    applier_concurrency: usize,

    #[command(flatten)]
    limits: Limits,
}

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let runtime = Runtime::new(args.limits).context("starting the plugin runtime")?;
    let plugins = match &args.plugins_dir {
        Some(dir) => load_dir(&runtime, dir)?,
        None => BTreeMap::new(),
    };
    let store = Store::open(&args.data_dir)
        .with_context(|| format!("opening the store in {}", args.data_dir.display()))?;
    tracing::info!(data_dir = %args.data_dir.display(), "store open");
    let cloud = Simulated::new(store.clone(), args.sleep_scale);
    let seed: serde_json::Value = match &args.cloud_seed {
        Some(path) => {
            let text =
                std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?
        }
        None => serde_json::from_str(DEFAULT_SEED).expect("the built-in seed is JSON"),
    };
    if cloud.seed_if_empty(seed).context("seeding the simulated cloud")? {
        tracing::info!("simulated cloud seeded");
    } else if args.cloud_seed.is_some() {
        tracing::warn!(
            "the store already holds a simulated cloud; --cloud-seed ignored (PUT /v1/cloud replaces it)"
        );
    }
    let mut state = AppState::new(store, plugins, cloud, args.applier_concurrency);
    state.rollback_window = std::time::Duration::from_secs(args.rollback_window);

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        let recovery = recover(&state.applier).context("recovering interrupted plans")?;
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
        api::serve(listener, state, shutdown_signal()).await.context("serving HTTP")
    })
}

/// Loads every `*.wasm` in `dir`. A broken file is logged and skipped; two
/// files for one action type are an error, since which one wins is unclear.
fn load_dir(runtime: &Runtime, dir: &Path) -> anyhow::Result<BTreeMap<String, LoadedPlugin>> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading plugins directory {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "wasm"))
        .collect();
    entries.sort();
    let mut plugins = BTreeMap::new();
    for path in entries {
        let started = std::time::Instant::now();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) => {
                tracing::error!(file = %path.display(), "cannot read plugin: {e}");
                continue;
            }
        };
        match runtime.load(&bytes, &path.display().to_string()) {
            Ok(plugin) => {
                let ty = plugin.metadata().action_type.clone();
                tracing::info!(
                    action_type = %ty,
                    file = %path.display(),
                    sha256 = plugin.sha256(),
                    millis = started.elapsed().as_millis() as u64,
                    "plugin loaded"
                );
                if plugins.insert(ty.clone(), plugin).is_some() {
                    anyhow::bail!("two plugins in {} invert `{ty}`", dir.display());
                }
            }
            Err(e) => tracing::error!(file = %path.display(), "plugin refused: {e}"),
        }
    }
    Ok(plugins)
}

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
