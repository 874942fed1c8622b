//! [`Link`]: one live connection to the server, over a WebSocket or the local Unix socket, and the [`Endpoint`] that
//! makes a new one after a drop.

use super::unix::UnixLink;
use super::ws::WsLink;
use crate::tls::TlsSetup;
use crate::url::ServerUrl;
use commy_proto::{Encoding, Reply, Request};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::time::Duration;

/// A message from the server, with the file descriptor that came with it (a `ServiceFilePath` reply on the local
/// socket).
#[derive(Debug)]
pub(crate) struct Incoming {
    pub(crate) reply: Reply,
    pub(crate) fd: Option<OwnedFd>,
}

/// Where to connect.
#[derive(Debug, Clone)]
pub(crate) enum Endpoint {
    /// The server's WebSocket; `tls` is set for a `wss://` URL.
    WebSocket {
        url: ServerUrl,
        encoding: Encoding,
        tls: Option<TlsSetup>,
    },
    /// The server's local Unix socket.
    Unix { path: PathBuf },
}

impl Endpoint {
    /// Connects, giving up after `timeout`. The error is a sentence for people.
    pub(crate) async fn open(&self, timeout: Duration) -> Result<Link, String> {
        let open = async {
            match self {
                Endpoint::WebSocket { url, encoding, tls } => WsLink::connect(url, *encoding, tls.as_ref())
                    .await
                    .map(|link| Link::Ws(Box::new(link))),
                Endpoint::Unix { path } => UnixLink::connect(path)
                    .await
                    .map(Link::Unix)
                    .map_err(|e| format!("cannot connect to {}: {e}", path.display())),
            }
        };
        tokio::time::timeout(timeout, open)
            .await
            .unwrap_or_else(|_| Err(format!("connecting to {self} took over {timeout:?}")))
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::WebSocket { url, .. } => write!(f, "{url}"),
            Endpoint::Unix { path } => write!(f, "unix:{}", path.display()),
        }
    }
}

/// A live connection.
#[derive(Debug)]
pub(crate) enum Link {
    Ws(Box<WsLink>),
    Unix(UnixLink),
}

impl Link {
    pub(crate) async fn send(&mut self, request: &Request) -> Result<(), String> {
        match self {
            Link::Ws(link) => link.send(request).await,
            Link::Unix(link) => link.send(request).await,
        }
    }

    /// The next message. Cancel-safe.
    pub(crate) async fn recv(&mut self) -> Result<Incoming, String> {
        match self {
            Link::Ws(link) => link.recv().await,
            Link::Unix(link) => link.recv().await,
        }
    }

    pub(crate) async fn close(&mut self) {
        if let Link::Ws(link) = self {
            link.close().await;
        }
    }
}
