//! Many watched services on a bounded number of threads: a real `commy serve` with hundreds of subscribed services
//! pushes every change of every one, made through the server or straight into the service file by another process,
//! and its thread count (`/proc/<pid>/task`) does not grow with the number of services.

use commy_proto::{Encoding, Permission, ServerMessage, ValueType};
use commy_shm::Access;
use commy_testkit::process::{serve_command, ServeProcess};
use commy_testkit::{guard, variable, write_value, Client, ADMIN_KEY};
use serde_json::json;
use std::collections::HashMap;
use std::path::Path;

/// Watched services: far more than the watcher threads' limit (8) times what one sleeps on (127) would allow with a
/// thread each, and enough that a thread per service would show.
const SERVICES: usize = 300;
/// Threads the server may add while its services are watched: the watcher threads (default limit 8) and some slack
/// for the runtime's blocking pool.
const MORE_THREADS_ALLOWED: usize = 8 + 8;

fn threads_of(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("the server's /proc/<pid>/task")
        .count()
}

fn start_commy(dir: &Path) -> ServeProcess {
    let mut command = serve_command(env!("CARGO_BIN_EXE_commy"), dir);
    command.args(["--max-variables", "4"]).env("COMMY_ADMIN_KEY", ADMIN_KEY);
    ServeProcess::start(&mut command)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_of_hundreds_of_watched_services_is_pushed_on_a_few_threads() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut server = start_commy(dir.path());
    let pid = server.process().id();
    let mut admin = Client::connect(server.addr, Encoding::MsgPack).await;
    admin.authenticate(None, ADMIN_KEY).await;
    admin.create_tenant("t").await;
    let key = admin.create_key("t", &[Permission::Read, Permission::Write]).await;
    let mut services = Vec::with_capacity(SERVICES);
    for i in 0..SERVICES {
        let service = admin.create_service("t", &format!("s{i}")).await;
        admin.ok(variable(&service.service_id, "x", ValueType::U64)).await;
        services.push(service.service_id);
    }
    let before = threads_of(pid);

    let mut subscriber = Client::connect(server.addr, Encoding::MsgPack).await;
    subscriber.authenticate(Some("t"), &key.key).await;
    for service_id in &services {
        subscriber.subscribe(service_id, "x").await;
    }

    // Half the services are written through the server, half straight into their files by this process.
    let mut writer = Client::connect(server.addr, Encoding::MsgPack).await;
    writer.authenticate(Some("t"), &key.key).await;
    let mut expected = HashMap::new();
    for (i, service_id) in services.iter().enumerate() {
        let value = 1_000 + i as u64;
        if i % 2 == 0 {
            let ServerMessage::VariableData(written) = writer.ok(write_value(service_id, "x", json!(value))).await
            else {
                panic!("a write is answered with VariableData");
            };
            assert!(written.version > 0, "{written:?}");
        } else {
            let path = dir.path().join("services").join(format!("{service_id}.svc"));
            let file = commy_shm::Service::open(&path, Access::ReadWrite).expect("the service file");
            let x = file.lookup("x").expect("variable x in the file");
            file.write(x, &value.to_le_bytes()).expect("a write into the mapping");
        }
        expected.insert(service_id.clone(), value);
    }

    // Every service's push arrives, ending at its value.
    let mut arrived = HashMap::new();
    guard("a push of every service", async {
        while arrived.len() < SERVICES {
            let change = subscriber.push().await;
            if expected.get(&change.service_id) == Some(&u64::from_le_bytes(change.data[..8].try_into().unwrap())) {
                arrived.insert(change.service_id.clone(), change.version);
            }
        }
    })
    .await;

    let after = threads_of(pid);
    assert!(
        after <= before + MORE_THREADS_ALLOWED,
        "{SERVICES} watched services took the server from {before} to {after} threads"
    );
    assert!(
        server.log().lines().all(|line| !line.contains("ERROR")),
        "{}",
        server.log()
    );
}
