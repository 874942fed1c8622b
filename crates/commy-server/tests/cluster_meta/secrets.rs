//! A tenant's JWT key reaches every server, sealed with the cluster key: its bytes are nowhere in NATS's store.

use crate::Nats;
use commy_testkit::commy_proto::{Authenticate, Credential, Encoding, JwtAlgorithm, SetJwtKey};
use jsonwebtoken::{encode, get_current_timestamp, Algorithm, EncodingKey, Header};
use serde_json::json;

const SECRET: &str = "the HS256 secret of tenant acme: 32+ bytes, findable";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_jwt_key_set_on_one_server_verifies_on_another_and_is_sealed_in_nats() {
    let nats = Nats::start().await;
    let (a, b) = (nats.server().await, nats.server().await);
    a.sdk_admin().await.create_tenant("acme", "Acme").await.unwrap();
    let mut admin = a.admin(Encoding::Json).await;
    admin
        .ok(SetJwtKey {
            tenant_id: "acme".into(),
            alg: JwtAlgorithm::HS256,
            key: SECRET.into(),
            issuer: None,
            audience: None,
        })
        .await;

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
