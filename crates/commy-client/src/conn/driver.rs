//! The connection's background task: it owns the link, sends requests with fresh ids, matches replies to them, routes
//! pushes to watches, and after a drop reconnects with backoff, authenticates again and renews every subscription.
//!
//! With several servers, a drop moves the connection to the next one (round robin, the dead one last, the backoff
//! between full rounds); the service ids are looked up again there (see `service_ids.rs`), and a client that used the
//! dead server's local socket goes to the new server's local socket if it is on this machine, else stays remote.

use super::backoff::Backoff;
use super::link::{Endpoint, Incoming, Link};
use super::registry::Key;
use super::servers::unreachable_message;
use super::{Answer, Command, Shared};
use crate::local::MappingNotice;
use crate::snapshot::Change;
use crate::watch::ChangeQueue;
use crate::Error;
use commy_proto::{
    Authenticate, ClientMessage, ErrorCode, GetService, ListVariables, ReadVariable, Request, ServerMessage, Subscribe,
    ALL_VARIABLES,
};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Above this many requests in flight, the driver forgets those whose caller stopped waiting.
const PENDING_SWEEP: usize = 256;

struct Pending {
    reply: oneshot::Sender<Answer>,
    /// The credential of an `Authenticate`, remembered once it succeeds.
    auth: Option<Authenticate>,
}

/// Why [`Driver::serve`] returned.
enum Stop {
    /// The client closed, or every handle is gone.
    Closed,
    /// The link failed.
    Lost(String),
}

/// Why renewing a session after a reconnect failed.
enum SetupError {
    /// The link failed again: try once more later.
    Transient(String),
    /// The server refused the credentials: give up.
    Fatal(Error),
}

impl From<String> for SetupError {
    fn from(why: String) -> Self {
        SetupError::Transient(why)
    }
}

struct Driver {
    shared: Arc<Shared>,
    pending: HashMap<u64, Pending>,
    next_id: u64,
}

pub(super) async fn run(mut link: Link, mut commands: mpsc::UnboundedReceiver<Command>, shared: Arc<Shared>) {
    let mut driver = Driver {
        shared,
        pending: HashMap::new(),
        next_id: 0,
    };
    loop {
        match driver.serve(&mut link, &mut commands).await {
            Stop::Closed => {
                link.close().await;
                driver.shared.end(Error::ConnectionLost("the client was closed".into()));
                return;
            }
            Stop::Lost(why) => {
                // Dropping the waiting replies tells their callers the connection was lost.
                driver.pending.clear();
                let endpoint = driver.shared.servers.current();
                if !driver.shared.settings.reconnect {
                    driver.shared.end(Error::ConnectionLost(format!("{endpoint}: {why}")));
                    return;
                }
                tracing::info!(%endpoint, reason = %why, "connection lost; reconnecting");
                if matches!(endpoint, Endpoint::Unix { .. }) && driver.shared.servers.count() > 1 {
                    // The mapped files may belong to a dead server: nothing is written to them until the client is
                    // back on a local socket.
                    driver.shared.notify_mappings(MappingNotice::Detached);
                }
                match driver.reconnect(&mut commands).await {
                    Some(new_link) => link = new_link,
                    None => return,
                }
            }
        }
    }
}

impl Driver {
    fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    async fn serve(&mut self, link: &mut Link, commands: &mut mpsc::UnboundedReceiver<Command>) -> Stop {
        loop {
            tokio::select! {
                incoming = link.recv() => match incoming {
                    Ok(mut incoming) => {
                        self.translate(&mut incoming);
                        self.route(incoming)
                    }
                    Err(why) => return Stop::Lost(why),
                },
                command = commands.recv() => {
                    let (message, reply) = match command {
                        None | Some(Command::Close) => return Stop::Closed,
                        Some(Command::Fire(message)) => (message, None),
                        Some(Command::Request { reply, .. }) if reply.is_closed() => continue,
                        Some(Command::Request { message, reply }) => (message, Some(reply)),
                    };
                    let mut request = Request::new(self.next_id(), message);
                    self.shared.tracking.ids().outgoing(&mut request.message);
                    if let (Some(reply), Some(id)) = (reply, request.id) {
                        let auth = match &request.message {
                            ClientMessage::Authenticate(auth) => Some(auth.clone()),
                            _ => None,
                        };
                        if self.pending.len() >= PENDING_SWEEP {
                            self.pending.retain(|_, p| !p.reply.is_closed());
                        }
                        self.pending.insert(id, Pending { reply, auth });
                    }
                    if let Err(why) = link.send(&request).await {
                        return Stop::Lost(why);
                    }
                }
            }
        }
    }

