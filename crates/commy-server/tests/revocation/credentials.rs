//! Credentials you can find: `ListApiKeys` (never a secret), `UpdateApiKey` (a change ends the grants it no longer
//! covers; an expiry ends them when it passes), `ListSessions` and `EndSession` for tenant and server admins.

use crate::conn::{Conn, TRANSPORTS};
use crate::util::{authenticate, read, Fixture, TestServer};
use crate::{assert_dead, login, subscriber, world};
use commy_proto::{
    ApiKeyInfo, CreateApiKey, EndSession, ErrorCode, ListApiKeys, ListSessions, Permission, ServerMessage, SessionInfo,
    UpdateApiKey,
};

fn update(fixture: &Fixture) -> UpdateApiKey {
    UpdateApiKey {
        tenant_id: fixture.tenant_id.clone(),
        key_id: fixture.key.key_id.clone(),
        permissions: None,
        services: None,
        read_services: None,
        write_services: None,
        expires_at_ms: None,
    }
}

/// A tenant admin key of the fixture's tenant, logged in on a new connection.
async fn tenant_admin(server: &TestServer, fixture: &mut Fixture) -> Conn {
    let create = CreateApiKey {
        tenant_id: fixture.tenant_id.clone(),
        name: "tenant admin".into(),
        permissions: vec![Permission::Admin],
        services: None,
        read_services: None,
        write_services: None,
    };
    let ServerMessage::ApiKey(key) = fixture.admin.ok(create).await else {
        panic!("a key")
    };
    let mut conn = Conn::open(server, crate::conn::Transport::WebSocket).await;
    conn.ok(authenticate(Some(&fixture.tenant_id), &key.key)).await;
    conn
}

