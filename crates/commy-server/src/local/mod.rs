//! The local path: a Unix domain socket under the data directory for clients on the same machine.
//!
//! A local client authenticates with the same credentials as a remote one and sends the same requests, which the same
//! handlers answer. In addition it may ask for a service's file with `GetServiceFilePath`: the reply carries the file's
//! descriptor as `SCM_RIGHTS` ancillary data, opened read-only when the credential may only read the service and
//! read-write when it may write. The client maps it and reads, writes and watches through memory.
//!
//! - **Where.** `<data-dir>/run/commy.sock`, in a directory of mode 0700, so only the server's user (and root) can
//!   connect. Service files sit in `<data-dir>/services`, also 0700: knowing a path grants nothing, a descriptor from
//!   this socket is the only way in.
//! - **Framing.** Each message is a 4-byte big-endian length, then one JSON envelope of that length, exactly as on the
//!   WebSocket's `commy.v1.json` (see `docs/protocol.md`). Frames over 16 MiB close the connection.
//! - **Who.** The peer's uid and pid (`SO_PEERCRED`) are logged with the connection. Authentication is still by
//!   credential.
//! - **Watching.** Changes reach a local client through the mapping, not as pushes. `Subscribe` here checks the right
//!   to read and, for a client whose mapping is read-only (which cannot register itself as a sleeper in the file), has
//!   the server hold a waiter pin on its behalf, so that every write wakes it. `Unsubscribe` and the end of the
//!   connection release the pin.

mod connection;
mod file;
mod frame;
mod subscriptions;

use crate::handlers::App;
use std::fs::DirBuilder;
use std::future::Future;
use std::io;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::UnixListener;
use tokio::task::JoinSet;

/// Local connection ids start here, apart from the WebSocket transport's, which count up from 1.
const FIRST_LOCAL_CONNECTION: u64 = 1 << 62;

/// The socket's path under a data directory.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join("run").join("commy.sock")
}

/// The bound local socket.
#[derive(Debug)]
pub struct LocalEndpoint {
    listener: std::os::unix::net::UnixListener,
    path: PathBuf,
}

impl LocalEndpoint {
    /// Binds `<data_dir>/run/commy.sock`, creating `run/` with mode 0700 (and tightening it if it exists) and
    /// replacing a socket left behind by a previous run. Needs no runtime: [`LocalEndpoint::serve`] starts serving.
    ///
    /// Fails if the path is longer than a Unix socket address can hold (about 107 bytes).
    pub fn bind(data_dir: &Path) -> io::Result<LocalEndpoint> {
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
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Serves local clients until `shutdown` completes; then ends every local connection (releasing its pins) and
    /// removes the socket file.
    pub async fn serve(self, app: Arc<App>, shutdown: impl Future<Output = ()>) {
        let listener = match UnixListener::from_std(self.listener) {
            Ok(listener) => listener,
            Err(err) => {
                tracing::error!(%err, path = %self.path.display(), "cannot serve the local socket");
                return;
            }
        };
        let ids = AtomicU64::new(FIRST_LOCAL_CONNECTION);
        let mut connections = JoinSet::new();
        tracing::info!(path = %self.path.display(), "local socket listening");
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let id = ids.fetch_add(1, Ordering::Relaxed);
                        connections.spawn(connection::serve(stream, app.clone(), id));
                    }
                    Err(err) => {
                        tracing::warn!(%err, "local accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        connections.shutdown().await;
        let _ = std::fs::remove_file(&self.path);
    }
}
