//! The SDK surfaces `SubscriptionEnded`: a watch whose credential is revoked ends, and says why.

use commy_client::{Allocation, Transport};
use commy_testkit::{TestServer, ALL};

async fn a_revoked_key_ends_the_watch_with_its_reason(transport: Transport) {
    let server = TestServer::start().await;
    let key = server.tenant_key("acme", ALL).await;
    let client = server.sdk_client(transport, "acme", &key).await;
    let svc = client.create_service("plant").await.unwrap();
    svc.allocate("n", Allocation::u64(0)).await.unwrap();
    let mut watch = svc.watch_variable("n").await.unwrap();
    assert_eq!(watch.end_reason(), None);
    let key_id = key.split('_').nth(1).expect("commy_<key id>_<secret>");
    server.sdk_admin().await.revoke_api_key("acme", key_id).await.unwrap();
    // Whatever changes came before, the stream then ends.
    let ended = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        while watch.next_change().await.is_some() {}
    });
    ended.await.expect("the watch ends");
    assert_eq!(watch.end_reason().as_deref(), Some("the credential was revoked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_watch_ends_when_its_key_is_revoked() {
    a_revoked_key_ends_the_watch_with_its_reason(Transport::Remote).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_watch_ends_when_its_key_is_revoked() {
    a_revoked_key_ends_the_watch_with_its_reason(Transport::Local).await
}
