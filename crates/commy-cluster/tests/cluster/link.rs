//! The link itself: variables, compare-and-set on revisions, two links converging through a watch, a watch resuming
//! after NATS is killed and restarted, metadata with a sealed secret, and connection errors.

use crate::{link, next};
use bytes::Bytes;
use commy_cluster::{ClusterError, ClusterKey, ClusterLink, Credentials, LinkOptions, MetaKey, VariableKey};
use commy_testkit::{guard, NatsServer};
use std::net::{Ipv4Addr, TcpListener};
use std::time::Duration;

fn temp(service: &str) -> VariableKey {
    VariableKey::new("acme", service, "temp")
}

#[tokio::test]
async fn a_written_variable_reads_back_with_its_revision_and_a_missing_one_is_none() {
    let nats = NatsServer::start().await;
    let link = link(&nats).await;
    let key = temp("sensors");

    assert_eq!(link.get_variable(&key).await.unwrap(), None);
    let first = link
        .put_variable(&key, Bytes::from_static(b"21.5"), None)
        .await
        .unwrap();
    let second = link
        .put_variable(&key, Bytes::from_static(b"22.0"), None)
        .await
        .unwrap();
    assert!(second > first, "revisions grow: {first} then {second}");

    let stored = link.get_variable(&key).await.unwrap().expect("the variable");
    assert_eq!(stored.value, Bytes::from_static(b"22.0"));
    assert_eq!(stored.revision, second);
    assert_eq!(link.get_variable(&temp("other")).await.unwrap(), None);
}

#[tokio::test]
async fn compare_and_set_writes_only_at_the_expected_revision() {
    let nats = NatsServer::start().await;
    let link = link(&nats).await;
    let key = temp("counters");

    let created = link
        .put_variable(&key, Bytes::from_static(b"1"), Some(0))
        .await
        .unwrap();
    match link.put_variable(&key, Bytes::from_static(b"x"), Some(0)).await {
        Err(ClusterError::Conflict {
            expected: 0, current, ..
        }) => assert_eq!(current, Some(created)),
        other => panic!("creating an existing variable must conflict, got {other:?}"),
    }

    let updated = link
        .put_variable(&key, Bytes::from_static(b"2"), Some(created))
        .await
        .unwrap();
    let stale = link
        .put_variable(&key, Bytes::from_static(b"x"), Some(created))
        .await
        .unwrap_err();
    assert!(
        matches!(stale, ClusterError::Conflict { expected, current: Some(current), .. }
            if expected == created && current == updated),
        "{stale:?}"
    );
    assert_eq!(
        stale.to_string(),
        format!(
            "variable 'temp' of service 'counters' in tenant 'acme' is at revision {updated}, not the expected \
             {created}; nothing was written"
        )
    );
    let stored = link.get_variable(&key).await.unwrap().expect("the variable");
    assert_eq!((stored.value, stored.revision), (Bytes::from_static(b"2"), updated));

    let missing = link
        .put_variable(&temp("none"), Bytes::from_static(b"x"), Some(5))
        .await
        .unwrap_err();
    assert!(
        matches!(missing, ClusterError::Conflict { current: None, .. }),
        "{missing:?}"
    );
}

#[tokio::test]
async fn two_links_converge_through_their_watches() {
    let nats = NatsServer::start().await;
    let (a, b) = (link(&nats).await, link(&nats).await);
    let key = VariableKey::new("acme", "plant/line 1", "temp.c");
    let before = a.put_variable(&key, Bytes::from_static(b"before"), None).await.unwrap();

    let mut a_watch = a.watch_variables(1).await.unwrap();
    let mut b_watch = b.watch_variables(1).await.unwrap();
    assert_eq!(
        next(&mut b_watch).await,
        (key.clone(), Some(Bytes::from_static(b"before")), before)
    );
    assert_eq!(next(&mut a_watch).await.2, before);

    let from_a = a.put_variable(&key, Bytes::from_static(b"from a"), None).await.unwrap();
    let from_b = b
        .put_variable(&key, Bytes::from_static(b"from b"), Some(from_a))
        .await
        .unwrap();
    for watch in [&mut a_watch, &mut b_watch] {
        assert_eq!(
            next(watch).await,
            (key.clone(), Some(Bytes::from_static(b"from a")), from_a)
        );
        assert_eq!(
            next(watch).await,
            (key.clone(), Some(Bytes::from_static(b"from b")), from_b)
        );
    }
    let read_a = a.get_variable(&key).await.unwrap();
    assert_eq!(read_a, b.get_variable(&key).await.unwrap());
    assert_eq!(read_a.expect("the variable").revision, from_b);
}

