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
    /// The server URLs, in the order to try them.
    pub(crate) urls: Vec<String>,
    pub(crate) transport: Option<Transport>,
    pub(crate) encoding: Encoding,
    pub(crate) settings: Settings,
    pub(crate) tls: TlsOptions,
}

impl ClientBuilder {
    pub(crate) fn new(url: &str) -> ClientBuilder {
        ClientBuilder {
            urls: split_urls(url),
            transport: None,
            encoding: Encoding::Json,
            settings: Settings {
                request_timeout: Duration::from_secs(10),
                connect_timeout: Duration::from_secs(10),
                reconnect: true,
                backoff_initial: Duration::from_millis(50),
                backoff_max: Duration::from_secs(2),
                max_rounds: None,
                force_local: false,
            },
            tls: TlsOptions::default(),
        }
    }

    /// Forces a transport. By default the client goes local when the server announces a local socket on
    /// authentication and the URL's host is loopback (`localhost`, `127.0.0.1`, `::1`), and stays remote otherwise.
    /// Forcing [`Transport::Local`] makes [`Client::authenticate`] fail if the local socket cannot be used.
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = Some(transport);
        self.settings.force_local = transport == Transport::Local;
        self
    }

    /// The servers to use, in order, replacing the URL(s) given to [`Client::builder`] (which may also be several,
    /// separated by commas: `"ws://a:8080,ws://b:8080"`). The client connects to the first that answers; when its
    /// connection drops it moves to the next one (round robin, the one it was on last), waiting the reconnection
    /// backoff between full rounds, and there authenticates again, looks its services up again by name, subscribes
    /// again and catches every watch up. The servers must hold the same tenants, credentials and services: a
    /// cluster (`docs/cluster.md`), or servers set up alike. See [`Client::connection_state`].
    pub fn urls<S: AsRef<str>>(mut self, urls: impl IntoIterator<Item = S>) -> Self {
        self.urls = urls.into_iter().flat_map(|url| split_urls(url.as_ref())).collect();
        self
    }

    /// Gives up reconnecting after `rounds` full rounds over every server without renewing the session (default:
    /// never). The connection then ends with [`Error::ConnectionLost`](crate::Error::ConnectionLost) naming every
    /// server and why it could not be used, and every request and watch ends with it.
    pub fn max_reconnect_rounds(mut self, rounds: u32) -> Self {
        self.settings.max_rounds = Some(rounds.max(1));
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

    /// Connects to the first server that answers, trying each once in order. Fails at once with
    /// [`Error::ConnectionLost`](crate::Error::ConnectionLost), naming every server and why, if none can be
    /// reached; once connected, the client reconnects (and fails over) by itself.
    pub async fn connect(self) -> Result<Client> {
        if self.urls.is_empty() {
            return Err(crate::Error::InvalidRequest(
                "no server URL: give at least one, such as ws://127.0.0.1:8080".into(),
            ));
        }
        let urls = self
            .urls
            .iter()
            .map(|url| ServerUrl::parse(url))
            .collect::<Result<Vec<_>>>()?;
        Client::start(urls, self).await
    }
}

/// The URLs in a comma-separated list, trimmed; empty entries are left out.
fn split_urls(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|url| !url.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn several_urls_come_from_commas_and_from_urls() {
        let builder = ClientBuilder::new(" ws://a:1 ,ws://b:2,");
        assert_eq!(builder.urls, ["ws://a:1", "ws://b:2"]);
        let builder = builder.urls(["ws://c:3", "ws://d:4,ws://e:5"]);
        assert_eq!(builder.urls, ["ws://c:3", "ws://d:4", "ws://e:5"]);
    }

    #[tokio::test]
    async fn no_url_or_a_bad_one_is_refused_naming_it() {
        let err = ClientBuilder::new(" , ").connect().await.unwrap_err();
        assert!(err.to_string().contains("no server URL"), "{err}");
        let err = ClientBuilder::new("ws://127.0.0.1:1,ftp://x")
            .connect()
            .await
            .unwrap_err();
        assert!(err.to_string().contains("'ftp://x'"), "{err}");
    }
}
