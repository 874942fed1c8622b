//! Local and remote clients of one service see each other's writes, and a local read-only mapping is really mapped
//! read-only.

use commy_client::{Allocation, Error, Transport};
use commy_testkit::{TestServer, ALL, READ_ONLY};

async fn seen_by_watch(watch: &mut commy_client::Watch, variable: &str, version: u64) -> u64 {
    loop {
        let change = watch.next_change().await.expect("watch continues");
        if change.variable == variable && change.version >= version {
            return change.as_u64().unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_write_reaches_a_remote_watcher_and_back() {
    let server = TestServer::start().await;
    let key = server.tenant_key("acme", ALL).await;
    let local = server.sdk_client(Transport::Local, "acme", &key).await;
    let remote = server.sdk_client(Transport::Remote, "acme", &key).await;
    let local_svc = local.create_service("shared").await.unwrap();
    local_svc.allocate("n", Allocation::u64(0)).await.unwrap();
    let remote_svc = remote.get_service("shared").await.unwrap();
    assert_eq!(local_svc.transport(), Transport::Local);
    assert_eq!(remote_svc.transport(), Transport::Remote);

    let mut remote_watch = remote_svc.watch_variable("n").await.unwrap();
    let mut local_watch = local_svc.watch_variable("n").await.unwrap();

    let version = local_svc.write_u64("n", 41).await.unwrap();
    assert_eq!(seen_by_watch(&mut remote_watch, "n", version).await, 41);
    assert_eq!(remote_svc.read_u64("n").await.unwrap(), 41);

    let version = remote_svc.write_u64("n", 42).await.unwrap();
    assert_eq!(seen_by_watch(&mut local_watch, "n", version).await, 42);
    assert_eq!(local_svc.read_u64("n").await.unwrap(), 42);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_key_maps_the_file_read_only() {
    let server = TestServer::start().await;
    let key = server.tenant_key("acme", ALL).await;
    let writer = server.sdk_client(Transport::Local, "acme", &key).await;
    let svc = writer.create_service("ro").await.unwrap();
    svc.allocate("n", Allocation::u64(1)).await.unwrap();
    let read_key = server.tenant_key("acme", READ_ONLY).await;
    let reader = server.sdk_client(Transport::Local, "acme", &read_key).await;
    let ro = reader.get_service("ro").await.unwrap();
    assert_eq!(ro.transport(), Transport::Local);

    // The kernel's view: this process now maps the service file without write permission ("r--s"), beside the
    // server's and the writer's read-write mappings ("rw-s").
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let services = server.data_dir().join("services");
    let perms: Vec<&str> = maps
        .lines()
        .filter(|line| line.contains(services.to_str().unwrap()))
        .filter_map(|line| line.split_whitespace().nth(1))
        .collect();
    assert!(perms.contains(&"r--s"), "no read-only mapping in {perms:?}");
    assert!(perms.contains(&"rw-s"), "no read-write mapping in {perms:?}");

    assert!(matches!(ro.write_u64("n", 2).await, Err(Error::PermissionDenied(_))));
    // A read-only watcher is woken by writes (the server holds its waiter pin).
    let mut watch = ro.watch_variable("n").await.unwrap();
    let version = svc.write_u64("n", 3).await.unwrap();
    assert_eq!(seen_by_watch(&mut watch, "n", version).await, 3);
}
