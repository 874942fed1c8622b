//! Security over a real WebSocket: JWT login, scoped keys, the authentication rate limit, the audit log across a
//! restart, and no secret in the server's log.

use base64::Engine;
use commy_proto::{
    AuditLog, Authenticate, CreateApiKey, Credential, Encoding, ErrorCode, JwtAlgorithm, ListServices, Permission,
    QueryAudit, Request, ServerMessage, SetJwtKey, ValueType,
};
use commy_testkit::{authenticate, code_of, guard, variable, Client, TestServer, ADMIN_KEY};
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use serde_json::{json, Value};
use std::io::Write;
use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};
use tokio::net::TcpSocket;

const RSA_PUBLIC: &str = include_str!("fixtures/jwt/rsa_public.pem");
const RSA_PRIVATE: &str = include_str!("fixtures/jwt/rsa_private.pem");
const HS_SECRET: &str = "hs256 secret for the log test, 32+ bytes long";

/// Everything the server logs in this test binary, at every level.
fn captured_log() -> &'static Mutex<Vec<u8>> {
    static LOG: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    LOG.get_or_init(|| Mutex::new(Vec::new()))
}

struct Capture;

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        captured_log().lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Sends the process's tracing events and `log` records to [`captured_log`]: everything at trace level, except the
/// WebSocket library, which at trace level prints whole frames (credentials included) and so must never be run above
/// debug in production. Idempotent.
fn capture_logs() {
    use tracing_subscriber::{filter::Targets, layer::SubscriberExt, util::SubscriberInitExt, Layer};
    static INIT: OnceLock<()> = OnceLock::new();
    INIT.get_or_init(|| {
        let levels = Targets::new()
            .with_default(tracing::Level::TRACE)
            .with_target("tungstenite", tracing::Level::DEBUG)
            .with_target("tokio_tungstenite", tracing::Level::DEBUG);
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(|| Capture)
            .with_filter(levels);
        tracing_subscriber::registry().with(layer).init();
    });
}

fn now() -> i64 {
    jsonwebtoken::get_current_timestamp() as i64
}

fn rs256_token(claims: &Value) -> String {
    let key = EncodingKey::from_rsa_pem(RSA_PRIVATE.as_bytes()).unwrap();
    encode(&Header::new(Algorithm::RS256), claims, &key).unwrap()
}

fn jwt_auth(tenant: &str, token: &str) -> Authenticate {
    Authenticate {
        tenant_id: Some(tenant.into()),
        client_version: "security-tests".into(),
        credential: Credential::Jwt { token: token.into() },
    }
}

fn set_jwt_key(tenant: &str, alg: JwtAlgorithm, key: &str) -> SetJwtKey {
    SetJwtKey {
        tenant_id: tenant.into(),
        alg,
        key: key.into(),
        issuer: Some("https://id.example".into()),
        audience: None,
    }
}

/// A client connecting from `source` (any 127.0.0.0/8 address is this machine) instead of 127.0.0.1.
async fn connect_from(server: &TestServer, source: &str) -> Client {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(source.parse().unwrap(), 0)).unwrap();
    let stream = guard("connect", socket.connect(server.addr)).await.unwrap();
    Client::handshake(server.addr, stream, Encoding::Json).await
}

/// How many `auth_failure` records the server's audit log holds for peers of `address`.
async fn audited_failures_from(admin: &mut Client, address: &str) -> usize {
    let log = audit(admin, None).await;
    let port_of_address = format!("{address}:");
    let from_address = |peer: &Option<String>| peer.as_deref().is_some_and(|p| p.starts_with(&port_of_address));
    log.entries
        .iter()
        .filter(|e| e.action == "auth_failure" && from_address(&e.peer))
        .count()
}

