//! [`Connection`]: requests and replies over one link to the server, multiplexed by request id, with pushes routed to
//! watches and a reconnection that authenticates and subscribes again.
//!
//! A background task (the [driver](driver)) owns the link. Callers hand it requests through a channel, each with a
//! oneshot for its reply; the driver gives every request an id and matches replies to ids as they come.

mod backoff;
mod driver;
mod link;
mod registry;
mod servers;
mod service_ids;
mod unix;
mod ws;

pub(crate) use link::Endpoint;
pub(crate) use registry::Key;
pub use servers::ConnectionState;
pub(crate) use servers::{Servers, Tracking};

use crate::local::MappingNotice;
use crate::watch::ChangeQueue;
use crate::{Error, Result};
use commy_proto::{Authenticate, ClientMessage, ServerMessage};
use registry::Registry;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Timeouts and the reconnection policy.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) request_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) reconnect: bool,
    pub(crate) backoff_initial: Duration,
    pub(crate) backoff_max: Duration,
    /// Full rounds over every server after which reconnecting gives up; `None`: never.
    pub(crate) max_rounds: Option<u32>,
    /// Go local on a server whose URL is not loopback too ([`Transport::Local`](crate::Transport::Local) forced).
    pub(crate) force_local: bool,
}

/// A successful reply, with the descriptor that came with it.
#[derive(Debug)]
pub(crate) struct Answer {
    pub(crate) message: ServerMessage,
    pub(crate) fd: Option<OwnedFd>,
}

pub(crate) enum Command {
    /// Send a request and hand its reply back.
    Request {
        message: ClientMessage,
        reply: oneshot::Sender<Answer>,
    },
    /// Send a request whose reply nobody waits for.
    Fire(ClientMessage),
    /// Close the link and stop.
    Close,
}

/// What the driver and the callers share.
#[derive(Debug)]
pub(crate) struct Shared {
    /// Every server the client may use, and which one (and how) it is on now.
    pub(crate) servers: Servers,
    pub(crate) settings: Settings,
    /// What the client's connections share: service ids, and the state it reports.
    pub(crate) tracking: Arc<Tracking>,
    registry: Mutex<Registry>,
    /// Successful authentications, replayed after a reconnect.
    auths: Mutex<Vec<Authenticate>>,
    /// Why the connection ended for good, once it has.
    ended: Mutex<Option<Error>>,
    /// Where news about mapped files goes (a local connection's client listens).
    mapping_notices: Mutex<Option<mpsc::UnboundedSender<MappingNotice>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(crate) fn registry(&self) -> MutexGuard<'_, Registry> {
        lock(&self.registry)
    }

    fn remember_auth(&self, auth: Authenticate) {
        let mut auths = lock(&self.auths);
        auths.retain(|a| a.tenant_id != auth.tenant_id);
        auths.push(auth);
    }

    fn auths(&self) -> Vec<Authenticate> {
        lock(&self.auths).clone()
    }

    fn end(&self, why: Error) {
        lock(&self.ended).get_or_insert(why);
        self.registry().close_all();
    }

    /// Passes news about mapped files to the client, if it listens.
    pub(crate) fn notify_mappings(&self, notice: MappingNotice) {
        if let Some(listener) = lock(&self.mapping_notices).as_ref() {
            let _ = listener.send(notice);
        }
    }

    fn ended(&self) -> Error {
        lock(&self.ended)
            .clone()
            .unwrap_or_else(|| Error::ConnectionLost("the client was closed".into()))
    }
}

/// A handle to one connection; clones share it. The connection ends when every handle is gone (or on
/// [`Connection::close`]).
#[derive(Debug, Clone)]
pub(crate) struct Connection {
    commands: mpsc::UnboundedSender<Command>,
    shared: Arc<Shared>,
}

impl Connection {
    /// Connects to the first of `servers` that answers (after one round over all of them, an error naming each), and
    /// starts the driver.
    pub(crate) async fn open(servers: Servers, settings: Settings, tracking: Arc<Tracking>) -> Result<Connection> {
        let link = servers.open_first(settings.connect_timeout).await?;
        tracking.arrived(&servers, false);
        Connection::start(link, servers, settings, tracking)
    }

