//! The accept side: accept promptly, give each connection its [`Pass`] in the [`Lobby`], hold strangers to a
//! deadline, and close lingering.
//!
//! [`LimitedListener`] accepts as fast as clients come and lets each connection into the lobby (which evicts its
//! oldest stranger when it is full; see [`super::lobby`]). The pass travels inside the accepted [`LimitedStream`]. Until
//! the connection becomes a WebSocket, the stream enforces the HTTP deadline itself: a client must complete a request
//! within `request_timeout` of the accept or of the server's last write (the previous response), or its next read
//! fails and the connection is closed; an evicted connection fails the same way at once. That covers a silent TCP
//! connection, a TLS handshake, a slow request and an idle keep-alive connection alike. After the upgrade, the
//! WebSocket's own task watches its deadlines (see `reader.rs`).
//!
//! When `accept` fails for lack of descriptors (`EMFILE`, `ENFILE`), the listener logs once and retries every
//! 100 ms, instead of spinning, until an accept succeeds again (and says so).
//!
//! Closing a TCP socket that still has unread input makes the kernel send a reset, and a reset can make the client
//! lose what the server wrote last: the close frame that says why. So a dropped [`LimitedStream`] first shuts down its
//! sending side, then reads and discards until the client closes too, for at most the configured linger time, as HTTP
//! servers do. A connection closed for a missed deadline or an eviction is closed at once: it has nothing to read.

use super::lobby::{Lobby, Pass};
use axum::serve::Listener;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, Sleep};

/// The most a lingering close reads and discards.
const LINGER_MAX_BYTES: usize = 16 << 20;

/// How long the listener waits before accepting again after running out of descriptors.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// A TCP listener that lets every connection into a [`Lobby`].
#[derive(Debug)]
pub(crate) struct LimitedListener {
    listener: TcpListener,
    lobby: Arc<Lobby>,
    linger: Duration,
    request_timeout: Duration,
    /// Whether the last accept failed (it was logged; the next success is logged too).
    failing: bool,
}

impl LimitedListener {
    /// Lets connections into `lobby`; a connection must complete each HTTP request within `request_timeout`; a closed
    /// connection lingers for at most `linger`.
    pub(crate) fn new(listener: TcpListener, lobby: Arc<Lobby>, request_timeout: Duration, linger: Duration) -> Self {
        LimitedListener {
            listener,
            lobby,
            linger,
            request_timeout,
            failing: false,
        }
    }
}