async fn audit(client: &mut Client, tenant: Option<&str>) -> AuditLog {
    let query = QueryAudit {
        tenant_id: tenant.map(str::to_owned),
        since_ms: None,
        limit: Some(1000),
    };
    match client.ok(query).await {
        ServerMessage::AuditLog(log) => log,
        other => panic!("expected AuditLog, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_login_end_to_end() {
    let server = TestServer::start().await;
    let mut admin = server.admin(Encoding::Json).await;
    admin.create_tenant("acme").await;
    let sensors = admin.create_service("acme", "sensors/a").await;
    admin.allocate(variable(&sensors.service_id, "t", ValueType::F64)).await;
    admin.ok(set_jwt_key("acme", JwtAlgorithm::RS256, RSA_PUBLIC)).await;

    let claims = json!({"sub": "dashboard-1", "tenant": "acme", "iss": "https://id.example", "exp": now() + 600,
                        "permissions": ["read"]});
    let mut client = server.connect(Encoding::MsgPack).await;
    let ServerMessage::AuthenticationResult(result) = client.ok(jwt_auth("acme", &rs256_token(&claims))).await else {
        panic!("a JWT login answers AuthenticationResult");
    };
    assert_eq!(result.permissions, [Permission::Read]);
    client.read(&sensors.service_id, "t").await;
    let write = commy_testkit::write_value(&sensors.service_id, "t", json!(1.5));
    client
        .expect_error(write, ErrorCode::PermissionDenied, &["write"])
        .await;

    // Refused tokens all read the same, whatever failed.
    let refused = [
        rs256_token(
            &json!({"sub": "x", "tenant": "acme", "iss": "https://id.example", "exp": now() - 3600,
                            "permissions": ["read"]}),
        ),
        rs256_token(&json!({"sub": "x", "tenant": "acme", "exp": now() + 600, "permissions": ["read"]})),
        rs256_token(
            &json!({"sub": "x", "tenant": "other", "iss": "https://id.example", "exp": now() + 600,
                            "permissions": ["read"]}),
        ),
        format!(
            "{}.{}.",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#),
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string())
        ),
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(RSA_PUBLIC.as_bytes()),
        )
        .unwrap(),
    ];
    let mut messages = Vec::new();
    for token in &refused {
        let mut c = server.connect(Encoding::Json).await;
        let error = c.error(jwt_auth("acme", token)).await;
        assert_eq!(error.code, ErrorCode::Unauthorized, "{}", error.message);
        messages.push(error.message);
    }
    messages.dedup();
    assert_eq!(messages.len(), 1, "{messages:?}");

    let log = audit(&mut admin, Some("acme")).await;
    let outcomes: Vec<&str> = log
        .entries
        .iter()
        .filter(|e| e.action.starts_with("auth_") && e.actor != "admin")
        .map(|e| e.outcome.as_str())
        .collect();
    assert_eq!(
        outcomes,
        [
            "ok",
            "denied:expired",
            "denied:missing_claim",
            "denied:wrong_tenant",
            "denied:wrong_algorithm",
            "denied:wrong_algorithm"
        ]
    );
    assert!(log
        .entries
        .iter()
        .any(|e| e.actor == "jwt:dashboard-1" && e.action == "auth_success"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_limited_to_sensors_sees_and_touches_only_sensors() {
    let server = TestServer::start().await;
    let mut admin = server.admin(Encoding::Json).await;
    admin.create_tenant("acme").await;
    let sensors = admin.create_service("acme", "sensors/a").await;
    let config = admin.create_service("acme", "config/x").await;
    for service in [&sensors, &config] {
        admin.allocate(variable(&service.service_id, "v", ValueType::U64)).await;
    }
    let request = CreateApiKey {
        tenant_id: "acme".into(),
        name: "sensors only".into(),
        permissions: vec![Permission::Read, Permission::Write],
        services: Some(vec!["sensors/*".into()]),
        read_services: None,
        write_services: None,
    };
    let ServerMessage::ApiKey(key) = admin.ok(request).await else {
        panic!()
    };

    let mut client = server.connect(Encoding::Json).await;
    client.authenticate(Some("acme"), &key.key).await;
    client.read(&sensors.service_id, "v").await;
    client.write(&sensors.service_id, "v", json!(7)).await;
    client
        .expect_error(
            commy_testkit::read(&config.service_id, "v"),
            ErrorCode::PermissionDenied,
            &["acme"],
        )
        .await;
    let write = commy_testkit::write_value(&config.service_id, "v", json!(7));
    client.expect_error(write, ErrorCode::PermissionDenied, &["acme"]).await;
    let ServerMessage::ServiceList(list) = client
        .ok(ListServices {
            tenant_id: "acme".into(),
        })
        .await
    else {
        panic!()
    };
    let names: Vec<&str> = list.services.iter().map(|s| s.service_name.as_str()).collect();
    assert_eq!(names, ["sensors/a"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_limit_counts_failures_from_every_address_and_spares_other_tenants() {
    const LIMIT: u32 = 3;
    let server = TestServer::with_config(|config| {
        config.tenant_auth_rate_limit = Some(commy_server::config::AuthRateLimit {
            max_failures: LIMIT,
            ..Default::default()
        })
    })
    .await;
    let mut admin = server.admin(Encoding::Json).await;
    admin.create_tenant("acme").await;
    admin.create_tenant("globex").await;
    let acme_key = admin.create_key("acme", &[Permission::Read]).await.key;
    let globex_key = admin.create_key("globex", &[Permission::Read]).await.key;

    // A distributed guess: failures from two addresses, each under the per-address limit.
    for (n, source) in ["127.0.0.2", "127.0.0.3", "127.0.0.2"].into_iter().enumerate() {
        let mut guesser = connect_from(&server, source).await;
        let error = guesser.error(authenticate(Some("acme"), &format!("wrong {n}"))).await;
        assert_eq!(error.code, ErrorCode::Unauthorized);
    }
    // Now even the right key from a fresh address is refused for that tenant, unchecked.
    let mut owner = connect_from(&server, "127.0.0.4").await;
    let error = owner.error(authenticate(Some("acme"), &acme_key)).await;
    assert_eq!(error.code, ErrorCode::LimitExceeded, "{}", error.message);
    assert!(error.message.contains("for tenant 'acme'"), "{}", error.message);
    // Another tenant is untouched, from the same address.
    owner.authenticate(Some("globex"), &globex_key).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_lock_the_peer_out_and_other_peers_still_get_in() {
    const LIMIT: u32 = 4;
    let server = TestServer::with_config(|config| config.auth_rate_limit.max_failures = LIMIT).await;
    let mut attacker = connect_from(&server, "127.0.0.2").await;
    for n in 0..LIMIT {
        let error = attacker.error(authenticate(None, &format!("wrong key {n}"))).await;
        assert_eq!(error.code, ErrorCode::Unauthorized);
    }
    let error = attacker.error(authenticate(None, ADMIN_KEY)).await;
    assert_eq!(error.code, ErrorCode::LimitExceeded, "{}", error.message);
    assert!(error.message.contains("try again in"), "{}", error.message);
    // A new connection from the same address is still locked out.
    let mut again = connect_from(&server, "127.0.0.2").await;
    let error = again.error(authenticate(None, ADMIN_KEY)).await;
    assert_eq!(error.code, ErrorCode::LimitExceeded);
    // Another address gets in with the right key.
    let mut other = connect_from(&server, "127.0.0.3").await;
    other.authenticate(None, ADMIN_KEY).await;

    let failures = audited_failures_from(&mut other, "127.0.0.2").await;
    assert_eq!(
        failures, LIMIT as usize,
        "each checked failure is audited, the refused-unchecked ones are not"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_guesses_from_one_address_get_no_more_checks_than_the_allowance() {
    const LIMIT: u32 = 3;
    const GUESSERS: usize = 40;
    let server = TestServer::with_config(|config| config.auth_rate_limit.max_failures = LIMIT).await;
    let mut guessers = Vec::new();
    for _ in 0..GUESSERS {
        guessers.push(connect_from(&server, "127.0.0.2").await);
    }
    // Every guess is on the wire before any reply is read.
    for (n, guesser) in guessers.iter_mut().enumerate() {
        guesser
            .send(&Request::new(1, authenticate(None, &format!("wrong key {n}"))))
            .await;
    }
    let mut checked = 0;
    let mut refused_unchecked = 0;
    for guesser in &mut guessers {
        match guesser.reply().await.message {
            ServerMessage::Error(e) if e.code == ErrorCode::Unauthorized => checked += 1,
            ServerMessage::Error(e) if e.code == ErrorCode::LimitExceeded => refused_unchecked += 1,
            other => panic!("expected UNAUTHORIZED or LIMIT_EXCEEDED, got {other:?}"),
        }
    }
    assert!(
        (1..=LIMIT as usize).contains(&checked),
        "{checked} guesses were checked in parallel; the allowance is {LIMIT}"
    );
    assert_eq!(refused_unchecked, GUESSERS - checked);

    let mut other = connect_from(&server, "127.0.0.3").await;
    other.authenticate(None, ADMIN_KEY).await;
    let audited = audited_failures_from(&mut other, "127.0.0.2").await;
    assert_eq!(audited, checked, "each checked guess is audited, and only those");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_survives_a_restart_and_tenant_admins_see_only_theirs() {
    let server = TestServer::start().await;
    let mut admin = server.admin(Encoding::Json).await;
    admin.create_tenant("acme").await;
    admin.create_tenant("globex").await;
    admin.create_service("globex", "plans").await;
    let acme_admin = admin.create_key("acme", &[Permission::Admin]).await;
    let mut bad = server.connect(Encoding::Json).await;
    bad.error(authenticate(Some("acme"), "commy_000000000000_nope")).await;
    let before = audit(&mut admin, None).await;

    let dir = server.stop().await;
    let server = TestServer::start_in(dir, |_| {}).await;
    let mut admin = server.admin(Encoding::Json).await;
    let after = audit(&mut admin, None).await;
    assert_eq!(
        after.entries[..before.entries.len()],
        before.entries[..],
        "nothing is lost"
    );

    let mut tenant_admin = server.connect(Encoding::Json).await;
    tenant_admin.authenticate(Some("acme"), &acme_admin.key).await;
    let own = audit(&mut tenant_admin, Some("acme")).await;
    assert!(own.entries.iter().all(|e| e.tenant_id.as_deref() == Some("acme")));
    assert!(own
        .entries
        .iter()
        .any(|e| e.action == "auth_failure" && e.outcome == "denied:invalid_key"));
    let query = QueryAudit {
        tenant_id: Some("globex".into()),
        ..QueryAudit::default()
    };
    let code = code_of(&tenant_admin.request(query).await);
    assert_eq!(code, Some(ErrorCode::Unauthorized));
    let code = code_of(&tenant_admin.request(QueryAudit::default()).await);
    assert_eq!(code, Some(ErrorCode::PermissionDenied));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_the_log() {
    capture_logs();
    let server = TestServer::start().await;
    let mut admin = server.admin(Encoding::Json).await;
    admin.create_tenant("acme").await;
    let key = admin.create_key("acme", &[Permission::Read]).await;
    admin.ok(set_jwt_key("acme", JwtAlgorithm::HS256, HS_SECRET)).await;
    let claims = json!({"sub": "s", "tenant": "acme", "iss": "https://id.example", "exp": now() + 600,
                        "permissions": ["read"]});
    let token = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(HS_SECRET.as_bytes()),
    )
    .unwrap();
    let mut client = server.connect(Encoding::MsgPack).await;
    client.authenticate(Some("acme"), &key.key).await;
    client.ok(jwt_auth("acme", &token)).await;
    let wrong = format!("{}x", key.key);
    client.error(authenticate(Some("acme"), &wrong)).await;
    client.error(jwt_auth("acme", &format!("{token}x"))).await;
    server.stop().await;

    let log = String::from_utf8_lossy(&captured_log().lock().unwrap()).into_owned();
    assert!(log.contains("connection opened"), "the log was captured");
    let signature = token.rsplit('.').next().unwrap();
    let key_secret = key.key.rsplit('_').next().unwrap();
    for (what, secret) in [
        ("admin key", ADMIN_KEY),
        ("API key", key.key.as_str()),
        ("API key secret", key_secret),
        ("wrong API key", wrong.as_str()),
        ("HS256 secret", HS_SECRET),
        ("JWT", token.as_str()),
        ("JWT signature", signature),
    ] {
        let line = log.lines().find(|l| l.contains(secret));
        assert!(line.is_none(), "the {what} appears in the server's log: {line:?}");
    }
}