    /// Hands a reply to its caller, or a push to the watches.
    fn route(&mut self, incoming: Incoming) {
        let Incoming { reply, fd } = incoming;
        if reply.is_push() {
            match reply.message {
                ServerMessage::VariableChanged(change) => self.shared.registry().deliver(change),
                ServerMessage::SubscriptionEnded(ended) => self.shared.registry().end(ended),
                ServerMessage::ServiceMoved(moved) => {
                    self.shared.notify_mappings(MappingNotice::Moved(moved.service_id))
                }
                ServerMessage::Disconnected(d) => {
                    tracing::debug!(reason = %d.reason, "the server is closing the connection")
                }
                _ => {}
            }
            return;
        }
        // A reply to a request whose caller gave up (or to a fire-and-forget request) has nobody to go to.
        let Some(pending) = reply.id.and_then(|id| self.pending.remove(&id)) else {
            return;
        };
        if let (Some(auth), ServerMessage::AuthenticationResult(_)) = (pending.auth, &reply.message) {
            self.shared.remember_auth(auth);
        }
        let _ = pending.reply.send(Answer {
            message: reply.message,
            fd,
        });
    }

    /// Reconnects with backoff until the session is renewed (`Some`), the client closes, the server refuses the
    /// credentials, or the rounds allowed are over (`None`).
    async fn reconnect(&mut self, commands: &mut mpsc::UnboundedReceiver<Command>) -> Option<Link> {
        let settings = self.shared.settings.clone();
        let mut backoff = Backoff::new(settings.backoff_initial, settings.backoff_max);
        let mut rounds = 0;
        loop {
            if !self.pause(backoff.next_delay(), commands).await {
                return None;
            }
            let mut failures = Vec::new();
            let mut refusals = Vec::new();
            for (index, endpoint) in self.shared.servers.failover_order() {
                match self.try_server(index, &endpoint).await {
                    Ok(link) => return Some(link),
                    Err(SetupError::Fatal(err)) => {
                        tracing::warn!(%endpoint, %err, "the server refused the stored credentials after a reconnect");
                        failures.push(format!("{endpoint}: {err}"));
                        refusals.push(err);
                    }
                    Err(SetupError::Transient(why)) => {
                        tracing::debug!(%endpoint, reason = %why, "reconnect attempt failed");
                        failures.push(why);
                    }
                }
            }
            // Every server refused the credentials: trying again will not help. (One server that refuses, among
            // others that cannot be reached, may be a server that is not set up like the others: go on.)
            if refusals.len() == self.shared.servers.count() {
                let err = match (refusals.len(), refusals.pop()) {
                    (1, Some(err)) => err,
                    _ => Error::Unauthorized(format!(
                        "every server refused the stored credentials after a reconnect: {}",
                        failures.join("; ")
                    )),
                };
                self.shared.end(err);
                return None;
            }
            rounds += 1;
            if settings.max_rounds.is_some_and(|max| rounds >= max) {
                let count = self.shared.servers.count();
                let why = format!(
                    "gave up reconnecting after {rounds} round(s) over {}: {}",
                    self.shared.servers.all(),
                    unreachable_message(count, &failures)
                );
                tracing::warn!(reason = %why, "connection lost for good");
                self.shared.end(Error::ConnectionLost(why));
                return None;
            }
        }
    }

    /// Waits `delay`, answering the requests made meanwhile; `false` if the client closed.
    async fn pause(&mut self, delay: std::time::Duration, commands: &mut mpsc::UnboundedReceiver<Command>) -> bool {
        let pause = tokio::time::sleep(delay);
        tokio::pin!(pause);
        loop {
            tokio::select! {
                _ = &mut pause => return true,
                command = commands.recv() => match command {
                    None | Some(Command::Close) => {
                        self.shared.end(Error::ConnectionLost("the client was closed".into()));
                        return false;
                    }
                    Some(Command::Request { reply, .. }) => {
                        let _ = reply.send(self.not_sent());
                    }
                    // An unsubscribe: the registry no longer holds it, so the renewal will not subscribe again.
                    Some(Command::Fire(_)) => {}
                },
            }
        }
    }

