//! A server restart: clients reconnect by themselves, authenticate again, and their watches go on.

use commy_client::{Allocation, Transport};
use commy_testkit::{TestServer, ALL};
use std::time::Duration;

async fn watch_survives_a_restart(transport: Transport) {
    let mut server = TestServer::start().await;
    let key = server.tenant_key("acme", ALL).await;
    let client = server.sdk_client(transport, "acme", &key).await;
    let svc = client.create_service("durable").await.unwrap();
    svc.allocate("n", Allocation::u64(0).persistent(true)).await.unwrap();
    let mut watch = svc.watch_variable("n").await.unwrap();
    let version = svc.write_u64("n", 1).await.unwrap();
    let first = watch.next_change().await.unwrap();
    assert_eq!((first.version, first.as_u64().unwrap()), (version, 1));

    server.restart().await;

    // The client is reconnecting; another client writes as soon as the server is back.
    let other = server.sdk_client(Transport::Remote, "acme", &key).await;
    let other_svc = other.get_service("durable").await.unwrap();
    assert_eq!(other_svc.read_u64("n").await.unwrap(), 1, "persistent");
    let version = other_svc.write_u64("n", 2).await.unwrap();
    let change = loop {
        let change = watch.next_change().await.expect("the watch goes on");
        if change.version >= version {
            break change;
        }
    };
    assert_eq!(change.as_u64().unwrap(), 2);

    // The client's own requests work again once it has reconnected.
    let mut attempts = 0;
    let value = loop {
        match svc.read_u64("n").await {
            Ok(value) => break value,
            Err(err) if attempts < 100 => {
                attempts += 1;
                tracing::debug!(%err, "not reconnected yet");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(err) => panic!("never reconnected: {err}"),
        }
    };
    assert_eq!(value, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_watch_survives_a_restart() {
    watch_survives_a_restart(Transport::Remote).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_watch_survives_a_restart() {
    watch_survives_a_restart(Transport::Local).await
}
