//! A watch whose JetStream consumer stops delivering without any error (it keeps sending idle heartbeats, so neither
//! async-nats nor a heartbeat check notices) is opened again, and delivers what the bucket holds.
//!
//! The stall is made by pausing the watch's consumer (NATS 2.11+): a paused push consumer delivers nothing and still
//! sends heartbeats. Seen for real with a 3-node JetStream cluster whose metadata leader died (docs/cluster.md).

use crate::{link, next};
use bytes::Bytes;
use commy_cluster::{ClusterLink, MetaKey, VariableKey, METADATA_BUCKET, VARIABLES_BUCKET};
use commy_testkit::{guard, NatsServer};
use futures_util::TryStreamExt;
use std::time::Duration;

/// Pauses every consumer of `bucket`'s stream for an hour; returns how many there were.
async fn pause_every_consumer(nats: &NatsServer, bucket: &str) -> usize {
    let client = async_nats::connect(nats.url()).await.expect("a second NATS connection");
    let jetstream = async_nats::jetstream::new(client);
    let stream = jetstream
        .get_stream(format!("KV_{bucket}"))
        .await
        .expect("the bucket's stream");
    let names: Vec<String> = stream.consumer_names().try_collect().await.expect("its consumers");
    let until = async_nats::datetime::add_std_duration(async_nats::datetime::now(), Duration::from_secs(3600))
        .expect("an hour from now");
    for name in &names {
        stream.pause_consumer(name, until).await.expect("pause the consumer");
    }
    names.len()
}

#[tokio::test]
async fn a_variable_watch_whose_consumer_stalls_is_opened_again() {
    let nats = NatsServer::start().await;
    let link: ClusterLink = link(&nats).await;
    let key = VariableKey::new("acme", "stall", "level");
    let first = link.put_variable(&key, Bytes::from_static(b"1"), None).await.unwrap();
    let mut watch = link.watch_variables(1).await.unwrap();
    assert_eq!(next(&mut watch).await.2, first);

    assert_eq!(
        pause_every_consumer(&nats, VARIABLES_BUCKET).await,
        1,
        "the watch's consumer"
    );
    let second = link.put_variable(&key, Bytes::from_static(b"2"), None).await.unwrap();
    assert_eq!(next(&mut watch).await, (key, Some(Bytes::from_static(b"2")), second));
    assert_eq!(watch.restarts(), 1, "the stalled watch was opened again once");
}

#[tokio::test]
async fn a_metadata_watch_whose_consumer_stalls_is_opened_again() {
    let nats = NatsServer::start().await;
    let link = link(&nats).await;
    let mut watch = link.watch_metadata(1).await.unwrap();
    assert_eq!(
        pause_every_consumer(&nats, METADATA_BUCKET).await,
        1,
        "the watch's consumer"
    );

    let key = MetaKey::Tenant {
        tenant: "acme".to_owned(),
    };
    let revision = link.put_metadata(&key, Bytes::from_static(b"{}")).await.unwrap();
    let change = guard("the metadata change", watch.next()).await.expect("a change");
    assert_eq!((change.key, change.revision), (key, revision));
}
