//! A damaged service file never stops the server: after a restart with one file overwritten and another emptied,
//! the overwritten one's service answers INTERNAL_ERROR, the emptied one is recreated from the metadata, and every
//! other service is served as before.

mod util;

use commy_proto::{AllocateVariable, Encoding, ErrorCode, ValueType};
use serde_json::json;
use util::{guard, read, variable, TestServer};

#[tokio::test]
async fn the_server_starts_and_serves_every_service_whose_file_is_sound() {
    let server = TestServer::start().await;
    let mut admin = server.admin(Encoding::Json).await;
    admin.create_tenant("acme").await;
    let mut ids = Vec::new();
    for name in ["good", "overwritten", "emptied"] {
        let sid = admin.create_service("acme", name).await.service_id;
        let persistent = AllocateVariable {
            persistent: Some(true),
            ..variable(&sid, "v", ValueType::U64)
        };
        admin.allocate(persistent).await;
        admin.write(&sid, "v", json!(7)).await;
        ids.push(sid);
    }
    let old_version = admin.read(&ids[2], "v").await.version;
    let (overwritten, emptied) = (server.service_file(&ids[1]), server.service_file(&ids[2]));
    drop(admin);
    let dir = server.stop().await;
    std::fs::write(&overwritten, vec![0x5a; 16_384]).unwrap();
    std::fs::File::create(&emptied).unwrap();

    let server = guard("restart", TestServer::start_in(dir, |_| {})).await;
    let mut admin = server.admin(Encoding::Json).await;
    assert_eq!(
        admin.read(&ids[0], "v").await.value,
        Some(json!(7)),
        "the sound service keeps its value"
    );
    let err = admin.error(read(&ids[1], "v")).await;
    assert_eq!(err.code, ErrorCode::InternalError, "{err:?}");
    assert!(
        err.message.contains("overwritten") && err.message.contains("moved aside"),
        "{err:?}"
    );
    // Recreated from the metadata: its initial value, at a version above any the old file reached.
    let recreated = admin.read(&ids[2], "v").await;
    assert_eq!(recreated.value, Some(json!(0)));
    assert!(
        recreated.version > old_version,
        "the recreated file's version went back: {recreated:?}"
    );
    admin.write(&ids[2], "v", json!(8)).await;
}
