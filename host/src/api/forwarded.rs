//! Where a client says it came from, believed only from a trusted proxy.
//!
//! Behind a reverse proxy (TLS terminated there, a public host name), the
//! links and `next` URLs must name the proxy's scheme and host, which it
//! passes in `X-Forwarded-Proto` and `X-Forwarded-Host`. Anyone can send
//! those headers, so they are read only when the connection's peer (set by
//! the server loop as [`Peer`]) is in `--trusted-proxy`; from anyone else
//! they are ignored and the `Host` header is used, as without a proxy.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;
use std::net::SocketAddr;
use std::sync::Arc;

/// The connection's remote address (an extension on every request).
#[derive(Debug, Clone, Copy)]
pub struct Peer(pub SocketAddr);

/// The scheme and host a trusted proxy says the client addressed.
#[derive(Debug, Clone)]
pub struct Origin {
    /// `http` or `https`.
    pub scheme: &'static str,
    /// `host[:port]`, when the proxy sent one.
    pub host: Option<String>,
}

/// The proxies whose `X-Forwarded-*` headers are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Arc<Vec<IpNet>>);

impl TrustedProxies {
    /// From addresses or networks (`10.0.0.5`, `10.0.0.0/8`).
    pub fn new(nets: &[IpNet]) -> Self {
        TrustedProxies(Arc::new(nets.to_vec()))
    }

    fn trusts(&self, peer: &SocketAddr) -> bool {
        let ip = peer.ip().to_canonical();
        self.0.iter().any(|n| n.contains(&ip))
    }
}

/// Parses `--trusted-proxy`: an address or a network in CIDR notation.
pub fn parse_proxy(s: &str) -> Result<IpNet, String> {
    if let Ok(ip) = s.parse::<std::net::IpAddr>() {
        return Ok(IpNet::from(ip));
    }
    s.parse::<IpNet>().map_err(|_| format!("{s:?} is neither an IP address nor a CIDR network"))
}

/// A well-formed host name with an optional port.
pub fn valid_host(h: &str) -> bool {
    !h.is_empty() && h.len() <= 255 && h.chars().all(|c| c.is_ascii_alphanumeric() || "-.:[]_".contains(c))
}

/// The first value of a (possibly repeated, comma-separated) header.
fn first(req: &Request, name: &str) -> Option<String> {
    let v = req.headers().get(name)?.to_str().ok()?;
    Some(v.split(',').next()?.trim().to_string())
}

/// Middleware: records the [`Origin`] a trusted proxy forwarded.
pub async fn forwarded(State(trusted): State<TrustedProxies>, mut req: Request, next: Next) -> Response {
    let from_proxy = req.extensions().get::<Peer>().is_some_and(|p| trusted.trusts(&p.0));
    if from_proxy {
        let scheme = match first(&req, "x-forwarded-proto").map(|p| p.to_ascii_lowercase()).as_deref() {
            Some("https") => Some("https"),
            Some("http") => Some("http"),
            _ => None,
        };
        let host = first(&req, "x-forwarded-host").filter(|h| valid_host(h));
        if scheme.is_some() || host.is_some() {
            req.extensions_mut().insert(Origin { scheme: scheme.unwrap_or("http"), host });
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxies_are_addresses_or_networks() {
        let t = TrustedProxies::new(&[parse_proxy("10.0.0.0/8").unwrap(), parse_proxy("::1").unwrap()]);
        assert!(t.trusts(&"10.1.2.3:5000".parse().unwrap()));
        assert!(t.trusts(&"[::1]:5000".parse().unwrap()));
        assert!(!t.trusts(&"192.168.0.1:5000".parse().unwrap()));
        assert!(parse_proxy("proxy.example").is_err());
    }
}
