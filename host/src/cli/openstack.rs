//! `serve --driver openstack`: the flags that point the service at a cloud
//! (the `openstack` CLI's `--os-*` conventions) and how long it waits.

use anyhow::Context;
use rollback_host::cloud::openstack::{OpenStack, Options};
use rollback_host::cloud::CloudDriver;
use rollback_host::openstack_api::{CloudConfig, Session, SessionOptions};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The cloud the applier acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Driver {
    /// The embedded simulated cloud (its state in the store, `/v1/cloud`).
    Simulated,
    /// A real OpenStack cloud: Nova, Cinder and Ironic through Keystone.
    Openstack,
}

#[derive(Debug, Clone, clap::Args)]
pub struct OpenStackArgs {
    /// With `--driver openstack`: the cloud of clouds.yaml to use; without
    /// it the `OS_*` variables describe the cloud.
    #[arg(long, env = "OS_CLOUD", value_name = "NAME")]
    os_cloud: Option<String>,

    /// With `--driver openstack`: the catalog region (overrides the cloud's).
    #[arg(long, env = "OS_REGION_NAME", value_name = "REGION")]
    os_region_name: Option<String>,

    /// With `--driver openstack`: the catalog interface, `public`,
    /// `internal` or `admin` (overrides the cloud's; default public).
    #[arg(long, env = "OS_INTERFACE", value_name = "INTERFACE")]
    os_interface: Option<String>,

    /// With `--driver openstack`: a PEM bundle of CAs to trust for the
    /// cloud's TLS (overrides the cloud's `cacert`).
    #[arg(long, env = "OS_CACERT", value_name = "FILE")]
    os_cacert: Option<PathBuf>,

    /// With `--driver openstack`: seconds between two looks at a resource
    /// that is changing (a migration, a power change).
    #[arg(long, env = "ROLLBACK_OS_POLL_INTERVAL", default_value_t = 5.0, value_name = "SECONDS")]
    os_poll_interval: f64,

    /// With `--driver openstack`: seconds an action waits for its resource
    /// to settle before it fails with what was last observed.
    #[arg(long, env = "ROLLBACK_OS_ACTION_TIMEOUT", default_value_t = 900.0, value_name = "SECONDS")]
    os_action_timeout: f64,

    /// With `--driver openstack`: seconds one API call may take.
    #[arg(long, env = "ROLLBACK_OS_API_TIMEOUT", default_value_t = 60.0, value_name = "SECONDS")]
    os_api_timeout: f64,

    /// With `--driver openstack`: retries of a call that failed transiently
    /// (no connection, 502/503/504, 409 while the resource is busy).
    #[arg(long, env = "ROLLBACK_OS_RETRIES", default_value_t = 5, value_name = "N")]
    os_retries: u32,
}

fn seconds(flag: &str, s: f64) -> anyhow::Result<Duration> {
    anyhow::ensure!(
        s.is_finite() && s > 0.0 && s <= 86_400.0,
        "--{flag} {s}: expected seconds in (0, 86400]"
    );
    Ok(Duration::from_secs_f64(s))
}

impl OpenStackArgs {
    /// The OpenStack driver: reads the cloud's configuration, logs in and
    /// finds the services in the catalog (so that a wrong setting stops
    /// the start with its reason). The session comes too: `plan import`
    /// finds Watcher with it.
    pub fn driver(&self, sleep_scale: f64) -> anyhow::Result<(Arc<dyn CloudDriver>, Arc<Session>)> {
        let mut config = CloudConfig::load(self.os_cloud.as_deref())?.context(
            "--driver openstack needs a cloud: --os-cloud NAME (clouds.yaml) or the OS_* variables (OS_AUTH_URL, …)",
        )?;
        if let Some(r) = &self.os_region_name {
            config.region = Some(r.clone());
        }
        if let Some(i) = &self.os_interface {
            config.interface = i.trim_end_matches("URL").to_string();
        }
        if let Some(c) = &self.os_cacert {
            config.cacert = Some(c.clone());
        }
        anyhow::ensure!(
            ["public", "internal", "admin"].contains(&config.interface.as_str()),
            "--os-interface {:?}: expected public, internal or admin",
            config.interface
        );
        let session = SessionOptions {
            timeout: seconds("os-api-timeout", self.os_api_timeout)?,
            retries: self.os_retries.min(20),
            ..SessionOptions::default()
        };
        let options = Options {
            poll: seconds("os-poll-interval", self.os_poll_interval)?,
            timeout: seconds("os-action-timeout", self.os_action_timeout)?,
            sleep_scale,
        };
        let source = config.source.clone();
        let session = Arc::new(Session::new(config, session)?);
        let driver = OpenStack::new(session.clone(), options);
        let services = driver.check().with_context(|| format!("logging in to the cloud ({source})"))?;
        for (name, found) in ["compute", "block-storage", "baremetal"].iter().zip(services) {
            match found {
                Ok(url) => tracing::info!(service = name, %url, "openstack endpoint"),
                Err(why) => tracing::warn!(service = name, "{why}; its actions will fail"),
            }
        }
        match session.check(&[rollback_host::openstack_api::watcher::INFRA_OPTIM]) {
            Ok(url) => tracing::info!(service = "infra-optim", url = %url[0], "Watcher (plan import)"),
            Err(why) => tracing::info!("no Watcher in the catalog ({why}); plan import will be refused"),
        }
        tracing::info!(%source, "driver: openstack");
        Ok((Arc::new(driver), session))
    }
}
