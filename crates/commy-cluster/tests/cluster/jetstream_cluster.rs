//! The link over a 3-node JetStream cluster with `replicas: 3`: one NATS node killed, the others keep the buckets
//! readable, writable and watched; the node restarted catches up.

use crate::next;
use bytes::Bytes;
use commy_cluster::{ClusterLink, Credentials, LinkOptions, VariableKey};
use commy_testkit::{guard, NatsCluster, GUARD};
use std::time::Duration;

fn replicated() -> LinkOptions {
    LinkOptions {
        replicas: 3,
        ..LinkOptions::default()
    }
}

/// Retries `attempt` while JetStream elects its leaders (just after the nodes start, or after one is killed), for at
/// most the test kit's guard; then fails the test with the last error and the nodes' logs.
async fn retrying<T, E: std::fmt::Display, F: std::future::Future<Output = Result<T, E>>>(
    nats: &NatsCluster,
    what: &str,
    mut attempt: impl FnMut() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + GUARD;
    loop {
        match attempt().await {
            Ok(done) => return done,
            Err(err) if tokio::time::Instant::now() > deadline => {
                panic!("{what} failed for {GUARD:?}, last: {err}\n{}", nats.logs())
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

async fn link_to(nats: &NatsCluster, urls: &[String]) -> ClusterLink {
    retrying(nats, "a link to the JetStream cluster", || {
        ClusterLink::connect_with(urls, Credentials::None, replicated())
    })
    .await
}

async fn put(nats: &NatsCluster, link: &ClusterLink, key: &VariableKey, value: &'static str) -> u64 {
    retrying(nats, "a write to the JetStream cluster", || {
        link.put_variable(key, Bytes::from_static(value.as_bytes()), None)
    })
    .await
}

#[tokio::test]
async fn a_three_node_jetstream_cluster_keeps_serving_with_one_node_killed() {
    let mut nats = NatsCluster::start(3).await;
    let urls = nats.urls();
    let key = VariableKey::new("acme", "sensors", "temp");

    // The writer knows every node; the watcher only node 2, which stays up.
    let writer = link_to(&nats, &urls).await;
    let watcher = link_to(&nats, &urls[2..]).await;
    let mut watch = watcher.watch_variables(0).await.expect("a watch");

    let before = put(&nats, &writer, &key, "1").await;
    let (_, value, revision) = next(&mut watch).await;
    assert_eq!((value, revision), (Some(Bytes::from_static(b"1")), before));

    nats.node(0).kill();
    let after = put(&nats, &writer, &key, "2").await;
    assert!(
        after > before,
        "revisions grow across the node's death: {before} then {after}"
    );
    let (_, value, revision) = next(&mut watch).await;
    assert_eq!((value, revision), (Some(Bytes::from_static(b"2")), after));
    let stored = writer.get_variable(&key).await.expect("a read").expect("the variable");
    assert_eq!(stored.value, Bytes::from_static(b"2"));

    // The killed node comes back and catches up: a link that knows only it reads the write it missed.
    nats.node(0).restart().await;
    let returned = link_to(&nats, &urls[..1]).await;
    let caught_up = guard("the restarted node to catch up", async {
        loop {
            if let Ok(Some(stored)) = returned.get_variable(&key).await {
                if stored.revision == after {
                    return stored;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert_eq!(caught_up.value, Bytes::from_static(b"2"));
}
