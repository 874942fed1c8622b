//! A subscriber that never reads, watching large variables, is closed at its byte budget as a slow consumer, with
//! close code 1008 and the reason; the writer and a subscriber that reads keep working and end at the latest values.

use commy_proto::{AllocateVariable, Encoding, Permission, ServerMessage, ValueType};
use commy_testkit::{guard, variable, write_data, Client, Fixture, TestServer};
use std::collections::HashMap;
use std::time::Duration;
use tokio::sync::{oneshot, watch};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// Variables times value size is more than the budget: coalescing alone does not keep the outbox within it.
const VARIABLES: usize = 8;
const VALUE: usize = 48 << 10;
const BUDGET: usize = 256 << 10;
/// Rounds of writes at most: far more bytes than any socket buffers, so the slow subscriber must pass its budget.
const MAX_ROUNDS: usize = 400;

fn large(service_id: &str, name: &str) -> AllocateVariable {
    AllocateVariable {
        capacity: Some(VALUE as u32),
        ..variable(service_id, name, ValueType::Bytes)
    }
}

/// Reads pushes until, for every variable, one at the final version the writer sends (or later) has arrived; tells
/// `progress` the last version seen of each variable as it goes.
async fn read_to_the_end(
    mut client: Client,
    finals: oneshot::Receiver<HashMap<String, u64>>,
    progress: watch::Sender<HashMap<String, u64>>,
) -> Client {
    let mut seen: HashMap<String, u64> = HashMap::new();
    let mut finals = finals;
    let mut wanted: Option<HashMap<String, u64>> = None;
    loop {
        if let Some(wanted) = &wanted {
            if wanted.iter().all(|(name, version)| seen.get(name) >= Some(version)) {
                return client;
            }
        }
        tokio::select! {
            change = client.push() => {
                let last = seen.entry(change.variable_name.clone()).or_default();
                assert!(change.version > *last, "{} went from {last} to {}", change.variable_name, change.version);
                assert_eq!(change.data.len(), VALUE);
                *last = change.version;
                progress.send_replace(seen.clone());
            }
            sent = &mut finals, if wanted.is_none() => wanted = Some(sent.expect("the final versions")),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_never_reads_is_closed_at_its_budget_and_nobody_else_notices() {
    let server = TestServer::with_config(|config| config.limits.max_pending_bytes = BUDGET).await;
    let all = [Permission::Read, Permission::Write];
    let mut fixture = Fixture::new(&server, Encoding::MsgPack, "t", "big", &all).await;
    let service_id = fixture.service.service_id.clone();
    let names: Vec<String> = (0..VARIABLES).map(|i| format!("v{i}")).collect();
    for name in &names {
        fixture.admin.ok(large(&service_id, name)).await;
    }

    // The slow subscriber: a small receive buffer, and it reads nothing after subscribing.
    let mut slow = server.connect_small_buffer(Encoding::MsgPack).await;
    slow.authenticate(Some(&fixture.tenant_id), &fixture.key.key).await;
    slow.subscribe(&service_id, "*").await;
    // The normal subscriber reads everything as it comes.
    let mut normal = fixture.client(&server, Encoding::MsgPack).await;
    normal.subscribe(&service_id, "*").await;
    let (send_finals, finals) = oneshot::channel();
    let (progress, mut seen) = watch::channel(HashMap::new());
    let normal = tokio::spawn(read_to_the_end(normal, finals, progress));

    // The writer writes every variable, round after round, until the slow subscriber is closed (and a few rounds
    // more); every write is answered.
    let mut writer = fixture.client(&server, Encoding::MsgPack).await;
    let mut finals = HashMap::new();
    let mut rounds_after = None;
    let mut slow = Some(slow);
    let mut close = None;
    for round in 0..MAX_ROUNDS {
        for name in &names {
            let data = vec![round as u8; VALUE];
            let ServerMessage::VariableData(written) = writer.ok(write_data(&service_id, name, data)).await else {
                panic!("a write is answered with VariableData");
            };
            finals.insert(name.clone(), written.version);
            // The reading subscriber keeps up (its outbox holds one value at most), so only the one that reads
            // nothing can pass the budget, however slow this machine.
            let caught_up = seen.wait_for(|seen| seen.get(name) >= Some(&written.version));
            guard("the reading subscriber to get the write", caught_up)
                .await
                .expect("the reading subscriber is running");
        }
        if rounds_after.is_none() && server.metric("commy_slow_consumers_total").await >= 1.0 {
            rounds_after = Some(round + 3);
            // The slow one reads at last, at once: the server waits only a little for it to take its close.
            let mut slow = slow.take().expect("the slow subscriber");
            close = Some(tokio::spawn(async move { slow.recv_close().await }));
        }
        if rounds_after == Some(round) {
            break;
        }
    }
    assert!(
        rounds_after.is_some(),
        "after {MAX_ROUNDS} rounds of {VARIABLES} x {VALUE} bytes the subscriber that reads nothing is still served"
    );
    assert_eq!(
        server.metric("commy_slow_consumers_total").await,
        1.0,
        "only the slow one"
    );
    // With pushes written straight from the writing task whenever nothing is ahead of them (the reading subscriber's
    // were), the slow one was still caught by its budget.
    assert!(
        server.metric("commy_pushes_straight_total").await >= 1.0,
        "no push went straight"
    );

    // The subscriber that reads ends at the latest value of every variable.
    send_finals.send(finals).expect("the reader waits");
    let mut normal = guard("the normal subscriber to reach the final values", normal)
        .await
        .expect("the normal subscriber");
    normal.heartbeat().await;
    writer.heartbeat().await;

    // The slow one, reading at last, found its close: policy violation, saying why.
    let close = guard("the slow subscriber's close frame", close.expect("the slow reader"))
        .await
        .expect("the slow reader")
        .expect("a close frame with a reason");
    assert_eq!(close.code, CloseCode::Policy);
    assert!(close.reason.contains("slow consumer"), "{}", close.reason);
    assert!(close.reason.contains(&BUDGET.to_string()), "{}", close.reason);
    // Nothing is left of its subscription: the next writes go only to the reader.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let data = vec![0xee; VALUE];
    let ServerMessage::VariableData(written) = writer.ok(write_data(&service_id, &names[0], data.clone())).await else {
        panic!("a write is answered with VariableData");
    };
    assert_eq!(normal.push_reaching(&names[0], written.version).await.data, data);
}
