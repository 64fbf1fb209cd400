//! `serve`'s identity flags, turned into an [`Access`] (and the start-up
//! message that says what the mode means).

use anyhow::{bail, Context};
use rollback_host::auth::{Access, Keystone, KeystoneConfig, Mode, Policy, StaticTokens};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How callers are identified.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    /// Validate `X-Auth-Token` against Keystone v3 (the OpenStack way).
    Keystone,
    /// Check `X-Auth-Token` against a file of sha256-hashed static tokens.
    Tokens,
    /// Nobody is asked; only allowed on loopback addresses.
    None,
}

#[derive(Debug, Clone, clap::Args)]
pub struct AuthArgs {
    /// How callers are identified.
    #[arg(long, env = "ROLLBACK_AUTH", value_enum, default_value_t = AuthMode::None)]
    auth: AuthMode,

    /// Policy file (YAML, rule: "role:a or role:b") overriding the defaults.
    #[arg(long, env = "ROLLBACK_POLICY_FILE")]
    policy_file: Option<PathBuf>,

    /// With `--auth tokens`: the tokens file (YAML; sha256 of each token).
    #[arg(long, env = "ROLLBACK_TOKENS_FILE")]
    tokens_file: Option<PathBuf>,

    /// With `--auth none`: host names accepted in `Host` besides loopback
    /// ones (repeatable).
    #[arg(long = "allowed-host", env = "ROLLBACK_ALLOWED_HOSTS", value_delimiter = ',')]
    allowed_hosts: Vec<String>,

    /// With `--auth keystone`: Keystone's URL (e.g. http://keystone:5000/v3).
    #[arg(long, env = "ROLLBACK_KEYSTONE_URL")]
    keystone_url: Option<String>,

    /// The service user that validates tokens.
    #[arg(long, env = "ROLLBACK_KEYSTONE_USERNAME", default_value = "rollback")]
    keystone_username: String,

    /// Its password (prefer the environment variable to the flag).
    #[arg(long, env = "ROLLBACK_KEYSTONE_PASSWORD", hide_env_values = true)]
    keystone_password: Option<String>,

    /// The project its token is scoped to.
    #[arg(long, env = "ROLLBACK_KEYSTONE_PROJECT", default_value = "service")]
    keystone_project: String,

    /// The service user's domain id.
    #[arg(long, env = "ROLLBACK_KEYSTONE_USER_DOMAIN_ID", default_value = "default")]
    keystone_user_domain_id: String,

    /// The project's domain id.
    #[arg(long, env = "ROLLBACK_KEYSTONE_PROJECT_DOMAIN_ID", default_value = "default")]
    keystone_project_domain_id: String,

    /// Seconds a validated token is trusted without asking Keystone again:
    /// a revoked token keeps working for at most this long.
    #[arg(long, env = "ROLLBACK_TOKEN_CACHE_SECONDS", default_value_t = 60)]
    token_cache_seconds: u64,

    /// Most validated tokens remembered.
    #[arg(long, env = "ROLLBACK_TOKEN_CACHE_SIZE", default_value_t = 10_000)]
    token_cache_size: usize,
}

impl AuthArgs {
    /// The access rules these flags describe; refuses `none` on a
    /// non-loopback `listen`.
    pub fn access(&self, listen: &SocketAddr) -> anyhow::Result<Access> {
        let policy = match &self.policy_file {
            Some(path) => Policy::load(path)?,
            None => Policy::default(),
        };
        let mode = match self.auth {
            AuthMode::None => Mode::None,
            AuthMode::Tokens => {
                let Some(path) = &self.tokens_file else {
                    bail!("--auth tokens needs --tokens-file (or ROLLBACK_TOKENS_FILE)")
                };
                Mode::Tokens(Arc::new(StaticTokens::load(path)?))
            }
            AuthMode::Keystone => {
                let Some(url) = &self.keystone_url else {
                    bail!("--auth keystone needs --keystone-url (or ROLLBACK_KEYSTONE_URL)")
                };
                let Some(password) = &self.keystone_password else {
                    bail!("--auth keystone needs the service user's password: ROLLBACK_KEYSTONE_PASSWORD")
                };
                let k = Keystone::new(KeystoneConfig {
                    auth_url: url.clone(),
                    username: self.keystone_username.clone(),
                    password: password.clone(),
                    project_name: self.keystone_project.clone(),
                    user_domain_id: self.keystone_user_domain_id.clone(),
                    project_domain_id: self.keystone_project_domain_id.clone(),
                    cache_time: Duration::from_secs(self.token_cache_seconds),
                    cache_size: self.token_cache_size,
                    timeout: Duration::from_secs(5),
                })
                .context("setting up the Keystone client")?;
                Mode::Keystone(Arc::new(k))
            }
        };
        let access =
            Access { mode, policy: Arc::new(policy), allowed_hosts: Arc::new(self.allowed_hosts.clone()) };
        access.check_listen(listen).map_err(anyhow::Error::msg)?;
        Ok(access)
    }
}

/// Checks what can be checked before serving (the service's own Keystone
/// login) and says in the log what the mode means.
pub async fn announce(access: &Access) -> anyhow::Result<()> {
    match &access.mode {
        Mode::None => tracing::warn!(
            "auth: none: every caller is treated as admin; serving loopback clients only \
             (Host must be a loopback name or an --allowed-host); use --auth keystone or --auth tokens \
             to serve beyond this machine"
        ),
        Mode::Tokens(t) => {
            tracing::info!(tokens = t.len(), "auth: tokens: X-Auth-Token checked against the tokens file")
        }
        Mode::Keystone(k) => {
            k.check().await.context("logging in to Keystone with the service's credentials")?;
            tracing::info!(
                keystone = k.www_authenticate_uri(),
                "auth: keystone: X-Auth-Token validated by Keystone (service login ok)"
            );
        }
    }
    Ok(())
}
