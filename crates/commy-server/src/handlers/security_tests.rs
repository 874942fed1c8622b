//! Authentication, scoped grants, the rate limit and the audit log, through the request handlers.

use super::{App, HandlerLimits, Session};
use crate::auth::{issue_api_key, AuthRateLimiter, KeySpec};
use crate::config::AuthRateLimit;
use crate::connection::Peer;
use crate::front_door::FrontDoor;
use crate::live::Live;
use crate::live::PushSink;
use crate::metrics::Metrics;
use crate::store::{Actor, Store};
use commy_proto::*;
use jsonwebtoken::{encode, EncodingKey, Header};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

const HS_SECRET: &str = "a tenant secret that is at least 32 bytes long";
const ED_PUBLIC: &str = include_str!("../../tests/fixtures/jwt/ed25519_public.pem");
const ED_PRIVATE: &str = include_str!("../../tests/fixtures/jwt/ed25519_private.pem");
const RSA_PRIVATE: &str = include_str!("../../tests/fixtures/jwt/rsa_private.pem");
const MAX_FAILURES: u32 = 3;

struct NoPush;

impl PushSink for NoPush {
    fn push(&self, _change: &Arc<crate::live::Change>) {}
    fn end(&self, _ended: commy_proto::SubscriptionEnded) {}
    fn is_closed(&self) -> bool {
        false
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    app: Arc<App>,
    admin_key: String,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let live = Live::new(&dir.path().join("services"), 64).unwrap();
        let limiter = AuthRateLimiter::new(AuthRateLimit {
            max_failures: MAX_FAILURES,
            window: Duration::from_secs(3600),
            max_peers: 100,
        });
        let admin = issue_api_key(
            &store,
            &Actor::server(),
            &KeySpec {
                tenant_id: None,
                name: "admin".into(),
                permissions: vec![Permission::Admin],
                read_patterns: None,
                write_patterns: None,
            },
        )
        .unwrap();
        let app = Arc::new(App {
            store,
            live,
            limiter,
            limits: HandlerLimits::default(),
            quotas: Arc::new(crate::quotas::TenantQuotas::new(&Default::default(), Vec::new())),
            local_socket: None,
            revocations: Default::default(),
            jwt_leeway_secs: crate::auth::CLOCK_LEEWAY_SECS,
            max_token_ttl_secs: 3600,
            cluster: None,
        });
        Fixture {
            _dir: dir,
            app,
            admin_key: admin.key.to_string(),
        }
    }

    fn session(&self, peer: &str) -> Session {
        let peer: SocketAddr = peer.parse().unwrap();
        Session::new(1, Peer::Remote(peer), Arc::new(NoPush))
    }

    async fn send(&self, s: &mut Session, request: impl Into<ClientMessage>) -> ServerMessage {
        FrontDoor::new(self.app.clone(), Arc::new(Metrics::new()))
            .answer(s, request.into())
            .await
            .message
    }

    /// A session of the server admin, which has created tenant `acme` with services `sensors/a` and `config/x`.
    async fn admin(&self) -> Session {
        let mut s = self.session("127.0.0.1:1000");
        let auth = self.send(&mut s, api_key_auth(None, &self.admin_key)).await;
        assert!(matches!(auth, ServerMessage::AuthenticationResult(_)), "{auth:?}");
        for (tenant_id, tenant_name) in [("acme", "Acme"), ("globex", "Globex")] {
            let create = CreateTenant {
                tenant_id: tenant_id.into(),
                tenant_name: tenant_name.into(),
            };
            assert!(matches!(self.send(&mut s, create).await, ServerMessage::Tenant(_)));
        }
        for name in ["sensors/a", "config/x"] {
            let create = CreateService {
                tenant_id: "acme".into(),
                service_name: name.into(),
            };
            assert!(matches!(self.send(&mut s, create).await, ServerMessage::Service(_)));
        }
        s
    }

