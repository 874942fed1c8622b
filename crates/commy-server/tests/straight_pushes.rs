//! Pushes written straight from the publishing thread (docs/architecture.md, "The push path") keep every promise of
//! the outbox: they coalesce for a slow reader and end at the latest value, a `Subscribe`'s reply comes before its
//! first push, and replies and pushes on one connection stay whole frames in order. Each test also checks, through
//! `commy_pushes_straight_total`, that the straight path was taken. (The slow consumer's close: `slow_consumer.rs`.)

use commy_proto::{AllocateVariable, Encoding, Permission, Request, ServerMessage, Subscribe, ValueType};
use commy_testkit::{both_encodings, guard, read, variable, write_data, Client, Fixture, TestServer};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

both_encodings!(
    a_slow_reader_gets_coalesced_pushes_ending_at_the_latest_value,
    a_push_larger_than_the_socket_takes_arrives_whole,
    a_subscribe_reply_comes_before_its_first_push,
    replies_and_pushes_on_one_connection_stay_whole_and_in_order,
);

const ALL: [Permission; 2] = [Permission::Read, Permission::Write];

fn sized(service_id: &str, name: &str, capacity: usize) -> AllocateVariable {
    AllocateVariable {
        capacity: Some(capacity as u32),
        ..variable(service_id, name, ValueType::Bytes)
    }
}

async fn straight_pushes(server: &TestServer) -> f64 {
    server.metric("commy_pushes_straight_total").await
}

/// Writes `name` until `stop`, acknowledged one at a time, each value the version's bytes repeated.
fn keep_writing(
    mut writer: Client,
    service_id: String,
    name: &'static str,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut n = 0u64;
        while !stop.load(Ordering::SeqCst) {
            n += 1;
            writer.ok(write_data(&service_id, name, n.to_le_bytes().to_vec())).await;
        }
    })
}

async fn a_slow_reader_gets_coalesced_pushes_ending_at_the_latest_value(encoding: Encoding) {
    const WRITES: u64 = 400;
    const VALUE: usize = 16 << 10;
    let server = TestServer::start().await;
    let mut fixture = Fixture::new(&server, encoding, "t", "s", &ALL).await;
    let service_id = fixture.service_id().to_owned();
    fixture.admin.ok(sized(&service_id, "big", VALUE)).await;
    // A reader with a small socket buffer that reads nothing while the writes come.
    let mut slow = server.connect_small_buffer(encoding).await;
    slow.authenticate(Some(&fixture.tenant_id), &fixture.key.key).await;
    slow.subscribe(&service_id, "big").await;
    let mut writer = fixture.client(&server, encoding).await;
    let mut last = 0;
    for n in 1..=WRITES {
        let ServerMessage::VariableData(written) =
            writer.ok(write_data(&service_id, "big", vec![n as u8; VALUE])).await
        else {
            panic!("a write is answered with VariableData");
        };
        last = written.version;
    }
    assert!(straight_pushes(&server).await >= 1.0, "no push went straight");
    // Now it reads: versions only go up, each value whole, and the last write arrives.
    let mut received = 0;
    let mut seen = 0;
    while seen < last {
        let change = guard("the slow reader's next push", slow.push()).await;
        assert!(change.version > seen, "version {} after {seen}", change.version);
        assert_eq!(change.data.len(), VALUE);
        assert!(change.data.iter().all(|b| *b == change.data[0]), "a torn value");
        seen = change.version;
        received += 1;
    }
    assert_eq!(seen, last);
    assert!(
        received < WRITES,
        "all {WRITES} writes were pushed: nothing was coalesced"
    );
    assert!(server.metric("commy_pushes_coalesced_total").await >= 1.0);
    slow.heartbeat().await;
}

async fn a_push_larger_than_the_socket_takes_arrives_whole(encoding: Encoding) {
    const VALUE: usize = 256 << 10;
    let server = TestServer::start().await;
    let mut fixture = Fixture::new(&server, encoding, "t", "s", &ALL).await;
    let service_id = fixture.service_id().to_owned();
    fixture.admin.ok(sized(&service_id, "huge", VALUE)).await;
    let mut reader = server.connect_small_buffer(encoding).await;
    reader.authenticate(Some(&fixture.tenant_id), &fixture.key.key).await;
    reader.subscribe(&service_id, "huge").await;
    // The straight write gets only part of it into the socket; the writer task must finish it, with nothing else
    // coming to wake it.
    let mut writer = fixture.client(&server, encoding).await;
    writer.ok(write_data(&service_id, "huge", vec![7; VALUE])).await;
    let change = guard("the large push", reader.push()).await;
    assert_eq!(change.data, vec![7; VALUE]);
    assert!(straight_pushes(&server).await >= 1.0, "the push did not go straight");
    reader.heartbeat().await;
}

