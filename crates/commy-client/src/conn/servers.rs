//! [`Servers`]: the server URLs a client was given, which one it is on now, and the order it tries them in after a
//! drop; [`Tracking`], what a client's connections share across failovers; [`ConnectionState`], what it reports.

use super::link::{Endpoint, Link};
use super::service_ids::ServiceIds;
use crate::builder::Transport;
use crate::{Error, Result};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::watch;

/// Where a client is, as [`Client::connection_state`](crate::Client::connection_state) reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionState {
    /// The URL of the server the client is on now (as `ws://host:port/path`), one of those it was given.
    pub server: String,
    /// How it reaches that server: over its WebSocket, or its local socket and mapped files.
    pub transport: Transport,
    /// How many times the connection was made again after a drop, on the same server or another.
    pub reconnections: u64,
}

#[derive(Debug, Clone)]
struct Position {
    /// The index of the server in the list.
    index: usize,
    /// The server's local socket, when the client uses it rather than the WebSocket.
    local: Option<PathBuf>,
}

/// The servers a connection may use (their WebSocket endpoints, in the order given) and the one it is on.
#[derive(Debug)]
pub(crate) struct Servers {
    urls: Arc<[Endpoint]>,
    position: Mutex<Position>,
}

impl Clone for Servers {
    fn clone(&self) -> Self {
        Servers {
            urls: self.urls.clone(),
            position: Mutex::new(self.position().clone()),
        }
    }
}

impl Servers {
    /// `urls` must not be empty (the builder checks).
    pub(crate) fn new(urls: Vec<Endpoint>) -> Servers {
        Servers {
            urls: urls.into(),
            position: Mutex::new(Position { index: 0, local: None }),
        }
    }

    fn position(&self) -> MutexGuard<'_, Position> {
        self.position.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The same servers, on the local socket at `path` of the current one.
    pub(crate) fn local(&self, path: PathBuf) -> Servers {
        let index = self.position().index;
        Servers {
            urls: self.urls.clone(),
            position: Mutex::new(Position {
                index,
                local: Some(path),
            }),
        }
    }

    /// How many servers there are.
    pub(crate) fn count(&self) -> usize {
        self.urls.len()
    }

    /// Where the connection goes now.
    pub(crate) fn current(&self) -> Endpoint {
        let position = self.position();
        match &position.local {
            Some(path) => Endpoint::Unix { path: path.clone() },
            None => self.urls[position.index].clone(),
        }
    }

    /// The WebSocket URL of the current server, even when the client uses its local socket.
    pub(crate) fn current_url(&self) -> String {
        self.urls[self.position().index].to_string()
    }

    /// Every URL, for messages.
    pub(crate) fn all(&self) -> String {
        let urls: Vec<String> = self.urls.iter().map(ToString::to_string).collect();
        urls.join(", ")
    }

    /// The order to try after a drop: the next server first, round robin, and the current one last (on its local
    /// socket if it was used, so that a client of one restarted server comes back to it as before).
    pub(crate) fn failover_order(&self) -> Vec<(usize, Endpoint)> {
        let position = self.position().clone();
        let count = self.urls.len();
        (1..=count)
            .map(|step| {
                let index = (position.index + step) % count;
                match (&position.local, index == position.index) {
                    (Some(path), true) => (index, Endpoint::Unix { path: path.clone() }),
                    _ => (index, self.urls[index].clone()),
                }
            })
            .collect()
    }

    /// The connection is on server `index` now, through `endpoint`.
    pub(crate) fn move_to(&self, index: usize, endpoint: &Endpoint) {
        let mut position = self.position();
        position.index = index;
        position.local = match endpoint {
            Endpoint::Unix { path } => Some(path.clone()),
            Endpoint::WebSocket { .. } => None,
        };
    }

    /// Connects to the first server that answers, trying each once in order; the error names every one and why.
    pub(crate) async fn open_first(&self, timeout: Duration) -> Result<Link> {
        let mut failures = Vec::new();
        for (index, endpoint) in self.urls.iter().enumerate() {
            match endpoint.open(timeout).await {
                Ok(link) => {
                    self.move_to(index, endpoint);
                    return Ok(link);
                }
                Err(why) => failures.push(why),
            }
        }
        Err(Error::ConnectionLost(unreachable_message(self.urls.len(), &failures)))
    }
}

/// The message for servers that could not be reached: the one reason, or every server's.
pub(crate) fn unreachable_message(count: usize, failures: &[String]) -> String {
    match failures {
        [one] if count == 1 => one.clone(),
        all => format!("none of the {count} servers could be reached: {}", all.join("; ")),
    }
}

/// What every connection of one client shares: the services' ids across servers, and the state it reports.
#[derive(Debug)]
pub(crate) struct Tracking {
    ids: Mutex<ServiceIds>,
    state: watch::Sender<ConnectionState>,
}

impl Tracking {
    pub(crate) fn new() -> Arc<Tracking> {
        let state = ConnectionState {
            server: String::new(),
            transport: Transport::Remote,
            reconnections: 0,
        };
        Arc::new(Tracking {
            ids: Mutex::default(),
            state: watch::Sender::new(state),
        })
    }

    pub(crate) fn ids(&self) -> MutexGuard<'_, ServiceIds> {
        self.ids.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records that a connection is on the current server of `servers`; `reconnected` counts one reconnection.
    pub(crate) fn arrived(&self, servers: &Servers, reconnected: bool) {
        let server = servers.current_url();
        let transport = match servers.current() {
            Endpoint::Unix { .. } => Transport::Local,
            Endpoint::WebSocket { .. } => Transport::Remote,
        };
        self.state.send_modify(|state| {
            state.server = server;
            state.transport = transport;
            state.reconnections += u64::from(reconnected);
        });
    }

    /// The state now.
    pub(crate) fn state(&self) -> ConnectionState {
        self.state.borrow().clone()
    }

    /// A receiver that sees every change of the state.
    pub(crate) fn subscribe(&self) -> watch::Receiver<ConnectionState> {
        self.state.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::url::ServerUrl;
    use commy_proto::Encoding;

    fn ws(port: u16) -> Endpoint {
        Endpoint::WebSocket {
            url: ServerUrl::parse(&format!("ws://127.0.0.1:{port}")).unwrap(),
            encoding: Encoding::Json,
            tls: None,
        }
    }

    fn order(servers: &Servers) -> Vec<String> {
        servers
            .failover_order()
            .into_iter()
            .map(|(i, e)| format!("{i}:{e}"))
            .collect()
    }

    #[test]
    fn the_next_server_comes_first_and_the_current_one_last() {
        let servers = Servers::new(vec![ws(1), ws(2), ws(3)]);
        assert_eq!(
            order(&servers),
            [
                "1:ws://127.0.0.1:2/ws",
                "2:ws://127.0.0.1:3/ws",
                "0:ws://127.0.0.1:1/ws"
            ]
        );
        servers.move_to(2, &ws(3));
        assert_eq!(order(&servers)[0], "0:ws://127.0.0.1:1/ws");
        let local = servers.local("/run/c.sock".into());
        assert_eq!(
            order(&local),
            ["0:ws://127.0.0.1:1/ws", "1:ws://127.0.0.1:2/ws", "2:unix:/run/c.sock"]
        );
        assert_eq!(local.current_url(), "ws://127.0.0.1:3/ws");
        let alone = Servers::new(vec![ws(1)]).local("/s".into());
        assert_eq!(order(&alone), ["0:unix:/s"]);
    }
}
