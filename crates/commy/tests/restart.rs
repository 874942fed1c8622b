//! Restarts of the built `commy serve` on the same data directory: what a graceful stop (SIGTERM, Ctrl-C) keeps,
//! what clients are told when it comes, and what a SIGKILL in the middle of a stream of acknowledged writes keeps.

use commy_proto::{
    AllocateVariable, CreateApiKey, CreateService, CreateTenant, Encoding, GetService, ListTenants, ListVariables,
    Permission, Request, ServerMessage, ServiceInfo, Subscribe, ValueType,
};
use commy_shm::test_hooks::DIE_MID_WRITE;
use commy_testkit::process::{self, written_admin_key, ServeProcess};
use commy_testkit::{guard, write_value, Client};
use serde_json::json;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Starts `commy serve` on `dir`, listening on a port the system picks, and waits until it says where.
fn start_commy(dir: &Path) -> ServeProcess {
    ServeProcess::start(&mut serve_command(dir))
}

fn serve_command(dir: &Path) -> Command {
    let mut command = process::serve_command(env!("CARGO_BIN_EXE_commy"), dir);
    command.env_remove(DIE_MID_WRITE);
    command
}

/// A JSON client of `addr`, authenticated with an API key (`tenant_id: None` for the admin key).
async fn login(addr: SocketAddr, tenant_id: Option<&str>, key: &str) -> Client {
    let mut client = Client::connect(addr, Encoding::Json).await;
    client.authenticate(tenant_id, key).await;
    client
}

fn u64_variable(service_id: &str, name: &str, initial: u64, persistent: bool) -> AllocateVariable {
    AllocateVariable {
        service_id: service_id.into(),
        variable_name: name.into(),
        initial_data: None,
        value: Some(json!(initial)),
        capacity: None,
        value_type: Some(ValueType::U64),
        persistent: Some(persistent),
    }
}

