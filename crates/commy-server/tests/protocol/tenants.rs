//! Tenants, API keys, JWT keys and authentication.

use super::*;

both_encodings!(tenants_keys_and_authentication,);

async fn tenants_keys_and_authentication(enc: Encoding) {
    let server = TestServer::start().await;

    // Heartbeat needs no authentication.
    let mut anonymous = server.connect(enc).await;
    assert!(anonymous.heartbeat().await > 0);

    let mut admin = server.connect(enc).await;
    let auth = admin.authenticate(None, ADMIN_KEY).await;
    assert_eq!(auth.permissions, [Admin]);
    assert!(!auth.server_version.is_empty());

    let acme = admin.create_tenant("acme").await;
    assert_eq!(
        (acme.tenant_id.as_str(), acme.tenant_name.as_str()),
        ("acme", "acme Inc.")
    );
    admin.create_tenant("globex").await;
    let ServerMessage::TenantList(list) = admin.ok(ListTenants {}).await else {
        panic!("expected TenantList")
    };
    let mut ids: Vec<_> = list.tenants.iter().map(|t| t.tenant_id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["acme", "globex"]);

    // The server admin makes a tenant admin, who makes a read-only key.
    let tenant_admin_key = admin.create_key("acme", &[Admin]).await;
    assert!(!tenant_admin_key.key_id.is_empty());
    assert!(tenant_admin_key.key.len() >= 32, "a key is a secret");
    let mut tenant_admin = server.connect(enc).await;
    let auth = tenant_admin.authenticate(Some("acme"), &tenant_admin_key.key).await;
    assert!(auth.permissions.contains(&Admin), "{auth:?}");
    let reader_key = tenant_admin.create_key("acme", &[Read]).await;
    assert_ne!(reader_key.key, tenant_admin_key.key);
    let mut reader = server.connect(enc).await;
    let auth = reader.authenticate(Some("acme"), &reader_key.key).await;
    assert_eq!(auth.permissions, [Read]);

    // A JWT key set for the tenant verifies the tenant's tokens.
    let secret = "a shared secret that is at least 32 bytes long";
    let set = SetJwtKey {
        tenant_id: "acme".into(),
        alg: JwtAlgorithm::HS256,
        key: secret.into(),
        issuer: None,
        audience: None,
    };
    let (success, message) = result_of(tenant_admin.ok(set).await);
    assert!(success, "{message}");
    let claims = json!({
        "sub": "sensor-7", "tenant": "acme", "permissions": ["read"],
        "exp": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 600,
    });
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    let mut jwt = server.connect(enc).await;
    let reply = jwt
        .ok(commy_proto::Authenticate {
            tenant_id: Some("acme".into()),
            client_version: "tests".into(),
            credential: commy_proto::Credential::Jwt { token },
        })
        .await;
    let ServerMessage::AuthenticationResult(auth) = reply else {
        panic!("expected AuthenticationResult, got {reply:?}")
    };
    assert_eq!(auth.permissions, [Read]);

    // A revoked key no longer authenticates.
    let revoke = RevokeApiKey {
        tenant_id: "acme".into(),
        key_id: reader_key.key_id.clone(),
    };
    let (success, message) = result_of(tenant_admin.ok(revoke).await);
    assert!(success && message.contains(&reader_key.key_id), "{message}");
    let mut late = server.connect(enc).await;
    late.expect_error(
        authenticate(Some("acme"), &reader_key.key),
        ErrorCode::Unauthorized,
        &[],
    )
    .await;

    // Deleting a tenant.
    let delete = DeleteTenant {
        tenant_id: "globex".into(),
    };
    let (success, message) = result_of(admin.ok(delete.clone()).await);
    assert!(success && message.contains("globex"), "{message}");
    let ServerMessage::TenantList(list) = admin.ok(ListTenants {}).await else {
        panic!("expected TenantList")
    };
    let ids: Vec<_> = list.tenants.iter().map(|t| t.tenant_id.as_str()).collect();
    assert_eq!(ids, ["acme"]);
    admin.expect_error(delete, ErrorCode::NotFound, &["globex"]).await;
}
