//! The local path: a Unix domain socket under the data directory for clients on the same machine.
//!
//! A local client authenticates with the same credentials as a remote one and sends the same requests, which pass the
//! same dispatcher (see [`FrontDoor`](crate::front_door::FrontDoor)): the same names rule, metrics and rate limit. In
//! addition it may ask for a service's file with `GetServiceFilePath`: the reply carries the file's descriptor as
//! `SCM_RIGHTS` ancillary data, opened read-only when the credential may only read the service and read-write when it
//! may write. The client maps it and reads, writes and watches through memory.
//!
//! - **Where.** `<data-dir>/run/commy.sock`, in a directory of mode 0700, so only the server's user (and root) can
//!   connect. Service files sit in `<data-dir>/services`, also 0700: knowing a path grants nothing, a descriptor from
//!   this socket is the only way in.
//! - **Framing.** Each message is a 4-byte big-endian length, then one JSON envelope of that length, exactly as on the
//!   WebSocket's `commy.v1.json` (see [`commy_proto::LocalFrameBuffer`] and `docs/protocol.md`). A frame over the
//!   server's message limit gets a `LIMIT_EXCEEDED` error and closes the connection.
//! - **Who.** The peer's uid and pid (`SO_PEERCRED`) are logged with the connection, recorded in the audit log, and
//!   authentication failures are counted per uid. Authentication is still by credential.
//! - **Limits.** The WebSocket's: at most `max_connections` local connections (one over the limit is told
//!   `LIMIT_EXCEEDED` and closed), the same message size, reply queue, shutdown grace period and authentication
//!   deadline (`auth_timeout`: a connection that has not authenticated by then is told `Disconnected` with the reason
//!   and closed).
//! - **Pushes.** The server writes messages of its own on a local connection too: `Disconnected` when it shuts down,
//!   and whatever the connection's [`Outbox`](crate::connection::Outbox) carries.
//! - **Watching.** Changes reach a local client through the mapping, not as pushes. `Subscribe` here checks the right
//!   to read and, for a client whose mapping is read-only (which cannot register itself as a sleeper in the file), has
//!   the server hold a waiter pin on its behalf, so that every write wakes it. `Unsubscribe` and the end of the
//!   connection release the pin.

mod connection;
mod sink;

use crate::config::Limits;
use crate::connection::{Dispatch, Shutdown};
use crate::metrics::Metrics;
use commy_proto::{encode_local_frame, encode_reply, Encoding, ErrorCode, Reply};
use std::fs::DirBuilder;
use std::future::Future;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::Semaphore;

/// Local connection ids start here, apart from the WebSocket transport's, which count up from 1.
const FIRST_LOCAL_CONNECTION: u64 = 1 << 62;

/// How long a client over the connection limit has to read why it is refused.
const REFUSAL_DEADLINE: Duration = Duration::from_secs(1);

/// The socket's path under a data directory.
pub(crate) fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("run").join("commy.sock")
}

/// What every local connection shares.
#[derive(Debug)]
pub(crate) struct LocalShared<D> {
    pub(crate) dispatch: Arc<D>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) limits: Limits,
}

/// The bound local socket.
#[derive(Debug)]
pub(crate) struct LocalEndpoint {
    listener: std::os::unix::net::UnixListener,
    path: PathBuf,
}

impl LocalEndpoint {
    /// Binds `<data_dir>/run/commy.sock`, creating `run/` with mode 0700 (and tightening it if it exists) and
    /// replacing a socket left behind by a previous run. Needs no runtime: [`LocalEndpoint::serve`] starts serving.
    ///
    /// Fails if the path is longer than a Unix socket address can hold (about 107 bytes).
    pub(crate) fn bind(data_dir: &Path) -> io::Result<LocalEndpoint> {
        let path = socket_path(data_dir);
        let dir = path.parent().unwrap_or(data_dir);
        DirBuilder::new().recursive(true).mode(0o700).create(dir)?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        match std::fs::remove_file(&path) {
            Err(err) if err.kind() != io::ErrorKind::NotFound => return Err(err),
            _ => {}
        }
        let listener = std::os::unix::net::UnixListener::bind(&path)?;
        listener.set_nonblocking(true)?;
        Ok(LocalEndpoint { listener, path })
    }

    /// The socket's path, to announce in `AuthenticationResult.local_socket`.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Serves local clients until `shutdown` completes; then tells every local connection `Disconnected`, waits for
    /// them for at most the shutdown grace period, and removes the socket file.
    pub(crate) async fn serve<D: Dispatch>(self, shared: LocalShared<D>, shutdown: impl Future<Output = ()>) {
        let listener = match UnixListener::from_std(self.listener) {
            Ok(listener) => listener,
            Err(err) => {
                tracing::error!(%err, path = %self.path.display(), "cannot serve the local socket");
                return;
            }
        };
        let shared = Arc::new(shared);
        let (grace, linger) = (shared.limits.shutdown_grace, shared.limits.close_linger);
        let permits = Arc::new(Semaphore::new(shared.limits.max_connections.max(1)));
        let ids = AtomicU64::new(FIRST_LOCAL_CONNECTION);
        let stopping = Shutdown::new();
        tracing::info!(path = %self.path.display(), "local socket listening");
        tokio::pin!(shutdown);
        loop {
            let stream = tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(err) => {
                        tracing::warn!(%err, "local accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let Ok(permit) = permits.clone().try_acquire_owned() else {
                tokio::spawn(refuse(stream, shared.clone()));
                continue;
            };
            let id = ids.fetch_add(1, Ordering::Relaxed);
            let (shared, signal) = (shared.clone(), stopping.signal());
            tokio::spawn(async move {
                connection::serve(stream, shared, id, signal).await;
                drop(permit);
            });
        }
        stopping.trigger();
        if !stopping.wait_for_connections(grace + linger).await {
            tracing::warn!("local connections still open after the shutdown grace period");
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Tells a client over the connection limit why, and closes.
async fn refuse<D>(mut stream: UnixStream, shared: Arc<LocalShared<D>>) {
    let limit = shared.limits.max_connections;
    let message = format!("the server already serves {limit} local connections, its limit");
    tracing::warn!(limit, "local connection refused: over the connection limit");
    let reply = Reply::error(None, ErrorCode::LimitExceeded, message);
    if let Ok(encoded) = encode_reply(&reply, Encoding::Json) {
        let frame = encode_local_frame(encoded.as_bytes());
        let _ = tokio::time::timeout(REFUSAL_DEADLINE, stream.write_all(&frame)).await;
    }
}
