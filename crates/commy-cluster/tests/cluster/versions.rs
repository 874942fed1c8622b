//! Commy versions over JetStream revisions: every link reports the same version for the same write, a stale expected
//! version conflicts, and compare-and-set increments from several links add up.

use crate::link;
use bytes::Bytes;
use commy_cluster::{ClusterError, ClusterLink, VariableKey};
use commy_testkit::{guard, NatsServer};

fn counter() -> VariableKey {
    VariableKey::new("acme", "counters", "hits")
}

#[tokio::test]
async fn every_link_sees_the_same_versions_and_a_stale_one_conflicts() {
    let nats = NatsServer::start().await;
    let (a, b) = (link(&nats).await, link(&nats).await);
    let key = counter();
    // Another variable's writes move the bucket's revisions, never this variable's versions.
    let other = VariableKey::new("acme", "counters", "other");

    let first = a
        .write_versioned(&key, Bytes::from_static(b"a1"), Some(0))
        .await
        .unwrap();
    a.write_versioned(&other, Bytes::from_static(b"x"), None).await.unwrap();
    assert_eq!(first.version, 1);
    let (seen_by_b, revision) = b.read_versioned(&key).await.unwrap().expect("the variable");
    assert_eq!((seen_by_b.version, revision), (1, first.revision));

    let second = b
        .write_versioned(&key, Bytes::from_static(b"b2"), Some(1))
        .await
        .unwrap();
    assert_eq!(second.version, 2);
    assert!(
        second.revision > first.revision + 1,
        "the other variable's write took a revision"
    );

    let stale = a
        .write_versioned(&key, Bytes::from_static(b"a?"), Some(1))
        .await
        .unwrap_err();
    assert!(
        matches!(
            stale,
            ClusterError::VersionConflict {
                expected: 1,
                current: 2,
                ..
            }
        ),
        "{stale:?}"
    );
    assert_eq!(
        stale.to_string(),
        "variable 'hits' of service 'counters' in tenant 'acme' is at version 2, not the expected 1; nothing was written"
    );
    let created_twice = b
        .write_versioned(&key, Bytes::from_static(b"b?"), Some(0))
        .await
        .unwrap_err();
    assert!(
        matches!(created_twice, ClusterError::VersionConflict { current: 2, .. }),
        "{created_twice:?}"
    );

    let (value, _) = a.read_versioned(&key).await.unwrap().expect("the variable");
    assert_eq!((value.version, value.data), (2, Bytes::from_static(b"b2")));
    let unconditional = a.write_versioned(&key, Bytes::from_static(b"a3"), None).await.unwrap();
    assert_eq!(unconditional.version, 3);
}

/// The protocol's recipe on three links at once: read, add one, write with the version read, on a conflict start
/// again. Every increment lands exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_and_set_increments_from_three_links_add_up() {
    const LINKS: u64 = 3;
    const INCREMENTS: u64 = 15;
    let nats = NatsServer::start().await;
    let first = link(&nats).await;
    first
        .write_versioned(&counter(), Bytes::copy_from_slice(&0u64.to_le_bytes()), Some(0))
        .await
        .unwrap();

    let mut links = Vec::new();
    for _ in 0..LINKS {
        links.push(link(&nats).await);
    }
    let tasks = links
        .into_iter()
        .map(|link| tokio::spawn(async move { increment(&link, INCREMENTS).await }))
        .collect::<Vec<_>>();
    let mut conflicts = 0;
    for task in tasks {
        conflicts += guard("the incrementing links", task)
            .await
            .expect("an incrementing task");
    }

    let (value, _) = first.read_versioned(&counter()).await.unwrap().expect("the counter");
    assert_eq!(
        u64::from_le_bytes(value.data[..].try_into().unwrap()),
        LINKS * INCREMENTS
    );
    assert_eq!(value.version, 1 + LINKS * INCREMENTS);
    println!("{conflicts} conflicts in {} increments", LINKS * INCREMENTS);
}

