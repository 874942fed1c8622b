//! Coherence across processes: a separate process writing straight into a service's mapped file reaches WebSocket
//! subscribers, and a WebSocket write lands in the file that process maps.
//!
//! The other process is `commy-shm-write` (src/bin/commy-shm-write.rs), which opens the file with
//! `commy_shm::Service::open` as a program on the server's machine would.

mod util;

use commy_proto::{AllocateVariable, Encoding, Permission, ValueType};
use serde_json::json;
use std::path::Path;
use util::{both_encodings, guard, variable, Fixture, TestServer};

both_encodings!(
    a_write_through_the_mapped_file_reaches_a_websocket_subscriber,
    a_websocket_write_lands_in_the_file_another_process_maps,
);

/// Runs `commy-shm-write` with `args` on `file`; returns its one line of output, split into words.
async fn helper(command: &str, file: &Path, args: &[&str]) -> Vec<String> {
    let output = guard(
        "commy-shm-write",
        tokio::process::Command::new(env!("CARGO_BIN_EXE_commy-shm-write"))
            .arg(command)
            .arg(file)
            .args(args)
            .output(),
    )
    .await
    .expect("commy-shm-write runs");
    assert!(
        output.status.success(),
        "commy-shm-write {command} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .unwrap()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn a_write_through_the_mapped_file_reaches_a_websocket_subscriber(enc: Encoding) {
    let server = TestServer::start().await;
    let fixture = Fixture::new(&server, enc, "acme", "sensors", &[Permission::Read, Permission::Write]).await;
    let sid = fixture.service_id().to_owned();
    let mut setup = fixture.client(&server, enc).await;
    setup.allocate(variable(&sid, "counter", ValueType::U64)).await;
    setup
        .allocate(AllocateVariable {
            capacity: Some(64),
            ..variable(&sid, "label", ValueType::String)
        })
        .await;
    let mut one = fixture.client(&server, enc).await;
    one.subscribe(&sid, "counter").await;
    let mut all = fixture.client(&server, enc).await;
    all.subscribe(&sid, "*").await;
    let file = server.service_file(&sid);

    // Another process writes through its own mapping; the server learns of it only through the file.
    let wrote = helper("write", &file, &["counter", &hex(&12_345u64.to_le_bytes())]).await;
    assert_eq!(wrote[0], "WROTE", "{wrote:?}");
    let version: u64 = wrote[1].parse().unwrap();
    for subscriber in [&mut one, &mut all] {
        let push = subscriber.push().await;
        assert_eq!(push.service_id, sid);
        assert_eq!(push.variable_name, "counter");
        assert_eq!(push.version, version);
        assert_eq!(push.data, 12_345u64.to_le_bytes());
        assert_eq!(push.value, Some(json!(12_345)));
    }

    let text = "written by another process";
    let wrote = helper("write", &file, &["label", &hex(text.as_bytes())]).await;
    let version: u64 = wrote[1].parse().unwrap();
    let push = all.push().await;
    assert_eq!(
        (push.variable_name.as_str(), push.version, push.value),
        ("label", version, Some(json!(text)))
    );
    assert_eq!(
        one.settle().await,
        [],
        "'label' is not pushed to a subscriber of 'counter'"
    );

    // The server reads the same value and version.
    let read = setup.read(&sid, "label").await;
    assert_eq!((read.version, read.value), (version, Some(json!(text))));
}

async fn a_websocket_write_lands_in_the_file_another_process_maps(enc: Encoding) {
    let server = TestServer::start().await;
    let fixture = Fixture::new(&server, enc, "acme", "sensors", &[Permission::Read, Permission::Write]).await;
    let sid = fixture.service_id().to_owned();
    let mut client = fixture.client(&server, enc).await;
    client.allocate(variable(&sid, "setpoint", ValueType::F64)).await;
    let wrote = client.write(&sid, "setpoint", json!(21.5)).await;

    let file = server.service_file(&sid);
    let seen = helper("read", &file, &["setpoint"]).await;
    assert_eq!(
        seen,
        [
            "VALUE".to_owned(),
            hex(&21.5f64.to_le_bytes()),
            wrote.version.to_string()
        ]
    );
}