async fn sessions(conn: &mut Conn, tenant_id: Option<&str>) -> Vec<SessionInfo> {
    match conn
        .ok(ListSessions {
            tenant_id: tenant_id.map(str::to_owned),
        })
        .await
    {
        ServerMessage::SessionList(list) => list.sessions,
        other => panic!("a SessionList, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_listed_without_their_secrets_and_updated() {
    let server = TestServer::start().await;
    let mut fixture = world(&server, crate::conn::Transport::WebSocket, &[Permission::Read]).await;
    let mut admin = tenant_admin(&server, &mut fixture).await;
    let list = ListApiKeys {
        tenant_id: fixture.tenant_id.clone(),
    };
    let ServerMessage::ApiKeyList(before) = admin.ok(list.clone()).await else {
        panic!("a list")
    };
    let key: &ApiKeyInfo = before
        .keys
        .iter()
        .find(|k| k.key_id == fixture.key.key_id)
        .expect("the key is listed");
    assert_eq!(
        (key.permissions.as_slice(), key.last_used_ms),
        (&[Permission::Read][..], None)
    );
    assert!(key.created_at_ms > 0);

    let mut user = Conn::open(&server, crate::conn::Transport::WebSocket).await;
    user.ok(login(&fixture)).await;
    let ServerMessage::ApiKeyList(after) = admin.ok(list.clone()).await else {
        panic!("a list")
    };
    let shown = serde_json::to_string(&after).unwrap();
    let secret = fixture.key.key.rsplit('_').next().unwrap();
    assert!(!shown.contains(secret), "a secret was listed: {shown}");
    let used = after.keys.iter().find(|k| k.key_id == fixture.key.key_id).unwrap();
    assert!(used.last_used_ms.is_some(), "{used:?}");

    let wider = UpdateApiKey {
        permissions: Some(vec![Permission::Read, Permission::Write]),
        services: Some(vec!["plant".into()]),
        expires_at_ms: Some(4_000_000_000_000),
        ..update(&fixture)
    };
    let ServerMessage::ApiKeyInfo(changed) = admin.ok(wider).await else {
        panic!("an ApiKeyInfo")
    };
    assert_eq!(changed.permissions, [Permission::Read, Permission::Write]);
    assert_eq!(changed.read_services.as_deref(), Some(&["plant".to_owned()][..]));
    assert_eq!(changed.expires_at_ms, Some(4_000_000_000_000));
    let cleared = UpdateApiKey {
        expires_at_ms: Some(0),
        ..update(&fixture)
    };
    let ServerMessage::ApiKeyInfo(cleared) = admin.ok(cleared).await else {
        panic!("an ApiKeyInfo")
    };
    assert_eq!(cleared.expires_at_ms, None);

    // Narrower patterns ended the user's session; with its new rights it is still no tenant admin.
    user.ok(login(&fixture)).await;
    // Only a tenant admin of the tenant may list or update; a bad pattern is named.
    user.refused(list, ErrorCode::PermissionDenied).await;
    user.refused(update(&fixture), ErrorCode::PermissionDenied).await;
    let bad = UpdateApiKey {
        services: Some(vec!["a b".into()]),
        ..update(&fixture)
    };
    let error = admin.refused(bad, ErrorCode::InvalidRequest).await;
    assert!(error.message.contains("'a b'"), "{}", error.message);
    let missing = UpdateApiKey {
        key_id: "nope".into(),
        ..update(&fixture)
    };
    admin.refused(missing, ErrorCode::NotFound).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_downgrade_ends_the_grants_it_no_longer_covers() {
    let server = TestServer::start().await;
    for transport in TRANSPORTS {
        let mut fixture = world(&server, transport, &[Permission::Read, Permission::Write]).await;
        let mut conn = subscriber(&server, transport, &fixture).await;
        // More rights still cover the session's grant: it carries on.
        let wider = UpdateApiKey {
            permissions: Some(vec![Permission::Read, Permission::Write, Permission::CreateService]),
            ..update(&fixture)
        };
        fixture.admin.ok(wider).await;
        assert!(conn.ended_so_far().await.is_empty(), "{transport:?}");
        conn.ok(read(fixture.service_id(), "temp")).await;

        let narrower = UpdateApiKey {
            permissions: Some(vec![Permission::Read]),
            ..update(&fixture)
        };
        fixture.admin.ok(narrower).await;
        let ended = conn.ended().await;
        assert_eq!(
            ended.reason, "the credential's permissions were changed",
            "{transport:?}"
        );
        assert_dead(&mut conn, &mut fixture, "permissions were changed").await;
        // Authenticating again gives the new rights.
        conn.ok(login(&fixture)).await;
        conn.ok(read(fixture.service_id(), "temp")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expiry_ends_the_keys_sessions_when_it_passes() {
    let server = TestServer::start().await;
    for transport in TRANSPORTS {
        let mut fixture = world(&server, transport, &[Permission::Read, Permission::Write]).await;
        let mut conn = subscriber(&server, transport, &fixture).await;
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let soon = UpdateApiKey {
            expires_at_ms: Some(now_ms + 1500),
            ..update(&fixture)
        };
        fixture.admin.ok(soon).await;
        // Nothing is asked: the subscription ends when the key expires.
        let ended = conn.ended().await;
        assert_eq!(ended.reason, "the API key expired", "{transport:?}");
        assert_dead(&mut conn, &mut fixture, "the API key expired").await;
        let error = Conn::open(&server, transport)
            .await
            .refused(login(&fixture), ErrorCode::Unauthorized)
            .await;
        assert_eq!(error.message, "invalid API key");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_list_and_end_sessions_of_their_own_tenant() {
    let server = TestServer::start().await;
    for transport in TRANSPORTS {
        let mut fixture = world(&server, transport, &[Permission::Read, Permission::Write]).await;
        let mut conn = subscriber(&server, transport, &fixture).await;
        let mut admin = tenant_admin(&server, &mut fixture).await;
        let tenant = fixture.tenant_id.clone();

        let listed = sessions(&mut admin, Some(&tenant)).await;
        let user: Vec<_> = listed.iter().filter(|s| s.credential == fixture.key.key_id).collect();
        assert_eq!(user.len(), 1, "{listed:?}");
        let session = user[0].clone();
        assert_eq!(
            (session.tenant_id.as_deref(), session.subscriptions),
            (Some(tenant.as_str()), 1)
        );
        assert!(
            listed.iter().all(|s| s.tenant_id.as_deref() == Some(tenant.as_str())),
            "{listed:?}"
        );
        // The server admin sees every session; a tenant admin neither all of them nor another tenant's.
        let ServerMessage::SessionList(everything) = fixture.admin.ok(ListSessions::default()).await else {
            panic!("a SessionList")
        };
        let everything = everything.sessions;
        assert!(
            everything.iter().any(|s| s.session_id == session.session_id),
            "{everything:?}"
        );
        admin
            .refused(ListSessions::default(), ErrorCode::PermissionDenied)
            .await;
        admin
            .refused(
                ListSessions {
                    tenant_id: Some("elsewhere".into()),
                },
                ErrorCode::Unauthorized,
            )
            .await;
        let wrong = EndSession {
            tenant_id: Some("elsewhere".into()),
            session_id: session.session_id,
        };
        admin.refused(wrong, ErrorCode::Unauthorized).await;
        let unknown = EndSession {
            tenant_id: Some(tenant.clone()),
            session_id: u64::MAX,
        };
        admin.refused(unknown, ErrorCode::NotFound).await;

        let end = EndSession {
            tenant_id: Some(tenant.clone()),
            session_id: session.session_id,
        };
        admin.ok(end.clone()).await;
        let ended = conn.ended().await;
        assert_eq!(ended.reason, "an administrator ended the session", "{transport:?}");
        assert_dead(&mut conn, &mut fixture, "an administrator ended the session").await;
        admin.refused(end, ErrorCode::NotFound).await;
        let left = sessions(&mut admin, Some(&tenant)).await;
        assert!(left.iter().all(|s| s.session_id != session.session_id), "{left:?}");
    }
}
