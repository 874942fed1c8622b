//! Pushes: after the reply that caused them, coalesced per variable for a slow client, and never the final value
//! lost.

use crate::fake::{change, changed, FakeServer};
use commy_proto::{Request, ServerMessage, Subscribe, WriteVariable};
use commy_server::testing::PushSink as _;
use commy_testkit::guard;
use std::sync::atomic::Ordering;
use std::time::Duration;

#[tokio::test]
async fn the_reply_comes_before_the_push_it_caused() {
    let server = FakeServer::start().await;
    let mut client = server.connect(None).await;
    let write = WriteVariable {
        service_id: "svc".into(),
        variable_name: "v".into(),
        data: Some(vec![1, 2, 3]),
        value: None,
        expected_version: None,
    };
    client.send(&Request::new(1, write)).await;
    let reply = client.recv().await;
    assert_eq!(reply.id, Some(1));
    assert!(matches!(reply.message, ServerMessage::VariableData(ref d) if d.version == 3));
    let push = client.recv().await;
    assert!(push.is_push());
    assert_eq!(
        push.message,
        ServerMessage::VariableChanged(changed("v", 3, vec![1, 2, 3]))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_gets_the_final_value_and_the_queue_stays_bounded() {
    const PUSHES: u64 = 10_000;
    let server = FakeServer::start().await;
    let mut client = server.connect_small_buffer(None).await;
    let subscribe = Subscribe {
        service_id: "svc".into(),
        variable_name: "v".into(),
        skip_own_writes: false,
    };
    client.call(&Request::new(1, subscribe)).await;
    let outbox = server.fake.outbox(0);

    // The client reads nothing while the changes pile up; each is big enough to fill the socket buffers soon.
    let data = vec![0xab; 16 << 10];
    for version in 1..=PUSHES {
        outbox.push(&change("v", version, data.clone()));
        assert!(outbox.pending() <= 1, "{} changes queued", outbox.pending());
    }

    // Now it reads: versions only go up, and the last one is the last pushed.
    let mut received = 0;
    let mut last = 0;
    while last < PUSHES {
        let push = client.recv().await;
        let ServerMessage::VariableChanged(change) = push.message else {
            panic!("expected a push, got {push:?}");
        };
        assert!(change.version > last, "version {} after {last}", change.version);
        assert_eq!(change.data, data);
        last = change.version;
        received += 1;
    }
    assert!(
        received < PUSHES,
        "all {PUSHES} changes were written: nothing was coalesced"
    );
    assert_eq!(outbox.pending(), 0);
    // Every change was either written or replaced by a newer one.
    let metrics = server.metrics.encode();
    assert!(
        metrics.contains(&format!("commy_pushes_coalesced_total {}", PUSHES - received)),
        "{metrics}"
    );
}

#[tokio::test]
async fn the_outbox_closes_with_the_connection() {
    let server = FakeServer::start().await;
    let client = server.connect(None).await;
    let outbox = server.fake.outbox(0);
    assert!(!outbox.is_closed());
    client.close().await;
    guard("the connection to close", async {
        while server.fake.closed.load(Ordering::SeqCst) == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(outbox.is_closed());
    outbox.push(&change("v", 1, vec![]));
    assert_eq!(outbox.pending(), 0);
}
