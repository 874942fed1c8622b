//! [`Dispatch`]: the contract between a transport and the request handlers, and the [`Answer`] it returns.

use super::ConnectionContext;
use commy_proto::{ClientMessage, ErrorCode, ServerMessage};
use std::future::Future;
use std::os::fd::OwnedFd;

/// Handles the requests of every connection, whichever transport it came on. A transport decodes each request,
/// calls [`Dispatch::handle`] and writes the answer, with the request's `id`.
///
/// Requests of one connection are handled one at a time, in the order they arrived, so a connection's
/// [`Session`](Dispatch::Session) is handed over as `&mut` with no lock. Different connections are handled
/// concurrently.
pub trait Dispatch: Send + Sync + 'static {
    /// What one connection has established, for example its credentials. Made by [`Dispatch::open`] when the
    /// connection starts, and handed back to [`Dispatch::closed`] when it ends.
    type Session: Send + 'static;

    /// Makes the session of a new connection, before its first request.
    fn open(&self, conn: &ConnectionContext) -> Self::Session;

    /// Handles one decoded request for a connection and returns exactly one answer (success or `Error`).
    ///
    /// `Disconnect` is handed here too; whatever the answer, the transport closes the connection after writing it.
    fn handle(
        &self,
        conn: &ConnectionContext,
        session: &mut Self::Session,
        request: ClientMessage,
    ) -> impl Future<Output = Answer> + Send;

    /// What `/healthz` adds to `ok` while the server serves but something it depends on is not well (a cluster's
    /// NATS unreachable, say); `None` when all is well.
    fn health_note(&self) -> Option<String> {
        None
    }

    /// Whether the session has authenticated: a connection that has not is held to the authentication deadline and
    /// counts as a stranger (see `transport/lobby.rs`). A dispatcher without authentication keeps the default: every
    /// session counts as authenticated.
    fn authenticated(&self, session: &Self::Session) -> bool {
        let _ = session;
        true
    }

    /// Called once when the connection has ended, after its last request. The connection's
    /// [`Outbox`](super::Outbox) is already closed, so the live layer drops its subscriptions on the next push at the
    /// latest; this is the place to drop them at once.
    fn closed(&self, conn: &ConnectionContext, session: Self::Session) -> impl Future<Output = ()> + Send {
        let _ = (conn, session);
        async {}
    }
}

/// The answer to one request: the reply message, and a file descriptor to pass with it (only `ServiceFilePath`, only
/// on the local socket, carries one).
#[derive(Debug)]
pub struct Answer {
    /// The reply.
    pub message: ServerMessage,
    /// A descriptor to send beside the reply (`SCM_RIGHTS`).
    pub fd: Option<OwnedFd>,
}

impl Answer {
    /// A reply with a descriptor beside it.
    pub fn with_fd(message: impl Into<ServerMessage>, fd: OwnedFd) -> Self {
        Answer {
            message: message.into(),
            fd: Some(fd),
        }
    }

    /// The error code, if the reply is an `Error`.
    pub fn error_code(&self) -> Option<ErrorCode> {
        match &self.message {
            ServerMessage::Error(error) => Some(error.code),
            _ => None,
        }
    }
}

impl From<crate::handlers::HandlerError> for Answer {
    /// The `Error` reply of a failed request.
    fn from(err: crate::handlers::HandlerError) -> Self {
        Answer::from(ServerMessage::Error(err.into_reply()))
    }
}

impl From<ServerMessage> for Answer {
    fn from(message: ServerMessage) -> Self {
        Answer { message, fd: None }
    }
}
