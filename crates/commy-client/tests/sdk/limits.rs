//! Tenant quotas through the SDK: the server admin sets and reads them; a tenant's client meets them as
//! `LIMIT_EXCEEDED`.

use commy_client::{Quotas, Transport};
use commy_proto::ErrorCode;
use commy_testkit::{TestServer, ALL};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_sets_quotas_and_the_tenant_meets_them() {
    let server = TestServer::start().await;
    let key = server.tenant_key("acme", ALL).await;
    let admin = server.sdk_admin().await;
    let client = server.sdk_client(Transport::Remote, "acme", &key).await;

    let quotas = Quotas {
        services: Some(1),
        ..Quotas::default()
    };
    let set = admin.set_tenant_limits("acme", quotas.clone()).await.unwrap();
    assert_eq!(set.overrides, quotas);
    assert_eq!(set.effective.services, Some(1));
    assert!(set.effective.bytes.is_some(), "every quota in force is shown");
    assert_eq!(admin.tenant_limits("acme").await.unwrap(), set);

    client.create_service("one").await.unwrap();
    let err = client.create_service("two").await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::LimitExceeded), "{err}");
    assert!(err.to_string().contains("services"), "{err}");

    let err = client.tenant_limits("acme").await.unwrap_err();
    assert!(
        matches!(err.code(), Some(ErrorCode::PermissionDenied | ErrorCode::Unauthorized)),
        "{err}"
    );
}