/// Creates tenant `acme`, a key of it and its service `plant`; returns the key and the service.
async fn set_up(addr: SocketAddr, admin_key: &str) -> (String, ServiceInfo) {
    let mut admin = login(addr, None, admin_key).await;
    admin
        .ok(CreateTenant {
            tenant_id: "acme".into(),
            tenant_name: "Acme".into(),
        })
        .await;
    let ServerMessage::ApiKey(key) = admin
        .ok(CreateApiKey {
            tenant_id: "acme".into(),
            name: "plant controller".into(),
            permissions: vec![Permission::Read, Permission::Write, Permission::CreateService],
            services: None,
            read_services: None,
            write_services: None,
        })
        .await
    else {
        panic!("expected ApiKey")
    };
    let mut tenant = login(addr, Some("acme"), &key.key).await;
    let ServerMessage::Service(service) = tenant
        .ok(CreateService {
            tenant_id: "acme".into(),
            service_name: "plant".into(),
        })
        .await
    else {
        panic!("expected Service")
    };
    (key.key, service)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_restart_keeps_everything_and_tells_clients() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_commy(dir.path());
    let admin_key = written_admin_key(dir.path());
    let (key, service) = set_up(server.addr, &admin_key).await;
    let sid = service.service_id.clone();
    let mut client = login(server.addr, Some("acme"), &key).await;
    client.ok(u64_variable(&sid, "kept", 1, true)).await;
    client.ok(u64_variable(&sid, "scratch", 7, false)).await;
    assert_eq!(client.write(&sid, "kept", json!(42)).await.value, Some(json!(42)));
    assert_eq!(client.write(&sid, "scratch", json!(99)).await.value, Some(json!(99)));
    client
        .ok(Subscribe {
            service_id: sid.clone(),
            variable_name: "*".into(),
            skip_own_writes: false,
        })
        .await;

    // SIGTERM: every connected client hears `Disconnected` (no id), then a "going away" close frame.
    let status = server.signal_and_wait("-TERM").await;
    assert!(status.success(), "commy serve exited with {status}");
    let bye = client.next_reply().await.expect("a goodbye before the close");
    assert_eq!(bye.id, None);
    let ServerMessage::Disconnected(bye) = bye.message else {
        panic!("expected Disconnected, got {bye:?}")
    };
    assert!(bye.reason.contains("shutting down"), "{}", bye.reason);
    assert!(
        client.next_reply().await.is_none(),
        "the connection closes after the goodbye"
    );

    // The same data directory again.
    let server = start_commy(dir.path());
    assert_eq!(written_admin_key(dir.path()), admin_key, "the admin key is kept");
    let mut admin = login(server.addr, None, &admin_key).await;
    let ServerMessage::TenantList(tenants) = admin.ok(ListTenants {}).await else {
        panic!("expected TenantList")
    };
    assert_eq!(tenants.tenants.len(), 1);
    assert_eq!(tenants.tenants[0].tenant_id, "acme");

    // The tenant's key still authenticates, and the service and variables are all there.
    let mut client = login(server.addr, Some("acme"), &key).await;
    let got = client
        .ok(GetService {
            tenant_id: "acme".into(),
            service_name: "plant".into(),
        })
        .await;
    assert_eq!(got, ServerMessage::Service(service));
    let ServerMessage::VariableList(list) = client
        .ok(ListVariables {
            service_id: sid.clone(),
        })
        .await
    else {
        panic!("expected VariableList")
    };
    let mut listed: Vec<_> = list
        .variables
        .iter()
        .map(|v| (v.variable_name.as_str(), v.value_type, v.persistent))
        .collect();
    listed.sort_unstable_by_key(|v| v.0);
    assert_eq!(
        listed,
        [("kept", ValueType::U64, true), ("scratch", ValueType::U64, false)]
    );
    // The persistent variable kept its value; the other one is back at its initial value.
    assert_eq!(client.read(&sid, "kept").await.value, Some(json!(42)));
    assert_eq!(client.read(&sid, "scratch").await.value, Some(json!(7)));

    // And the service is live: a write reaches a subscriber.
    let mut watcher = login(server.addr, Some("acme"), &key).await;
    watcher
        .ok(Subscribe {
            service_id: sid.clone(),
            variable_name: "kept".into(),
            skip_own_writes: false,
        })
        .await;
    let wrote = client.write(&sid, "kept", json!(43)).await;
    let change = watcher.push().await;
    assert_eq!((change.version, change.value), (wrote.version, Some(json!(43))));

    // Ctrl-C says goodbye the same way.
    let log = server.log();
    let status = server.signal_and_wait("-INT").await;
    assert!(status.success(), "commy serve exited with {status}:\n{log}");
    let bye = watcher.next_reply().await.expect("a goodbye before the close");
    assert!(
        matches!(bye.message, ServerMessage::Disconnected(ref d) if d.reason.contains("shutting down")),
        "{bye:?}"
    );
    assert_eq!(bye.id, None);
    assert!(!log.contains(&admin_key), "the log never shows the admin key");
}

