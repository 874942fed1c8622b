//! A local handle's wait in its own thread (`Variable::wait_change_blocking`) skips the writes made through the same
//! handle, wakes for a clone's, and the calls without a future (`read_now`, `write_now`) need the local transport.

use commy_client::{Allocation, Error, Transport, Variable};
use commy_testkit::{TestServer, ALL};
use std::sync::Arc;
use std::time::Duration;

/// Waits on `handle` (the very handle: an `Arc` of it, not a clone) from `seen` in a blocking thread.
async fn wait(handle: &Arc<Variable<u64>>, seen: u64, timeout: Duration) -> Option<(u64, u64)> {
    let handle = Arc::clone(handle);
    tokio::task::spawn_blocking(move || handle.wait_change_blocking(seen, timeout).unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handles_wait_skips_its_own_writes_and_wakes_for_a_clones() {
    let server = TestServer::start().await;
    let key = server.tenant_key("acme", ALL).await;
    let client = server.sdk_client(Transport::Local, "acme", &key).await;
    let svc = client.create_service("own").await.unwrap();
    svc.allocate("v", Allocation::u64(0)).await.unwrap();
    let handle = Arc::new(svc.variable::<u64>("v").await.unwrap());
    let (_, seen) = handle.read_versioned_now().unwrap();

    assert_eq!(handle.write_now(1).unwrap(), seen + 1);
    assert_eq!(
        wait(&handle, seen, Duration::from_millis(30)).await,
        None,
        "the handle's own write does not end its wait"
    );
    let other = Variable::clone(&handle);
    other.write_now(2).unwrap();
    assert_eq!(
        wait(&handle, seen, Duration::from_secs(30)).await,
        Some((2, seen + 2)),
        "a clone's write does"
    );
    assert_eq!(handle.read_now().unwrap(), 2);

    let remote = server.sdk_client(Transport::Remote, "acme", &key).await;
    let remote_handle = remote
        .get_service("own")
        .await
        .unwrap()
        .variable::<u64>("v")
        .await
        .unwrap();
    assert!(matches!(remote_handle.read_now(), Err(Error::InvalidRequest(_))));
    assert!(matches!(remote_handle.write_now(3), Err(Error::InvalidRequest(_))));
    assert_eq!(remote_handle.read().await.unwrap(), 2);
}
