//! A server whose disk fills keeps serving: creating services and variables gets typed errors (`LIMIT_EXCEEDED`,
//! "the disk is full"), and everything already there can still be read and written. Before, the first store into a
//! hole of a sparse service file on the full disk killed the server with SIGBUS (and this test with it).
//!
//! The data directory is a small tmpfs, which needs root; without it the test says so and passes.

use commy_proto::{AllocateVariable, Encoding, ErrorCode, ServerMessage, ValueType};
use commy_testkit::{variable, TestServer};
use serde_json::json;
use std::process::Command;

/// A fresh temporary directory with a `size` tmpfs mounted on it, or `None` (with a message) without root.
fn small_disk(size: &str) -> Option<tempfile::TempDir> {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new("mount")
        .args([
            "-t",
            "tmpfs",
            "-o",
            &format!("size={size},mode=0700"),
            "commy-full-disk",
        ])
        .arg(dir.path())
        .output();
    match out {
        Ok(out) if out.status.success() => Some(dir),
        other => {
            eprintln!("SKIPPED: cannot mount a {size} tmpfs (this test needs root): {other:?}");
            None
        }
    }
}

/// Unmounts the tmpfs when dropped, also when the test fails (declared before the server, so dropped after it).
struct Unmount(std::path::PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test]
async fn a_server_whose_disk_fills_answers_typed_errors_and_keeps_serving() {
    let Some(dir) = small_disk("16m") else { return };
    let _unmount = Unmount(dir.path().to_owned());
    let server = TestServer::start_in(dir, |_| {}).await;
    let mut admin = server.admin(Encoding::Json).await;
    admin.create_tenant("acme").await;
    let kept = admin.create_service("acme", "kept").await.service_id;
    admin.allocate(variable(&kept, "v", ValueType::U64)).await;
    admin.write(&kept, "v", json!(7)).await;

    // Services with large variables until the disk refuses one; then one more try in the same service.
    let mut refusals = Vec::new();
    'fill: for n in 0..200 {
        let sid = admin.create_service("acme", &format!("fill-{n}")).await.service_id;
        for m in 0..4 {
            let big = AllocateVariable {
                capacity: Some(256 * 1024),
                ..variable(&sid, &format!("big-{m}"), ValueType::Bytes)
            };
            if let ServerMessage::Error(err) = admin.request(big.clone()).await {
                refusals.push(err);
                if let ServerMessage::Error(again) = admin.request(big).await {
                    refusals.push(again);
                }
                break 'fill;
            }
        }
    }
    println!("refusals on the full disk: {refusals:?}");
    assert_eq!(refusals.len(), 2, "the disk never filled");
    for refusal in &refusals {
        assert_eq!(refusal.code, ErrorCode::LimitExceeded, "{refusal:?}");
        assert!(refusal.message.contains("the disk is full"), "{refusal:?}");
    }
    // Everything already there keeps working.
    assert_eq!(admin.read(&kept, "v").await.value, Some(json!(7)));
    admin.write(&kept, "v", json!(8)).await;
    assert_eq!(admin.read(&kept, "v").await.value, Some(json!(8)));
    drop(admin);
    drop(server.stop().await);
}