    /// Connects to server `index` through `endpoint` and renews the session there; on a WebSocket of a server on
    /// this machine, for a client that used a local socket before, goes on to that server's local socket.
    async fn try_server(&mut self, index: usize, endpoint: &Endpoint) -> Result<Link, SetupError> {
        let settings = self.shared.settings.clone();
        let was_local = matches!(self.shared.servers.current(), Endpoint::Unix { .. });
        let mut link = endpoint.open(settings.connect_timeout).await?;
        let local_socket = self.renew_within(&mut link, endpoint).await?;
        self.shared.servers.move_to(index, endpoint);
        if let (true, Some(path), Endpoint::WebSocket { url, .. }) = (was_local, local_socket, endpoint) {
            if url.is_loopback() || settings.force_local {
                link = self.go_local(link, index, path).await;
            }
        }
        tracing::info!(endpoint = %self.shared.servers.current(), "reconnected");
        self.shared.tracking.arrived(&self.shared.servers, true);
        if was_local {
            let notice = match self.shared.servers.current() {
                Endpoint::Unix { .. } => MappingNotice::Reconnected,
                Endpoint::WebSocket { .. } => MappingNotice::Detached,
            };
            self.shared.notify_mappings(notice);
        }
        Ok(link)
    }

    /// Renews the session on `link`, within the request timeout; returns the local socket the server announced.
    async fn renew_within(&mut self, link: &mut Link, endpoint: &Endpoint) -> Result<Option<PathBuf>, SetupError> {
        let timeout = self.shared.settings.request_timeout;
        let all_watches = matches!(endpoint, Endpoint::WebSocket { .. });
        match tokio::time::timeout(timeout, self.renew(link, all_watches)).await {
            Ok(Err(SetupError::Transient(why))) => Err(SetupError::Transient(format!("{endpoint}: {why}"))),
            Ok(renewed) => renewed,
            Err(_) => Err(SetupError::Transient(format!(
                "{endpoint}: renewing the session took over {timeout:?}"
            ))),
        }
    }

    /// Moves from the WebSocket `ws` of server `index` to its local socket at `path`; stays on `ws` if that fails.
    async fn go_local(&mut self, mut ws: Link, index: usize, path: PathBuf) -> Link {
        let endpoint = Endpoint::Unix { path };
        let timeout = self.shared.settings.connect_timeout;
        let mut local = match endpoint.open(timeout).await {
            Ok(local) => local,
            Err(why) => {
                tracing::debug!(reason = %why, "the new server's local socket is not usable; staying remote");
                return ws;
            }
        };
        match self.renew_within(&mut local, &endpoint).await {
            Ok(_) => {
                ws.close().await;
                self.shared.servers.move_to(index, &endpoint);
                local
            }
            Err(SetupError::Transient(why) | SetupError::Fatal(Error::ConnectionLost(why))) => {
                tracing::debug!(reason = %why, "renewing on the new server's local socket failed; staying remote");
                ws
            }
            Err(SetupError::Fatal(err)) => {
                tracing::debug!(%err, "the new server's local socket refused the session; staying remote");
                ws
            }
        }
    }

    /// The answer to a request made while the link is down.
    fn not_sent(&self) -> Answer {
        let message = format!(
            "reconnecting (to {}); the request was not sent",
            self.shared.servers.all()
        );
        Answer {
            message: ServerMessage::error(ErrorCode::ConnectionLost, message),
            fd: None,
        }
    }

