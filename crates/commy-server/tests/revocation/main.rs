//! Revocation over a real server, on the WebSocket and the local socket alike: a dead grant is refused at its next
//! request and its subscriptions end at once with a `SubscriptionEnded` push; deleted things end their subscriptions;
//! service patterns bind creating and deleting; another tenant's service reads as missing.

use commy_testkit as util;

mod closing;
mod conn;
mod credentials;
mod deletion;
mod jwt;
mod scope;
mod tokens;

use commy_proto::{
    Authenticate, CreateApiKey, CreateService, Encoding, ErrorCode, Permission, RevokeApiKey, ServerMessage, Subscribe,
    ValueType,
};
use conn::{Conn, Transport, TRANSPORTS};
use serde_json::json;
use util::{authenticate, read, variable, write_value, Fixture, TestServer};

/// A tenant per transport, so one server serves both rounds.
pub(crate) fn tenant_for(transport: Transport) -> &'static str {
    match transport {
        Transport::WebSocket => "acme-ws",
        Transport::Local => "acme-local",
    }
}

/// `Subscribe`.
pub(crate) fn subscribe(service_id: &str, variable_name: &str) -> Subscribe {
    Subscribe {
        service_id: service_id.into(),
        variable_name: variable_name.into(),
        skip_own_writes: false,
    }
}

/// A tenant with service `plant` holding the I64 variable `temp`, and a key with `permissions`.
pub(crate) async fn world(server: &TestServer, transport: Transport, permissions: &[Permission]) -> Fixture {
    let mut fixture = Fixture::new(server, Encoding::Json, tenant_for(transport), "plant", permissions).await;
    let service_id = fixture.service_id().to_owned();
    fixture
        .admin
        .allocate(variable(&service_id, "temp", ValueType::I64))
        .await;
    fixture
}

/// A connection on `transport`, authenticated with the fixture's key and subscribed to `temp`.
pub(crate) async fn subscriber(server: &TestServer, transport: Transport, fixture: &Fixture) -> Conn {
    let mut conn = Conn::open(server, transport).await;
    conn.ok(login(fixture)).await;
    conn.ok(subscribe(fixture.service_id(), "temp")).await;
    conn
}

/// `Authenticate` with the fixture's key.
pub(crate) fn login(fixture: &Fixture) -> Authenticate {
    authenticate(Some(&fixture.tenant_id), &fixture.key.key)
}

