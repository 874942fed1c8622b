//! The blocking client's watches that skip their own writes (`watch_variable_with`, `watch_with`): a write through a
//! call or a handle of the client is not reported, another client's is, on both transports.

use commy_client::blocking::{Client, Watch};
use commy_client::{Allocation, ClientBuilder, Credentials, Transport, WatchOptions};
use commy_testkit::{TestServer, ALL};
use std::time::Duration;

fn connect(url: &str, key: &str, transport: Transport) -> Client {
    let builder: ClientBuilder = commy_client::Client::builder(url).transport(transport);
    let client = Client::connect_with(builder).unwrap();
    client.authenticate(Some("acme"), Credentials::api_key(key)).unwrap();
    client
}

fn next_value(watch: &mut Watch) -> u64 {
    let change = watch.next_timeout(Duration::from_secs(30)).unwrap().expect("a change");
    change.as_u64().unwrap()
}

fn others_only(url: &str, key: &str, transport: Transport) {
    let me = connect(url, key, transport);
    let name = format!("shared-{transport:?}");
    let svc = me.create_service(&name).unwrap();
    svc.allocate("hits", Allocation::u64(0)).unwrap();
    let skip = WatchOptions::new().skip_own_writes(true);
    let mut one = svc.watch_variable_with("hits", skip).unwrap();
    let mut all = svc.watch_with(skip).unwrap();

    svc.write_u64("hits", 1).unwrap();
    svc.variable::<u64>("hits").unwrap().write(3).unwrap();
    let other = connect(url, key, Transport::Remote);
    other.get_service(&name).unwrap().write_u64("hits", 4).unwrap();
    assert_eq!(
        next_value(&mut one),
        4,
        "the other client's write, not this one's 1 and 3"
    );
    assert_eq!(next_value(&mut all), 4);
    me.close();
    other.close();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_blocking_clients_watch_skips_its_own_writes() {
    let server = TestServer::start().await;
    let key = server.tenant_key("acme", ALL).await;
    let url = server.url();
    tokio::task::spawn_blocking(move || {
        others_only(&url, &key, Transport::Remote);
        others_only(&url, &key, Transport::Local);
    })
    .await
    .unwrap();
}