    async fn create_key(&self, admin: &mut Session, request: CreateApiKey) -> String {
        match self.send(admin, request).await {
            ServerMessage::ApiKey(key) => key.key,
            other => panic!("{other:?}"),
        }
    }

    fn audit(&self) -> Vec<crate::store::AuditRecord> {
        let entries = self.app.store.query_audit(None, None, 10_000).unwrap();
        entries.into_iter().map(|e| e.record).collect()
    }
}

/// `CreateApiKey` in tenant `acme` with `permissions` on every service.
fn unscoped_key(name: &str, permissions: &[Permission]) -> CreateApiKey {
    CreateApiKey {
        tenant_id: "acme".into(),
        name: name.into(),
        permissions: permissions.to_vec(),
        services: None,
        read_services: None,
        write_services: None,
    }
}

fn api_key_auth(tenant: Option<&str>, key: &str) -> Authenticate {
    Authenticate {
        tenant_id: tenant.map(str::to_owned),
        client_version: "test".into(),
        credential: Credential::ApiKey { key: key.into() },
    }
}

fn jwt_auth(tenant: &str, token: &str) -> Authenticate {
    Authenticate {
        tenant_id: Some(tenant.into()),
        client_version: "test".into(),
        credential: Credential::Jwt { token: token.into() },
    }
}

fn error_code(reply: &ServerMessage) -> Option<ErrorCode> {
    match reply {
        ServerMessage::Error(e) => Some(e.code),
        _ => None,
    }
}

fn hs256_token(claims: &serde_json::Value) -> String {
    encode(
        &Header::new(jsonwebtoken::Algorithm::HS256),
        claims,
        &EncodingKey::from_secret(HS_SECRET.as_bytes()),
    )
    .unwrap()
}

fn claims(tenant: &str, exp_offset: i64) -> serde_json::Value {
    let now = jsonwebtoken::get_current_timestamp() as i64;
    json!({"sub": "sensor-7", "tenant": tenant, "exp": now + exp_offset, "permissions": ["read"],
           "read_services": ["sensors/*"]})
}

fn set_jwt_key(alg: JwtAlgorithm, key: &str) -> SetJwtKey {
    SetJwtKey {
        tenant_id: "acme".into(),
        alg,
        key: key.into(),
        issuer: None,
        audience: None,
    }
}

