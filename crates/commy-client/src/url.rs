//! [`ServerUrl`]: where the server is, parsed once from what the user gave.

use crate::{Error, Result};
use std::fmt;
use std::net::IpAddr;
use tokio_tungstenite::tungstenite::http::Uri;

/// A server address: `ws://host:port` or `wss://host:port` (the path defaults to `/ws`); `http://` is taken as
/// `ws://` and `https://` as `wss://`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerUrl {
    host: String,
    port: u16,
    path: String,
    tls: bool,
}

impl ServerUrl {
    pub(crate) fn parse(text: &str) -> Result<ServerUrl> {
        let bad = |why: &str| Error::InvalidRequest(format!("bad server URL '{text}': {why}"));
        let uri: Uri = text.parse().map_err(|e| bad(&format!("{e}")))?;
        let tls = match uri.scheme_str() {
            Some("ws") | Some("http") => false,
            Some("wss") | Some("https") => true,
            Some(other) => return Err(bad(&format!("unknown scheme '{other}', expected ws:// or wss://"))),
            None => return Err(bad("no scheme, expected ws://host:port or wss://host:port")),
        };
        let host = uri.host().ok_or_else(|| bad("no host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let path = match uri.path() {
            "" | "/" => "/ws".to_owned(),
            other => other.to_owned(),
        };
        Ok(ServerUrl { host, port, path, tls })
    }

    /// The WebSocket URL to dial.
    pub(crate) fn websocket(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{host}:{}{}", self.port, self.path)
    }

    /// Whether the URL asks for TLS (`wss://`, `https://`).
    pub(crate) fn is_tls(&self) -> bool {
        self.tls
    }

    /// The host, without brackets around an IPv6 address: what the certificate must name.
    pub(crate) fn host(&self) -> &str {
        &self.host
    }

    /// The port.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Whether the host is this machine: `localhost` or a loopback address.
    pub(crate) fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost") || self.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }
}

impl fmt::Display for ServerUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.websocket())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_defaults_the_path() {
        let url = ServerUrl::parse("ws://127.0.0.1:8080").unwrap();
        assert_eq!(url.websocket(), "ws://127.0.0.1:8080/ws");
        assert!(url.is_loopback());
        let url = ServerUrl::parse("http://example.com:9/custom").unwrap();
        assert_eq!(url.websocket(), "ws://example.com:9/custom");
        assert!(!url.is_loopback());
        let url = ServerUrl::parse("ws://[::1]:7").unwrap();
        assert_eq!(url.websocket(), "ws://[::1]:7/ws");
        assert!(url.is_loopback());
        assert!(ServerUrl::parse("ws://localhost:1").unwrap().is_loopback());
        let url = ServerUrl::parse("wss://localhost:9").unwrap();
        assert!(url.is_tls());
        assert_eq!(url.websocket(), "wss://localhost:9/ws");
        let url = ServerUrl::parse("https://example.com").unwrap();
        assert_eq!(url.websocket(), "wss://example.com:443/ws");
        assert!(!ServerUrl::parse("ws://h:1").unwrap().is_tls());
    }

    #[test]
    fn refuses_what_it_cannot_serve() {
        for bad in ["ftp://h", "h:1", "not a url"] {
            assert!(matches!(ServerUrl::parse(bad), Err(Error::InvalidRequest(_))), "{bad}");
        }
    }
}
