//! Token grants die when the tenant's JWT key changes and when the token expires.

use crate::conn::{Conn, TRANSPORTS};
use crate::util::{Fixture, TestServer};
use crate::{assert_dead, subscribe, world};
use commy_proto::{Authenticate, Credential, Permission, SetJwtKey};
use jsonwebtoken::{encode, get_current_timestamp, Algorithm, EncodingKey, Header};
use serde_json::json;

const SECRET: &str = "a shared secret of at least thirty-two bytes";

fn set_key(tenant: &str, secret: &str) -> SetJwtKey {
    commy_testkit::hs256_key(tenant, secret)
}

/// A token for the fixture's tenant with read and write, expiring `lifetime` seconds from now.
fn token(fixture: &Fixture, lifetime: u64) -> Authenticate {
    let claims = json!({"sub": "dashboard", "tenant": fixture.tenant_id, "exp": get_current_timestamp() + lifetime,
                        "permissions": ["read", "write", "create_service"]});
    let token = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    Authenticate {
        tenant_id: Some(fixture.tenant_id.clone()),
        client_version: "revocation-tests".into(),
        credential: Credential::Jwt { token },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_jwt_key_ends_the_sessions_of_the_old_one() {
    let server = TestServer::start().await;
    for transport in TRANSPORTS {
        let mut fixture = world(&server, transport, &[Permission::Read]).await;
        fixture.admin.ok(set_key(&fixture.tenant_id, SECRET)).await;
        let mut conn = Conn::open(&server, transport).await;
        conn.ok(token(&fixture, 600)).await;
        conn.ok(subscribe(fixture.service_id(), "temp")).await;
        let rotated = set_key(&fixture.tenant_id, "another shared secret, also thirty-two bytes");
        fixture.admin.ok(rotated).await;
        let ended = conn.ended().await;
        assert_eq!(ended.reason, "the tenant's JWT key was changed");
        assert_dead(&mut conn, &mut fixture, "JWT key was changed").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_token_ends_its_session_when_it_expires() {
    let server = TestServer::with_config(|config| config.jwt_clock_leeway_secs = 0).await;
    for transport in TRANSPORTS {
        let mut fixture = world(&server, transport, &[Permission::Read]).await;
        fixture.admin.ok(set_key(&fixture.tenant_id, SECRET)).await;
        let mut conn = Conn::open(&server, transport).await;
        conn.ok(token(&fixture, 2)).await;
        conn.ok(subscribe(fixture.service_id(), "temp")).await;
        // Nothing is asked: the subscription ends when the token does.
        let ended = conn.ended().await;
        assert_eq!(ended.reason, "the token expired");
        assert_dead(&mut conn, &mut fixture, "the token expired").await;
    }
}
