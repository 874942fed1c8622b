//! Replicated variables across `commy serve --cluster` processes over one real nats-server (docs/cluster.md): writes
//! on any server, remote or through a local mapping, reach every other server's subscribers and local watchers;
//! concurrent writers converge and compare-and-set increments add up; a server killed with SIGKILL loses no
//! acknowledged write and catches up before it serves; NATS lost and back.
//!
//! Metadata is not replicated by this part: each test creates the same tenant, service and variables on every server
//! (tolerating ALREADY_EXISTS, so that it still works once metadata replicates by itself).

use commy_client::{Allocation, Client, Credentials, Error, Permission, Service, Transport, Watch};
use commy_testkit::cluster::{cluster_key_file, ClusterNode, CLUSTER_ADMIN_KEY};
use commy_testkit::{guard, http_get, NatsServer};
use std::future::Future;
use std::time::Duration;

const TENANT: &str = "acme";
const SERVICE: &str = "plant";

fn commy() -> &'static str {
    env!("CARGO_BIN_EXE_commy")
}

/// `count` nodes over `nats`, sharing one key file in `keys`.
fn nodes(nats: &NatsServer, keys: &tempfile::TempDir, count: usize) -> Vec<ClusterNode> {
    let key_file = cluster_key_file(keys.path());
    (0..count)
        .map(|_| ClusterNode::start(commy(), &nats.url(), &key_file))
        .collect()
}

async fn connect(node: &ClusterNode, transport: Transport, tenant: Option<&str>, key: &str) -> Client {
    let client = Client::builder(&node.url())
        .transport(transport)
        .request_timeout(Duration::from_secs(20))
        .connect()
        .await
        .unwrap_or_else(|e| panic!("connect to {}: {e}\n{}", node.url(), node.log()));
    client
        .authenticate(tenant, Credentials::api_key(key))
        .await
        .unwrap_or_else(|e| panic!("authenticate: {e}"));
    client
}

/// Creates the tenant, a key, the service and `u64` variables (initial 0) on `node`, each unless it exists; returns
/// the tenant key.
async fn set_up(node: &ClusterNode, variables: &[&str]) -> String {
    let admin = connect(node, Transport::Remote, None, CLUSTER_ADMIN_KEY).await;
    match admin.create_tenant(TENANT, "Acme").await {
        Ok(_) | Err(Error::AlreadyExists(_)) => {}
        Err(e) => panic!("create tenant: {e}"),
    }
    let all = [Permission::CreateService, Permission::Read, Permission::Write];
    let key = admin
        .create_api_key(TENANT, "test", &all, None)
        .await
        .expect("create key")
        .key;
    let client = connect(node, Transport::Remote, Some(TENANT), &key).await;
    let service = match client.create_service(SERVICE).await {
        Ok(service) => service,
        Err(Error::AlreadyExists(_)) => client.get_service(SERVICE).await.expect("get service"),
        Err(e) => panic!("create service: {e}"),
    };
    for variable in variables {
        match service.allocate(variable, Allocation::u64(0)).await {
            Ok(_) | Err(Error::AlreadyExists(_)) => {}
            Err(e) => panic!("allocate {variable}: {e}"),
        }
    }
    key
}

/// The service through a client of `node` over `transport`.
async fn open_service(node: &ClusterNode, transport: Transport, key: &str) -> (Client, Service) {
    let client = connect(node, transport, Some(TENANT), key).await;
    let service = client.get_service(SERVICE).await.expect("get service");
    (client, service)
}

/// Waits, within the guard, until `watch` delivers `variable` at `value`.
async fn until_seen(watch: &mut Watch, variable: &str, value: u64, who: &str) {
    guard(&format!("{who} to see {variable} = {value}"), async {
        loop {
            let change = watch.next_change().await.expect("the watch goes on");
            if change.variable == variable && change.as_u64().unwrap() == value {
                return;
            }
        }
    })
    .await
}

