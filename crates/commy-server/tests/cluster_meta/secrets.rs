//! A tenant's JWT key and token-minting secret reach every server, sealed with the cluster key: the JWT secret's
//! bytes are nowhere in NATS's store, and a token minted on one server authenticates on another.

use crate::Nats;
use commy_client::{Client, Credentials, Transport};
use commy_testkit::commy_proto::{Authenticate, Credential, Encoding};
use jsonwebtoken::{encode, get_current_timestamp, Algorithm, EncodingKey, Header};
use serde_json::json;
use std::time::Duration;

const SECRET: &str = "the HS256 secret of tenant acme: 32+ bytes, findable";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwt_key_set_on_one_server_verifies_on_another_and_is_sealed_in_nats() {
    let nats = Nats::start().await;
    let (a, b) = (nats.server().await, nats.server().await);
    a.sdk_admin().await.create_tenant("acme", "Acme").await.unwrap();
    let mut admin = a.admin(Encoding::Json).await;
    admin.ok(commy_testkit::hs256_key("acme", SECRET)).await;

    let claims = json!({"sub": "dashboard", "tenant": "acme", "exp": get_current_timestamp() + 600,
                        "permissions": ["read"]});
    let token = encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap();
    let mut on_b = b.connect(Encoding::Json).await;
    on_b.ok(Authenticate {
        tenant_id: Some("acme".into()),
        client_version: "cluster-tests".into(),
        credential: Credential::Jwt { token },
    })
    .await;

    let files = nats.nats.store_files();
    assert!(!files.is_empty(), "JetStream wrote no files");
    for file in files {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !bytes.windows(SECRET.len()).any(|window| window == SECRET.as_bytes()),
            "{} holds the JWT secret in clear",
            file.display()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_minted_on_one_server_authenticates_on_another_and_dies_with_its_key() {
    let nats = Nats::start().await;
    let (a, b) = (nats.server().await, nats.server().await);
    let (key_id, key) = crate::tenant_with_key(&a, "acme").await;
    let minter = crate::tenant_client(&a, "acme", &key).await.unwrap();
    let read = &[commy_client::Permission::Read];
    let token = minter
        .create_token("acme", Duration::from_secs(600), read, None)
        .await
        .unwrap();
    // B has not minted yet: the secret it verifies with is the one A made.
    let browser = Client::builder(&b.url())
        .transport(Transport::Remote)
        .connect()
        .await
        .unwrap();
    let authenticated = browser.authenticate(Some("acme"), Credentials::jwt(&token.token)).await;
    authenticated.expect("the token minted on A authenticates on B");
    // B minting too keeps the one secret: both tokens work on A.
    let on_b = crate::tenant_client(&b, "acme", &key).await.unwrap();
    let token_b = on_b
        .create_token("acme", Duration::from_secs(600), read, None)
        .await
        .unwrap();
    let other = Client::builder(&a.url())
        .transport(Transport::Remote)
        .connect()
        .await
        .unwrap();
    other
        .authenticate(Some("acme"), Credentials::jwt(&token_b.token))
        .await
        .expect("B's token works on A");

    // Revoking the minting key on A ends the token's session on B.
    a.sdk_admin().await.revoke_api_key("acme", &key_id).await.unwrap();
    crate::eventually("the token's session on B ends", || async {
        matches!(browser.list_services().await, Err(commy_client::Error::Unauthorized(_)))
    })
    .await;
}
