//! The SDK's tokens and credential administration over a real server: a backend mints a token a second client uses;
//! a tenant admin lists and updates keys, lists and ends sessions.

use commy_client::proto::UpdateApiKey;
use commy_client::{Allocation, Client, Credentials, Error, Permission, Transport};
use commy_testkit::{TestServer, ALL};
use std::time::Duration;

async fn client_with(server: &TestServer, credentials: Credentials) -> Client {
    let client = Client::builder(&server.url())
        .transport(Transport::Remote)
        .connect()
        .await
        .expect("connects");
    client
        .authenticate(Some("acme"), credentials)
        .await
        .expect("authenticates");
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_mints_a_token_and_an_admin_finds_and_ends_its_session() {
    let server = TestServer::start().await;
    let admin_key = server.tenant_key("acme", ALL).await;
    let admin = server.sdk_client(Transport::Remote, "acme", &admin_key).await;
    let svc = admin.create_service("plant").await.unwrap();
    svc.allocate("n", Allocation::u64(7)).await.unwrap();
    let backend_key = admin
        .create_api_key("acme", "backend", &[Permission::Read, Permission::Write], None)
        .await
        .unwrap();
    let backend = client_with(&server, Credentials::api_key(&backend_key.key)).await;

    let token = backend
        .create_token("acme", Duration::from_secs(60), &[Permission::Read], Some(&["plant"]))
        .await
        .unwrap();
    assert!(token.expires_at_ms > 0);
    let err = backend
        .create_token("acme", Duration::from_secs(60), &[Permission::Admin], None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::PermissionDenied(_)), "{err:?}");

    let page = client_with(&server, Credentials::jwt(&token.token)).await;
    let plant = page.get_service("plant").await.unwrap();
    assert_eq!(plant.read("n").await.unwrap().as_u64().unwrap(), 7);
    assert!(matches!(plant.write("n", 8u64).await, Err(Error::PermissionDenied(_))));

    let keys = admin.list_api_keys("acme").await.unwrap();
    let listed = keys.iter().find(|k| k.key_id == backend_key.key_id).expect("listed");
    assert!(listed.last_used_ms.is_some());
    let sessions = admin.list_sessions(Some("acme")).await.unwrap();
    let page_session = sessions
        .iter()
        .find(|s| s.credential == format!("token:{}", backend_key.key_id))
        .expect("the page's session is listed");
    admin.end_session(Some("acme"), page_session.session_id).await.unwrap();
    assert!(matches!(plant.read("n").await, Err(Error::Unauthorized(_))));

    let update = UpdateApiKey {
        tenant_id: "acme".into(),
        key_id: backend_key.key_id.clone(),
        permissions: Some(vec![Permission::Read]),
        services: None,
        read_services: None,
        write_services: None,
        expires_at_ms: None,
    };
    let updated = admin.update_api_key(update).await.unwrap();
    assert_eq!(updated.permissions, [Permission::Read]);
    assert!(matches!(
        backend.get_service("plant").await,
        Err(Error::Unauthorized(_))
    ));
}
