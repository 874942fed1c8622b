//! `WriteVariable` with `expected_version` (compare-and-set) against the real server, over both encodings: it writes
//! only at the expected version, answers `CONFLICT` with `current_version` otherwise and changes nothing, and
//! concurrent clients incrementing one counter this way lose no increment.

use commy_proto::{Encoding, ErrorCode, Permission, ServerMessage, ValueType, WriteVariable};
use commy_testkit::{both_encodings, variable, write_value, Client, Fixture, TestServer};
use serde_json::json;

both_encodings!(
    writes_at_the_expected_version_and_conflicts_at_another,
    clients_racing_by_compare_and_set_lose_no_increment,
);

fn cas(service_id: &str, name: &str, value: serde_json::Value, expected_version: u64) -> WriteVariable {
    WriteVariable {
        expected_version: Some(expected_version),
        ..write_value(service_id, name, value)
    }
}

async fn writes_at_the_expected_version_and_conflicts_at_another(enc: Encoding) {
    let server = TestServer::start().await;
    let fixture = Fixture::new(&server, enc, "acme", "sensors", &[Permission::Read, Permission::Write]).await;
    let sid = fixture.service_id().to_owned();
    let mut c = fixture.client(&server, enc).await;
    let first = c.allocate(variable(&sid, "n", ValueType::U64)).await;
    let mut watcher = fixture.client(&server, enc).await;
    watcher.subscribe(&sid, "n").await;

    let ServerMessage::VariableData(written) = c.ok(cas(&sid, "n", json!(7), first.version)).await else {
        panic!("a compare-and-set at the current version should write")
    };
    assert_eq!(written.version, first.version + 1);
    assert_eq!(written.value, Some(json!(7)));
    assert_eq!(watcher.push().await.version, written.version);

    // The version it replaced: CONFLICT, with the current version, naming the variable and both versions.
    let error = c.error(cas(&sid, "n", json!(8), first.version)).await;
    assert_eq!(error.code, ErrorCode::Conflict, "{}", error.message);
    assert_eq!(error.current_version, Some(written.version));
    for thing in ["'n'", &written.version.to_string(), &first.version.to_string()] {
        assert!(
            error.message.contains(thing),
            "the message should name {thing}: {}",
            error.message
        );
    }
    let now = c.read(&sid, "n").await;
    assert_eq!(
        (now.version, now.value),
        (written.version, Some(json!(7))),
        "nothing changed"
    );
    assert_eq!(watcher.settle().await, [], "a refused write pushes nothing");

    // Other errors carry no current_version, and come first whatever the version.
    let error = c.error(cas(&sid, "n", json!(-1), first.version)).await;
    assert_eq!((error.code, error.current_version), (ErrorCode::InvalidRequest, None));
    let error = c.error(cas(&sid, "missing", json!(1), 0)).await;
    assert_eq!((error.code, error.current_version), (ErrorCode::NotFound, None));

    // A plain write is still unconditional.
    assert_eq!(c.write(&sid, "n", json!(9)).await.version, written.version + 1);
}

/// Increments `n` by compare-and-set `times` times, retrying each on conflict. Returns the conflicts met.
async fn increment(mut client: Client, sid: String, times: u64) -> u64 {
    let mut conflicts = 0;
    for _ in 0..times {
        loop {
            let now = client.read(&sid, "n").await;
            let next = now.value.and_then(|v| v.as_u64()).expect("n holds a u64") + 1;
            match client.request(cas(&sid, "n", json!(next), now.version)).await {
                ServerMessage::VariableData(_) => break,
                ServerMessage::Error(e) if e.code == ErrorCode::Conflict => conflicts += 1,
                other => panic!("unexpected reply {other:?}"),
            }
        }
    }
    conflicts
}

async fn clients_racing_by_compare_and_set_lose_no_increment(enc: Encoding) {
    const CLIENTS: u64 = 4;
    const TIMES: u64 = 100;
    let server = TestServer::start().await;
    let fixture = Fixture::new(&server, enc, "acme", "sensors", &[Permission::Read, Permission::Write]).await;
    let sid = fixture.service_id().to_owned();
    let mut c = fixture.client(&server, enc).await;
    c.allocate(variable(&sid, "n", ValueType::U64)).await;
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        let client = fixture.client(&server, enc).await;
        tasks.push(tokio::spawn(increment(client, sid.clone(), TIMES)));
    }
    let mut conflicts = 0;
    for task in tasks {
        conflicts += task.await.expect("incrementing task");
    }
    println!("{CLIENTS} clients x {TIMES} increments: {conflicts} conflicts retried");
    assert_eq!(
        c.read(&sid, "n").await.value,
        Some(json!(CLIENTS * TIMES)),
        "an increment was lost"
    );
}
