//! TLS for the HTTP and WebSocket port: the server's certificate (from PEM files, or a development certificate made
//! with rcgen), the optional client-certificate authorities (mutual TLS), and what a verified client certificate
//! says about its holder.
//!
//! rustls runs on the `ring` crypto provider; only TLS 1.2 and 1.3 with rustls's safe default cipher suites are
//! offered. The handshake itself runs in each connection's own task (see the transport), never in the accept loop.

use crate::config::{TlsCertificate, TlsConfig};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use sha2::{Digest, Sha256};
use std::fmt::Write as _;
use std::fs::{DirBuilder, OpenOptions};
use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The file name of the development certificate in the data directory.
pub const SELF_SIGNED_CERT: &str = "cert.pem";
/// The file name of the development certificate's private key in the data directory (mode 0600).
pub const SELF_SIGNED_KEY: &str = "key.pem";

/// TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A PEM file holds nothing usable.
    #[error("{path}: {what}")]
    Pem {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        what: String,
    },
    /// rustls refused the certificate, the key or the client CAs, for example a key that does not match the
    /// certificate.
    #[error("TLS setup: {0}")]
    Setup(String),
    /// The development certificate could not be made.
    #[error("making the development certificate: {0}")]
    Generate(String),
}

/// A loaded TLS setup, ready for the transport.
#[derive(Debug, Clone)]
pub struct ServerTls {
    pub(crate) config: Arc<rustls::ServerConfig>,
    pub(crate) handshake_timeout: Duration,
    fingerprint: String,
    cert_path: PathBuf,
    generated: bool,
    client_auth: bool,
}

impl ServerTls {
    /// Loads the certificate, key and client CAs of `config`. A [`TlsCertificate::SelfSigned`] certificate is made in
    /// `data_dir` on first use and reused afterwards.
    pub fn load(config: &TlsConfig, data_dir: &Path) -> Result<ServerTls, TlsError> {
        let (cert_path, key_path, generated) = match &config.certificate {
            TlsCertificate::Files { cert, key } => (cert.clone(), key.clone(), false),
            TlsCertificate::SelfSigned { names } => {
                let made = ensure_self_signed(data_dir, names)?;
                (made.cert, made.key, made.generated)
            }
        };
        let chain = read_certificates(&cert_path)?;
        let key = read_private_key(&key_path)?;
        let fingerprint = fingerprint(&chain[0]);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Setup(e.to_string()))?;
        let builder = match &config.client_ca {
            None => builder.with_no_client_auth(),
            Some(ca_path) => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in read_certificates(ca_path)? {
                    roots.add(cert).map_err(|e| TlsError::Pem {
                        path: ca_path.clone(),
                        what: format!("not a usable CA certificate: {e}"),
                    })?;
                }
                // Clients without a certificate are served too: they authenticate with a secret.
                let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                    .allow_unauthenticated()
                    .build()
                    .map_err(|e| TlsError::Setup(format!("client CAs: {e}")))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut server = builder
            .with_single_cert(chain, key)
            .map_err(|e| TlsError::Setup(format!("{}: {e}", cert_path.display())))?;
        // WebSocket needs HTTP/1.1's Upgrade; the server speaks nothing else.
        server.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(ServerTls {
            config: Arc::new(server),
            handshake_timeout: config.handshake_timeout,
            fingerprint,
            cert_path,
            generated,
            client_auth: config.client_ca.is_some(),
        })
    }

    /// The SHA-256 fingerprint of the server's certificate, as `AB:CD:...` (what `openssl x509 -fingerprint -sha256`
    /// shows).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// The certificate file in use.
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }

    /// Whether the development certificate was made by this call (rather than reused or given).
    pub fn generated(&self) -> bool {
        self.generated
    }

    /// Whether clients may present certificates.
    pub fn client_auth(&self) -> bool {
        self.client_auth
    }
}

/// The SHA-256 fingerprint of a DER certificate, as colon-separated upper-case hex.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = Sha256::digest(der);
    let mut out = String::with_capacity(digest.len() * 3);
    for (i, byte) in digest.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{byte:02X}");
    }
    out
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> TlsError + '_ {
    move |source| TlsError::Io {
        path: path.to_owned(),
        source,
    }
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem {
            path: path.to_owned(),
            what: format!("bad PEM: {e}"),
        })?;
    if certs.is_empty() {
        return Err(TlsError::Pem {
            path: path.to_owned(),
            what: "no CERTIFICATE in the file".into(),
        });
    }
    Ok(certs)
}

fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let bytes = std::fs::read(path).map_err(io_err(path))?;
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| TlsError::Pem {
        path: path.to_owned(),
        what: format!("no usable private key (PKCS#8, PKCS#1 or SEC1 PEM): {e}"),
    })
}

/// Where the development certificate is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfSigned {
    /// `<data-dir>/cert.pem`.
    pub cert: PathBuf,
    /// `<data-dir>/key.pem`, mode 0600.
    pub key: PathBuf,
    /// Whether it was made just now.
    pub generated: bool,
}