fn names(reply: ServerMessage) -> Vec<String> {
    match reply {
        ServerMessage::ServiceList(list) => list.services.into_iter().map(|s| s.service_name).collect(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn jwt_login_grants_the_tokens_claims_and_is_audited() {
    let f = Fixture::new();
    let mut admin = f.admin().await;
    let set = f.send(&mut admin, set_jwt_key(JwtAlgorithm::HS256, HS_SECRET)).await;
    assert!(matches!(set, ServerMessage::Result(_)), "{set:?}");

    let mut s = f.session("192.0.2.10:4000");
    let reply = f
        .send(&mut s, jwt_auth("acme", &hs256_token(&claims("acme", 3600))))
        .await;
    let ServerMessage::AuthenticationResult(result) = reply else {
        panic!("{reply:?}");
    };
    assert_eq!(result.permissions, [Permission::Read]);
    assert_eq!(result.message, "authenticated to tenant 'acme'");
    let get = |name: &str| GetService {
        tenant_id: "acme".into(),
        service_name: name.into(),
    };
    assert!(matches!(
        f.send(&mut s, get("sensors/a")).await,
        ServerMessage::Service(_)
    ));
    assert_eq!(
        error_code(&f.send(&mut s, get("config/x")).await),
        Some(ErrorCode::PermissionDenied)
    );

    let expired = f
        .send(&mut s, jwt_auth("acme", &hs256_token(&claims("acme", -3600))))
        .await;
    assert_eq!(error_code(&expired), Some(ErrorCode::Unauthorized));
    let wrong_tenant = f
        .send(&mut s, jwt_auth("globex", &hs256_token(&claims("acme", 3600))))
        .await;
    assert_eq!(error_code(&wrong_tenant), Some(ErrorCode::Unauthorized));
    let ServerMessage::Error(e) = &wrong_tenant else {
        unreachable!()
    };
    assert!(
        !e.message.contains("tenant claim") && e.message.starts_with("invalid JWT"),
        "{}",
        e.message
    );

    let audit = f.audit();
    let success = audit
        .iter()
        .find(|r| r.action == "auth_success" && r.actor == "jwt:sensor-7")
        .expect("the JWT login is audited");
    assert_eq!(success.peer.as_deref(), Some("192.0.2.10:4000"));
    assert_eq!(success.tenant_id.as_deref(), Some("acme"));
    let outcomes: Vec<&str> = audit
        .iter()
        .filter(|r| r.action == "auth_failure")
        .map(|r| r.outcome.as_str())
        .collect();
    assert_eq!(outcomes, ["denied:expired", "denied:no_jwt_key"]);
}

#[tokio::test]
async fn set_jwt_key_checks_the_key_and_needs_tenant_admin() {
    let f = Fixture::new();
    let mut admin = f.admin().await;
    for (alg, key) in [
        (JwtAlgorithm::HS256, "short"),
        (JwtAlgorithm::EdDSA, ED_PRIVATE),
        (JwtAlgorithm::RS256, RSA_PRIVATE),
        (JwtAlgorithm::RS256, ED_PUBLIC),
    ] {
        let reply = f.send(&mut admin, set_jwt_key(alg, key)).await;
        let ServerMessage::Error(e) = &reply else {
            panic!("{alg}: {reply:?}")
        };
        assert_eq!(e.code, ErrorCode::InvalidRequest, "{alg}: {}", e.message);
        let body = key.lines().nth(1).unwrap_or(key);
        assert!(
            !e.message.contains(body),
            "the message never quotes the key: {}",
            e.message
        );
    }
    assert!(f.app.store.get_jwt_key("acme").unwrap().is_none());
    let ok = f.send(&mut admin, set_jwt_key(JwtAlgorithm::EdDSA, ED_PUBLIC)).await;
    assert!(matches!(ok, ServerMessage::Result(_)), "{ok:?}");

    let reader = f
        .create_key(&mut admin, unscoped_key("reader", &[Permission::Read]))
        .await;
    let mut s = f.session("192.0.2.11:4000");
    f.send(&mut s, api_key_auth(Some("acme"), &reader)).await;
    let denied = f.send(&mut s, set_jwt_key(JwtAlgorithm::HS256, HS_SECRET)).await;
    assert_eq!(error_code(&denied), Some(ErrorCode::PermissionDenied));
}

#[tokio::test]
async fn scoped_keys_limit_read_and_write_separately_and_listing_follows_read() {
    let f = Fixture::new();
    let mut admin = f.admin().await;
    let services = names(
        f.send(
            &mut admin,
            ListServices {
                tenant_id: "acme".into(),
            },
        )
        .await,
    );
    let service_id = |name: &str| f.app.store.get_service("acme", name).unwrap().service_id;
    for name in ["sensors/a", "config/x"] {
        let alloc = AllocateVariable {
            service_id: service_id(name),
            variable_name: "v".into(),
            initial_data: None,
            value: Some(json!(1)),
            capacity: None,
            value_type: Some(ValueType::U64),
            persistent: None,
        };
        let reply = f.send(&mut admin, alloc).await;
        assert!(matches!(reply, ServerMessage::VariableData(_)), "{reply:?}");
    }
    assert_eq!(services.len(), 2);

    let sensors_only = f
        .create_key(
            &mut admin,
            CreateApiKey {
                tenant_id: "acme".into(),
                name: "sensors".into(),
                permissions: vec![Permission::Read, Permission::Write],
                services: Some(vec!["sensors/*".into()]),
                read_services: None,
                write_services: None,
            },
        )
        .await;
    let mut s = f.session("192.0.2.12:4000");
    f.send(&mut s, api_key_auth(Some("acme"), &sensors_only)).await;
    let read = |name: &str| ReadVariable {
        service_id: service_id(name),
        variable_name: "v".into(),
    };
    let write = |name: &str| WriteVariable {
        service_id: service_id(name),
        variable_name: "v".into(),
        data: None,
        value: Some(json!(2)),
        expected_version: None,
    };
    assert!(matches!(
        f.send(&mut s, read("sensors/a")).await,
        ServerMessage::VariableData(_)
    ));
    assert_eq!(
        error_code(&f.send(&mut s, read("config/x")).await),
        Some(ErrorCode::PermissionDenied)
    );
    assert!(matches!(
        f.send(&mut s, write("sensors/a")).await,
        ServerMessage::VariableData(_)
    ));
    assert_eq!(
        error_code(&f.send(&mut s, write("config/x")).await),
        Some(ErrorCode::PermissionDenied)
    );
    assert_eq!(
        names(
            f.send(
                &mut s,
                ListServices {
                    tenant_id: "acme".into()
                }
            )
            .await
        ),
        ["sensors/a"]
    );

    // Read everything, write only the sensors.
    let split = f
        .create_key(
            &mut admin,
            CreateApiKey {
                tenant_id: "acme".into(),
                name: "split".into(),
                permissions: vec![Permission::Read, Permission::Write],
                services: None,
                read_services: None,
                write_services: Some(vec!["sensors/**".into()]),
            },
        )
        .await;
    let mut s = f.session("192.0.2.13:4000");
    f.send(&mut s, api_key_auth(Some("acme"), &split)).await;
    assert!(matches!(
        f.send(&mut s, read("config/x")).await,
        ServerMessage::VariableData(_)
    ));
    assert_eq!(
        error_code(&f.send(&mut s, write("config/x")).await),
        Some(ErrorCode::PermissionDenied)
    );
    assert!(matches!(
        f.send(&mut s, write("sensors/a")).await,
        ServerMessage::VariableData(_)
    ));
    let mut listed = names(
        f.send(
            &mut s,
            ListServices {
                tenant_id: "acme".into(),
            },
        )
        .await,
    );
    listed.sort();
    assert_eq!(listed, ["config/x", "sensors/a"]);
    let other_tenant = f
        .send(
            &mut s,
            ListServices {
                tenant_id: "globex".into(),
            },
        )
        .await;
    assert_eq!(error_code(&other_tenant), Some(ErrorCode::Unauthorized));
}

#[tokio::test]
async fn failures_lock_the_peer_out_before_the_credential_is_checked() {
    let f = Fixture::new();
    let mut attacker = f.session("198.51.100.7:5000");
    for guess in 0..MAX_FAILURES {
        let reply = f
            .send(&mut attacker, api_key_auth(None, &format!("commy_guess_{guess}")))
            .await;
        assert_eq!(error_code(&reply), Some(ErrorCode::Unauthorized));
    }
    let before = f.audit().len();
    // Even the right key is not looked at now, and a JWT neither.
    let locked = f.send(&mut attacker, api_key_auth(None, &f.admin_key)).await;
    assert_eq!(error_code(&locked), Some(ErrorCode::LimitExceeded), "{locked:?}");
    let locked = f.send(&mut attacker, jwt_auth("acme", "a.b.c")).await;
    assert_eq!(error_code(&locked), Some(ErrorCode::LimitExceeded));
    assert_eq!(
        f.audit().len(),
        before,
        "a refused-unchecked attempt costs no audit write"
    );

    // The same host on another port is the same peer; another host is not.
    let mut same_host = f.session("198.51.100.7:5001");
    let reply = f.send(&mut same_host, api_key_auth(None, &f.admin_key)).await;
    assert_eq!(error_code(&reply), Some(ErrorCode::LimitExceeded));
    let mut other = f.session("198.51.100.8:5000");
    let reply = f.send(&mut other, api_key_auth(None, &f.admin_key)).await;
    assert!(matches!(reply, ServerMessage::AuthenticationResult(_)), "{reply:?}");

    // JWT failures count the same way.
    let mut jwt_guesser = f.session("198.51.100.9:5000");
    for _ in 0..MAX_FAILURES {
        let reply = f.send(&mut jwt_guesser, jwt_auth("acme", "x.y.z")).await;
        assert_eq!(error_code(&reply), Some(ErrorCode::Unauthorized));
    }
    let reply = f.send(&mut jwt_guesser, api_key_auth(None, &f.admin_key)).await;
    assert_eq!(error_code(&reply), Some(ErrorCode::LimitExceeded));

    let failures = f
        .audit()
        .into_iter()
        .filter(|r| r.action == "auth_failure" && r.peer.as_deref() == Some("198.51.100.7:5000"))
        .count();
    assert_eq!(failures, MAX_FAILURES as usize);
}

#[tokio::test]
async fn audit_query_is_for_admins_and_tenant_admins_see_only_their_tenant() {
    let f = Fixture::new();
    let mut admin = f.admin().await;
    let acme_admin = f
        .create_key(&mut admin, unscoped_key("acme admin", &[Permission::Admin]))
        .await;
    let create = CreateService {
        tenant_id: "globex".into(),
        service_name: "secret-plans".into(),
    };
    f.send(&mut admin, create).await;

    let mut anonymous = f.session("192.0.2.20:1");
    let reply = f.send(&mut anonymous, QueryAudit::default()).await;
    assert_eq!(error_code(&reply), Some(ErrorCode::Unauthorized));

    let mut s = f.session("192.0.2.21:1");
    f.send(&mut s, api_key_auth(Some("acme"), &acme_admin)).await;
    let query = |tenant: Option<&str>| QueryAudit {
        tenant_id: tenant.map(str::to_owned),
        since_ms: None,
        limit: None,
    };
    let ServerMessage::AuditLog(log) = f.send(&mut s, query(Some("acme"))).await else {
        panic!("a tenant admin reads its own tenant's log");
    };
    assert!(log.entries.iter().all(|e| e.tenant_id.as_deref() == Some("acme")));
    let actions: Vec<&str> = log.entries.iter().map(|e| e.action.as_str()).collect();
    for expected in ["create_tenant", "create_service", "create_api_key", "auth_success"] {
        assert!(actions.contains(&expected), "{expected} in {actions:?}");
    }
    assert!(log.entries.windows(2).all(|w| w[0].seq < w[1].seq), "oldest first");
    assert_eq!(
        error_code(&f.send(&mut s, query(Some("globex"))).await),
        Some(ErrorCode::Unauthorized)
    );
    assert_eq!(
        error_code(&f.send(&mut s, query(None)).await),
        Some(ErrorCode::PermissionDenied)
    );

    let ServerMessage::AuditLog(all) = f.send(&mut admin, query(None)).await else {
        panic!("the server admin reads everything");
    };
    assert!(all.entries.iter().any(|e| e.tenant_id.as_deref() == Some("globex")));
    assert!(
        all.entries.iter().any(|e| e.tenant_id.is_none()),
        "server-level entries too"
    );
    let limited = QueryAudit {
        limit: Some(2),
        ..query(None)
    };
    let ServerMessage::AuditLog(last_two) = f.send(&mut admin, limited).await else {
        panic!()
    };
    assert_eq!(last_two.entries, all.entries[all.entries.len() - 2..]);
    let future = QueryAudit {
        since_ms: Some(u64::MAX),
        ..query(None)
    };
    let ServerMessage::AuditLog(none) = f.send(&mut admin, future).await else {
        panic!()
    };
    assert!(none.entries.is_empty());
}

#[tokio::test]
async fn every_change_and_verdict_is_audited_with_who_and_where_and_no_secret() {
    let f = Fixture::new();
    let mut admin = f.admin().await;
    let key_request = unscoped_key("temp", &[Permission::Read]);
    let ServerMessage::ApiKey(issued) = f.send(&mut admin, key_request).await else {
        panic!()
    };
    let revoke = RevokeApiKey {
        tenant_id: "acme".into(),
        key_id: issued.key_id.clone(),
    };
    assert!(matches!(f.send(&mut admin, revoke).await, ServerMessage::Result(_)));
    f.send(&mut admin, set_jwt_key(JwtAlgorithm::HS256, HS_SECRET)).await;
    let delete = DeleteService {
        tenant_id: "acme".into(),
        service_name: "config/x".into(),
    };
    assert!(matches!(f.send(&mut admin, delete).await, ServerMessage::Result(_)));
    let mut s = f.session("203.0.113.5:777");
    let refused = f.send(&mut s, api_key_auth(Some("acme"), &issued.key)).await;
    assert_eq!(error_code(&refused), Some(ErrorCode::Unauthorized), "a revoked key");
    f.send(
        &mut admin,
        DeleteTenant {
            tenant_id: "globex".into(),
        },
    )
    .await;

    let audit = f.audit();
    let admin_id = crate::auth::parse_key_id(&f.admin_key).unwrap().to_owned();
    for action in [
        "create_tenant",
        "delete_tenant",
        "create_service",
        "delete_service",
        "create_api_key",
        "revoke_api_key",
        "set_jwt_key",
    ] {
        let record = audit
            .iter()
            .rfind(|r| r.action == action)
            .unwrap_or_else(|| panic!("{action} is audited"));
        assert_eq!(record.actor, admin_id, "{action}: who");
        assert_eq!(record.peer.as_deref(), Some("127.0.0.1:1000"), "{action}: from where");
        assert!(record.at > 0, "{action}: when");
    }
    let failure = audit.iter().rfind(|r| r.action == "auth_failure").unwrap();
    assert_eq!(failure.peer.as_deref(), Some("203.0.113.5:777"));
    assert_eq!(failure.outcome, "denied:invalid_key");
    let everything = format!("{audit:?}");
    for secret in [issued.key.as_str(), f.admin_key.as_str(), HS_SECRET] {
        assert!(!everything.contains(secret), "a secret reached the audit log");
    }
    assert!(!format!("{admin:?}").contains(&f.admin_key));
}

#[tokio::test]
async fn a_credential_the_store_cannot_check_is_an_internal_error_that_leaks_nothing_and_is_not_charged() {
    let f = Fixture::new();
    let mut admin = f.admin().await;
    let request = unscoped_key("reader", &[Permission::Read]);
    let key = f.create_key(&mut admin, request).await;
    let key_id = crate::auth::parse_key_id(&key).unwrap().to_owned();
    f.app.store.damage_api_key(&key_id);
    let mut s = f.session("192.0.2.44:5000");
    for _ in 0..=MAX_FAILURES {
        let reply = f.send(&mut s, api_key_auth(Some("acme"), &key)).await;
        let ServerMessage::Error(error) = reply else {
            panic!("a damaged record authenticates nothing: {reply:?}")
        };
        assert_eq!(error.code, ErrorCode::InternalError, "{}", error.message);
        for leak in [key_id.as_str(), "api_keys", "decode", "corrupt"] {
            assert!(
                !error.message.contains(leak),
                "the message names {leak:?}: {}",
                error.message
            );
        }
    }
    // The server's failures were not the caller's: its allowance is whole, and a good key still works.
    let auth = f.send(&mut s, api_key_auth(None, &f.admin_key)).await;
    assert!(matches!(auth, ServerMessage::AuthenticationResult(_)), "{auth:?}");
}
