//! TLS for `wss://` URLs: whom the client trusts, the certificate it may present, and the byte stream under the
//! WebSocket.
//!
//! The client trusts the system's certificate store plus any CA files given with
//! [`ClientBuilder::ca_cert`](crate::ClientBuilder::ca_cert), so a server with a self-signed or private-CA certificate
//! is reached without touching the system store. A client certificate (mutual TLS) comes from
//! [`ClientBuilder::client_cert`](crate::ClientBuilder::client_cert). rustls runs on the `ring` provider.

use crate::{Error, Result};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// What the client's TLS trusts and presents, as given to the builder.
#[derive(Debug, Clone, Default)]
pub(crate) struct TlsOptions {
    /// PEM files of extra CA certificates to trust.
    pub(crate) ca_certs: Vec<PathBuf>,
    /// Leave out the system's certificate store.
    pub(crate) no_system_roots: bool,
    /// The client's certificate chain and key, PEM.
    pub(crate) client_cert: Option<(PathBuf, PathBuf)>,
}

/// A ready TLS client configuration; cheap to clone.
#[derive(Clone)]
pub(crate) struct TlsSetup(Arc<rustls::ClientConfig>);

impl std::fmt::Debug for TlsSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsSetup")
    }
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(format!("reading the {what} {}", path.display()), e))
}

fn bad_pem(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::InvalidRequest(format!("{}: {what}", path.display()))
}

fn certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let bytes = read(path, what)?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| bad_pem(path, format!("bad PEM: {e}")))?;
    if certs.is_empty() {
        return Err(bad_pem(path, format!("no CERTIFICATE in the {what}")));
    }
    Ok(certs)
}

impl TlsOptions {
    /// Loads the trust roots and the client certificate.
    pub(crate) fn build(&self) -> Result<TlsSetup> {
        let mut roots = rustls::RootCertStore::empty();
        if !self.no_system_roots {
            let system = rustls_native_certs::load_native_certs();
            for err in &system.errors {
                tracing::debug!(%err, "a system trust root could not be read");
            }
            let (added, ignored) = roots.add_parsable_certificates(system.certs);
            tracing::debug!(added, ignored, "system trust roots");
        }
        for path in &self.ca_certs {
            for cert in certificates(path, "CA certificate file")? {
                roots
                    .add(cert)
                    .map_err(|e| bad_pem(path, format!("not a usable CA certificate: {e}")))?;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Internal(format!("TLS setup: {e}")))?
            .with_root_certificates(roots);
        let mut config = match &self.client_cert {
            None => builder.with_no_client_auth(),
            Some((cert, key)) => {
                let chain = certificates(cert, "client certificate file")?;
                let key_pem = read(key, "client key file")?;
                let key_der = PrivateKeyDer::from_pem_slice(&key_pem)
                    .map_err(|e| bad_pem(key, format!("no usable private key (PKCS#8, PKCS#1 or SEC1 PEM): {e}")))?;
                builder
                    .with_client_auth_cert(chain, key_der)
                    .map_err(|e| bad_pem(cert, format!("unusable client certificate: {e}")))?
            }
        };
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsSetup(Arc::new(config)))
    }
}

impl TlsSetup {
    /// Opens a TLS connection over `tcp` to `host`, checking the server's certificate for that name. The error is a
    /// sentence for people; an untrusted certificate reads "certificate not trusted: ...".
    pub(crate) async fn connect(&self, host: &str, tcp: TcpStream) -> std::result::Result<ClientStream, String> {
        let name =
            ServerName::try_from(host.to_owned()).map_err(|e| format!("'{host}' is not a name TLS can check: {e}"))?;
        let stream = tokio_rustls::TlsConnector::from(self.0.clone())
            .connect(name, tcp)
            .await
            .map_err(|err| describe_handshake_error(host, &err))?;
        Ok(ClientStream::Tls(Box::new(stream)))
    }
}

/// The TLS error inside an I/O error, if that is what it is.
pub(crate) fn tls_error(err: &io::Error) -> Option<&rustls::Error> {
    err.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>())
}

/// Words for a failed handshake; an untrusted or mismatched server certificate says so first.
fn describe_handshake_error(host: &str, err: &io::Error) -> String {
    let Some(tls) = tls_error(err) else {
        return format!("TLS handshake with {host} failed: {err}");
    };
    describe_tls_error(host, tls)
}

/// Words for a TLS failure, during the handshake or just after it (with TLS 1.3 the server checks a client
/// certificate after the client has finished its side of the handshake).
pub(crate) fn describe_tls_error(host: &str, tls: &rustls::Error) -> String {
    match tls {
        rustls::Error::InvalidCertificate(why) => {
            let why = match why {
                rustls::CertificateError::UnknownIssuer => {
                    "it was issued by an authority this client does not trust (for a self-signed or private CA, \
                     give its certificate with --ca-cert / COMMY_CA_CERT, or ClientBuilder::ca_cert)"
                        .to_owned()
                }
                rustls::CertificateError::NotValidForName | rustls::CertificateError::NotValidForNameContext { .. } => {
                    format!("it is not valid for the name '{host}'")
                }
                rustls::CertificateError::Expired | rustls::CertificateError::ExpiredContext { .. } => {
                    "it has expired".to_owned()
                }
                other => format!("{other:?}"),
            };
            format!("certificate not trusted: the server {host} presented a certificate, but {why}")
        }
        rustls::Error::AlertReceived(alert) => format!(
            "TLS handshake with {host} refused by the server ({alert:?}); if it requires a client certificate, \
             give one with --client-cert/--client-key"
        ),
        other => format!("TLS handshake with {host} failed: {other}"),
    }
}

/// The byte stream under the WebSocket: plain TCP or TLS.
#[derive(Debug)]
pub(crate) enum ClientStream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl AsyncRead for ClientStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            ClientStream::Tls(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            ClientStream::Tls(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_flush(cx),
            ClientStream::Tls(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            ClientStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            ClientStream::Tls(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
