//! A revocation on one server ends the sessions of that key on every server, through the same sweep a local revoke
//! runs (a file mapped under the key moves to a fresh one); the time it takes is printed beside a revoke on the
//! session's own server, measured in the same run.

use crate::{tenant_client, tenant_with_key, Nats, ALL};
use commy_client::{Allocation, Client, Credentials, Error, Transport};
use commy_testkit::TestServer;
use std::time::{Duration, Instant};

/// Opens a session with a fresh key on `session_on` (a watch on a variable), revokes the key on `revoke_on`, and
/// returns how long after the revoke was sent the watch ended; checks that the session is refused afterwards.
async fn revoke_and_time(revoke_on: &TestServer, session_on: &TestServer, round: usize) -> Duration {
    let admin = revoke_on.sdk_admin().await;
    let key = admin
        .create_api_key("acme", &format!("k{round}"), ALL, None)
        .await
        .unwrap();
    let client = tenant_client(session_on, "acme", &key.key)
        .await
        .expect("the new key works on the session's server");
    let service = client.get_service("sensors").await.unwrap();
    let mut watch = service.watch_variable("temp").await.unwrap();
    let revoked = Instant::now();
    admin.revoke_api_key("acme", &key.key_id).await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        while watch.next_change().await.is_some() {}
    })
    .await;
    let took = revoked.elapsed();
    assert!(
        ended.is_ok(),
        "the session's watch did not end within 20 s of the revoke"
    );
    assert_eq!(watch.end_reason().as_deref(), Some("the credential was revoked"));
    let refused = service.read("temp").await.unwrap_err();
    assert!(matches!(refused, Error::Unauthorized(_)), "{refused:?}");
    took
}

/// Tenant `acme` on `server` with a key of every permission (id, key) and a client of it, which made service `sensors`
/// with a `u64` variable `temp`.
async fn acme_with_sensors(server: &TestServer) -> (String, String, Client) {
    let (key_id, key) = tenant_with_key(server, "acme").await;
    let owner = tenant_client(server, "acme", &key).await.unwrap();
    let service = owner.create_service("sensors").await.unwrap();
    service.allocate("temp", Allocation::u64(0)).await.unwrap();
    (key_id, key, owner)
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_on_one_server_ends_the_session_on_another() {
    let nats = Nats::start().await;
    let (a, b) = (nats.server().await, nats.server().await);
    acme_with_sensors(&a).await;

    // The baseline: one server without a cluster, the same world.
    let single = TestServer::start().await;
    acme_with_sensors(&single).await;

    let rounds = 9;
    let (mut alone, mut same_server, mut other_server) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        alone.push(revoke_and_time(&single, &single, 3 * round).await);
        same_server.push(revoke_and_time(&b, &b, 3 * round + 1).await);
        other_server.push(revoke_and_time(&a, &b, 3 * round + 2).await);
    }
    println!(
        "revoke sent -> the session's watch ended (median of {rounds}): single server without a cluster {:?}; \
         cluster, revoked on the session's server {:?}; cluster, revoked on another server {:?}",
        median(alone),
        median(same_server),
        median(other_server)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_on_one_server_moves_the_file_a_process_on_another_maps() {
    use std::os::unix::fs::MetadataExt;
    let nats = Nats::start().await;
    let (a, b) = (nats.server().await, nats.server().await);
    let (key_id, key, owner) = acme_with_sensors(&a).await;
    let service = owner.get_service("sensors").await.unwrap();

    // A process on B's machine maps B's file of the service with the key.
    let local = Client::builder(&b.url())
        .transport(Transport::Local)
        .connect()
        .await
        .unwrap();
    local
        .authenticate(Some("acme"), Credentials::api_key(&key))
        .await
        .unwrap();
    let mapped = local.get_service("sensors").await.unwrap();
    assert_eq!(mapped.transport(), Transport::Local, "the service is mapped on B");
    let file = b.service_file(service.id());
    let inode = std::fs::metadata(&file).unwrap().ino();

    a.sdk_admin().await.revoke_api_key("acme", &key_id).await.unwrap();
    crate::eventually("B moves the service to a fresh file", || async {
        std::fs::metadata(&file).is_ok_and(|now| now.ino() != inode)
    })
    .await;
    // The old mapping is a detached copy nobody else reads; the server refuses the session.
    let refused = local.list_services().await.unwrap_err();
    assert!(matches!(refused, Error::Unauthorized(_)), "{refused:?}");
    drop(mapped);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoke_made_while_nats_is_down_reaches_the_other_server_when_nats_returns() {
    let mut nats = Nats::start().await;
    let (a, b) = (nats.server().await, nats.server().await);
    let (key_id, key, owner) = acme_with_sensors(&a).await;
    let on_b = tenant_client(&b, "acme", &key).await.unwrap();
    let mut watch = on_b
        .get_service("sensors")
        .await
        .unwrap()
        .watch_variable("temp")
        .await
        .unwrap();

    nats.nats.kill();
    // A revokes at once on its own sessions, and queues the deletion for the cluster.
    a.sdk_admin()
        .await
        .revoke_api_key("acme", &key_id)
        .await
        .expect("the revoke answers while NATS is down");
    assert!(matches!(owner.list_services().await, Err(Error::Unauthorized(_))));
    let (_, health) = a.http_get("/healthz").await;
    assert!(
        health.contains("1 metadata change(s) made here wait for NATS"),
        "{health}"
    );
    nats.nats.restart().await;
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        while watch.next_change().await.is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "B's session did not end within 30 s of NATS returning");
    assert_eq!(watch.end_reason().as_deref(), Some("the credential was revoked"));
}
