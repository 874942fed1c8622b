//! Two `commy serve --cluster` processes over a 3-node JetStream cluster (`--cluster-replicas 3`): one NATS node is
//! killed with SIGKILL, and a write on one Commy server still reaches a subscriber of the other; both still say `ok`.

use commy_client::{Allocation, Credentials, Service, Watch};
use commy_proto::Permission;
use commy_testkit::cluster::{cluster_key_file, ClusterNode, CLUSTER_ADMIN_KEY};
use commy_testkit::sdk::{remote_client, tenant_key_at};
use commy_testkit::{http_get, NatsCluster, GUARD};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

const RIGHTS: &[Permission] = &[Permission::Read, Permission::Write, Permission::CreateService];

/// Service `plant` with u64 `level` on `addr`, made if it is not there yet (it may come from the other server).
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

/// How long replication may take to resume after a NATS node dies: a watch whose JetStream consumer lived on that
/// node notices only by missed idle heartbeats (about 10 s), then resumes once the bucket's stream has a leader again
/// (seconds more on a loaded machine). See docs/cluster.md, "Faults".
const NODE_LOSS_BOUND: Duration = Duration::from_secs(90);

/// Waits until the watch delivers `value`, for at most `bound`.
async fn until(watch: &mut Watch, value: u64, bound: Duration, nats: &NatsCluster) {
    let wait = async {
        loop {
            let change = watch.next_change().await.expect("the watch goes on");
            if change.as_u64().unwrap() == value {
                return;
            }
        }
    };
    tokio::time::timeout(bound, wait).await.unwrap_or_else(|_| {
        panic!(
            "level = {value} did not reach the other server within {bound:?}\n{}",
            nats.logs()
        )
    });
}

/// Writes `value`, retrying while JetStream elects a new leader for the bucket, for at most the guard.
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

/// A node over every NATS URL with three copies of each bucket. JetStream elects its leaders a moment after the nodes
/// meet, and a server that cannot open its buckets yet exits: start it until it stays up, within the guard.
fn start_node(key_file: &Path, nats: &NatsCluster) -> ClusterNode {
    let urls = nats.urls().join(",");
    let args = ["--cluster-replicas", "3"];
    let deadline = std::time::Instant::now() + GUARD;
    loop {
        let started =
            std::panic::catch_unwind(|| ClusterNode::start_with(env!("CARGO_BIN_EXE_commy"), &urls, key_file, &args));
        match started {
            Ok(node) => return node,
            Err(_) if std::time::Instant::now() > deadline => panic!("no commy serve came up\n{}", nats.logs()),
            Err(_) => std::thread::sleep(Duration::from_millis(300)),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_commy_servers_keep_replicating_when_one_of_three_nats_nodes_dies() {
    let mut nats = NatsCluster::start(3).await;
    let keys = tempfile::tempdir().unwrap();
    let key_file = cluster_key_file(keys.path());
    let a = start_node(&key_file, &nats);
    let b = start_node(&key_file, &nats);

    let key = tenant_key_at(a.addr(), CLUSTER_ADMIN_KEY, "acme", RIGHTS).await;
    let on_a = plant(a.addr(), &key).await;
    let on_b = plant(b.addr(), &key).await;
    let mut watch = on_b.watch_variable("level").await.unwrap();

    write(&on_a, 1).await;
    until(&mut watch, 1, GUARD, &nats).await;

    nats.node(0).kill();
    write(&on_a, 2).await;
    until(&mut watch, 2, NODE_LOSS_BOUND, &nats).await;
    for node in [&a, &b] {
        let (status, _, body) = http_get(node.addr(), "/healthz").await;
        assert_eq!((status, body.as_str()), (200, "ok"), "{}", node.log());
    }
}
