//! Watches that skip their own writes (`WatchOptions::skip_own_writes`), against a real `commy serve` process, on
//! both transports: such a watch never reports a value its client wrote, and does report what another process (the
//! `commy` CLI) and another connection write, ending a burst that mixes both at the last value someone else wrote. A
//! plain watch on the same client still reports the client's own writes.
//!
//! Values this test's own client writes are odd, everyone else's even, so a reported value says who wrote it.

use commy_client::{Allocation, Client, Credentials, Service, Transport, Watch, WatchOptions};
use commy_proto::Permission;
use commy_testkit::process::{self, serve_command, ServeProcess};
use commy_testkit::sdk::tenant_key_at;
use commy_testkit::{guard, ADMIN_KEY};
use std::time::Duration;

/// How long a watch is given to report a change that must not come. Passing never depends on it: a skipped change
/// that did arrive later would still be caught by the next expected one.
const QUIET: Duration = Duration::from_millis(300);

fn start_commy(dir: &std::path::Path) -> ServeProcess {
    let mut command = serve_command(env!("CARGO_BIN_EXE_commy"), dir);
    command.env("COMMY_ADMIN_KEY", ADMIN_KEY);
    ServeProcess::start(&mut command)
}

async fn client(url: &str, transport: Transport, key: &str) -> Client {
    let client = Client::builder(url)
        .transport(transport)
        .connect()
        .await
        .expect("client connects");
    client
        .authenticate(Some("t"), Credentials::api_key(key))
        .await
        .expect("client authenticates");
    assert_eq!(client.transport(), transport);
    client
}

/// `commy var set s config <value>` in a process of its own, over `transport`.
fn cli_set(url: &str, key: &str, transport: &str, value: u64) {
    let value = value.to_string();
    let args = [
        "var",
        "set",
        "s",
        "config",
        &value,
        "--transport",
        transport,
        "--tenant",
        "t",
    ];
    let mut command = process::client_command(env!("CARGO_BIN_EXE_commy"), url, key, &args);
    let out = process::output("commy var set", &mut command);
    assert!(out.status.success(), "{out:?}");
}

/// The values `watch` reports until `last`, which must come.
async fn until(watch: &mut Watch, last: u64) -> Vec<u64> {
    guard(&format!("the watch to report {last}"), async {
        let mut seen = Vec::new();
        while let Some(change) = watch.next_change().await {
            let value = change.as_u64().expect("a u64 value");
            seen.push(value);
            if value == last {
                return seen;
            }
        }
        panic!("the watch ended after {seen:?}, before {last}");
    })
    .await
}

/// Nothing more within [`QUIET`].
async fn quiet(watch: &mut Watch, what: &str) {
    if let Ok(Some(change)) = tokio::time::timeout(QUIET, watch.next_change()).await {
        panic!("{what}: the watch reported {change:?}");
    }
}

async fn writes(service: &Service, values: impl IntoIterator<Item = u64>) {
    for value in values {
        service.write("config", value).await.expect("a write");
    }
}

/// With `bystanders` more connections watching `config`, a write's push comes from the server's watcher threads (past
/// `DIRECT_PUSH_MAX`, 16, subscribers) instead of the writing request.
async fn own_writes_are_skipped(transport: Transport, cli_transport: &str, bystanders: usize) {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let server = start_commy(dir.path());
    let url = format!("ws://{}", server.addr);
    let permissions = [Permission::CreateService, Permission::Read, Permission::Write];
    let key = tenant_key_at(server.addr, ADMIN_KEY, "t", &permissions).await;
    let me = client(&url, transport, &key).await;
    let mine = me.create_service("s").await.expect("service s");
    mine.allocate("config", Allocation::u64(0))
        .await
        .expect("variable config");
    let other = client(&url, Transport::Remote, &key).await;
    let theirs = other.get_service("s").await.expect("service s for the other client");
    let mut watching = Vec::new();
    for _ in 0..bystanders {
        let bystander = client(&url, Transport::Remote, &key).await;
        let watch = bystander
            .get_service("s")
            .await
            .unwrap()
            .watch_variable("config")
            .await
            .unwrap();
        watching.push((bystander, watch));
    }

    // Without the option, nothing changes: the client's own write is reported.
    let mut plain = mine.watch_variable("config").await.expect("a plain watch");
    writes(&mine, [1]).await;
    assert_eq!(
        until(&mut plain, 1).await,
        [1],
        "a plain watch reports its own client's write"
    );
    drop(plain);

    let skip = WatchOptions::new().skip_own_writes(true);
    let mut one = mine
        .watch_variable_with("config", skip)
        .await
        .expect("a watch of config");
    let mut all = mine.watch_with(skip).await.expect("a watch of the service");
    writes(&mine, [3, 5]).await;
    quiet(&mut one, "after only its own writes").await;
    // Another process: the first thing either watch reports.
    cli_set(&url, &key, cli_transport, 10);
    assert_eq!(
        until(&mut one, 10).await,
        [10],
        "another process's write, and none of its own"
    );
    assert_eq!(
        until(&mut all, 10).await,
        [10],
        "the same for a watch of the whole service"
    );
    // Another connection.
    writes(&theirs, [12]).await;
    assert_eq!(until(&mut one, 12).await, [12]);

    // A burst, the two clients taking turns, ending with the other's 1000.
    for turn in 0..100u64 {
        writes(&theirs, [800 + 2 * turn]).await;
        writes(&mine, [801 + 2 * turn]).await;
    }
    writes(&theirs, [1000]).await;
    for watch in [&mut one, &mut all] {
        let seen = until(watch, 1000).await;
        assert!(seen.iter().all(|v| v % 2 == 0), "only the other's values: {seen:?}");
        assert!(seen.is_sorted(), "in order, never a stale one: {seen:?}");
    }
    // Its own write after the other's, then the other's again: only the other's.
    writes(&mine, [1001]).await;
    quiet(&mut one, "after its own write").await;
    writes(&theirs, [1002]).await;
    assert_eq!(until(&mut one, 1002).await, [1002]);
    assert_eq!(until(&mut all, 1002).await, [1002]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_watch_skips_its_own_writes_and_reports_everyone_elses() {
    own_writes_are_skipped(Transport::Local, "local", 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_watch_skips_its_own_writes_and_reports_everyone_elses() {
    own_writes_are_skipped(Transport::Remote, "remote", 0).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_watch_skips_its_own_writes_when_the_servers_watcher_threads_push_them() {
    own_writes_are_skipped(Transport::Remote, "remote", 20).await;
}
