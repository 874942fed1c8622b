//! The connection's background task: it owns the link, sends requests with fresh ids, matches replies to them, routes
//! pushes to watches, and after a drop reconnects with backoff, authenticates again and renews every subscription.

use super::backoff::Backoff;
use super::link::{Incoming, Link};
use super::registry::Key;
use super::{Answer, Command, Shared};
use crate::local::MappingNotice;
use crate::snapshot::Change;
use crate::watch::ChangeQueue;
use crate::Error;
use commy_proto::{
    Authenticate, ClientMessage, ErrorCode, ListVariables, ReadVariable, Request, ServerMessage, Subscribe,
    ALL_VARIABLES,
};
use std::collections::HashMap;
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
                let endpoint = &driver.shared.endpoint;
                if !driver.shared.settings.reconnect {
                    driver.shared.end(Error::ConnectionLost(format!("{endpoint}: {why}")));
                    return;
                }
                tracing::info!(%endpoint, reason = %why, "connection lost; reconnecting");
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
                    Ok(incoming) => self.route(incoming),
                    Err(why) => return Stop::Lost(why),
                },
                command = commands.recv() => {
                    let (message, reply) = match command {
                        None | Some(Command::Close) => return Stop::Closed,
                        Some(Command::Fire(message)) => (message, None),
                        Some(Command::Request { reply, .. }) if reply.is_closed() => continue,
                        Some(Command::Request { message, reply }) => (message, Some(reply)),
                    };
                    let request = Request::new(self.next_id(), message);
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

    /// Reconnects with backoff until the session is renewed (`Some`), the client closes, or the server refuses the
    /// credentials (`None`).
    async fn reconnect(&mut self, commands: &mut mpsc::UnboundedReceiver<Command>) -> Option<Link> {
        let settings = self.shared.settings.clone();
        let mut backoff = Backoff::new(settings.backoff_initial, settings.backoff_max);
        loop {
            let pause = tokio::time::sleep(backoff.next_delay());
            tokio::pin!(pause);
            loop {
                tokio::select! {
                    _ = &mut pause => break,
                    command = commands.recv() => match command {
                        None | Some(Command::Close) => {
                            self.shared.end(Error::ConnectionLost("the client was closed".into()));
                            return None;
                        }
                        Some(Command::Request { reply, .. }) => {
                            let _ = reply.send(self.not_sent());
                        }
                        // An unsubscribe: the registry no longer holds it, so the renewal will not subscribe again.
                        Some(Command::Fire(_)) => {}
                    },
                }
            }
            let mut link = match self.shared.endpoint.open(settings.connect_timeout).await {
                Ok(link) => link,
                Err(why) => {
                    tracing::debug!(reason = %why, "reconnect attempt failed");
                    continue;
                }
            };
            let setup = tokio::time::timeout(settings.request_timeout, self.renew(&mut link));
            match setup.await {
                Ok(Ok(())) => {
                    tracing::info!(endpoint = %self.shared.endpoint, "reconnected");
                    self.shared.notify_mappings(MappingNotice::Reconnected);
                    return Some(link);
                }
                Ok(Err(SetupError::Fatal(err))) => {
                    tracing::warn!(%err, "the server refused the stored credentials after a reconnect");
                    self.shared.end(err);
                    return None;
                }
                Ok(Err(SetupError::Transient(why))) => {
                    tracing::debug!(reason = %why, "renewing the session failed")
                }
                Err(_) => tracing::debug!("renewing the session timed out"),
            }
        }
    }

    /// The answer to a request made while the link is down.
    fn not_sent(&self) -> Answer {
        let message = format!("reconnecting to {}; the request was not sent", self.shared.endpoint);
        Answer {
            message: ServerMessage::error(ErrorCode::ConnectionLost, message),
            fd: None,
        }
    }

    /// Authenticates again with every stored credential, subscribes again, and catches remote watches up.
    async fn renew(&mut self, link: &mut Link) -> Result<(), SetupError> {
        for auth in self.shared.auths() {
            match self.call(link, auth.into()).await? {
                Ok(_) => {}
                Err(err @ (Error::Unauthorized(_) | Error::PermissionDenied(_))) => return Err(SetupError::Fatal(err)),
                Err(err) => return Err(SetupError::Transient(err.to_string())),
            }
        }
        let subscriptions = self.shared.registry().subscriptions();
        for (key, queues) in subscriptions {
            let subscribe = Subscribe {
                service_id: key.0.clone(),
                variable_name: key.1.clone(),
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
        Ok(())
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
        link.send(&Request::new(id, message)).await?;
        loop {
            let incoming = link.recv().await?;
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
