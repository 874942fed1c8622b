//! Metadata records: create-if-absent settles races, deletes leave a marker watchers see, the bucket's last revision,
//! and the metadata watch in revision order, resuming after NATS is killed and restarted.

use crate::link;
use bytes::Bytes;
use commy_cluster::{MetaChange, MetaKey, MetaWatch};
use commy_testkit::{guard, NatsServer};

fn tenant(name: &str) -> MetaKey {
    MetaKey::Tenant { tenant: name.into() }
}

async fn next(watch: &mut MetaWatch) -> MetaChange {
    guard("a metadata change from the watch", watch.next())
        .await
        .expect("a change")
}

#[tokio::test]
async fn create_if_absent_lets_one_of_two_links_create_a_record() {
    let nats = NatsServer::start().await;
    let (a, b) = (link(&nats).await, link(&nats).await);
    let acme = tenant("acme");
    let (on_a, on_b) = tokio::join!(
        a.create_metadata(&acme, Bytes::from_static(b"a")),
        b.create_metadata(&acme, Bytes::from_static(b"b"))
    );
    let (on_a, on_b) = (on_a.unwrap(), on_b.unwrap());
    assert_eq!(on_a.is_some() as u8 + on_b.is_some() as u8, 1, "{on_a:?} / {on_b:?}");
    let (value, revision) = a.get_metadata(&tenant("acme")).await.unwrap().unwrap();
    assert_eq!(Some(revision), on_a.or(on_b));
    assert_eq!(value, if on_a.is_some() { "a" } else { "b" });
    assert_eq!(a.metadata_revision().await.unwrap(), revision);

    a.delete_metadata(&tenant("acme")).await.unwrap();
    assert_eq!(b.get_metadata(&tenant("acme")).await.unwrap(), None);
    a.delete_metadata(&tenant("never"))
        .await
        .expect("deleting a missing record is no error");
    // Once deleted, it can be created again.
    assert!(b
        .create_metadata(&tenant("acme"), Bytes::from_static(b"again"))
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn the_metadata_watch_gives_puts_and_deletes_in_order_and_resumes_after_a_nats_restart() {
    let mut nats = NatsServer::start().await;
    let a = link(&nats).await;
    let key = MetaKey::Service {
        tenant: "acme".into(),
        service: "plant/line 1".into(),
    };
    let first = a
        .create_metadata(&tenant("acme"), Bytes::from_static(b"t"))
        .await
        .unwrap()
        .unwrap();
    a.put_metadata(&key, Bytes::from_static(b"s")).await.unwrap();
    a.delete_metadata(&tenant("acme")).await.unwrap();

    let mut watch = a.watch_metadata(first).await.unwrap();
    let service = next(&mut watch).await;
    assert_eq!(
        (service.key, service.value),
        (key.clone(), Some(Bytes::from_static(b"s")))
    );
    let deleted = next(&mut watch).await;
    assert_eq!((deleted.key, deleted.value), (tenant("acme"), None));
    assert!(deleted.revision > service.revision);

    nats.kill();
    nats.restart().await;
    let written = guard("a put after NATS restarts", async {
        loop {
            if let Ok(revision) = a.put_metadata(&tenant("beta"), Bytes::from_static(b"b")).await {
                return revision;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    })
    .await;
    let after = next(&mut watch).await;
    assert_eq!((after.key, after.revision), (tenant("beta"), written));
}