/// Asserts that the connection's read, write and admin requests are refused as a dead credential's, and that no write
/// landed.
pub(crate) async fn assert_dead(conn: &mut Conn, fixture: &mut Fixture, why: &str) {
    let service_id = fixture.service_id().to_owned();
    let version = fixture.admin.read(&service_id, "temp").await.version;
    let create = CreateService {
        tenant_id: fixture.tenant_id.clone(),
        service_name: "another".into(),
    };
    let requests: [commy_proto::ClientMessage; 3] = [
        read(&service_id, "temp").into(),
        write_value(&service_id, "temp", json!(99)).into(),
        create.into(),
    ];
    for request in requests {
        let error = conn.refused(request, ErrorCode::Unauthorized).await;
        assert!(
            error.message.contains("revoked, deleted or expired"),
            "{}",
            error.message
        );
        assert!(error.message.contains(why), "{}", error.message);
    }
    let now = fixture.admin.read(&service_id, "temp").await.version;
    assert_eq!(now, version, "no write of a dead credential lands");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_is_refused_at_once_and_its_subscriptions_end() {
    let server = TestServer::start().await;
    for transport in TRANSPORTS {
        let mut fixture = world(&server, transport, &[Permission::Read, Permission::Write]).await;
        let mut conn = subscriber(&server, transport, &fixture).await;
        let service_id = fixture.service_id().to_owned();
        conn.ok(write_value(&service_id, "temp", json!(1))).await;

        let revoke = RevokeApiKey {
            tenant_id: fixture.tenant_id.clone(),
            key_id: fixture.key.key_id.clone(),
        };
        fixture.admin.ok(revoke).await;
        // The push comes without the connection asking for anything.
        let ended = conn.ended().await;
        assert_eq!(
            (ended.service_id.as_str(), ended.variable_name.as_str()),
            (service_id.as_str(), "temp")
        );
        assert_eq!(ended.reason, "the credential was revoked", "{transport:?}");
        assert_dead(&mut conn, &mut fixture, "the credential was revoked").await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_tenant_admin_cannot_mint_itself_a_new_key() {
    let server = TestServer::start().await;
    for transport in TRANSPORTS {
        let mut fixture = world(&server, transport, &[Permission::Admin]).await;
        let mut conn = Conn::open(&server, transport).await;
        conn.ok(login(&fixture)).await;
        let mint = CreateApiKey {
            tenant_id: fixture.tenant_id.clone(),
            name: "replacement".into(),
            permissions: vec![Permission::Admin],
            services: None,
            read_services: None,
            write_services: None,
        };
        assert!(matches!(conn.ok(mint.clone()).await, ServerMessage::ApiKey(_)));
        let revoke = RevokeApiKey {
            tenant_id: fixture.tenant_id.clone(),
            key_id: fixture.key.key_id.clone(),
        };
        fixture.admin.ok(revoke).await;
        let error = conn.refused(mint, ErrorCode::Unauthorized).await;
        assert!(
            error.message.contains("was revoked, deleted or expired"),
            "{}",
            error.message
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_and_recreated_tenant_shares_nothing_with_the_old_sessions() {
    let server = TestServer::start().await;
    for transport in TRANSPORTS {
        let mut fixture = world(&server, transport, &[Permission::Read, Permission::Write]).await;
        let mut conn = subscriber(&server, transport, &fixture).await;
        let tenant = fixture.tenant_id.clone();
        fixture
            .admin
            .ok(commy_proto::DeleteTenant {
                tenant_id: tenant.clone(),
            })
            .await;
        let ended = conn.ended().await;
        assert_eq!(ended.variable_name, "temp");
        assert!(ended.reason.contains("deleted"), "{}", ended.reason);
        // The same names again: a new tenant, a new service, a new variable.
        fixture.admin.create_tenant(&tenant).await;
        fixture.service = fixture.admin.create_service(&tenant, "plant").await;
        let service_id = fixture.service_id().to_owned();
        fixture
            .admin
            .allocate(variable(&service_id, "temp", ValueType::I64))
            .await;
        assert_dead(&mut conn, &mut fixture, "the tenant was deleted").await;
        let list = commy_proto::ListServices { tenant_id: tenant };
        conn.refused(list, ErrorCode::Unauthorized).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authenticating_again_replaces_the_grant_and_keeps_what_it_still_covers() {
    let server = TestServer::start().await;
    for transport in TRANSPORTS {
        let mut fixture = world(&server, transport, &[Permission::Read]).await;
        let tenant = fixture.tenant_id.clone();
        let other = fixture.admin.create_service(&tenant, "office").await.service_id;
        fixture.admin.allocate(variable(&other, "temp", ValueType::I64)).await;
        let mut conn = subscriber(&server, transport, &fixture).await;
        conn.ok(subscribe(&other, "temp")).await;
        let narrower = CreateApiKey {
            tenant_id: tenant.clone(),
            name: "plant only".into(),
            permissions: vec![Permission::Read],
            services: Some(vec!["plant".into()]),
            read_services: None,
            write_services: None,
        };
        let ServerMessage::ApiKey(narrower) = fixture.admin.ok(narrower).await else {
            panic!("a key")
        };
        conn.ok(authenticate(Some(&tenant), &narrower.key)).await;
        let ended = conn.ended().await;
        assert_eq!(
            ended.service_id, other,
            "the subscription the new grant does not cover ends"
        );
        assert!(conn.ended_so_far().await.is_empty(), "the covered one stays");
        // The old key's revocation no longer concerns this connection.
        let revoke = RevokeApiKey {
            tenant_id: tenant.clone(),
            key_id: fixture.key.key_id.clone(),
        };
        fixture.admin.ok(revoke).await;
        conn.ok(read(fixture.service_id(), "temp")).await;
        assert!(conn.ended_so_far().await.is_empty());
        if let Transport::WebSocket = transport {
            let service_id = fixture.service_id().to_owned();
            fixture.admin.write(&service_id, "temp", json!(5)).await;
            assert_eq!(conn.change().await.value, Some(json!(5)));
        }
    }
}
