//! Identity and policy: who is calling, and whether they may do what they
//! ask. The HTTP edge (`api::guard`) asks [`Access`] once per request.
//!
//! Three modes (`--auth`): [`keystone`] validates `X-Auth-Token` against
//! Keystone v3 as keystonemiddleware does; [`tokens`] checks it against a
//! file of hashed static tokens; `none` trusts every caller as admin and is
//! only allowed when the service listens on loopback addresses alone (and
//! then a request must name a loopback or configured host, against DNS
//! rebinding). [`policy`] maps each operation's rule to roles.

pub mod keystone;
pub mod policy;
pub mod tokens;

pub use keystone::{Keystone, KeystoneConfig, KeystoneError};
pub use policy::{Policy, PolicyError, Rule};
pub use tokens::{hash_token, StaticTokens, TokensError};

use std::net::SocketAddr;
use std::sync::Arc;

/// Who is calling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// User name (Keystone) or token name (tokens file).
    pub user: String,
    /// The project the token is scoped to, if any.
    pub project_id: Option<String>,
    /// Role names, lower case.
    pub roles: Vec<String>,
}

/// How callers prove who they are.
#[derive(Clone)]
pub enum Mode {
    /// Nobody is asked; loopback only.
    None,
    /// A file of static tokens.
    Tokens(Arc<StaticTokens>),
    /// Keystone.
    Keystone(Arc<Keystone>),
}

/// Why a request was not let through.
#[derive(Debug, thiserror::Error)]
pub enum Denied {
    /// No token, or not a valid one: 401.
    #[error("The request you have made requires authentication.")]
    Unauthenticated,
    /// Valid token, rule does not allow its roles: 403.
    #[error("Policy doesn't allow {0} to be performed.")]
    Forbidden(&'static str),
    /// Keystone could not be asked: 503.
    #[error("The identity service is unavailable; try again later.")]
    Unavailable,
}

/// The identity mode, the policy, and the host names `none` accepts.
#[derive(Clone)]
pub struct Access {
    /// The mode.
    pub mode: Mode,
    /// The rules.
    pub policy: Arc<Policy>,
    /// Extra host names accepted in `Host` with `--auth none`.
    pub allowed_hosts: Arc<Vec<String>>,
}

impl Access {
    /// No authentication, default policy: what in-process tests use.
    pub fn open() -> Access {
        Access { mode: Mode::None, policy: Arc::new(Policy::default()), allowed_hosts: Arc::new(Vec::new()) }
    }

    /// The mode's name, as the flag spells it.
    pub fn mode_name(&self) -> &'static str {
        match self.mode {
            Mode::None => "none",
            Mode::Tokens(_) => "tokens",
            Mode::Keystone(_) => "keystone",
        }
    }

    /// Who presents `token` (`X-Auth-Token`); with `none`, an admin.
    pub async fn identify(&self, token: Option<&str>) -> Result<Identity, Denied> {
        match &self.mode {
            Mode::None => Ok(Identity {
                user: "anonymous".into(),
                project_id: None,
                roles: vec!["admin".into(), "member".into(), "reader".into()],
            }),
            Mode::Tokens(t) => token.and_then(|tok| t.identify(tok)).ok_or(Denied::Unauthenticated),
            Mode::Keystone(k) => match k.identify(token.ok_or(Denied::Unauthenticated)?).await {
                Ok(identity) => Ok(identity),
                Err(KeystoneError::Invalid) => Err(Denied::Unauthenticated),
                Err(KeystoneError::Busy) => {
                    tracing::warn!("a new token was not validated: {}", KeystoneError::Busy);
                    Err(Denied::Unavailable)
                }
                Err(e) => {
                    tracing::error!("cannot validate a token: {e}");
                    Err(Denied::Unavailable)
                }
            },
        }
    }

    /// Checks `rule` for `identity`.
    pub fn authorize(&self, rule: &'static str, identity: &Identity) -> Result<(), Denied> {
        if self.policy.allows(rule, &identity.roles) {
            Ok(())
        } else {
            Err(Denied::Forbidden(rule))
        }
    }

    /// With `none`: whether a request naming `host` (the `Host` header, with
    /// or without port) may be served — loopback names and the configured
    /// ones only, so a DNS-rebound name cannot reach the service.
    pub fn host_allowed(&self, host: &str) -> bool {
        let name = strip_port(host);
        is_loopback_name(name) || self.allowed_hosts.iter().any(|h| h.eq_ignore_ascii_case(name))
    }

    /// Refuses `none` on a non-loopback address: the start-up check.
    pub fn check_listen(&self, listen: &SocketAddr) -> Result<(), String> {
        if matches!(self.mode, Mode::None) && !listen.ip().is_loopback() {
            return Err(format!(
                "--auth none serves loopback addresses only, and {listen} is not one; \
                 choose --auth keystone or --auth tokens to listen on it"
            ));
        }
        Ok(())
    }
}

/// `host:port`, `[v6]:port`, `host` → the name.
fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("");
    }
    match host.rsplit_once(':') {
        Some((name, port)) if !name.contains(':') && port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

fn is_loopback_name(name: &str) -> bool {
    name.eq_ignore_ascii_case("localhost")
        || name.to_ascii_lowercase().ends_with(".localhost")
        || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_accepts_loopback_and_configured_hosts_only() {
        let mut a = Access::open();
        for ok in
            ["127.0.0.1:9322", "localhost", "LOCALHOST:80", "[::1]:9322", "127.8.9.1", "api.localhost:1"]
        {
            assert!(a.host_allowed(ok), "{ok}");
        }
        for bad in ["evil.example:9322", "10.0.0.1", "", "127.0.0.1.evil.example", "[::2]:1"] {
            assert!(!a.host_allowed(bad), "{bad}");
        }
        a.allowed_hosts = Arc::new(vec!["rollback.internal".into()]);
        assert!(a.host_allowed("rollback.internal:9322"));
    }

    #[test]
    fn none_refuses_to_listen_beyond_loopback() {
        let a = Access::open();
        assert!(a.check_listen(&"127.0.0.1:9322".parse().unwrap()).is_ok());
        assert!(a.check_listen(&"[::1]:9322".parse().unwrap()).is_ok());
        let e = a.check_listen(&"0.0.0.0:9322".parse().unwrap()).unwrap_err();
        assert!(e.contains("--auth none") && e.contains("0.0.0.0:9322"), "{e}");
    }
}
