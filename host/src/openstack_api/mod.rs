//! The one OpenStack API client of this crate: a cloud's configuration
//! ([`config`]: clouds.yaml or `OS_*`), a Keystone session with the service
//! catalog, token renewal and retried calls ([`session`]), and the services'
//! error messages (`session::service_message`). Used by the OpenStack cloud
//! driver (`cloud::openstack`), by `--auth keystone`'s token validation
//! (`auth::keystone`) and by the CLI's login. (Not to be confused with
//! `cloud::openstack`, the driver that acts on a cloud through it.)
//!
//! A small typed client over `reqwest` rather than an OpenStack crate: the
//! `openstack` crate (0.6) has servers, volumes and read-only baremetal
//! nodes but not the admin calls Watcher makes (`os-services`, migrations to
//! a host, Cinder's migrate/retype actions, Ironic's power states); and
//! `openstack_sdk` (0.22), which generates every call from the services'
//! schemas, is a family of large async crates whose build would weigh on
//! every CI run for the dozen calls used here.

pub mod cinder;
pub mod config;
pub mod ironic;
pub mod nova;
pub mod session;
pub mod watcher;

pub use config::{CloudConfig, ConfigError, Credential, Domain};
pub use reqwest::Method;
pub use session::{Api, ApiError, Reply, Session, SessionOptions};

/// A resource that may not exist.
pub type Found<T> = Option<T>;

/// What is escaped in a path segment or query value: all but RFC 3986's
/// unreserved characters.
const ESCAPED: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// `s` percent-encoded for a URL path segment or query value.
pub(crate) fn seg(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, ESCAPED).to_string()
}