/// Polls `read` until `done` says yes (within the guard); returns the last value read.
async fn eventually<T: std::fmt::Debug, F: Future<Output = T>>(
    what: &str,
    mut read: impl FnMut() -> F,
    done: impl Fn(&T) -> bool,
) -> T {
    guard(what, async {
        loop {
            let value = read().await;
            if done(&value) {
                return value;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
}

/// Waits until every service reads the same (value, version) of `variable`; returns what each read.
async fn same_everywhere(what: &str, services: &[(Client, Service)], variable: &str) -> Vec<(u64, u64)> {
    let read_all = || async {
        let mut seen = Vec::new();
        for (_, service) in services {
            seen.push(read(service, variable).await);
        }
        seen
    };
    eventually(what, read_all, |seen| seen.iter().all(|s| *s == seen[0])).await
}

/// (value, version) of `variable` on a service.
async fn read(service: &Service, variable: &str) -> (u64, u64) {
    let snapshot = service.read(variable).await.expect("read");
    (snapshot.as_u64().unwrap(), snapshot.version)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_on_each_server_remote_and_local_reach_every_other_server() {
    let nats = NatsServer::start().await;
    let keys = tempfile::tempdir().unwrap();
    let nodes = nodes(&nats, &keys, 3);
    let mut remote = Vec::new();
    let mut local = Vec::new();
    let mut subscribers = Vec::new();
    let mut local_watchers = Vec::new();
    for node in &nodes {
        let key = set_up(node, &["temp"]).await;
        let (client, service) = open_service(node, Transport::Remote, &key).await;
        subscribers.push(service.watch_variable("temp").await.expect("subscribe"));
        remote.push((client, service));
        let (client, service) = open_service(node, Transport::Local, &key).await;
        assert_eq!(client.transport(), Transport::Local);
        local_watchers.push(service.watch_variable("temp").await.expect("watch the mapping"));
        local.push((client, service));
    }
    for writer in 0..nodes.len() {
        for (how, value) in [("remote", 1000 + writer as u64), ("local", 2000 + writer as u64)] {
            let service = if how == "remote" {
                &remote[writer].1
            } else {
                &local[writer].1
            };
            service
                .write("temp", value)
                .await
                .unwrap_or_else(|e| panic!("{how} write on server {writer}: {e}"));
            for other in (0..nodes.len()).filter(|&other| other != writer) {
                let who = format!("server {other}'s subscriber, after a {how} write on server {writer}");
                until_seen(&mut subscribers[other], "temp", value, &who).await;
                let who = format!("server {other}'s local watcher, after a {how} write on server {writer}");
                until_seen(&mut local_watchers[other], "temp", value, &who).await;
            }
            // Every server reports the same version for it.
            let versions = same_everywhere("the same version on every server", &remote, "temp").await;
            assert_eq!(versions[0].0, value);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writers_converge_and_compare_and_set_increments_add_up() {
    const CLIENTS_PER_SERVER: usize = 2;
    const INCREMENTS: u64 = 10;
    let nats = NatsServer::start().await;
    let keys = tempfile::tempdir().unwrap();
    let nodes = nodes(&nats, &keys, 3);
    let mut tasks = Vec::new();
    let mut readers = Vec::new();
    let mut tenant_keys = Vec::new();
    for node in &nodes {
        tenant_keys.push(set_up(node, &["count", "last", "mapped"]).await);
    }
    for (at, (node, key)) in nodes.iter().zip(tenant_keys).enumerate() {
        readers.push(open_service(node, Transport::Remote, &key).await);
        for _ in 0..CLIENTS_PER_SERVER {
            let (client, service) = open_service(node, Transport::Remote, &key).await;
            tasks.push(tokio::spawn(async move {
                let mut conflicts = 0;
                for _ in 0..INCREMENTS {
                    loop {
                        let (value, version) = read(&service, "count").await;
                        match service.compare_and_set("count", version, value + 1).await {
                            Ok(_) => break,
                            Err(Error::Conflict { .. }) => conflicts += 1,
                            Err(e) => panic!("compare-and-set: {e}"),
                        }
                    }
                }
                drop(client);
                conflicts
            }));
        }
        let (client, service) = open_service(node, Transport::Remote, &key).await;
        tasks.push(tokio::spawn(async move {
            for n in 0..20u64 {
                service.write("last", at as u64 * 100 + n).await.expect("plain write");
            }
            drop(client);
            0
        }));
        // Writers through each server's mapping at the same time: published after the fact, racing each other.
        let (client, service) = open_service(node, Transport::Local, &key).await;
        tasks.push(tokio::spawn(async move {
            for n in 0..20u64 {
                service
                    .write("mapped", at as u64 * 100 + n)
                    .await
                    .expect("a write to the mapping");
                tokio::task::yield_now().await;
            }
            drop(client);
            0
        }));
    }
    let mut conflicts = 0;
    for task in tasks {
        conflicts += guard("the writers to finish", task).await.expect("a writer");
    }
    let total = (nodes.len() * CLIENTS_PER_SERVER) as u64 * INCREMENTS;
    for (at, (_, service)) in readers.iter().enumerate() {
        let what = format!("server {at} to reach {total} (conflicts on the way: {conflicts})");
        let reached = eventually(&what, || read(service, "count"), |(value, _)| *value >= total).await;
        assert_eq!(reached.0, total, "server {at}: no increment lost, none counted twice");
    }
    let finals = same_everywhere("every server to end with the same last value", &readers, "last").await;
    assert_eq!(
        finals[0].0 % 100,
        19,
        "the final value is some writer's last write: {finals:?}"
    );
    let mapped = same_everywhere("every server to end with the same mapped value", &readers, "mapped").await;
    assert_eq!(
        mapped[0].0 % 100,
        19,
        "the final value is some mapping writer's last write: {mapped:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_server_killed_under_write_load_loses_no_acknowledged_write_and_catches_up_before_serving() {
    let nats = NatsServer::start().await;
    let keys = tempfile::tempdir().unwrap();
    let mut nodes = nodes(&nats, &keys, 2);
    let key = set_up(&nodes[0], &["seq", "other"]).await;
    let other_key = set_up(&nodes[1], &["seq", "other"]).await;
    let (writer_client, writer) = open_service(&nodes[0], Transport::Remote, &key).await;
    let (acked_tx, mut acked) = tokio::sync::watch::channel(0u64);
    let load = tokio::spawn(async move {
        for n in 1.. {
            if writer.write("seq", n).await.is_err() {
                break;
            }
            acked_tx.send_replace(n);
        }
        drop(writer_client);
    });
    guard("some writes acknowledged", acked.wait_for(|&n| n >= 30))
        .await
        .expect("the writer");
    nodes[0].crash().await;
    guard("the writer to see the server gone", load)
        .await
        .expect("the writer task");
    let last_acked = *acked.borrow();

    // The other server has every acknowledged write, and takes writes while the first is down.
    let (_c, survivor) = open_service(&nodes[1], Transport::Remote, &other_key).await;
    eventually(
        "the survivor to have every acknowledged write",
        || read(&survivor, "seq"),
        |(v, _)| *v >= last_acked,
    )
    .await;
    for n in 1..=25u64 {
        survivor.write("other", n).await.expect("write on the survivor");
    }
    let expected = read(&survivor, "other").await;

    // Restarted, it has caught up before it serves: the first read already sees it all.
    nodes[0].restart();
    let (_c, restarted) = open_service(&nodes[0], Transport::Remote, &key).await;
    assert_eq!(read(&restarted, "other").await, expected, "{}", nodes[0].log());
    let (seq, _) = read(&restarted, "seq").await;
    assert!(
        seq >= last_acked,
        "acknowledged {last_acked}, the restarted server has {seq}"
    );
    assert_eq!(read(&restarted, "seq").await, read(&survivor, "seq").await);
}

async fn metric(node: &ClusterNode, name: &str) -> Option<i64> {
    let (_, _, body) = http_get(node.addr(), "/metrics").await;
    body.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn servers_keep_serving_without_nats_say_so_and_converge_when_it_returns() {
    let mut nats = NatsServer::start().await;
    let keys = tempfile::tempdir().unwrap();
    let nodes = nodes(&nats, &keys, 2);
    let mut services = Vec::new();
    for node in &nodes {
        let key = set_up(node, &["mode"]).await;
        services.push(open_service(node, Transport::Remote, &key).await);
    }
    assert_eq!(metric(&nodes[0], "commy_cluster_connected").await, Some(1));

    nats.kill();
    for node in &nodes {
        let health = eventually(
            "/healthz to say NATS is lost",
            || http_get(node.addr(), "/healthz"),
            |(_, _, body)| body.contains("NATS unreachable"),
        )
        .await;
        assert_eq!(health.0, 200, "still serving: {health:?}");
        eventually(
            "commy_cluster_connected 0",
            || metric(node, "commy_cluster_connected"),
            |m| *m == Some(0),
        )
        .await;
    }
    // Plain writes land locally; a compare-and-set needs NATS and says so.
    for (at, (_, service)) in services.iter().enumerate() {
        service
            .write("mode", 70 + at as u64)
            .await
            .expect("a plain write without NATS");
        assert_eq!(read(service, "mode").await.0, 70 + at as u64);
        let (_, version) = read(service, "mode").await;
        match service.compare_and_set("mode", version, 1u64).await {
            Err(Error::Timeout(message)) => assert!(message.contains("needs the cluster's NATS"), "{message}"),
            other => panic!("compare-and-set without NATS: {other:?}"),
        }
    }
    for node in &nodes {
        let pending = metric(node, "commy_cluster_pending_changes").await;
        assert!(pending >= Some(1), "pending changes while NATS is lost: {pending:?}");
    }

    nats.restart().await;
    let finals = same_everywhere("both servers to converge after NATS returns", &services, "mode").await;
    assert!(
        [70, 71].contains(&finals[0].0),
        "one of the outage's writes wins: {finals:?}"
    );
    for node in &nodes {
        eventually(
            "/healthz ok again",
            || http_get(node.addr(), "/healthz"),
            |(_, _, body)| body == "ok",
        )
        .await;
        eventually(
            "nothing pending",
            || metric(node, "commy_cluster_pending_changes"),
            |m| *m == Some(0),
        )
        .await;
        eventually(
            "commy_cluster_connected 1",
            || metric(node, "commy_cluster_connected"),
            |m| *m == Some(1),
        )
        .await;
        let said = |log: &String| log.contains("NATS connection lost") && log.contains("NATS connection back");
        eventually(
            "the log to say NATS was lost and is back",
            || async { node.log() },
            said,
        )
        .await;
    }
    // And a compare-and-set works again, cluster-wide.
    let (_, version) = read(&services[1].1, "mode").await;
    services[1]
        .1
        .compare_and_set("mode", version, 99u64)
        .await
        .expect("compare-and-set with NATS back");
    eventually(
        "the first server to see it",
        || read(&services[0].1, "mode"),
        |(v, _)| *v == 99,
    )
    .await;
}

/// A write through a mapping is published at the version its writer was told: the publication coming back through
/// the server's own watch is no new local write (it once was taken for one, published again one version up, and every
/// subscriber saw the value twice).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_local_write_keeps_the_version_its_writer_was_told_on_every_server() {
    let nats = NatsServer::start().await;
    let keys = tempfile::tempdir().unwrap();
    let nodes = nodes(&nats, &keys, 2);
    let mut remote = Vec::new();
    let mut keys_by_node = Vec::new();
    for node in &nodes {
        let key = set_up(node, &["level"]).await;
        remote.push(open_service(node, Transport::Remote, &key).await);
        keys_by_node.push(key);
    }
    let (_mapping, local) = open_service(&nodes[0], Transport::Local, &keys_by_node[0]).await;
    let mut versions = Vec::new();
    for value in 1..=5u64 {
        let version = local.write("level", value).await.expect("a local write");
        let read_all = || async {
            let mut seen = Vec::new();
            for (_, service) in &remote {
                seen.push(read(service, "level").await);
            }
            seen
        };
        let seen = eventually("the local write on every server", read_all, |seen| {
            seen.iter().all(|&(read, _)| read == value)
        })
        .await;
        assert!(
            seen.iter().all(|&(_, read)| read == version),
            "write {value} was told version {version}; the servers read {seen:?}"
        );
        versions.push(version);
    }
    let steps: Vec<u64> = versions.windows(2).map(|pair| pair[1] - pair[0]).collect();
    assert!(
        steps.iter().all(|&step| step == 1),
        "one version per write: {versions:?}"
    );
}
