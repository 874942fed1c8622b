//! The accept side: a connection limit taken before `accept`, and a lingering close.
//!
//! [`LimitedListener`] takes a permit from a semaphore of `max_connections` before it accepts, so a server at its
//! limit leaves further clients in the kernel's listen backlog instead of accepting and then dropping them. The
//! permit travels inside the accepted [`LimitedStream`] and is returned when the connection's socket is finally
//! closed, whether it served HTTP or was upgraded to a WebSocket.
//!
//! Closing a TCP socket that still has unread input makes the kernel send a reset, and a reset can make the client
//! lose what the server wrote last: the close frame that says why. So a dropped [`LimitedStream`] first shuts down its
//! sending side, then reads and discards until the client closes too, for at most the configured linger time, as HTTP
//! servers do.

use axum::serve::Listener;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The most a lingering close reads and discards.
const LINGER_MAX_BYTES: usize = 16 << 20;

/// A TCP listener that serves at most a fixed number of connections at once.
#[derive(Debug)]
pub(crate) struct LimitedListener {
    listener: TcpListener,
    permits: Arc<Semaphore>,
    linger: Duration,
}

impl LimitedListener {
    /// Serves at most `max_connections` at once (at least one); a closed connection lingers for at most `linger`.
    pub(crate) fn new(listener: TcpListener, max_connections: usize, linger: Duration) -> Self {
        LimitedListener {
            listener,
            permits: Arc::new(Semaphore::new(max_connections.clamp(1, Semaphore::MAX_PERMITS))),
            linger,
        }
    }
}

impl Listener for LimitedListener {
    type Io = LimitedStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (LimitedStream, SocketAddr) {
        let Ok(permit) = self.permits.clone().acquire_owned().await else {
            // The semaphore is never closed; if it were, accept nothing more.
            return std::future::pending().await;
        };
        loop {
            match self.listener.accept().await {
                Ok((stream, peer)) => {
                    if let Err(err) = stream.set_nodelay(true) {
                        tracing::debug!(%peer, %err, "cannot set TCP_NODELAY");
                    }
                    let stream = LimitedStream {
                        stream: Some(stream),
                        permit: Some(permit),
                        linger: self.linger,
                    };
                    return (stream, peer);
                }
                Err(err) if is_connection_error(&err) => {}
                Err(err) => {
                    // For example EMFILE: out of file descriptors. Retrying at once would spin.
                    tracing::error!(%err, "accept failed; retrying in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
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

/// An accepted connection holding one of the listener's permits.
#[derive(Debug)]
pub(crate) struct LimitedStream {
    /// `None` only while being dropped.
    stream: Option<TcpStream>,
    permit: Option<OwnedSemaphorePermit>,
    linger: Duration,
}

impl LimitedStream {
    fn stream(&mut self) -> io::Result<&mut TcpStream> {
        self.stream
            .as_mut()
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotConnected))
    }
}

impl AsyncRead for LimitedStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut().stream() {
            Ok(stream) => Pin::new(stream).poll_read(cx, buf),
            Err(err) => Poll::Ready(Err(err)),
        }
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut().stream() {
            Ok(stream) => Pin::new(stream).poll_write(cx, buf),
            Err(err) => Poll::Ready(Err(err)),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut().stream() {
            Ok(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Err(err) => Poll::Ready(Err(err)),
        }
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
        let (Some(stream), Some(permit)) = (self.stream.take(), self.permit.take()) else {
            return;
        };
        // Outside a runtime (the server is going away) there is no one to read: close at once.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(linger(stream, permit, self.linger));
        }
    }
}

/// Shuts down the sending side, then discards input until the client closes, for at most `limit`; then closes the
/// socket and returns the permit.
async fn linger(mut stream: TcpStream, permit: OwnedSemaphorePermit, limit: Duration) {
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
    drop(permit);
}