/// Adds one to the counter `times` times; returns how many conflicts it met.
async fn increment(link: &ClusterLink, times: u64) -> u64 {
    let mut conflicts = 0;
    for _ in 0..times {
        loop {
            let (value, _) = link.read_versioned(&counter()).await.unwrap().expect("the counter");
            let count = u64::from_le_bytes(value.data[..].try_into().expect("8 bytes"));
            let next = Bytes::copy_from_slice(&(count + 1).to_le_bytes());
            match link.write_versioned(&counter(), next, Some(value.version)).await {
                Ok(_) => break,
                Err(ClusterError::VersionConflict { .. }) => conflicts += 1,
                Err(error) => panic!("increment: {error}"),
            }
        }
    }
    conflicts
}

#[tokio::test]
async fn a_writer_ahead_of_the_cluster_writes_past_its_own_version_and_the_last_revision_is_known() {
    let nats = NatsServer::start().await;
    let link = link(&nats).await;
    let key = VariableKey::new("acme", "counters", "ahead");
    assert_eq!(link.last_variable_revision().await.unwrap(), 0);

    // The cluster has version 1; the writer's own copy is at 7: the next version is 8, and 7 is the one to expect.
    link.write_versioned(&key, Bytes::from_static(b"one"), Some(0))
        .await
        .unwrap();
    let stale = link
        .write_versioned_above(&key, Bytes::from_static(b"x"), Some(1), 7)
        .await
        .unwrap_err();
    assert!(
        matches!(
            stale,
            ClusterError::VersionConflict {
                expected: 1,
                current: 7,
                ..
            }
        ),
        "{stale}"
    );
    let written = link
        .write_versioned_above(&key, Bytes::from_static(b"eight"), Some(7), 7)
        .await
        .unwrap();
    assert_eq!(written.version, 8);
    assert_eq!(link.last_variable_revision().await.unwrap(), written.revision);

    // A value whose version the caller decided, over the revision it expects only.
    let value = commy_cluster::VersionedValue {
        version: 20,
        data: Bytes::from_static(b"twenty"),
    };
    let conflict = link
        .put_versioned(&key, &value, written.revision - 1)
        .await
        .unwrap_err();
    assert!(matches!(conflict, ClusterError::Conflict { .. }), "{conflict}");
    let revision = link.put_versioned(&key, &value, written.revision).await.unwrap();
    let (read, at) = link.read_versioned(&key).await.unwrap().expect("the variable");
    assert_eq!((read, at), (value, revision));
}

#[tokio::test]
async fn a_write_from_what_its_writer_last_saw_never_writes_over_a_newer_change() {
    let nats = NatsServer::start().await;
    let (a, b) = (link(&nats).await, link(&nats).await);
    let key = VariableKey::new("acme", "counters", "seen");
    let first = a.write_versioned(&key, Bytes::from_static(b"a1"), None).await.unwrap();

    // Still the cluster's state: the write starts from it and gets the next version.
    let second = a
        .write_versioned_from(&key, Bytes::from_static(b"a2"), None, 0, Some(first))
        .await
        .unwrap();
    assert_eq!(second.version, 2);

    // Another link writes version 3; `a` still believes version 2. Its write conflicts on the revision, reads, and
    // goes again as version 4, leaving version 3 in the history of versions rather than writing over it.
    let third = b.write_versioned(&key, Bytes::from_static(b"b3"), None).await.unwrap();
    assert_eq!(third.version, 3);
    let fourth = a
        .write_versioned_from(&key, Bytes::from_static(b"a4"), None, 0, Some(second))
        .await
        .unwrap();
    assert_eq!(fourth.version, 4);

    // A compare-and-set is answered from the cluster, not from a stale belief: expecting the believed version 2
    // conflicts with the current 4, and expecting 4 succeeds although the belief says 2.
    let stale = a
        .write_versioned_from(&key, Bytes::from_static(b"a?"), Some(2), 0, Some(second))
        .await
        .unwrap_err();
    assert!(
        matches!(
            stale,
            ClusterError::VersionConflict {
                expected: 2,
                current: 4,
                ..
            }
        ),
        "{stale}"
    );
    let fifth = a
        .write_versioned_from(&key, Bytes::from_static(b"a5"), Some(4), 0, Some(second))
        .await
        .unwrap();
    assert_eq!(fifth.version, 5);
    let (value, _) = b.read_versioned(&key).await.unwrap().expect("the variable");
    assert_eq!((value.version, value.data), (5, Bytes::from_static(b"a5")));
}