impl Listener for LimitedListener {
    type Io = LimitedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (LimitedStream, SocketAddr) {
        loop {
            match self.listener.accept().await {
                Ok((stream, peer)) => {
                    if std::mem::take(&mut self.failing) {
                        tracing::info!("accepting connections again");
                    }
                    if let Err(err) = stream.set_nodelay(true) {
                        tracing::debug!(%peer, %err, "cannot set TCP_NODELAY");
                    }
                    let stream = LimitedStream {
                        stream: Some(stream),
                        pass: self.lobby.enter(),
                        deadline: Some(Box::pin(tokio::time::sleep(self.request_timeout))),
                        request_timeout: self.request_timeout,
                        failed: false,
                        linger: self.linger,
                    };
                    return (stream, peer);
                }
                Err(err) if is_connection_error(&err) => {}
                Err(err) => {
                    // For example EMFILE: out of file descriptors. Retrying at once would spin.
                    if !std::mem::replace(&mut self.failing, true) {
                        tracing::error!(
                            %err,
                            "accept failed (out of file descriptors? see the open-files limit logged at start); \
                             retrying every 100 ms until it succeeds"
                        );
                    }
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                }
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }
}

fn is_connection_error(err: &io::Error) -> bool {
    matches!(
        err.kind(),
        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset
    )
}

/// An accepted connection holding its [`Pass`].
#[derive(Debug)]
pub(crate) struct LimitedStream {
    /// `None` only while being dropped.
    stream: Option<TcpStream>,
    pass: Arc<Pass>,
    /// Until the upgrade: when the client must have completed its request; `None` once a WebSocket.
    deadline: Option<Pin<Box<Sleep>>>,
    request_timeout: Duration,
    /// Whether the connection was failed for a missed deadline or an eviction: then it closes without lingering.
    failed: bool,
    linger: Duration,
}

impl LimitedStream {
    fn stream(&mut self) -> io::Result<&mut TcpStream> {
        self.stream
            .as_mut()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }

    /// The connection's pass in the lobby.
    pub(crate) fn pass(&self) -> &Arc<Pass> {
        &self.pass
    }

    /// Before the upgrade: an error once the connection is evicted or its request deadline has passed.
    fn check_deadline(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        if self.failed {
            return Err(io::Error::from(io::ErrorKind::NotConnected));
        }
        let Some(deadline) = &mut self.deadline else {
            return Ok(());
        };
        if self.pass.is_upgraded() {
            self.deadline = None;
            return Ok(());
        }
        self.pass.register_stream(cx);
        let missed = if self.pass.is_evicted() {
            "evicted: too many unauthenticated connections"
        } else if deadline.as_mut().poll(cx).is_ready() {
            "no complete request within the request timeout"
        } else {
            return Ok(());
        };
        self.failed = true;
        if !self.pass.is_evicted() {
            self.pass.count_close("request_timeout");
        }
        tracing::debug!(reason = missed, "closing an HTTP connection");
        Err(io::Error::new(io::ErrorKind::TimedOut, missed))
    }

    /// Before the upgrade: the server wrote (a response), so the client has a new `request_timeout` for its next
    /// request.
    fn wrote(&mut self, written: usize) {
        if written == 0 {
            return;
        }
        if let Some(deadline) = &mut self.deadline {
            deadline.as_mut().reset(Instant::now() + self.request_timeout);
        }
    }
}

impl AsyncRead for LimitedStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Err(err) = this.check_deadline(cx) {
            return Poll::Ready(Err(err));
        }
        match this.stream() {
            Ok(stream) => Pin::new(stream).poll_read(cx, buf),
            Err(err) => Poll::Ready(Err(err)),
        }
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = match this.stream() {
            Ok(stream) => Pin::new(stream).poll_write(cx, buf),
            Err(err) => Poll::Ready(Err(err)),
        };
        if let Poll::Ready(Ok(n)) = written {
            this.wrote(n);
        }
        written
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = match this.stream() {
            Ok(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Err(err) => Poll::Ready(Err(err)),
        };
        if let Poll::Ready(Ok(n)) = written {
            this.wrote(n);
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stream() {
            Ok(stream) => Pin::new(stream).poll_flush(cx),
            Err(err) => Poll::Ready(Err(err)),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stream() {
            Ok(stream) => Pin::new(stream).poll_shutdown(cx),
            Err(err) => Poll::Ready(Err(err)),
        }
    }
}

impl Drop for LimitedStream {
    fn drop(&mut self) {
        let Some(stream) = self.stream.take() else {
            return;
        };
        // Outside a runtime (the server is going away) there is no one to read: close at once. A connection failed
        // for a deadline or an eviction has nothing to say either.
        if self.failed {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(linger(stream, self.pass.clone(), self.linger));
        }
    }
}

/// Shuts down the sending side, then discards input until the client closes, for at most `limit`; then closes the
/// socket and gives up the pass.
async fn linger(mut stream: TcpStream, pass: Arc<Pass>, limit: Duration) {
    let drain = async {
        // Fails if the client has gone already, and then there is nothing to wait for.
        if stream.shutdown().await.is_err() {
            return;
        }
        let mut discarded = 0;
        let mut buf = vec![0; 8192];
        while discarded < LINGER_MAX_BYTES {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => discarded += n,
            }
        }
    };
    let _ = tokio::time::timeout(limit, drain).await;
    drop(stream);
    drop(pass);
}
