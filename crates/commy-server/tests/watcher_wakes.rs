//! The server's watcher threads (the pool that pushes the writes local processes make to a mapping) are not woken
//! for a write that its own request pushed already (`LiveService::try_write_by`: the change signal is rung after the
//! push, and only for sleepers other than the pool's). Counted through `commy_watch_scans_total`, which the pool
//! moves each time it finds a file changed.

use commy_proto::{Encoding, Permission, ValueType};
use commy_testkit::{guard, variable, write_data, Fixture, TestServer};

const ALL: [Permission; 2] = [Permission::Read, Permission::Write];

async fn watch_scans(server: &TestServer) -> f64 {
    server.metric("commy_watch_scans_total").await
}

#[tokio::test]
async fn writes_pushed_by_their_own_request_leave_the_watcher_threads_asleep() {
    const WRITES: u64 = 100;
    let encoding = Encoding::Json;
    let server = TestServer::start().await;
    let mut fixture = Fixture::new(&server, encoding, "t", "s", &ALL).await;
    let service_id = fixture.service_id().to_owned();
    fixture.admin.ok(variable(&service_id, "x", ValueType::Bytes)).await;
    let mut subscriber = fixture.client(&server, encoding).await;
    subscriber.subscribe(&service_id, "x").await;
    let mut writer = fixture.client(&server, encoding).await;
    let before = watch_scans(&server).await;
    for n in 1..=WRITES {
        writer.ok(write_data(&service_id, "x", n.to_le_bytes().to_vec())).await;
        let change = guard("the write's push", subscriber.push()).await;
        assert_eq!(change.data, n.to_le_bytes());
    }
    let scans = watch_scans(&server).await - before;
    // Woken by every write, the pool scans about once per write; spared, only when something else wakes it.
    assert!(
        scans < (WRITES / 2) as f64,
        "the watcher threads scanned the file {scans} times for {WRITES} writes pushed by their requests"
    );
}

#[tokio::test]
async fn a_write_wanted_by_many_subscribers_still_wakes_the_watcher_threads_that_push_it() {
    // More subscribers than a request pushes to itself (16): the pool pushes, so the write must wake it.
    const SUBSCRIBERS: usize = 20;
    const WRITES: u64 = 20;
    let encoding = Encoding::MsgPack;
    let server = TestServer::start().await;
    let mut fixture = Fixture::new(&server, encoding, "t", "s", &ALL).await;
    let service_id = fixture.service_id().to_owned();
    fixture.admin.ok(variable(&service_id, "x", ValueType::Bytes)).await;
    let mut subscribers = Vec::new();
    for _ in 0..SUBSCRIBERS {
        let mut subscriber = fixture.client(&server, encoding).await;
        subscriber.subscribe(&service_id, "x").await;
        subscribers.push(subscriber);
    }
    let mut writer = fixture.client(&server, encoding).await;
    let before = watch_scans(&server).await;
    for n in 1..=WRITES {
        writer.ok(write_data(&service_id, "x", n.to_le_bytes().to_vec())).await;
    }
    for (i, subscriber) in subscribers.iter_mut().enumerate() {
        loop {
            let change = guard("a push to one of many subscribers", subscriber.push()).await;
            if change.data == WRITES.to_le_bytes() {
                break;
            }
            assert!(
                change.version < WRITES + 1,
                "subscriber {i}: version {}",
                change.version
            );
        }
    }
    assert!(watch_scans(&server).await > before, "the pool never looked, yet pushed");
}
