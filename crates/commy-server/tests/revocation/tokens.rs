//! Tokens minted by `CreateToken`: they work, carry no more than their minter, expire, and die with the minter.

use crate::conn::{Conn, Transport, TRANSPORTS};
use crate::util::{authenticate, read, variable, write_value, Fixture, TestServer};
use crate::{assert_dead, login, subscribe, subscriber, world};
use commy_proto::{
    Authenticate, CreateApiKey, CreateToken, Credential, ErrorCode, JwtAlgorithm, Permission, RevokeApiKey,
    ServerMessage, SetJwtKey, ValueType,
};
use serde_json::json;

/// `CreateToken` for the fixture's tenant.
pub(crate) fn create_token(fixture: &Fixture, ttl_seconds: u64, permissions: &[Permission]) -> CreateToken {
    CreateToken {
        tenant_id: fixture.tenant_id.clone(),
        ttl_seconds,
        permissions: permissions.to_vec(),
        services: None,
    }
}

/// Asks `conn` for a token and returns it.
pub(crate) async fn mint(conn: &mut Conn, request: CreateToken) -> String {
    match conn.ok(request).await {
        ServerMessage::Token(token) => token.token,
        other => panic!("expected a Token, got {other:?}"),
    }
}

/// `Authenticate` with a token.
pub(crate) fn with_token(fixture: &Fixture, token: &str) -> Authenticate {
    Authenticate {
        tenant_id: Some(fixture.tenant_id.clone()),
        client_version: "token-tests".into(),
        credential: Credential::Jwt { token: token.into() },
    }
}