async fn a_subscribe_reply_comes_before_its_first_push(encoding: Encoding) {
    const SUBSCRIBERS: usize = 40;
    let server = TestServer::start().await;
    let mut fixture = Fixture::new(&server, encoding, "t", "s", &ALL).await;
    let service_id = fixture.service_id().to_owned();
    fixture.admin.ok(variable(&service_id, "hot", ValueType::Bytes)).await;
    // Two writers keep the variable changing all along.
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for _ in 0..2 {
        let writer = fixture.client(&server, encoding).await;
        writers.push(keep_writing(writer, service_id.clone(), "hot", stop.clone()));
    }
    // Subscribers that stay subscribed: their pushes go straight, while each new one subscribes.
    let mut subscribed = Vec::new();
    for round in 0..SUBSCRIBERS {
        let mut client = fixture.client(&server, encoding).await;
        let id = client.next_id();
        let subscribe = Subscribe {
            service_id: service_id.clone(),
            variable_name: "hot".into(),
            skip_own_writes: false,
        };
        client.send(&Request::new(id, subscribe)).await;
        let first = guard("the first message after Subscribe", client.recv()).await;
        assert_eq!(
            first.id,
            Some(id),
            "subscriber {round}: {first:?} came before the Subscribe's reply"
        );
        assert!(
            matches!(first.message, ServerMessage::Result(ref r) if r.success),
            "{first:?}"
        );
        let first_push = guard("a push after subscribing", client.push()).await;
        assert_eq!(first_push.variable_name, "hot");
        subscribed.push(client);
    }
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        guard("a writer to stop", writer).await.expect("a writer");
    }
    assert!(straight_pushes(&server).await >= 1.0, "no push went straight");
}

async fn replies_and_pushes_on_one_connection_stay_whole_and_in_order(encoding: Encoding) {
    const VARIABLES: usize = 4;
    const BURSTS: usize = 10;
    const BURST: usize = 40;
    const VALUE: usize = 512;
    let server = TestServer::start().await;
    let mut fixture = Fixture::new(&server, encoding, "t", "s", &ALL).await;
    let service_id = fixture.service_id().to_owned();
    let names: Vec<String> = (0..VARIABLES).map(|i| format!("v{i}")).collect();
    for name in &names {
        fixture.admin.ok(sized(&service_id, name, VALUE)).await;
    }
    // Writers change every variable all along, with values of a few KiB.
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for name in ["v0", "v1", "v2", "v3"] {
        let mut writer = fixture.client(&server, encoding).await;
        let (service_id, stop) = (service_id.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0u8;
            while !stop.load(Ordering::SeqCst) {
                n = n.wrapping_add(1);
                writer.ok(write_data(&service_id, name, vec![n; VALUE])).await;
            }
        }));
    }
    // One connection, subscribed to everything, pipelines bursts of reads while the pushes pour in; it reads
    // every frame, which must decode, with the replies in request order and each variable's versions going up.
    let mut client = server.connect_small_buffer(encoding).await;
    client.authenticate(Some(&fixture.tenant_id), &fixture.key.key).await;
    client.subscribe(&service_id, "*").await;
    let mut versions: HashMap<String, u64> = HashMap::new();
    let mut pushes = 0;
    for burst in 0..BURSTS {
        let mut ids = Vec::new();
        for k in 0..BURST {
            let id = client.next_id();
            let name = &names[k % VARIABLES];
            client.send(&Request::new(id, read(&service_id, name))).await;
            ids.push((id, name.clone()));
        }
        let mut answered = 0;
        while answered < ids.len() {
            let message = guard("a reply or a push", client.recv()).await;
            match message.message {
                ServerMessage::VariableChanged(change) => {
                    assert_eq!(message.id, None, "a push carries no id");
                    let last = versions.entry(change.variable_name.clone()).or_default();
                    assert!(
                        change.version > *last,
                        "{} went from {last} to {}",
                        change.variable_name,
                        change.version
                    );
                    assert!(change.data.iter().all(|b| *b == change.data[0]), "a torn value");
                    *last = change.version;
                    pushes += 1;
                }
                ServerMessage::VariableData(data) => {
                    let (id, name) = &ids[answered];
                    assert_eq!(message.id, Some(*id), "burst {burst}: replies out of order");
                    assert_eq!(&data.variable_name, name);
                    answered += 1;
                }
                other => panic!("burst {burst}: unexpected {other:?}"),
            }
        }
    }
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        guard("a writer to stop", writer).await.expect("a writer");
    }
    assert!(pushes > 0, "no push arrived among the replies");
    assert!(straight_pushes(&server).await >= 1.0, "no push went straight");
}
