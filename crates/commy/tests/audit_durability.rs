//! The audit log's promises across real `commy serve` processes: a refused login is durable before its reply (it
//! survives a SIGKILL right after), a successful login's queued record survives a graceful stop (SIGTERM), and the
//! log's order is kept.

use commy_proto::{AuditLog, CreateApiKey, CreateTenant, Encoding, ErrorCode, Permission, QueryAudit, ServerMessage};
use commy_testkit::process::{serve_command, written_admin_key, ServeProcess};
use commy_testkit::{authenticate, Client};
use std::path::Path;

fn start_commy(dir: &Path) -> ServeProcess {
    ServeProcess::start(&mut serve_command(env!("CARGO_BIN_EXE_commy"), dir))
}

async fn admin(server: &ServeProcess, dir: &Path) -> Client {
    let mut admin = Client::connect(server.addr, Encoding::Json).await;
    admin.authenticate(None, &written_admin_key(dir)).await;
    admin
}

/// Every entry about `acme`, as (action, outcome).
async fn acme_log(admin: &mut Client) -> Vec<(String, String)> {
    let query = QueryAudit {
        tenant_id: Some("acme".into()),
        ..QueryAudit::default()
    };
    let ServerMessage::AuditLog(AuditLog { entries }) = admin.ok(query).await else {
        panic!("expected AuditLog")
    };
    entries.into_iter().map(|e| (e.action, e.outcome)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_survive_a_crash_and_queued_logins_a_graceful_stop() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start_commy(dir.path());
    let mut admin = admin(&server, dir.path()).await;
    admin
        .ok(CreateTenant {
            tenant_id: "acme".into(),
            tenant_name: "Acme".into(),
        })
        .await;
    let ServerMessage::ApiKey(key) = admin
        .ok(CreateApiKey {
            tenant_id: "acme".into(),
            name: "k".into(),
            permissions: vec![Permission::Read],
            services: None,
            read_services: None,
            write_services: None,
        })
        .await
    else {
        panic!("expected ApiKey")
    };

    // A refusal, then a SIGKILL as soon as its reply has come: the refusal is in the log after the restart.
    let mut guesser = Client::connect(server.addr, Encoding::Json).await;
    let refused = guesser
        .error(authenticate(Some("acme"), "commy_000000000000_nope"))
        .await;
    assert_eq!(refused.code, ErrorCode::Unauthorized);
    server.crash().await;

    let server = start_commy(dir.path());
    let mut admin = self::admin(&server, dir.path()).await;
    let log = acme_log(&mut admin).await;
    let refusal = ("auth_failure".to_owned(), "denied:invalid_key".to_owned());
    assert!(log.contains(&refusal), "{log:?}");

    // Successful logins, then a graceful stop with nothing else written: their queued records are kept, in order.
    for _ in 0..3 {
        let mut client = Client::connect(server.addr, Encoding::Json).await;
        client.authenticate(Some("acme"), &key.key).await;
    }
    server.signal_and_wait("-TERM").await;
    let server = start_commy(dir.path());
    let mut admin = self::admin(&server, dir.path()).await;
    let log = acme_log(&mut admin).await;
    let successes = log.iter().filter(|(action, _)| action == "auth_success").count();
    assert_eq!(successes, 3, "{log:?}");
    let first = log.iter().position(|entry| *entry == refusal);
    let last_success = log.iter().rposition(|(action, _)| action == "auth_success");
    assert!(first < last_success, "the log keeps its order: {log:?}");
    server.signal_and_wait("-TERM").await;
}
