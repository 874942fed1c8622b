//! Metadata made on one server is visible, and enforced, on the others at once.

use crate::{tenant_client, tenant_with_key, Nats};
use commy_client::{Allocation, Error};
use commy_testkit::commy_proto::Quotas;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_one_server_creates_another_serves_at_once() {
    let nats = Nats::start().await;
    let (a, b) = (nats.server().await, nats.server().await);
    let (_, key) = tenant_with_key(&a, "acme").await;
    // Read-your-writes: the key made on A logs in on B at once.
    let on_b = tenant_client(&b, "acme", &key)
        .await
        .expect("the key made on A works on B");
    let on_a = tenant_client(&a, "acme", &key).await.unwrap();
    let made = on_a.create_service("sensors").await.unwrap();
    made.allocate("temp", Allocation::f64(21.5)).await.unwrap();

    let seen = on_b
        .get_service("sensors")
        .await
        .expect("the service made on A is found on B");
    assert_eq!(seen.id(), made.id(), "one service, one id on every server");
    assert!(
        b.service_file(seen.id()).exists(),
        "B made its own file for the service"
    );
    let temp = seen
        .read("temp")
        .await
        .expect("the variable allocated on A is in B's file");
    assert_eq!(temp.as_f64().unwrap(), 21.5);

    // Quotas set on A are enforced on B.
    let limits = Quotas {
        services: Some(1),
        ..Quotas::default()
    };
    a.sdk_admin().await.set_tenant_limits("acme", limits).await.unwrap();
    crate::eventually("B applies the quota", || async {
        matches!(on_b.create_service("second").await, Err(Error::LimitExceeded(_)))
    })
    .await;

    // Deleting on A removes it on B: its file too.
    on_a.delete_service("sensors").await.unwrap();
    let file = b.service_file(made.id());
    crate::eventually("B deletes the service", || async {
        matches!(on_b.get_service("sensors").await, Err(Error::NotFound(_))) && !file.exists()
    })
    .await;
    // The name is free again on B, and the new service is one A can open.
    let again = on_b.create_service("sensors").await.unwrap();
    assert_eq!(on_a.get_service("sensors").await.unwrap().id(), again.id());

    // A tenant deleted on A is gone on B, its key with it.
    a.sdk_admin().await.delete_tenant("acme").await.unwrap();
    crate::eventually("B deletes the tenant", || async {
        matches!(tenant_client(&b, "acme", &key).await, Err(Error::Unauthorized(_)))
    })
    .await;
}
