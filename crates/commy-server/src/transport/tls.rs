//! TLS on the accept side, without slowing the accept loop.
//!
//! [`TlsListener`] wraps the [`LimitedListener`] and hands axum a [`ServerIo`] at once. For a TLS server that stream
//! does its handshake lazily, on its first read or write, which happens in the connection's own task; a client that
//! stalls its handshake costs its own place in the lobby and nothing else, and is dropped after the handshake timeout
//! (or the request timeout, or an eviction, whichever comes first). Once the handshake is done, the verified client certificate's
//! identity (mutual TLS) is published for the request handlers through [`Peer`].

use super::listener::{LimitedListener, LimitedStream};
use super::lobby::Pass;
use crate::tls::{ClientIdentity, ServerTls};
use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

/// What a connection's handshake found out about the client's certificate: set once, when the handshake completes.
type IdentitySlot = Arc<OnceLock<Option<Arc<ClientIdentity>>>>;

/// The listener axum serves: plain, or TLS with a per-connection handshake.
pub(crate) struct TlsListener {
    inner: LimitedListener,
    tls: Option<(tokio_rustls::TlsAcceptor, Duration)>,
}

impl std::fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsListener")
            .field("inner", &self.inner)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

impl TlsListener {
    pub(crate) fn new(inner: LimitedListener, tls: Option<&ServerTls>) -> Self {
        TlsListener {
            inner,
            tls: tls.map(|tls| (tls.config.clone().into(), tls.handshake_timeout)),
        }
    }
}

impl Listener for TlsListener {
    type Io = ServerIo;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (ServerIo, SocketAddr) {
        let (stream, peer) = self.inner.accept().await;
        let pass = stream.pass().clone();
        let io = match &self.tls {
            None => ServerIo::Plain(stream),
            Some((acceptor, timeout)) => ServerIo::Tls(Box::new(TlsIo {
                state: State::Handshaking(acceptor.accept(stream)),
                deadline: Box::pin(tokio::time::sleep(*timeout)),
                peer,
                identity: IdentitySlot::default(),
                pass,
            })),
        };
        (io, peer)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// One accepted connection: plain, or TLS.
#[derive(Debug)]
pub(crate) enum ServerIo {
    Plain(LimitedStream),
    Tls(Box<TlsIo>),
}

/// A TLS connection that completes its handshake on first use.
pub(crate) struct TlsIo {
    state: State,
    deadline: Pin<Box<Sleep>>,
    peer: SocketAddr,
    identity: IdentitySlot,
    /// The connection's pass in the lobby (the stream inside the handshake holds it too).
    pass: Arc<Pass>,
}

impl std::fmt::Debug for TlsIo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = match self.state {
            State::Handshaking(_) => "handshaking",
            State::Ready(_) => "ready",
            State::Failed => "failed",
        };
        f.debug_struct("TlsIo")
            .field("peer", &self.peer)
            .field("state", &state)
            .finish()
    }
}

enum State {
    Handshaking(tokio_rustls::Accept<LimitedStream>),
    Ready(tokio_rustls::server::TlsStream<LimitedStream>),
    /// The handshake failed or timed out; the socket is closed already.
    Failed,
}

impl TlsIo {
    /// Drives the handshake; ready with the established stream once it is done.
    fn poll_stream(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<&mut tokio_rustls::server::TlsStream<LimitedStream>>> {
        if let State::Handshaking(accept) = &mut self.state {
            let result = match Pin::new(accept).poll(cx) {
                Poll::Ready(result) => result,
                Poll::Pending => match self.deadline.as_mut().poll(cx) {
                    Poll::Ready(()) => Err(io::Error::new(io::ErrorKind::TimedOut, "TLS handshake timed out")),
                    Poll::Pending => return Poll::Pending,
                },
            };
            match result {
                Ok(stream) => {
                    let identity = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .and_then(|chain| chain.first())
                        .and_then(|leaf| ClientIdentity::from_der(leaf))
                        .map(Arc::new);
                    if let Some(identity) = &identity {
                        tracing::debug!(peer = %self.peer, names = ?identity.names(), "client certificate verified");
                    }
                    let _ = self.identity.set(identity);
                    self.state = State::Ready(stream);
                }
                Err(err) => {
                    tracing::debug!(peer = %self.peer, %err, "TLS handshake failed");
                    // Dropping the handshake closes the socket (and returns the permit after the linger).
                    self.state = State::Failed;
                    return Poll::Ready(Err(err));
                }
            }
        }
        match &mut self.state {
            State::Ready(stream) => Poll::Ready(Ok(stream)),
            _ => Poll::Ready(Err(io::Error::new(io::ErrorKind::NotConnected, "TLS handshake failed"))),
        }
    }
}

macro_rules! ready_stream {
    ($io:expr, $cx:expr) => {
        match $io.poll_stream($cx) {
            Poll::Ready(Ok(stream)) => stream,
            Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
            Poll::Pending => return Poll::Pending,
        }
    };
}

impl AsyncRead for ServerIo {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ServerIo::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            ServerIo::Tls(io) => Pin::new(ready_stream!(io, cx)).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ServerIo {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ServerIo::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            ServerIo::Tls(io) => Pin::new(ready_stream!(io, cx)).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ServerIo::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            ServerIo::Tls(io) => Pin::new(ready_stream!(io, cx)).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            ServerIo::Plain(stream) => stream.is_write_vectored(),
            ServerIo::Tls(_) => true,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ServerIo::Plain(stream) => Pin::new(stream).poll_flush(cx),
            ServerIo::Tls(io) => match io.state {
                State::Ready(ref mut stream) => Pin::new(stream).poll_flush(cx),
                _ => Poll::Ready(Ok(())),
            },
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ServerIo::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            // Sends close_notify, then shuts the TCP stream down.
            ServerIo::Tls(io) => match io.state {
                State::Ready(ref mut stream) => Pin::new(stream).poll_shutdown(cx),
                // Nothing was established; dropping the stream closes the socket.
                _ => Poll::Ready(Ok(())),
            },
        }
    }
}

/// The client, as [`axum::extract::ConnectInfo`] of a [`TlsListener`]: its address, and for a TLS connection the
/// identity of the certificate it presented, known once the handshake is done (always so by the time a request is
/// read).
#[derive(Debug, Clone)]
pub(crate) struct Peer {
    pub(crate) addr: SocketAddr,
    identity: Option<IdentitySlot>,
    /// The connection's pass in the lobby.
    pub(crate) pass: Arc<Pass>,
}

impl Peer {
    /// The verified client certificate, if the client presented one.
    pub(crate) fn client_identity(&self) -> Option<Arc<ClientIdentity>> {
        self.identity.as_ref().and_then(|slot| slot.get().cloned().flatten())
    }
}

impl Connected<IncomingStream<'_, TlsListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, TlsListener>) -> Self {
        let (identity, pass) = match stream.io() {
            ServerIo::Plain(plain) => (None, plain.pass().clone()),
            ServerIo::Tls(io) => (Some(io.identity.clone()), io.pass.clone()),
        };
        Peer {
            addr: *stream.remote_addr(),
            identity,
            pass,
        }
    }
}