/// A connection on `transport` authenticated with `token`.
async fn token_session(server: &TestServer, transport: Transport, fixture: &Fixture, token: &str) -> Conn {
    let mut conn = Conn::open(server, transport).await;
    conn.ok(with_token(fixture, token)).await;
    conn
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minted_token_works_and_carries_no_more_than_its_minter() {
    let server = TestServer::start().await;
    for transport in TRANSPORTS {
        let mut fixture = world(&server, transport, &[Permission::Read, Permission::Write]).await;
        let service_id = fixture.service_id().to_owned();
        let mut minter = Conn::open(&server, transport).await;
        minter.ok(login(&fixture)).await;

        let token = mint(&mut minter, create_token(&fixture, 60, &[Permission::Read])).await;
        let mut holder = Conn::open(&server, transport).await;
        let ServerMessage::AuthenticationResult(result) = holder.ok(with_token(&fixture, &token)).await else {
            panic!("an AuthenticationResult")
        };
        assert_eq!(result.permissions, [Permission::Read]);
        holder.ok(read(&service_id, "temp")).await;
        holder
            .refused(write_value(&service_id, "temp", json!(5)), ErrorCode::PermissionDenied)
            .await;

        // More than the minter holds, and lifetimes out of bounds, are refused.
        for beyond in [
            vec![Permission::Admin],
            vec![Permission::Read, Permission::DeleteService],
        ] {
            let error = minter
                .refused(create_token(&fixture, 60, &beyond), ErrorCode::PermissionDenied)
                .await;
            assert!(error.message.contains("beyond"), "{}", error.message);
        }
        // A token session mints only what it holds itself.
        mint(&mut holder, create_token(&fixture, 60, &[Permission::Read])).await;
        holder
            .refused(
                create_token(&fixture, 60, &[Permission::Write]),
                ErrorCode::PermissionDenied,
            )
            .await;
        for ttl in [0, 3601] {
            let error = minter
                .refused(
                    create_token(&fixture, ttl, &[Permission::Read]),
                    ErrorCode::InvalidRequest,
                )
                .await;
            assert!(error.message.contains("3600"), "{}", error.message);
        }
        let mut unauthenticated = Conn::open(&server, transport).await;
        let refused = create_token(&fixture, 60, &[Permission::Read]);
        unauthenticated.refused(refused, ErrorCode::Unauthorized).await;

        // The tenant's JWT key does not affect minted tokens.
        let set_key = SetJwtKey {
            tenant_id: fixture.tenant_id.clone(),
            alg: JwtAlgorithm::HS256,
            key: "a shared secret of at least thirty-two bytes".into(),
            issuer: None,
            audience: None,
        };
        fixture.admin.ok(set_key).await;
        holder.ok(read(&service_id, "temp")).await;
        token_session(&server, transport, &fixture, &token).await;

        // A token whose signature does not verify is refused.
        let forged = format!("{}x", &token[..token.len() - 1]);
        Conn::open(&server, transport)
            .await
            .refused(with_token(&fixture, &forged), ErrorCode::Unauthorized)
            .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scoped_minter_mints_only_within_its_patterns() {
    let server = TestServer::start().await;
    for transport in TRANSPORTS {
        let fixture = world(&server, transport, &[Permission::Admin]).await;
        let tenant = fixture.tenant_id.clone();
        let mut admin = Conn::open(&server, transport).await;
        admin.ok(login(&fixture)).await;
        let office = match admin
            .ok(commy_proto::CreateService {
                tenant_id: tenant.clone(),
                service_name: "office".into(),
            })
            .await
        {
            ServerMessage::Service(service) => service.service_id,
            other => panic!("a Service, got {other:?}"),
        };
        admin.ok(variable(&office, "temp", ValueType::I64)).await;
        let scoped = CreateApiKey {
            tenant_id: tenant.clone(),
            name: "plant reader".into(),
            permissions: vec![Permission::Read],
            services: Some(vec!["plant".into()]),
            read_services: None,
            write_services: None,
        };
        let ServerMessage::ApiKey(scoped) = admin.ok(scoped).await else {
            panic!("a key")
        };
        let mut minter = Conn::open(&server, transport).await;
        minter.ok(authenticate(Some(&tenant), &scoped.key)).await;
        let everywhere = CreateToken {
            services: Some(vec!["**".into()]),
            ..create_token(&fixture, 60, &[Permission::Read])
        };
        minter.refused(everywhere, ErrorCode::PermissionDenied).await;
        // Without services the token has the minter's own patterns.
        let token = mint(&mut minter, create_token(&fixture, 60, &[Permission::Read])).await;
        let mut holder = token_session(&server, transport, &fixture, &token).await;
        holder.ok(read(fixture.service_id(), "temp")).await;
        holder.refused(read(&office, "temp"), ErrorCode::PermissionDenied).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_the_minter_ends_the_tokens_sessions() {
    let server = TestServer::start().await;
    for transport in TRANSPORTS {
        let mut fixture = world(&server, transport, &[Permission::Read, Permission::Write]).await;
        let mut minter = subscriber(&server, transport, &fixture).await;
        let token = mint(
            &mut minter,
            create_token(&fixture, 600, &[Permission::Read, Permission::Write]),
        )
        .await;
        let mut holder = token_session(&server, transport, &fixture, &token).await;
        holder.ok(subscribe(fixture.service_id(), "temp")).await;
        // A token minted by the token session dies with the first minter too.
        let second = mint(&mut holder, create_token(&fixture, 600, &[Permission::Read])).await;
        let mut second_holder = token_session(&server, transport, &fixture, &second).await;
        second_holder.ok(subscribe(fixture.service_id(), "temp")).await;

        let revoke = RevokeApiKey {
            tenant_id: fixture.tenant_id.clone(),
            key_id: fixture.key.key_id.clone(),
        };
        fixture.admin.ok(revoke).await;
        for conn in [&mut holder, &mut second_holder] {
            let ended = conn.ended().await;
            assert_eq!(ended.reason, "the credential was revoked", "{transport:?}");
            assert_dead(conn, &mut fixture, "the credential was revoked").await;
        }
        for token in [&token, &second] {
            let error = Conn::open(&server, transport)
                .await
                .refused(with_token(&fixture, token), ErrorCode::Unauthorized)
                .await;
            assert!(error.message.contains("invalid token"), "{}", error.message);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_minted_token_expires() {
    let server = TestServer::start().await;
    for transport in TRANSPORTS {
        let mut fixture = world(&server, transport, &[Permission::Read, Permission::Write]).await;
        let mut minter = Conn::open(&server, transport).await;
        minter.ok(login(&fixture)).await;
        let token = mint(
            &mut minter,
            create_token(&fixture, 2, &[Permission::Read, Permission::Write]),
        )
        .await;
        let mut holder = token_session(&server, transport, &fixture, &token).await;
        holder.ok(subscribe(fixture.service_id(), "temp")).await;
        // Nothing is asked: the subscription ends when the token does.
        let ended = holder.ended().await;
        assert_eq!(ended.reason, "the token expired");
        assert_dead(&mut holder, &mut fixture, "the token expired").await;
        Conn::open(&server, transport)
            .await
            .refused(with_token(&fixture, &token), ErrorCode::Unauthorized)
            .await;
        // The minter's own session is untouched.
        minter.ok(read(fixture.service_id(), "temp")).await;
    }
}
