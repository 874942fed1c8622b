//! A server that joins (or comes back) later catches up with the cluster's metadata before it serves.

use crate::{tenant_client, tenant_with_key, Nats};
use commy_client::Allocation;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_started_later_serves_everything_made_before() {
    let nats = Nats::start().await;
    let a = nats.server().await;
    let (_, key) = tenant_with_key(&a, "acme").await;
    let client = tenant_client(&a, "acme", &key).await.unwrap();
    let service = client.create_service("sensors").await.unwrap();
    service.allocate("temp", Allocation::u64(7)).await.unwrap();
    client.create_service("gone").await.unwrap();
    client.delete_service("gone").await.unwrap();

    let c = nats.server().await;
    // Caught up before it served: no waiting, no retry needed here.
    let on_c = tenant_client(&c, "acme", &key)
        .await
        .expect("the key is on the new server");
    let seen = on_c.get_service("sensors").await.unwrap();
    assert_eq!(seen.id(), service.id());
    assert_eq!(seen.read("temp").await.unwrap().as_u64().unwrap(), 7);
    assert!(
        on_c.get_service("gone").await.is_err(),
        "a deleted service stays deleted"
    );
    on_c.close();

    // Down while A makes more; on restart it resumes from the revision it had applied.
    let restart_from = c.stop().await;
    service.allocate("pressure", Allocation::u64(1)).await.unwrap();
    let c = commy_testkit::TestServer::start_in(restart_from, |config| {
        config.cluster = Some(nats.cluster_config());
    })
    .await;
    let on_c = tenant_client(&c, "acme", &key).await.unwrap();
    let seen = on_c.get_service("sensors").await.unwrap();
    assert_eq!(seen.read("pressure").await.unwrap().as_u64().unwrap(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_server_that_joins_a_cluster_shares_what_it_had() {
    let nats = Nats::start().await;
    let single = commy_testkit::TestServer::start().await;
    let (_, key) = tenant_with_key(&single, "old").await;
    let client = tenant_client(&single, "old", &key).await.unwrap();
    let service = client.create_service("sensors").await.unwrap();
    service.allocate("temp", Allocation::u64(5)).await.unwrap();
    client.close();
    let data = single.stop().await;

    let a = nats.server().await;
    tenant_with_key(&a, "new").await;
    let joined = commy_testkit::TestServer::start_in(data, |config| config.cluster = Some(nats.cluster_config())).await;
    let on_a = tenant_client(&a, "old", &key)
        .await
        .expect("the joining server's key works on the others");
    let seen = on_a.get_service("sensors").await.unwrap();
    assert_eq!(seen.id(), service.id());
    assert_eq!(seen.read("temp").await.unwrap().as_u64().unwrap(), 5);
    let admin = joined.sdk_admin().await;
    let tenants: Vec<_> = admin
        .list_tenants()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.tenant_id)
        .collect();
    assert_eq!(
        tenants,
        ["new", "old"],
        "the joining server has the cluster's tenants too"
    );
}
