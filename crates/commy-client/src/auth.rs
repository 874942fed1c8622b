//! [`Client::authenticate`], and the switch to the local transport it may make.

use crate::builder::Transport;
use crate::client::{unexpected, Client};
use crate::conn::{Connection, Endpoint};
use crate::credentials::Credentials;
use crate::{Error, Result};
use commy_proto::{Authenticate, AuthenticationResult, Credential, Permission, ServerMessage};
use std::path::PathBuf;
use std::sync::Arc;

/// The client's name and version, as the server logs it.
pub const CLIENT_VERSION: &str = concat!("commy-client/", env!("CARGO_PKG_VERSION"));

/// What an authentication established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The server's message, for example `authenticated`.
    pub message: String,
    /// The server's version.
    pub server_version: String,
    /// The rights the credential holds in the tenant.
    pub permissions: Vec<Permission>,
    /// The server's local socket, if it announced one.
    pub local_socket: Option<PathBuf>,
    /// The transport the client uses from now on.
    pub transport: Transport,
}

impl Client {
    /// Presents a credential: for `tenant`, or for the server itself (`None`, for the admin key). Service calls then
    /// use `tenant`. The client keeps the credential to authenticate again after a reconnect.
    ///
    /// On the first authentication that announces a local socket, a client whose URL is loopback (or that was built
    /// with [`Transport::Local`]) moves to that socket and maps services from then on.
    pub async fn authenticate(&self, tenant: Option<&str>, credentials: Credentials) -> Result<Authenticated> {
        let request = Authenticate {
            tenant_id: tenant.map(str::to_owned),
            client_version: CLIENT_VERSION.to_owned(),
            credential: credentials.to_wire(),
        };
        let result = match self.call(request).await? {
            ServerMessage::AuthenticationResult(result) => result,
            other => return Err(unexpected("Authenticate", &other)),
        };
        if let Some(tenant) = tenant {
            self.set_tenant(tenant);
        }
        self.maybe_go_local(&result).await?;
        Ok(Authenticated {
            message: result.message,
            server_version: result.server_version,
            permissions: result.permissions,
            local_socket: result.local_socket.map(PathBuf::from),
            transport: self.transport(),
        })
    }

    async fn maybe_go_local(&self, result: &AuthenticationResult) -> Result<()> {
        let wanted = self.inner.options.transport;
        if self.transport() == Transport::Local || wanted == Some(Transport::Remote) {
            return Ok(());
        }
        let forced = wanted == Some(Transport::Local);
        let Some(path) = &result.local_socket else {
            if forced {
                return Err(Error::ConnectionLost(format!(
                    "the server at {} announces no local socket, so the local transport cannot be used",
                    self.server()
                )));
            }
            return Ok(());
        };
        let loopback = match self.conn().endpoint() {
            Endpoint::WebSocket { url, .. } => url.is_loopback(),
            Endpoint::Unix { .. } => true,
        };
        if !forced && !loopback {
            return Ok(());
        }
        // A client certificate is presented in the TLS handshake, which the local socket does not have.
        let by_certificate = self
            .conn()
            .auths()
            .iter()
            .any(|auth| matches!(auth.credential, Credential::ClientCert {}));
        if by_certificate {
            if forced {
                return Err(Error::InvalidRequest(
                    "a client certificate authenticates over wss:// only, not over the local socket".into(),
                ));
            }
            return Ok(());
        }
        match self.open_local(PathBuf::from(path)).await {
            Ok(local) => {
                self.replace_conn(local).close();
                Ok(())
            }
            Err(err) if forced => Err(err),
            Err(err) => {
                tracing::debug!(%err, "the local socket is not usable; staying on the WebSocket");
                Ok(())
            }
        }
    }

    /// Has a task follow what `local` tells about mapped files (see `local/remap.rs`). The task holds the client
    /// weakly, and ends with the connection.
    fn follow_mapping_notices(&self, local: &Connection) {
        let (listener, mut notices) = tokio::sync::mpsc::unbounded_channel();
        local.listen_for_mapping_notices(listener);
        let client = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            while let Some(notice) = notices.recv().await {
                let Some(inner) = client.upgrade() else {
                    return;
                };
                Client { inner }.follow(notice).await;
            }
        });
    }

    /// Connects to the local socket and authenticates there with every credential used so far.
    async fn open_local(&self, path: PathBuf) -> Result<Connection> {
        let settings = self.inner.options.settings.clone();
        let servers = self.conn().servers();
        let local = Connection::open_local(path, servers, settings, self.inner.tracking.clone()).await?;
        self.follow_mapping_notices(&local);
        for auth in self.conn().auths() {
            match local.request(auth).await?.message {
                ServerMessage::AuthenticationResult(_) => {}
                other => return Err(unexpected("Authenticate", &other)),
            }
        }
        Ok(local)
    }
}
