//! `wss://` end to end: a CA, a server certificate and client certificates made here with rcgen; the server in this
//! process with `--tls-cert`/`--tls-key`/`--client-ca` equivalents; the SDK trusting the CA by its file.

use commy_client::{Allocation, Client, Credentials, Error, Permission, Transport};
use commy_server::config::{TlsCertificate, TlsConfig};
use commy_testkit::{guard, TestServer};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
};
use std::path::{Path, PathBuf};

/// A CA, a server certificate for `localhost`/`127.0.0.1`, and client certificates, as PEM files.
struct Pki {
    dir: tempfile::TempDir,
    ca: PathBuf,
    issuer: Issuer<'static, KeyPair>,
}

impl Pki {
    fn new(ca_name: &str) -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, ca_name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let cert = params.self_signed(&key).unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, cert.pem()).unwrap();
        Pki {
            dir,
            ca,
            issuer: Issuer::new(params, key),
        }
    }

    /// Issues a certificate with common name `cn` and DNS/IP names `sans`; returns (cert.pem, key.pem).
    fn issue(&self, file: &str, cn: &str, sans: &[&str], server: bool) -> (PathBuf, PathBuf) {
        let key = KeyPair::generate().unwrap();
        let sans: Vec<String> = sans.iter().map(|s| (*s).to_owned()).collect();
        let mut params = CertificateParams::new(sans).unwrap();
        params.distinguished_name.push(DnType::CommonName, cn);
        params.extended_key_usages = vec![if server {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let cert_path = self.dir.path().join(format!("{file}.pem"));
        let key_path = self.dir.path().join(format!("{file}.key"));
        std::fs::write(&cert_path, cert.pem()).unwrap();
        std::fs::write(&key_path, key.serialize_pem()).unwrap();
        (cert_path, key_path)
    }
}

/// A TLS server in this process (`wss://localhost:<port>`); stops when dropped.
struct TlsServer {
    url: String,
    admin_key: String,
    _server: TestServer,
}

async fn start(pki: &Pki, client_ca: Option<&Path>) -> TlsServer {
    let (cert, key) = pki.issue("server", "commy test server", &["localhost"], true);
    let server = TestServer::with_config(|config| {
        config.tls = Some(TlsConfig {
            client_ca: client_ca.map(Path::to_owned),
            ..TlsConfig::new(TlsCertificate::Files { cert, key })
        })
    })
    .await;
    TlsServer {
        url: format!("wss://localhost:{}", server.addr.port()),
        admin_key: server.admin_key().to_owned(),
        _server: server,
    }
}

/// A remote client trusting only the test CA, authenticated with `credentials`.
async fn client(
    server: &TlsServer,
    pki: &Pki,
    cert: Option<&(PathBuf, PathBuf)>,
    tenant: Option<&str>,
    credentials: Credentials,
) -> commy_client::Result<Client> {
    let mut builder = Client::builder(&server.url)
        .transport(Transport::Remote)
        .ca_cert(&pki.ca)
        .only_given_cas();
    if let Some((cert, key)) = cert {
        builder = builder.client_cert(cert, key);
    }
    let client = guard("connect", builder.connect()).await?;
    guard("authenticate", client.authenticate(tenant, credentials)).await?;
    Ok(client)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_read_write_watch_with_a_ca_file() {
    let pki = Pki::new("Commy test CA");
    let server = start(&pki, None).await;
    let admin = client(&server, &pki, None, None, Credentials::api_key(&server.admin_key))
        .await
        .expect("the admin connects over wss with the CA file");
    admin.create_tenant("acme", "Acme").await.unwrap();
    let key = admin
        .create_api_key(
            "acme",
            "app",
            &[Permission::Read, Permission::Write, Permission::CreateService],
            None,
        )
        .await
        .unwrap()
        .key;

    let app = client(&server, &pki, None, Some("acme"), Credentials::api_key(&key))
        .await
        .unwrap();
    assert_eq!(app.transport(), Transport::Remote);
    let weather = app.create_service("weather").await.unwrap();
    weather.allocate("temperature", Allocation::f64(20.0)).await.unwrap();
    let mut changes = weather.watch_variable("temperature").await.unwrap();
    weather.write_f64("temperature", 21.5).await.unwrap();
    assert_eq!(weather.read_f64("temperature").await.unwrap(), 21.5);
    loop {
        let change = guard("a pushed change over wss", changes.next_change())
            .await
            .expect("the watch goes on");
        if change.as_f64().unwrap() == 21.5 {
            break;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_does_not_trust_the_server_fails_clearly() {
    let pki = Pki::new("Commy test CA");
    let server = start(&pki, None).await;

    // The system's trust store does not hold the test CA.
    let err = guard("connect", Client::builder(&server.url).connect())
        .await
        .expect_err("an untrusted server is refused");
    let text = err.to_string();
    assert!(matches!(err, Error::ConnectionLost(_)), "{err:?}");
    assert!(text.contains("certificate not trusted"), "{text}");
    assert!(text.contains("--ca-cert"), "{text}");

    // Another CA's file does not help.
    let other = Pki::new("Some other CA");
    let err = guard(
        "connect",
        Client::builder(&server.url)
            .ca_cert(&other.ca)
            .only_given_cas()
            .connect(),
    )
    .await
    .expect_err("a server of another CA is refused");
    assert!(err.to_string().contains("certificate not trusted"), "{err}");

    // The right CA, but a name the certificate does not carry (it names localhost only).
    let port = server.url.rsplit(':').next().unwrap();
    let err = guard(
        "connect",
        Client::builder(&format!("wss://127.0.0.1:{port}"))
            .ca_cert(&pki.ca)
            .connect(),
    )
    .await
    .expect_err("a name mismatch is refused");
    let text = err.to_string();
    assert!(text.contains("certificate not trusted"), "{text}");
    assert!(text.contains("not valid for the name '127.0.0.1'"), "{text}");

    // A CA file that does not exist is named.
    let err = Client::builder(&server.url)
        .ca_cert("/nonexistent/ca.pem")
        .connect()
        .await
        .expect_err("a missing CA file is an error");
    assert!(err.to_string().contains("/nonexistent/ca.pem"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_authenticates_by_certificate_name() {
    let pki = Pki::new("Commy test CA");
    let server = start(&pki, Some(&pki.ca)).await;
    let admin = client(&server, &pki, None, None, Credentials::api_key(&server.admin_key))
        .await
        .expect("a client without a certificate is still served");
    admin.create_tenant("acme", "Acme").await.unwrap();
    admin
        .create_api_key("acme", "sensor-7.example", &[Permission::Read], None)
        .await
        .unwrap();
    let writer_key = admin
        .create_api_key(
            "acme",
            "writer",
            &[Permission::Read, Permission::Write, Permission::CreateService],
            None,
        )
        .await
        .unwrap()
        .key;
    let writer = client(&server, &pki, None, Some("acme"), Credentials::api_key(&writer_key))
        .await
        .unwrap();
    let service = writer.create_service("sensors").await.unwrap();
    service.allocate("level", Allocation::u64(3)).await.unwrap();

    // The certificate's SAN names the read-only key: login without a secret, with that key's rights.
    let sensor_cert = pki.issue("sensor", "sensor 7", &["sensor-7.example"], false);
    let sensor = client(
        &server,
        &pki,
        Some(&sensor_cert),
        Some("acme"),
        Credentials::client_cert(),
    )
    .await
    .expect("mTLS login");
    let service = sensor.get_service("sensors").await.unwrap();
    assert_eq!(service.read_u64("level").await.unwrap(), 3);
    let err = service.write_u64("level", 4).await.unwrap_err();
    assert!(matches!(err, Error::PermissionDenied(_)), "{err:?}");

    // With the automatic transport, a certificate login on a loopback URL stays on the WebSocket: the local socket
    // has no TLS handshake to present the certificate in.
    let auto = Client::builder(&server.url)
        .ca_cert(&pki.ca)
        .client_cert(&sensor_cert.0, &sensor_cert.1)
        .connect()
        .await
        .unwrap();
    let auth = auto
        .authenticate(Some("acme"), Credentials::client_cert())
        .await
        .unwrap();
    assert_eq!(auth.transport, Transport::Remote);
    assert_eq!(auth.permissions, vec![Permission::Read]);
    let forced = Client::builder(&server.url)
        .transport(Transport::Local)
        .ca_cert(&pki.ca)
        .client_cert(&sensor_cert.0, &sensor_cert.1)
        .connect()
        .await
        .unwrap();
    let err = forced
        .authenticate(Some("acme"), Credentials::client_cert())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("wss:// only"), "{err}");

    // A certificate naming no key, no certificate at all, and another tenant are refused.
    let stranger_cert = pki.issue("stranger", "stranger", &["stranger.example"], false);
    let err = client(
        &server,
        &pki,
        Some(&stranger_cert),
        Some("acme"),
        Credentials::client_cert(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Unauthorized(_)), "{err:?}");
    assert!(err.to_string().contains("matches no API key"), "{err}");
    let err = client(&server, &pki, None, Some("acme"), Credentials::client_cert())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("no verified client certificate"), "{err}");
    let err = client(
        &server,
        &pki,
        Some(&sensor_cert),
        Some("other"),
        Credentials::client_cert(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::Unauthorized(_)), "{err:?}");

    // A certificate from a CA the server does not accept fails the handshake.
    let rogue = Pki::new("Rogue CA");
    let rogue_cert = rogue.issue("rogue", "sensor 7", &["sensor-7.example"], false);
    let err = client(
        &server,
        &pki,
        Some(&rogue_cert),
        Some("acme"),
        Credentials::client_cert(),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, Error::ConnectionLost(_)), "{err:?}");
    assert!(err.to_string().contains("refused by the server"), "{err}");
}
