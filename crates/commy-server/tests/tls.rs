//! TLS on the server's port: `https://` for `/healthz` and `/metrics` with the development certificate, the
//! handshake done per connection (a stalled client holds up no one and is dropped), plain HTTP refused, and pushes
//! written straight to the socket over `wss://`.

use commy_server::config::{TlsCertificate, TlsConfig};
use commy_testkit::{guard, TestServer};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

async fn tls_server(handshake_timeout: Duration) -> TestServer {
    TestServer::with_config(|config| {
        config.tls = Some(TlsConfig {
            handshake_timeout,
            ..TlsConfig::new(TlsCertificate::SelfSigned { names: vec![] })
        })
    })
    .await
}

/// A TLS client that trusts the server's development certificate (`<data-dir>/cert.pem`) and nothing else.
fn connector(server: &TestServer) -> tokio_rustls::TlsConnector {
    let pem = std::fs::read(server.data_dir().join("cert.pem")).expect("cert.pem was made");
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem) {
        roots.add(cert.unwrap()).unwrap();
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

/// `GET path` over TLS; the status code and the body.
async fn https_get(server: &TestServer, path: &str) -> (u16, String) {
    let tcp = guard("connect", TcpStream::connect(server.addr)).await.unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = guard("TLS handshake", connector(server).connect(name, tcp))
        .await
        .expect("the development certificate is trusted for localhost");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    // A server may close without close_notify after `Connection: close`; what was read counts.
    let _ = guard("an HTTPS response", tls.read_to_end(&mut response)).await;
    let response = String::from_utf8(response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_healthz_and_metrics_answer_over_tls() {
    let server = tls_server(Duration::from_secs(10)).await;
    let key = server.data_dir().join("key.pem");
    let mode = std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&key).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "the development key is private");
    assert_eq!(https_get(&server, "/healthz").await, (200, "ok".to_owned()));
    let (status, body) = https_get(&server, "/metrics").await;
    assert_eq!(status, 200);
    assert!(body.contains("commy_"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_development_certificate_is_reused_after_a_restart() {
    let server = tls_server(Duration::from_secs(10)).await;
    let first = std::fs::read(server.data_dir().join("cert.pem")).unwrap();
    let dir = server.stop().await;
    let server = TestServer::start_in(dir, |config| {
        config.tls = Some(TlsConfig::new(TlsCertificate::SelfSigned { names: vec![] }))
    })
    .await;
    assert_eq!(std::fs::read(server.data_dir().join("cert.pem")).unwrap(), first);
    assert_eq!(https_get(&server, "/healthz").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_handshake_holds_up_no_one_and_is_dropped() {
    let server = tls_server(Duration::from_millis(500)).await;
    // Connects and never says a word.
    let mut stalled = TcpStream::connect(server.addr).await.unwrap();
    // Others are accepted and served meanwhile: the handshake is not in the accept loop.
    assert_eq!(https_get(&server, "/healthz").await.0, 200);
    assert_eq!(https_get(&server, "/healthz").await.0, 200);
    // The silent client is dropped once its handshake time is up.
    let mut buf = [0u8; 64];
    let read = guard("the stalled connection to be closed", stalled.read(&mut buf)).await;
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_on_the_tls_port_is_not_served() {
    let server = tls_server(Duration::from_secs(10)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    let _ = guard("the server to close", stream.read_to_end(&mut response)).await;
    let text = String::from_utf8_lossy(&response);
    assert!(!text.contains("HTTP/1.1 200"), "{text}");
    // The port still serves TLS clients.
    assert_eq!(https_get(&server, "/healthz").await.0, 200);
}

/// A remote SDK client over `wss://localhost`, trusting only the server's development certificate.
async fn wss_client(server: &TestServer, tenant: Option<&str>, key: &str) -> commy_client::Client {
    let client = guard(
        "connect over wss",
        commy_client::Client::builder(&format!("wss://localhost:{}", server.addr.port()))
            .transport(commy_client::Transport::Remote)
            .ca_cert(server.data_dir().join("cert.pem"))
            .only_given_cas()
            .connect(),
    )
    .await
    .expect("the development certificate is trusted for localhost");
    guard(
        "authenticate",
        client.authenticate(tenant, commy_client::Credentials::api_key(key)),
    )
    .await
    .expect("authenticated");
    client
}

/// Pushes written straight to the socket by the writing request (docs/architecture.md, "The push path") go through
/// the TLS stream like any frame: over `wss://` they arrive whole, in version order, ending at the last value, and
/// the straight path is taken (`commy_pushes_straight_total`, read over HTTPS).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_written_straight_arrive_whole_and_in_order_over_tls() {
    use commy_client::{Allocation, Permission};
    const WRITES: u8 = 120;
    let server = tls_server(Duration::from_secs(10)).await;
    let admin = wss_client(&server, None, server.admin_key()).await;
    admin.create_tenant("acme", "Acme").await.unwrap();
    let rights = [Permission::Read, Permission::Write, Permission::CreateService];
    let key = admin.create_api_key("acme", "app", &rights, None).await.unwrap().key;
    let writer = wss_client(&server, Some("acme"), &key).await;
    let watcher = wss_client(&server, Some("acme"), &key).await;
    let service = writer.create_service("frames").await.unwrap();
    service
        .allocate("frame", Allocation::bytes(vec![0u8; 8]).capacity(64 << 10))
        .await
        .unwrap();
    let watched = watcher.get_service("frames").await.unwrap();
    let mut changes = watched.watch_variable("frame").await.unwrap();
    let mut last = 0;
    for n in 1..=WRITES {
        // Small and large values in turn: a large one is more than one TLS record.
        let len = if n % 2 == 0 { 40 << 10 } else { 16 };
        last = service.write("frame", vec![n; len]).await.unwrap();
    }
    let mut seen = 0;
    while seen < last {
        let change = guard("a push over wss", changes.next_change())
            .await
            .expect("the watch goes on");
        assert!(change.version > seen, "version {} after {seen}", change.version);
        let first = change.bytes[0];
        let whole_len = if first % 2 == 0 { 40 << 10 } else { 16 };
        assert_eq!(change.bytes.len(), whole_len, "version {}", change.version);
        assert!(
            change.bytes.iter().all(|b| *b == first),
            "a torn value at version {}",
            change.version
        );
        seen = change.version;
    }
    assert_eq!(seen, last);
    let (status, metrics) = https_get(&server, "/metrics").await;
    assert_eq!(status, 200);
    let straight: f64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("commy_pushes_straight_total "))
        .and_then(|value| value.trim().parse().ok())
        .expect("commy_pushes_straight_total in /metrics");
    assert!(straight >= 1.0, "no push went straight over TLS");
}
