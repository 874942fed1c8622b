//! [`Dispatch`]: the contract between the transport and the request handlers, and the [`ConnectionContext`] a
//! handler sees.

use super::{Outbox, PushSink};
use crate::metrics::Metrics;
use crate::tls::ClientIdentity;
use commy_proto::{ClientMessage, Encoding, ServerMessage};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

/// Handles the requests of every connection. The transport decodes each request, calls [`Dispatch::handle`] and
/// writes the reply it returns, with the request's `id`.
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

    /// Handles one decoded request for a connection and returns exactly one reply message (success or `Error`).
    ///
    /// `Disconnect` is handed here too; whatever the reply, the transport closes the connection after writing it.
    fn handle(
        &self,
        conn: &ConnectionContext,
        session: &mut Self::Session,
        request: ClientMessage,
    ) -> impl Future<Output = ServerMessage> + Send;

    /// Called once when the connection has ended, after its last request. The connection's
    /// [`Outbox`] is already closed, so the live layer drops its subscriptions on the next push at the latest; this is
    /// the place to drop them at once.
    fn closed(&self, conn: &ConnectionContext, session: Self::Session) -> impl Future<Output = ()> + Send {
        let _ = (conn, session);
        async {}
    }
}

/// What a request handler knows about the connection a request came on.
#[derive(Debug)]
pub struct ConnectionContext {
    id: u64,
    peer: SocketAddr,
    encoding: Encoding,
    outbox: Arc<Outbox>,
    metrics: Arc<Metrics>,
    client_identity: Option<Arc<ClientIdentity>>,
}

impl ConnectionContext {
    pub(crate) fn new(
        id: u64,
        peer: SocketAddr,
        encoding: Encoding,
        outbox: Arc<Outbox>,
        metrics: Arc<Metrics>,
    ) -> Self {
        ConnectionContext {
            id,
            peer,
            encoding,
            outbox,
            metrics,
            client_identity: None,
        }
    }

    /// The connection's verified client certificate (mutual TLS).
    pub(crate) fn with_client_identity(mut self, identity: Option<Arc<ClientIdentity>>) -> Self {
        self.client_identity = identity;
        self
    }

    /// The identity of the certificate the client presented in the TLS handshake, verified against the server's
    /// client CAs; `None` without TLS, without client CAs, or when the client presented no certificate.
    pub fn client_identity(&self) -> Option<&Arc<ClientIdentity>> {
        self.client_identity.as_ref()
    }

    /// The connection's id: unique among the connections of this server process, never reused.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The client's address.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The encoding the connection negotiated.
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The connection's pending pushes.
    pub fn outbox(&self) -> &Arc<Outbox> {
        &self.outbox
    }

    /// Where the live layer pushes this connection's subscribed changes.
    pub fn push_sink(&self) -> Arc<dyn PushSink> {
        self.outbox.clone()
    }

    /// The server's metrics, for example to count an authentication failure.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }
}