    /// Authenticates again with every stored credential, looks every known service up again, subscribes again, and
    /// catches watches up (the remote ones; with `all_watches`, the local ones too, which a WebSocket feeds). Returns
    /// the local socket the server announced.
    async fn renew(&mut self, link: &mut Link, all_watches: bool) -> Result<Option<PathBuf>, SetupError> {
        let mut local_socket = None;
        for auth in self.shared.auths() {
            match self.call(link, auth.into()).await? {
                Ok(ServerMessage::AuthenticationResult(result)) => {
                    local_socket = local_socket.or(result.local_socket.map(PathBuf::from))
                }
                Ok(_) => {}
                Err(err @ (Error::Unauthorized(_) | Error::PermissionDenied(_))) => return Err(SetupError::Fatal(err)),
                Err(err) => return Err(SetupError::Transient(err.to_string())),
            }
        }
        self.resolve_services(link).await?;
        let subscriptions = self.shared.registry().subscriptions(all_watches);
        for (key, queues) in subscriptions {
            let subscribe = Subscribe {
                service_id: key.0.clone(),
                variable_name: key.1.clone(),
                skip_own_writes: self.shared.registry().skips_own_writes(&key),
            };
            match self.call(link, subscribe.into()).await? {
                Ok(_) => {}
                Err(Error::NotFound(_) | Error::PermissionDenied(_)) => {
                    // The service or variable is gone, or no longer ours to read: its watches end.
                    self.shared.registry().close_key(&key);
                    continue;
                }
                Err(err) => return Err(SetupError::Transient(err.to_string())),
            }
            if !queues.is_empty() {
                self.catch_up(link, &key, &queues).await?;
            }
        }
        Ok(local_socket)
    }

    /// Looks every service the client knows up by tenant and name on this server, for its id here. A service this
    /// server does not have (or this credential may not see) keeps no id: its requests fail with `NOT_FOUND`.
    async fn resolve_services(&mut self, link: &mut Link) -> Result<(), SetupError> {
        let services = {
            let mut ids = self.shared.tracking.ids();
            ids.forget_server_ids();
            ids.services()
        };
        for (client_id, tenant_id, service_name) in services {
            let get = GetService {
                tenant_id,
                service_name,
            };
            // A `Service` reply records the id by itself (`translate`).
            if let Err(err) = self.call(link, get.into()).await? {
                tracing::debug!(service = %client_id, %err, "a service is not on this server");
            }
        }
        Ok(())
    }

    /// Replaces the server's service ids in a message with the client's (see `service_ids.rs`).
    fn translate(&self, incoming: &mut Incoming) {
        self.shared.tracking.ids().incoming(&mut incoming.reply.message);
    }

    /// Reads the current value of every variable of `key` that changed unseen while the link was down, and queues it.
    async fn catch_up(&mut self, link: &mut Link, key: &Key, queues: &[Arc<ChangeQueue>]) -> Result<(), SetupError> {
        let (service_id, variable) = key;
        let names = if variable == ALL_VARIABLES {
            let list = ListVariables {
                service_id: service_id.clone(),
            };
            match self.call(link, list.into()).await? {
                Ok(ServerMessage::VariableList(list)) => list
                    .variables
                    .into_iter()
                    .filter(|v| {
                        queues
                            .iter()
                            .any(|q| q.last_version(&v.variable_name) != Some(v.version))
                    })
                    .map(|v| v.variable_name)
                    .collect(),
                _ => Vec::new(),
            }
        } else {
            vec![variable.clone()]
        };
        for name in names {
            let read = ReadVariable {
                service_id: service_id.clone(),
                variable_name: name,
            };
            if let Ok(ServerMessage::VariableData(data)) = self.call(link, read.into()).await? {
                let change = Change {
                    variable: data.variable_name,
                    version: data.version,
                    bytes: data.data,
                    value: data.value,
                };
                for queue in queues {
                    queue.push(change.clone());
                }
            }
        }
        Ok(())
    }

    /// Sends one request and reads until its reply, routing pushes meanwhile. The outer error is a link failure.
    async fn call(&mut self, link: &mut Link, message: ClientMessage) -> Result<Result<ServerMessage, Error>, String> {
        let id = self.next_id();
        let mut request = Request::new(id, message);
        self.shared.tracking.ids().outgoing(&mut request.message);
        link.send(&request).await?;
        loop {
            let mut incoming = link.recv().await?;
            self.translate(&mut incoming);
            if incoming.reply.id == Some(id) && !incoming.reply.is_push() {
                return Ok(match incoming.reply.message {
                    ServerMessage::Error(err) => Err(err.into()),
                    message => Ok(message),
                });
            }
            self.route(incoming);
        }
    }
}