/// Makes a development certificate in `data_dir` unless one is there already: valid for `localhost`, `127.0.0.1`,
/// `::1` and `names`, self-signed (it is its own CA, so a client trusts it by its file). The directory is created
/// with mode 0700 if missing; the key is written with mode 0600.
pub fn ensure_self_signed(data_dir: &Path, names: &[String]) -> Result<SelfSigned, TlsError> {
    let cert = data_dir.join(SELF_SIGNED_CERT);
    let key = data_dir.join(SELF_SIGNED_KEY);
    if cert.is_file() && key.is_file() {
        return Ok(SelfSigned {
            cert,
            key,
            generated: false,
        });
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(data_dir)
        .map_err(io_err(data_dir))?;
    let mut all = vec!["localhost".to_owned(), "127.0.0.1".to_owned(), "::1".to_owned()];
    for name in names {
        if !all.contains(name) {
            all.push(name.clone());
        }
    }
    let generate = |e: rcgen::Error| TlsError::Generate(e.to_string());
    let mut params = rcgen::CertificateParams::new(all).map_err(generate)?;
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "Commy development certificate");
    let signing_key = rcgen::KeyPair::generate().map_err(generate)?;
    let certificate = params.self_signed(&signing_key).map_err(generate)?;
    write_file(&key, signing_key.serialize_pem().as_bytes(), 0o600)?;
    write_file(&cert, certificate.pem().as_bytes(), 0o644)?;
    Ok(SelfSigned {
        cert,
        key,
        generated: true,
    })
}

/// Writes `contents` to `path` with `mode`, replacing what was there (through a temporary file and a rename, so a
/// crash leaves either the old file or the new one).
fn write_file(path: &Path, contents: &[u8], mode: u32) -> Result<(), TlsError> {
    let tmp = path.with_extension("pem.tmp");
    let _ = std::fs::remove_file(&tmp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    // The umask may have taken bits away; never added any.
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(io_err(&tmp))?;
    file.write_all(contents).map_err(io_err(&tmp))?;
    file.sync_all().map_err(io_err(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io_err(path))
}

/// Who a verified client certificate names: its subject's common names and its subject alternative names (DNS
/// names, e-mail addresses and URIs), in that order. Mutual-TLS authentication matches these against the names of a
/// tenant's API keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    names: Vec<String>,
    fingerprint: String,
}

impl ClientIdentity {
    /// The identity of a DER certificate, or `None` if it cannot be parsed.
    pub fn from_der(der: &[u8]) -> Option<ClientIdentity> {
        use x509_parser::extensions::GeneralName;
        use x509_parser::prelude::{FromDer, X509Certificate};
        let (_, cert) = X509Certificate::from_der(der).ok()?;
        let mut names = Vec::new();
        for cn in cert.subject().iter_common_name() {
            if let Ok(name) = cn.as_str() {
                names.push(name.to_owned());
            }
        }
        if let Ok(Some(san)) = cert.subject_alternative_name() {
            for name in &san.value.general_names {
                match name {
                    GeneralName::DNSName(s) | GeneralName::RFC822Name(s) | GeneralName::URI(s) => {
                        names.push((*s).to_owned())
                    }
                    _ => {}
                }
            }
        }
        let mut seen = Vec::with_capacity(names.len());
        names.retain(|n| {
            let new = !n.is_empty() && !seen.contains(n);
            if new {
                seen.push(n.clone());
            }
            new
        });
        Some(ClientIdentity {
            names,
            fingerprint: fingerprint(der),
        })
    }

    /// The subject's common names, then the subject alternative names.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The SHA-256 fingerprint of the client's certificate.
    #[cfg(test)]
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Whether the certificate names `name` exactly.
    pub fn matches(&self, name: &str) -> bool {
        self.names.iter().any(|n| n == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_development_certificate_is_made_once_with_a_private_key() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = ensure_self_signed(&data, &["commy.example".to_owned()]).unwrap();
        assert!(first.generated);
        let mode = std::fs::metadata(&first.key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let cert = std::fs::read(&first.cert).unwrap();
        let again = ensure_self_signed(&data, &[]).unwrap();
        assert!(!again.generated);
        assert_eq!(std::fs::read(&again.cert).unwrap(), cert);

        let config = TlsConfig::new(TlsCertificate::SelfSigned { names: vec![] });
        let tls = ServerTls::load(&config, &data).unwrap();
        assert!(!tls.generated());
        assert_eq!(tls.fingerprint().len(), 32 * 3 - 1);
        let der = CertificateDer::pem_slice_iter(&cert).next().unwrap().unwrap();
        let identity = ClientIdentity::from_der(&der).unwrap();
        assert_eq!(identity.names()[0], "Commy development certificate");
        assert!(identity.matches("commy.example"));
        assert!(identity.matches("localhost"));
        assert!(!identity.matches("127.0.0.1"), "IP addresses are not names");
        assert_eq!(identity.fingerprint(), tls.fingerprint());
    }

    #[test]
    fn bad_files_are_named_in_the_error() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("c.pem");
        let key = dir.path().join("k.pem");
        std::fs::write(&cert, "not pem").unwrap();
        std::fs::write(&key, "not pem").unwrap();
        let config = TlsConfig::new(TlsCertificate::Files {
            cert: cert.clone(),
            key: key.clone(),
        });
        let err = ServerTls::load(&config, dir.path()).unwrap_err().to_string();
        assert!(err.contains("c.pem") && err.contains("no CERTIFICATE"), "{err}");

        let made = ensure_self_signed(dir.path(), &[]).unwrap();
        let config = TlsConfig::new(TlsCertificate::Files {
            cert: made.cert,
            key: key.clone(),
        });
        let err = ServerTls::load(&config, dir.path()).unwrap_err().to_string();
        assert!(err.contains("k.pem") && err.contains("private key"), "{err}");

        let missing = dir.path().join("missing.pem");
        let config = TlsConfig::new(TlsCertificate::Files { cert: missing, key });
        let err = ServerTls::load(&config, dir.path()).unwrap_err().to_string();
        assert!(err.contains("missing.pem"), "{err}");
    }
}
