//! The Rust SDK given several server URLs fails over: two independent `commy serve` processes set up alike (the same
//! tenant, the same HS256 JWT key, the same service and variables), a client of both, and the first one killed with
//! SIGKILL. No cluster is needed: the servers give the service different ids, which the client looks up again.

use commy_client::{Allocation, Change, Client, ClientBuilder, Credentials, Service, Transport, Watch};
use commy_proto::{CreateTenant, Encoding};
use commy_testkit::guard;
use commy_testkit::process::{self, written_admin_key, ServeProcess};
use jsonwebtoken::{encode, get_current_timestamp, Algorithm, EncodingKey, Header};
use serde_json::json;
use std::net::TcpListener;
use std::path::Path;
use std::time::Duration;
use tempfile::TempDir;

const SECRET: &str = "failover-test-secret-of-at-least-32-bytes";

/// One `commy serve` with its data directory.
struct Node {
    server: ServeProcess,
    dir: TempDir,
}

impl Node {
    fn url(&self) -> String {
        format!("ws://{}/ws", self.server.addr)
    }
}

/// A token for tenant `acme` that both servers accept (they hold the same JWT key).
fn token() -> String {
    let claims = json!({"sub": "failover-test", "tenant": "acme", "exp": get_current_timestamp() + 600,
                        "permissions": ["read", "write", "create_service"]});
    encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

/// Starts a server on loopback with tenant `acme`, its JWT key, and service `plant` with `speed` and `mode` (u64, 0).
async fn start_node() -> Node {
    let dir = tempfile::tempdir().unwrap();
    let command = process::serve_command(env!("CARGO_BIN_EXE_commy"), dir.path());
    set_up(ServeProcess::start(&mut { command }), dir).await
}

/// The same, but a server that announces no local socket: its data directory's path is too long for a Unix
/// socket's address (108 bytes), so it serves its WebSocket alone and a client on this machine reaches it as a remote
/// server (as it would a server on another machine), all on loopback.
async fn start_node_without_local_socket() -> Node {
    let dir = tempfile::tempdir().unwrap();
    let data_dir = dir.path().join("d".repeat(100));
    let command = process::serve_command(env!("CARGO_BIN_EXE_commy"), &data_dir);
    let server = ServeProcess::start(&mut { command });
    assert!(
        server.log().contains("no local socket"),
        "the server was meant to have no local socket:\n{}",
        server.log()
    );
    set_up_in(server, dir, &data_dir).await
}

async fn set_up(server: ServeProcess, dir: TempDir) -> Node {
    let data_dir = dir.path().to_owned();
    set_up_in(server, dir, &data_dir).await
}

async fn set_up_in(server: ServeProcess, dir: TempDir, data_dir: &Path) -> Node {
    let mut admin = commy_testkit::Client::connect(server.addr, Encoding::Json).await;
    admin.authenticate(None, &written_admin_key(data_dir)).await;
    admin
        .ok(CreateTenant {
            tenant_id: "acme".into(),
            tenant_name: "Acme".into(),
        })
        .await;
    admin.ok(commy_testkit::hs256_key("acme", SECRET)).await;
    let node = Node { server, dir };
    let client = connect(&[node.url()], Transport::Remote).await;
    let plant = client.create_service("plant").await.unwrap();
    plant.allocate("speed", Allocation::u64(0)).await.unwrap();
    plant.allocate("mode", Allocation::u64(0)).await.unwrap();
    node
}

fn builder(urls: &[String], transport: Transport) -> ClientBuilder {
    Client::builder(&urls.join(","))
        .transport(transport)
        .connect_timeout(Duration::from_secs(2))
        .request_timeout(Duration::from_secs(5))
        .reconnect(true, Duration::from_millis(50), Duration::from_millis(200))
        .max_reconnect_rounds(10)
}

async fn connect(urls: &[String], transport: Transport) -> Client {
    let client = builder(urls, transport).connect().await.unwrap();
    client
        .authenticate(Some("acme"), Credentials::jwt(token()))
        .await
        .unwrap();
    client
}

/// A client of `urls` and its handle to `plant`, if the service exists.
async fn plant_on(urls: &[String], transport: Transport) -> (Client, Option<Service>) {
    let client = connect(urls, transport).await;
    let plant = client.get_service("plant").await.ok();
    (client, plant)
}

/// Writes `values` to `variable` of `plant` on the server at `url`, one after the other.
async fn write_on(url: &str, variable: &str, values: impl IntoIterator<Item = u64>) {
    let (client, plant) = plant_on(&[url.to_owned()], Transport::Remote).await;
    let plant = plant.expect("service plant");
    for value in values {
        plant.write(variable, value).await.unwrap();
    }
    client.close();
}

/// A loopback URL where nothing listens.
fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("ws://{addr}/ws")
}

