//! Two `commy serve --cluster` processes over a 3-node JetStream cluster (`--cluster-replicas 3`): one NATS node is
//! killed with SIGKILL, and a write on one Commy server still reaches a subscriber of the other; both still say `ok`.

use commy_client::{Allocation, Credentials, Service, Watch};
use commy_proto::Permission;
use commy_testkit::nats::write_cluster_key_file;
use commy_testkit::process::{self, ServeProcess};
use commy_testkit::sdk::{remote_client, tenant_key_at};
use commy_testkit::{guard, http_get, NatsCluster, GUARD};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

const ADMIN_KEY: &str = "cluster-test-admin-key-0123456789abcdef0123456789";
const RIGHTS: &[Permission] = &[Permission::Read, Permission::Write, Permission::CreateService];

fn start_commy(dir: &Path, key_file: &Path, urls: &[String]) -> ServeProcess {
    let mut command = process::serve_command(env!("CARGO_BIN_EXE_commy"), dir);
    command
        .arg("--cluster")
        .arg(urls.join(","))
        .arg("--cluster-key-file")
        .arg(key_file)
        .args(["--cluster-replicas", "3"])
        .env("COMMY_ADMIN_KEY", ADMIN_KEY);
    ServeProcess::start(&mut command)
}

/// Service `plant` with u64 `level` on `addr`, made if it is not there yet.
async fn plant(addr: SocketAddr, key: &str) -> Service {
    let client = remote_client(addr).await;
    client
        .authenticate(Some("acme"), Credentials::api_key(key))
        .await
        .unwrap();
    let service = match client.get_service("plant").await {
        Ok(service) => service,
        Err(_) => match client.create_service("plant").await {
            Ok(service) => service,
            Err(_) => client.get_service("plant").await.unwrap(),
        },
    };
    let _ = service.allocate("level", Allocation::u64(0)).await;
    service
}

/// Waits until the watch delivers `value`.
async fn until(watch: &mut Watch, value: u64) {
    guard(&format!("level = {value} on the other server"), async {
        loop {
            let change = watch.next_change().await.expect("the watch goes on");
            if change.as_u64().unwrap() == value {
                return;
            }
        }
    })
    .await;
}

/// Writes `value`, retrying while the cluster elects a new leader for the bucket, for at most the guard.
async fn write(service: &Service, value: u64) {
    let deadline = tokio::time::Instant::now() + GUARD;
    loop {
        match service.write("level", value).await {
            Ok(_) => return,
            Err(err) if tokio::time::Instant::now() > deadline => panic!("write {value}: {err}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_commy_servers_keep_replicating_when_one_of_three_nats_nodes_dies() {
    let mut nats = NatsCluster::start(3).await;
    let urls = nats.urls();
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("cluster.key");
    write_cluster_key_file(&key_file);
    // JetStream elects its leaders a moment after the nodes meet: a server that cannot open its buckets yet exits,
    // so start each until one stays up.
    let a = start_until_up(&dir.path().join("a"), &key_file, &urls, &nats);
    let b = start_until_up(&dir.path().join("b"), &key_file, &urls, &nats);

    let key = tenant_key_at(a.addr, ADMIN_KEY, "acme", RIGHTS).await;
    let on_a = plant(a.addr, &key).await;
    let key_b = match remote_client(b.addr)
        .await
        .authenticate(Some("acme"), Credentials::api_key(&key))
        .await
    {
        Ok(_) => key.clone(),
        Err(_) => tenant_key_at(b.addr, ADMIN_KEY, "acme", RIGHTS).await,
    };
    let on_b = plant(b.addr, &key_b).await;
    let mut watch = on_b.watch_variable("level").await.unwrap();

    write(&on_a, 1).await;
    until(&mut watch, 1).await;

    nats.node(0).kill();
    write(&on_a, 2).await;
    until(&mut watch, 2).await;
    for server in [&a, &b] {
        let (status, _, body) = http_get(server.addr, "/healthz").await;
        assert_eq!((status, body.as_str()), (200, "ok"), "{}", server.log());
    }
}

fn start_until_up(dir: &Path, key_file: &Path, urls: &[String], nats: &NatsCluster) -> ServeProcess {
    let deadline = std::time::Instant::now() + GUARD;
    loop {
        let attempt = std::panic::catch_unwind(|| start_commy(dir, key_file, urls));
        match attempt {
            Ok(server) => return server,
            Err(_) if std::time::Instant::now() > deadline => panic!("no commy serve came up\n{}", nats.logs()),
            Err(_) => std::thread::sleep(Duration::from_millis(300)),
        }
    }
}
