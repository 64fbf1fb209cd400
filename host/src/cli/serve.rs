//! `rollback-host serve`: load the plugins and start the HTTP service.

use anyhow::Context;
use rollback_host::api;
use rollback_host::plugins::Limits;
use rollback_host::server::{self, Cloud, Config, StoreAt};
use rollback_host::service::{self, Options, MAX_LIMIT};
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

    /// Directory of the database (created if missing); with `--store`,
    /// this instance's own files (its compile cache).
    #[arg(long, env = "ROLLBACK_DATA_DIR", default_value = "rollback-data")]
    data_dir: PathBuf,

    /// Keep plans in MySQL/MariaDB instead of the data directory:
    /// `mysql://USER@HOST[:PORT]/DATABASE`, shared by every instance of the
    /// service (docs/operations.md, "Several instances"). The password comes
    /// from `--store-password-file` or the ROLLBACK_STORE_PASSWORD
    /// environment variable, never from the URL.
    #[arg(long, env = "ROLLBACK_STORE", value_name = "URL")]
    store: Option<String>,

    /// File holding the store's database password (its first line).
    #[arg(long, env = "ROLLBACK_STORE_PASSWORD_FILE", value_name = "FILE")]
    store_password_file: Option<PathBuf>,

    /// How a new data directory keeps its pages: `zstd` takes about half
    /// the disk and twice the CPU per write. A directory keeps what it was
    /// created with (`store copy --compression` makes a new one).
    #[arg(long, env = "ROLLBACK_STORE_COMPRESSION", value_enum, default_value_t = StoreCompression::None)]
    store_compression: StoreCompression,

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
    #[arg(long, env = "ROLLBACK_WINDOW", default_value_t = rollback_host::lifecycle::DEFAULT_ROLLBACK_WINDOW.as_secs())]
    rollback_window: u64,

    /// Actions of one plan that may run at once.
    #[arg(long, env = "ROLLBACK_APPLIER_CONCURRENCY", default_value_t = service::DEFAULT_APPLIER_CONCURRENCY)]
    applier_concurrency: usize,

    /// Most inverse actions one rollback may have.
    #[arg(long, env = "ROLLBACK_MAX_ACTIONS", default_value_t = rollback_host::lifecycle::MAX_PLAN_ACTIONS)]
    rollback_max_actions: usize,

    /// Seconds all plugin calls of one rollback may take together.
    #[arg(long, env = "ROLLBACK_DEADLINE_SECONDS", default_value_t = service::DEFAULT_ROLLBACK_DEADLINE.as_secs_f64())]
    rollback_deadline_s: f64,

    /// Most plugin types that may be uploaded over the API.
    #[arg(long, env = "ROLLBACK_MAX_UPLOADED_PLUGINS", default_value_t = service::DEFAULT_MAX_UPLOADED_PLUGINS)]
    max_uploaded_plugins: usize,

    /// With a shared `--store`: seconds a plan's lease lasts unrenewed; when
    /// an instance dies, another takes over its plans within about 4/3 of it.
    #[arg(long, env = "ROLLBACK_PLAN_LEASE_SECONDS", default_value_t = service::DEFAULT_PLAN_LEASE.as_secs_f64())]
    plan_lease_s: f64,

    /// With a shared `--store`: this instance's name in plan leases, the
    /// same across its restarts and different from every other instance's
    /// (default: the host name and the data directory's path).
    #[arg(long, env = "ROLLBACK_INSTANCE_ID")]
    instance_id: Option<String>,

    /// Plans that may run at once; the others wait their turn, PENDING.
    #[arg(long, env = "ROLLBACK_MAX_RUNNING_PLANS", default_value_t = service::DEFAULT_MAX_RUNNING_PLANS)]
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
    let mut pins: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (ty, digest) in &args.pins {
        pins.entry(ty.clone()).or_default().push(digest.clone());
    }
    let mut watcher = None;
    let cloud = match args.driver {
        super::openstack::Driver::Simulated => {
            let seed = match &args.cloud_seed {
                Some(path) => {
                    let text = std::fs::read_to_string(path)
                        .with_context(|| format!("reading {}", path.display()))?;
                    Some(
                        serde_json::from_str(&text)
                            .with_context(|| format!("{} is not JSON", path.display()))?,
                    )
                }
                None => None,
            };
            Cloud::Simulated { seed }
        }
        super::openstack::Driver::Openstack => {
            if args.cloud_seed.is_some() {
                tracing::warn!(
                    "--cloud-seed ignored: the applier acts on OpenStack, not on the simulated cloud"
                );
            }
            let (driver, session) = args.openstack.driver(args.sleep_scale)?;
            watcher = Some(session);
            Cloud::Driver(driver)
        }
    };
    let config = Config {
        watcher,
        plugins_dir: args.plugins_dir.clone(),
        compile_cache: args.compile_cache.clone(),
        compile_worker: super::plugin::compile_worker_exe(),
        limits: args.limits.clone(),
        pins,
        options: Options {
            rollback_window: std::time::Duration::from_secs(args.rollback_window),
            applier_concurrency: args.applier_concurrency,
            max_running_plans: args.max_running_plans,
            rollback_max_actions: args.rollback_max_actions,
            max_uploaded_plugins: args.max_uploaded_plugins,
            rollback_deadline: std::time::Duration::from_secs_f64(
                args.rollback_deadline_s.clamp(0.001, 3600.0),
            ),
            sleep_scale: args.sleep_scale,
            max_limit: MAX_LIMIT,
            plan_lease: std::time::Duration::from_secs_f64(args.plan_lease_s.clamp(0.3, 3600.0)),
            instance: Some(args.instance_id.clone().unwrap_or_else(|| {
                let _ = std::fs::create_dir_all(&args.data_dir);
                let dir = std::fs::canonicalize(&args.data_dir).unwrap_or_else(|_| args.data_dir.clone());
                format!("{}:{}", rollback_host::applier::leases::hostname(), dir.display())
            })),
        },
        cloud,
        store_compression: args.store_compression.into(),
        ..Config::new(store_at(args.store.as_deref(), args.store_password_file.as_deref(), &args.data_dir)?)
    };

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(async move {
        super::access::announce(&access).await?;
        let running = server::start(config).await?;
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        tracing::info!(address = %listener.local_addr()?, "rollback-host listening");
        running.serve(listener, access, &args.bounds, shutdown_signal()).await?;
        Ok(())
    })
}