/// Reads `watch` until `variable` has `value`; returns every change of it seen, as (value, version).
async fn until(watch: &mut Watch, variable: &str, value: u64) -> Vec<(u64, u64)> {
    let mut seen = Vec::new();
    guard(&format!("{variable} = {value} in the watch"), async {
        loop {
            let change: Change = watch.next_change().await.expect("the watch goes on");
            if change.variable == variable {
                seen.push((change.as_u64().unwrap(), change.version));
                if seen.last().unwrap().0 == value {
                    return;
                }
            }
        }
    })
    .await;
    seen
}

async fn until_on(client: &Client, url: &str) {
    let mut changes = client.connection_changes();
    guard(&format!("the client to move to {url}"), async {
        while changes.borrow_and_update().server != url {
            changes.changed().await.unwrap();
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remote_client_fails_over_resubscribes_and_never_goes_back() {
    let (a, b) = (start_node().await, start_node().await);
    // A server not set up like the others (no tenant `acme`): it refuses the client, which then tries the next.
    let bare_dir = tempfile::tempdir().unwrap();
    let bare = ServeProcess::start(&mut process::serve_command(
        env!("CARGO_BIN_EXE_commy"),
        bare_dir.path(),
    ));
    let dead = dead_url();
    let urls = [dead.clone(), a.url(), format!("ws://{}/ws", bare.addr), b.url()];

    // The unreachable first URL is skipped.
    let (client, plant) = plant_on(&urls, Transport::Remote).await;
    let plant = plant.unwrap();
    assert_eq!(client.server(), a.url());
    assert_eq!(client.reconnections(), 0);
    // The CLI too, with COMMY_URL a list.
    let admin_key = written_admin_key(a.dir.path());
    let cli = process::client_command(
        env!("CARGO_BIN_EXE_commy"),
        &format!("{dead},{}", a.url()),
        &admin_key,
        &["tenant", "list", "--json"],
    );
    let listed = process::output("commy tenant list", &mut { cli });
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success() && stdout.contains("acme"), "{listed:?}");
    let mut watch = plant.watch().await.unwrap();
    let mut mode = plant.watch_variable("mode").await.unwrap();

    // A is ahead of B for `speed`; B has a `mode` the client never saw on A.
    write_on(&a.url(), "speed", 1..=5).await;
    write_on(&b.url(), "speed", 1..=2).await;
    write_on(&b.url(), "mode", [7]).await;
    assert_eq!(until(&mut watch, "speed", 5).await.last(), Some(&(5, 6)));

    a.server.crash().await;
    until_on(&client, &b.url()).await;
    assert_eq!(client.reconnections(), 1);

    // Re-subscribed on B: the current value of what changed unseen arrives with no new write (the session is renewed
    // before the client says it moved), and B's older `speed` (version 3, below the 6 seen) does not.
    let caught_up: Vec<(String, u64, u64)> = std::iter::from_fn(|| watch.try_next_change())
        .map(|c| (c.variable.clone(), c.as_u64().unwrap(), c.version))
        .collect();
    assert_eq!(caught_up, [("mode".to_owned(), 7, 2)]);
    assert_eq!(until(&mut mode, "mode", 7).await, [(7, 2)]);
    // The handle made on A works on B (another service id there), reads and writes alike.
    assert_eq!(plant.read("mode").await.unwrap().as_u64().unwrap(), 7);
    for value in 3..=7u64 {
        plant.write("speed", value).await.unwrap();
    }
    // B's speed was behind (version 3, then 4 and 5): nothing older than version 6 comes after it.
    let after = until(&mut watch, "speed", 7).await;
    assert!(after.iter().all(|&(_, version)| version > 6), "{after:?}");
    assert_eq!(after.last(), Some(&(7, 8)), "the watch ends at the final value");
    let versions: Vec<u64> = after.iter().map(|&(_, v)| v).collect();
    assert!(versions.is_sorted(), "{after:?}");

    // Every server down (or refusing): after the bounded retry, an error that names them all.
    b.server.crash().await;
    let err = guard("the client to give up", async {
        loop {
            match plant.read("speed").await {
                Err(err) if err.to_string().contains("gave up") => return err,
                _ => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    })
    .await
    .to_string();
    for url in &urls {
        assert!(err.contains(url.as_str()), "{url} missing from: {err}");
    }
    assert!(
        err.contains(&format!("{}: ", urls[2])),
        "the bare server's answer is told: {err}"
    );
    guard("the watch to end", async {
        while watch.next_change().await.is_some() {}
    })
    .await;
    bare.crash().await;
    let err = builder(&urls, Transport::Remote)
        .connect()
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("none of the 4 servers could be reached"), "{err}");
    for url in &urls {
        assert!(err.contains(url.as_str()), "{url} missing from: {err}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_client_maps_the_next_server_on_the_same_machine() {
    let (a, b) = (start_node().await, start_node().await);
    let urls = [a.url(), b.url()];
    let (client, plant) = plant_on(&urls, Transport::Local).await;
    let plant = plant.unwrap();
    assert_eq!(plant.transport(), Transport::Local);
    let speed = plant.variable::<u64>("speed").await.unwrap();
    let mut watch = plant.watch_variable("speed").await.unwrap();
    speed.write(1).await.unwrap();
    assert_eq!(until(&mut watch, "speed", 1).await.last(), Some(&(1, 2)));

    a.server.crash().await;
    until_on(&client, &b.url()).await;
    let state = client.connection_state();
    assert_eq!((state.transport, state.reconnections), (Transport::Local, 1));
    guard("the mapping of B's file", async {
        while plant.transport() != Transport::Local {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;

    // Writes through the handles land in B's file: a remote client of B reads them, and the watch follows.
    for value in 2..=4u64 {
        speed.write(value).await.unwrap();
    }
    let (_remote, on_b) = plant_on(&[b.url()], Transport::Remote).await;
    let on_b = on_b.unwrap().read("speed").await.unwrap();
    assert_eq!((on_b.as_u64().unwrap(), on_b.version), (4, 4));
    assert_eq!(until(&mut watch, "speed", 4).await.last(), Some(&(4, 4)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_client_goes_remote_on_a_server_it_cannot_map() {
    let (a, b) = (start_node().await, start_node_without_local_socket().await);
    let (client, plant) = plant_on(&[a.url(), b.url()], Transport::Local).await;
    let plant = plant.unwrap();
    let speed = plant.variable::<u64>("speed").await.unwrap();
    assert!(speed.is_local());
    let mut watch = plant.watch_variable("speed").await.unwrap();
    speed.write(1).await.unwrap();
    assert_eq!(until(&mut watch, "speed", 1).await.last(), Some(&(1, 2)));

    a.server.crash().await;
    until_on(&client, &b.url()).await;
    assert_eq!(client.connection_state().transport, Transport::Remote);
    assert_eq!(plant.transport(), Transport::Remote);
    assert!(!speed.is_local(), "the handle no longer uses the dead server's file");

    // The same handles now work through B's WebSocket, and B's pushes feed the watch.
    for value in 2..=4u64 {
        speed.write(value).await.unwrap();
    }
    let (_remote, on_b) = plant_on(&[b.url()], Transport::Remote).await;
    assert_eq!(on_b.unwrap().read("speed").await.unwrap().as_u64().unwrap(), 4);
    assert_eq!(speed.read().await.unwrap(), 4);
    assert_eq!(until(&mut watch, "speed", 4).await.last(), Some(&(4, 4)));
}