/// Writes 1, 2, 3, ... after `start` to `counter`, keeping a few in flight, until the connection ends. Updates
/// `acked` with each acknowledged value and `sent` with each value sent.
async fn stream_writes(mut ws: Client, sid: String, start: u64, acked: Arc<AtomicU64>, sent: Arc<AtomicU64>) {
    const IN_FLIGHT: usize = 8;
    let mut waiting = VecDeque::new();
    let mut next = start;
    loop {
        while waiting.len() < IN_FLIGHT {
            next += 1;
            if ws
                .try_send(&Request::new(next, write_value(&sid, "counter", json!(next))))
                .await
                .is_err()
            {
                return;
            }
            sent.store(next, Ordering::SeqCst);
            waiting.push_back(next);
        }
        let Some(reply) = ws.next_reply().await else { return };
        let expected = waiting.pop_front();
        assert_eq!(reply.id, expected, "replies come in request order");
        match reply.message {
            ServerMessage::VariableData(data) => {
                assert_eq!(data.value, Some(json!(expected.unwrap())));
                acked.store(expected.unwrap(), Ordering::SeqCst);
            }
            other => panic!("write {expected:?} failed: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_acknowledged_writes_loses_none_of_them() {
    const ROUNDS: u64 = 5;
    let dir = tempfile::tempdir().unwrap();
    let mut server = start_commy(dir.path());
    let admin_key = written_admin_key(dir.path());
    let (key, service) = set_up(server.addr, &admin_key).await;
    let sid = service.service_id;
    let mut client = login(server.addr, Some("acme"), &key).await;
    client.ok(u64_variable(&sid, "counter", 0, true)).await;
    let mut value = 0;

    for round in 0..ROUNDS {
        // Some arbitrary number of acknowledged writes into this round, different each run.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as u64;
        let kill_after = value + 100 + nanos % 900;
        eprintln!("round {round}: SIGKILL once {kill_after} is acknowledged");

        let (acked, sent) = (Arc::new(AtomicU64::new(value)), Arc::new(AtomicU64::new(value)));
        let writer = login(server.addr, Some("acme"), &key).await;
        let streaming = tokio::spawn(stream_writes(writer, sid.clone(), value, acked.clone(), sent.clone()));
        guard("acknowledged writes", async {
            while acked.load(Ordering::SeqCst) < kill_after {
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
        })
        .await;
        server.crash().await;
        guard("the writer to notice", streaming).await.expect("the writer");
        let (acked, sent) = (acked.load(Ordering::SeqCst), sent.load(Ordering::SeqCst));
        assert!(acked >= kill_after && sent >= acked);

        server = start_commy(dir.path());
        let mut client = login(server.addr, Some("acme"), &key).await;
        let after = client.read(&sid, "counter").await;
        // Never torn: 8 bytes that are one of the values written; never older than the last acknowledged one.
        assert_eq!(after.data.len(), 8, "{after:?}");
        let got = u64::from_le_bytes(after.data.clone().try_into().unwrap());
        assert_eq!(after.value, Some(json!(got)));
        assert!(
            (acked..=sent).contains(&got),
            "round {round}: after SIGKILL the counter is {got}; acknowledged {acked}, sent {sent}"
        );
        eprintln!("round {round}: acknowledged {acked}, sent {sent}, kept {got}");
        value = got;
    }
    let status = server.signal_and_wait("-TERM").await;
    assert!(status.success());
}

/// The lock word of variable table entry `index` in the service file at `path`.
fn lock_word(path: &Path, index: u64) -> u64 {
    use commy_shm::layout::{entry, header, ENTRY_SIZE};
    use std::os::unix::fs::FileExt;
    let file = std::fs::File::open(path).unwrap();
    let mut word = [0u8; 8];
    file.read_exact_at(&mut word, header::TABLE_OFFSET as u64).unwrap();
    let at = u64::from_le_bytes(word) + index * ENTRY_SIZE as u64 + entry::LOCK as u64;
    file.read_exact_at(&mut word, at).unwrap();
    u64::from_le_bytes(word)
}

/// A `commy serve` killed (SIGKILL) in the middle of a write, holding the variable's lock with half the value
/// copied, restarts on its data directory; the variable holds its last published value and is writable again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_inside_a_write_restarts_with_the_variable_writable() {
    const FATAL: u64 = 0xdead_beef;
    let dir = tempfile::tempdir().unwrap();
    let fatal_hex: String = FATAL.to_le_bytes().iter().map(|b| format!("{b:02x}")).collect();
    let mut server = ServeProcess::start(serve_command(dir.path()).env(DIE_MID_WRITE, fatal_hex));
    let admin_key = written_admin_key(dir.path());
    let (key, service) = set_up(server.addr, &admin_key).await;
    let sid = service.service_id.clone();
    let mut client = login(server.addr, Some("acme"), &key).await;
    client.ok(u64_variable(&sid, "kept", 1, true)).await;
    let before = client.write(&sid, "kept", json!(42)).await;

    // The server dies inside this write (the test hook), holding the variable's lock.
    let id = client.next_id();
    let write = commy_proto::WriteVariable {
        service_id: sid.clone(),
        variable_name: "kept".into(),
        data: None,
        value: Some(json!(FATAL)),
        expected_version: None,
    };
    client.send(&Request::new(id, write)).await;
    let status = server.process().wait_async().await;
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9),
        "commy serve died of SIGKILL inside the write: {status}\n{}",
        server.log()
    );
    assert!(client.next_reply().await.is_none(), "the write was never answered");
    let file = dir.path().join("services").join(format!("{sid}.svc"));
    assert_ne!(
        lock_word(&file, 0),
        0,
        "the dead server still holds the variable's lock"
    );

    let server = start_commy(dir.path());
    let mut client = login(server.addr, Some("acme"), &key).await;
    let read = client.read(&sid, "kept").await;
    assert_eq!(
        read.value,
        Some(json!(42)),
        "the last published value, not the half-written one"
    );
    assert!(read.version >= before.version, "versions never go back");
    let wrote = client.write(&sid, "kept", json!(43)).await;
    assert!(wrote.version > read.version);
    assert_eq!(client.read(&sid, "kept").await.value, Some(json!(43)));
}