/// `--store-compression`: how a new sled store keeps its pages.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub(crate) enum StoreCompression {
    /// As they are.
    None,
    /// zstd, level 1.
    Zstd,
}

impl From<StoreCompression> for rollback_store::Compression {
    fn from(c: StoreCompression) -> Self {
        match c {
            StoreCompression::None => rollback_store::Compression::None,
            StoreCompression::Zstd => rollback_store::Compression::Zstd,
        }
    }
}

/// The store `--store` and `--data-dir` name.
pub(crate) fn store_at(
    url: Option<&str>,
    password_file: Option<&std::path::Path>,
    data_dir: &std::path::Path,
) -> anyhow::Result<StoreAt> {
    let Some(url) = url else { return Ok(StoreAt::Dir(data_dir.to_path_buf())) };
    let options = rollback_store::MysqlOptions::new(url, store_password(password_file)?)?;
    Ok(StoreAt::Mysql { options, local: data_dir.to_path_buf() })
}

/// The store's password: the first line of `file`, else ROLLBACK_STORE_PASSWORD.
pub(crate) fn store_password(file: Option<&std::path::Path>) -> anyhow::Result<Option<String>> {
    if let Some(file) = file {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("reading the store password file {}", file.display()))?;
        return Ok(Some(text.lines().next().unwrap_or("").to_string()));
    }
    Ok(std::env::var("ROLLBACK_STORE_PASSWORD").ok())
}

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