#[tokio::test]
async fn a_watch_resumes_after_nats_is_killed_and_restarted() {
    let mut nats = NatsServer::start().await;
    let watcher = link(&nats).await;
    let key = temp("resume");
    let first = watcher
        .put_variable(&key, Bytes::from_static(b"1"), None)
        .await
        .unwrap();
    let mut watch = watcher.watch_variables(1).await.unwrap();
    assert_eq!(next(&mut watch).await.2, first);

    nats.kill();
    // The change the watch waits for while NATS is down.
    let waiting = tokio::spawn(async move {
        let change = next(&mut watch).await;
        (change, watch)
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    nats.restart().await;

    let writer = link(&nats).await;
    let second = writer.put_variable(&key, Bytes::from_static(b"2"), None).await.unwrap();
    let third = writer.put_variable(&key, Bytes::from_static(b"3"), None).await.unwrap();
    // The bucket keeps each variable's last value only, so a watch that comes back after two writes may skip the
    // first (as a slow subscriber's pushes are coalesced); it never skips the last, and never goes back.
    let (mut change, mut watch) = guard("the watch to resume", waiting).await.expect("the watching task");
    while change.2 < third {
        assert_eq!(change, (key.clone(), Some(Bytes::from_static(b"2")), second));
        change = next(&mut watch).await;
    }
    assert_eq!(change, (key.clone(), Some(Bytes::from_static(b"3")), third));

    // The first link reconnected too, and writes again.
    let fourth = guard("the first link to write again", async {
        loop {
            match watcher.put_variable(&key, Bytes::from_static(b"4"), Some(third)).await {
                Ok(revision) => return revision,
                Err(ClusterError::Conflict { .. }) => panic!("the write was made twice"),
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
    .await;
    assert_eq!(next(&mut watch).await, (key, Some(Bytes::from_static(b"4")), fourth));
    assert!(watcher.is_connected());
}

#[tokio::test]
async fn a_sealed_secret_is_stored_in_metadata_and_only_the_cluster_key_opens_it() {
    let nats = NatsServer::start().await;
    let link = link(&nats).await;
    let (cluster_key, _) = ClusterKey::generate().unwrap();
    let key = MetaKey::JwtKey { tenant: "acme".into() };
    let context = key.to_kv_key().unwrap();
    let secret = b"the tenant's HS256 secret, 32 bytes or more";

    let sealed = cluster_key.seal(&context, secret).unwrap();
    let revision = link.put_metadata(&key, Bytes::from(sealed)).await.unwrap();
    let (stored, stored_revision) = link.get_metadata(&key).await.unwrap().expect("the record");
    assert_eq!(stored_revision, revision);
    assert!(
        !stored.windows(secret.len()).any(|w| w == secret),
        "the secret is in NATS in clear"
    );
    assert_eq!(cluster_key.open(&context, &stored).unwrap().as_slice(), secret);
    let (other_key, _) = ClusterKey::generate().unwrap();
    assert!(other_key.open(&context, &stored).is_err());

    let store_files = nats.store_files();
    assert!(!store_files.is_empty(), "JetStream wrote no files");
    for file in store_files {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret),
            "{} holds the secret in clear",
            file.display()
        );
    }
}

#[tokio::test]
async fn connection_errors_name_what_is_wrong_and_end_within_the_bound() {
    let empty: [&str; 0] = [];
    let error = ClusterLink::connect(&empty, Credentials::None).await.unwrap_err();
    assert!(matches!(error, ClusterError::NoUrls), "{error:?}");

    let error = ClusterLink::connect(&["not a url at all"], Credentials::None)
        .await
        .unwrap_err();
    assert!(
        matches!(error, ClusterError::InvalidUrl { ref url, .. } if url == "not a url at all"),
        "{error:?}"
    );
    assert!(
        error
            .to_string()
            .starts_with("invalid NATS server URL 'not a url at all' ("),
        "{error}"
    );

    let closed = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("nats://127.0.0.1:{closed}");
    let options = LinkOptions {
        call_timeout: Duration::from_secs(2),
        ..LinkOptions::default()
    };
    let error = guard(
        "a refused connection",
        ClusterLink::connect_with(&[&url], Credentials::None, options),
    )
    .await
    .unwrap_err();
    assert!(error.to_string().contains(&url), "{error}");
}
