//! [`ServerUrl`]: where the server is, parsed once from what the user gave.

use crate::{Error, Result};
use std::fmt;
use std::net::IpAddr;
use tokio_tungstenite::tungstenite::http::Uri;

/// A server address: `ws://host:port` (the path defaults to `/ws`); `http://` is taken as `ws://`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ServerUrl {
    host: String,
    port: u16,
    path: String,
}

impl ServerUrl {
    pub(crate) fn parse(text: &str) -> Result<ServerUrl> {
        let bad = |why: &str| Error::InvalidRequest(format!("bad server URL '{text}': {why}"));
        let uri: Uri = text.parse().map_err(|e| bad(&format!("{e}")))?;
        match uri.scheme_str() {
            Some("ws") | Some("http") => {}
            Some("wss") | Some("https") => {
                return Err(bad(
                    "TLS (wss://) is not supported by this build of the SDK; use ws://",
                ))
            }
            Some(other) => return Err(bad(&format!("unknown scheme '{other}', expected ws://"))),
            None => return Err(bad("no scheme, expected ws://host:port")),
        }
        let host = uri.host().ok_or_else(|| bad("no host"))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = uri.port_u16().unwrap_or(80);
        let path = match uri.path() {
            "" | "/" => "/ws".to_owned(),
            other => other.to_owned(),
        };
        Ok(ServerUrl { host, port, path })
    }

    /// The WebSocket URL to dial.
    pub(crate) fn websocket(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("ws://{host}:{}{}", self.port, self.path)
    }

    /// Whether the host is this machine: `localhost` or a loopback address.
    pub(crate) fn is_loopback(&self) -> bool {
        self.host.eq_ignore_ascii_case("localhost")
            || self.host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
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
    }

    #[test]
    fn refuses_what_it_cannot_serve() {
        for bad in ["wss://h:1", "ftp://h", "h:1", "not a url"] {
            assert!(
                matches!(ServerUrl::parse(bad), Err(Error::InvalidRequest(_))),
                "{bad}"
            );
        }
    }
}
