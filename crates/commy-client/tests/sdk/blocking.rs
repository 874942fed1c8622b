//! The blocking wrapper, used from a plain thread as a program without a runtime would.

use commy_client::blocking::Client;
use commy_client::{Allocation, ClientBuilder, Credentials, Error, Transport};
use commy_testkit::{TestServer, ALL};
use std::time::Duration;

fn session(url: &str, key: &str, transport: Transport) {
    let builder: ClientBuilder = commy_client::Client::builder(url).transport(transport);
    let client = Client::connect_with(builder).unwrap();
    client.authenticate(Some("acme"), Credentials::api_key(key)).unwrap();
    assert_eq!(client.transport(), transport);
    let name = format!("counters-{transport:?}");
    let svc = client.create_service(&name).unwrap();
    svc.allocate("hits", Allocation::u64(0)).unwrap();
    let mut watch = svc.watch_variable("hits").unwrap();
    let version = svc.write_u64("hits", 5).unwrap();
    let change = loop {
        let change = watch.next_timeout(Duration::from_secs(30)).unwrap().unwrap();
        if change.version >= version {
            break change;
        }
    };
    assert_eq!(change.as_u64().unwrap(), 5);
    assert_eq!(svc.read_u64("hits").unwrap(), 5);
    assert_eq!(svc.compare_and_set("hits", version, 6u64).unwrap(), version + 1);
    assert!(matches!(
        svc.compare_and_set("hits", version, 7u64),
        Err(Error::Conflict { current_version: Some(v), .. }) if v == version + 1
    ));
    assert!(matches!(svc.read("nope"), Err(Error::NotFound(_))));

    // A handle: on the local transport its calls run in this thread, on the remote one through the runtime.
    let hits = svc.variable::<u64>("hits").unwrap();
    assert_eq!(hits.read().unwrap(), 6);
    let (_, now) = hits.read_versioned().unwrap();
    assert_eq!(hits.write(10).unwrap(), now + 1);
    assert!(matches!(hits.compare_and_set(now, 11), Err(Error::Conflict { .. })));
    hits.update(|n| n + 1).unwrap();
    assert_eq!(svc.read_u64("hits").unwrap(), 11);
    assert!(matches!(svc.variable::<bool>("hits"), Err(Error::InvalidRequest(_))));

    // Waiting for a change in this thread: another thread's write ends the wait with the new value.
    let (_, seen) = hits.read_versioned().unwrap();
    assert_eq!(
        hits.wait_change(seen, Duration::from_millis(10)).unwrap(),
        None,
        "nothing changed"
    );
    let writer = hits.clone();
    let changed = std::thread::scope(|scope| {
        let waiter = scope.spawn(|| hits.wait_change(seen, Duration::from_secs(30)).unwrap());
        writer.write(12).unwrap();
        waiter.join().unwrap()
    });
    assert_eq!(changed, Some((12, seen + 1)));
    assert!(!client.list_services().unwrap().is_empty());
    client.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_blocking_client_works_from_a_plain_thread() {
    let server = TestServer::start().await;
    let key = server.tenant_key("acme", ALL).await;
    let url = server.url();
    tokio::task::spawn_blocking(move || {
        session(&url, &key, Transport::Remote);
        session(&url, &key, Transport::Local);
    })
    .await
    .unwrap();
}
