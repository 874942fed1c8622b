//! `/healthz` and `/metrics` over plain HTTP on the same port.

use crate::fake::FakeServer;
use commy_proto::{Heartbeat, Request};
use commy_testkit::http_get;

#[tokio::test]
async fn healthz_answers_ok() {
    let server = FakeServer::start().await;
    let (status, _, body) = http_get(server.addr, "/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    let (status, _, _) = http_get(server.addr, "/nothing-here").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn metrics_are_prometheus_text() {
    let server = FakeServer::start().await;
    server.metrics.set_services(2);
    let mut client = server.connect(None).await;
    client.call(&Request::new(1, Heartbeat::default())).await;

    let (status, head, body) = http_get(server.addr, "/metrics").await;
    assert_eq!(status, 200);
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/openmetrics-text"),
        "{head}"
    );
    for line in [
        "commy_connections_open 1",
        "commy_connections_total 1",
        "commy_services 2",
        "# EOF",
    ] {
        assert!(body.lines().any(|l| l == line), "{line:?} missing from\n{body}");
    }
}