    /// Connects to the local socket at `path` of the server that `servers` is on now; a failover goes from there to
    /// the other servers' WebSockets.
    pub(crate) async fn open_local(
        path: std::path::PathBuf,
        servers: Servers,
        settings: Settings,
        tracking: Arc<Tracking>,
    ) -> Result<Connection> {
        let servers = servers.local(path);
        let link = servers
            .current()
            .open(settings.connect_timeout)
            .await
            .map_err(Error::ConnectionLost)?;
        tracking.arrived(&servers, false);
        Connection::start(link, servers, settings, tracking)
    }

    fn start(link: link::Link, servers: Servers, settings: Settings, tracking: Arc<Tracking>) -> Result<Connection> {
        let shared = Arc::new(Shared {
            servers,
            settings,
            tracking,
            registry: Mutex::default(),
            auths: Mutex::default(),
            ended: Mutex::default(),
            mapping_notices: Mutex::default(),
        });
        let (commands, receiver) = mpsc::unbounded_channel();
        tokio::spawn(driver::run(link, receiver, shared.clone()));
        Ok(Connection { commands, shared })
    }

    /// Sends a request and waits for its reply; an `Error` reply becomes an [`Error`].
    pub(crate) async fn request(&self, message: impl Into<ClientMessage>) -> Result<Answer> {
        let message = message.into();
        let what = message.type_name();
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(Command::Request { message, reply })
            .map_err(|_| self.shared.ended())?;
        let timeout = self.shared.settings.request_timeout;
        match tokio::time::timeout(timeout, answer).await {
            Err(_) => Err(Error::Timeout(format!(
                "no reply to {what} from {} within {timeout:?}",
                self.shared.servers.current()
            ))),
            Ok(Err(_)) => Err(self.lost_or_ended()),
            Ok(Ok(Answer {
                message: ServerMessage::Error(err),
                ..
            })) => Err(err.into()),
            Ok(Ok(answer)) => Ok(answer),
        }
    }

    /// A request whose reply the driver dropped: the link went down while it was in flight, or the connection ended.
    fn lost_or_ended(&self) -> Error {
        if self.commands.is_closed() {
            self.shared.ended()
        } else {
            Error::ConnectionLost(format!(
                "the connection to {} dropped before the reply came; the request may or may not have been carried out",
                self.shared.servers.current()
            ))
        }
    }

    /// Feeds `queue` with the pushes of subscription `key` and keeps the subscription across reconnects. The caller
    /// sends the `Subscribe` itself, after this, so that no push between its reply and the registration is lost.
    pub(crate) fn register_watch(&self, key: Key, queue: Arc<ChangeQueue>, remote: bool) -> u64 {
        self.shared.registry().register(key, queue, remote)
    }

    /// Whether the subscription `key` may skip this connection's own writes: every watch of it asked to.
    pub(crate) fn skips_own_writes(&self, key: &Key) -> bool {
        self.shared.registry().skips_own_writes(key)
    }

    /// Ends a watch; the last one of a subscription unsubscribes.
    pub(crate) fn unregister_watch(&self, key: &Key, id: u64) {
        let mut registry = self.shared.registry();
        if registry.unregister(key, id) {
            // Sent under the registry's lock, so that it cannot overtake a later Subscribe of the same key.
            let _ = self
                .commands
                .send(Command::Fire(ClientMessage::Unsubscribe(commy_proto::Unsubscribe {
                    service_id: key.0.clone(),
                    variable_name: key.1.clone(),
                })));
        }
    }

    /// Sends the news about mapped files (`ServiceMoved` pushes, a renewed local session) to `listener`.
    pub(crate) fn listen_for_mapping_notices(&self, listener: mpsc::UnboundedSender<MappingNotice>) {
        *lock(&self.shared.mapping_notices) = Some(listener);
    }

    /// The authentications that succeeded on this connection.
    pub(crate) fn auths(&self) -> Vec<Authenticate> {
        self.shared.auths()
    }

    /// Where this connection goes now.
    pub(crate) fn endpoint(&self) -> Endpoint {
        self.shared.servers.current()
    }

    /// Every server, and the one this connection is on now.
    pub(crate) fn servers(&self) -> Servers {
        self.shared.servers.clone()
    }

    /// Closes the link; pending and later requests fail, and every watch of this connection ends.
    pub(crate) fn close(&self) {
        let _ = self.commands.send(Command::Close);
    }
}
