//! [`ClientBuilder`]: how to connect: the transport, the encoding, timeouts and reconnection.

use crate::client::Client;
use crate::conn::Settings;
use crate::tls::TlsOptions;
use crate::url::ServerUrl;
use crate::Result;
use commy_proto::Encoding;
use std::path::PathBuf;
use std::time::Duration;

/// Which way a client reaches the server's variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Every operation is a request over the WebSocket.
    Remote,
    /// Same machine: the client talks to the server over its Unix socket and maps each service file, so reads,
    /// writes and watches go through memory; layout changes (allocate, deallocate, list) still go to the server.
    Local,
}

/// Connects a [`Client`] with non-default settings: transport, encoding, timeouts, reconnection, and for `wss://`
/// URLs the CAs to trust and the client certificate.
///
/// ```no_run
/// # async fn demo() -> commy_client::Result<()> {
/// use commy_client::{Client, Transport};
/// use std::time::Duration;
/// let client = Client::builder("ws://127.0.0.1:8080")
///     .transport(Transport::Remote)
///     .request_timeout(Duration::from_secs(5))
///     .connect()
///     .await?;
/// # drop(client); Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ClientBuilder {
    pub(crate) url: String,
    pub(crate) transport: Option<Transport>,
    pub(crate) encoding: Encoding,
    pub(crate) settings: Settings,
    pub(crate) tls: TlsOptions,
}

impl ClientBuilder {
    pub(crate) fn new(url: &str) -> ClientBuilder {
        ClientBuilder {
            url: url.to_owned(),
            transport: None,
            encoding: Encoding::Json,
            settings: Settings {
                request_timeout: Duration::from_secs(10),
                connect_timeout: Duration::from_secs(10),
                reconnect: true,
                backoff_initial: Duration::from_millis(50),
                backoff_max: Duration::from_secs(2),
            },
            tls: TlsOptions::default(),
        }
    }

    /// Forces a transport. By default the client goes local when the server announces a local socket on
    /// authentication and the URL's host is loopback (`localhost`, `127.0.0.1`, `::1`), and stays remote otherwise.
    /// Forcing [`Transport::Local`] makes [`Client::authenticate`] fail if the local socket cannot be used.
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = Some(transport);
        self
    }

    /// The WebSocket encoding: JSON (the default) or MessagePack.
    pub fn encoding(mut self, encoding: Encoding) -> Self {
        self.encoding = encoding;
        self
    }

    /// How long a request waits for its reply before failing with [`Error::Timeout`](crate::Error::Timeout).
    /// Default: 10 s.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.settings.request_timeout = timeout;
        self
    }

    /// How long one connection attempt may take. Default: 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// Whether to reconnect after the connection drops (default: yes), waiting between attempts from `initial`
    /// doubling up to `max` (default: 50 ms up to 2 s).
    pub fn reconnect(mut self, enabled: bool, initial: Duration, max: Duration) -> Self {
        self.settings.reconnect = enabled;
        self.settings.backoff_initial = initial;
        self.settings.backoff_max = max;
        self
    }

    /// For `wss://` URLs: also trust the CA certificates in this PEM file (for example a self-signed server's
    /// `cert.pem`, or a private CA), beside the system's certificate store. May be given more than once.
    pub fn ca_cert(mut self, path: impl Into<PathBuf>) -> Self {
        self.tls.ca_certs.push(path.into());
        self
    }

    /// For `wss://` URLs: trust only the CA files given with [`ClientBuilder::ca_cert`], not the system's
    /// certificate store.
    pub fn only_given_cas(mut self) -> Self {
        self.tls.no_system_roots = true;
        self
    }

    /// For `wss://` URLs: present this certificate chain (PEM, leaf first) and private key (PEM) in the TLS
    /// handshake (mutual TLS). A server with client CAs then lets the client authenticate with
    /// [`Credentials::client_cert`](crate::Credentials::client_cert).
    pub fn client_cert(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls.client_cert = Some((cert.into(), key.into()));
        self
    }

    /// Connects. Fails at once with [`Error::ConnectionLost`](crate::Error::ConnectionLost) if the server cannot be
    /// reached; once connected, the client reconnects by itself.
    pub async fn connect(self) -> Result<Client> {
        let url = ServerUrl::parse(&self.url)?;
        Client::start(url, self).await
    }
}
