//! [`ConnectionContext`]: what the request handlers know about the connection a request came on, on either transport.

use super::{Outbox, Peer};
use crate::live::PushSink;
use crate::metrics::Metrics;
use crate::tls::ClientIdentity;
use commy_proto::{decode_request, Encoding, Reply, Request};
use std::sync::Arc;

/// One connection, as the dispatcher sees it: who, which encoding, and where its pushes go.
#[derive(Debug)]
pub struct ConnectionContext {
    id: u64,
    peer: Peer,
    encoding: Encoding,
    outbox: Arc<Outbox>,
    metrics: Arc<Metrics>,
    client_identity: Option<Arc<ClientIdentity>>,
}

impl ConnectionContext {
    pub(crate) fn new(id: u64, peer: Peer, encoding: Encoding, outbox: Arc<Outbox>, metrics: Arc<Metrics>) -> Self {
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
    /// client CAs; `None` without TLS, without client CAs, when the client presented no certificate, and on the local
    /// socket.
    pub fn client_identity(&self) -> Option<&Arc<ClientIdentity>> {
        self.client_identity.as_ref()
    }

    /// The connection's id: unique among the connections of this server process, on both transports, never reused.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Who the client is.
    pub fn peer(&self) -> Peer {
        self.peer
    }

    /// The encoding the connection speaks (always JSON on the local socket).
    pub fn encoding(&self) -> Encoding {
        self.encoding
    }

    /// The connection's pending pushes: the server-initiated messages of either transport.
    pub fn outbox(&self) -> &Arc<Outbox> {
        &self.outbox
    }

    /// Where the live layer pushes this connection's subscribed changes.
    pub fn push_sink(&self) -> Arc<dyn PushSink> {
        self.outbox.clone()
    }

    /// The server's metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// Decodes one request received in the connection's encoding. One that does not decode is counted (as
    /// `undecodable`) and answered with an error reply carrying its `id` when that could be read.
    pub(crate) fn decode(&self, bytes: &[u8]) -> Result<Request, Box<Reply>> {
        decode_request(bytes, self.encoding).map_err(|err| {
            self.metrics.request(crate::metrics::UNDECODABLE, Some(err.code()));
            Box::new(err.to_reply())
        })
    }
}
