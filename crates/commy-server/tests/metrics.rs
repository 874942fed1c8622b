//! What `/metrics` promises (docs/operations.md): the gauges follow what the server holds (services and variables go
//! up with creation and down with deletion), and every request is counted, whichever transport it came on.

use commy_proto::{DeallocateVariable, DeleteService, Encoding, ErrorCode, Heartbeat, ServerMessage, ValueType};
use commy_testkit::{authenticate, variable, LocalClient, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_socket_requests_are_counted_exactly_as_websocket_ones() {
    let server = TestServer::start().await;
    let mut remote = server.connect(Encoding::Json).await;
    let mut local = LocalClient::connect(server.data_dir()).await;
    assert!(matches!(
        remote.ok(Heartbeat::default()).await,
        ServerMessage::Heartbeat(_)
    ));
    assert!(matches!(
        local.call(Heartbeat::default()).await,
        ServerMessage::Heartbeat(_)
    ));
    let bad_key = "commy_0123456789ab_not-a-real-secret";
    assert_eq!(
        remote.error(authenticate(None, bad_key)).await.code,
        ErrorCode::Unauthorized
    );
    let ServerMessage::Error(refused) = local.call(authenticate(None, bad_key)).await else {
        panic!("a bad key is refused on the local socket")
    };
    assert_eq!(refused.code, ErrorCode::Unauthorized);
    // A bad name is refused by the same rule on both.
    let bad_name = commy_proto::GetService {
        tenant_id: "../etc".into(),
        service_name: "x".into(),
    };
    assert_eq!(remote.error(bad_name.clone()).await.code, ErrorCode::InvalidRequest);
    let ServerMessage::Error(bad) = local.call(bad_name).await else {
        panic!("a bad name is refused on the local socket")
    };
    assert_eq!(bad.code, ErrorCode::InvalidRequest);
    assert!(bad.message.contains("invalid tenant name '../etc'"), "{}", bad.message);

    assert_eq!(
        server
            .metric(r#"commy_requests_total{request="Heartbeat",outcome="ok"}"#)
            .await,
        2.0
    );
    let unauthorized = r#"commy_requests_total{request="Authenticate",outcome="UNAUTHORIZED"}"#;
    assert_eq!(server.metric(unauthorized).await, 2.0);
    assert_eq!(server.metric("commy_auth_failures_total").await, 2.0);
    assert_eq!(
        server
            .metric(r#"commy_requests_total{request="GetService",outcome="INVALID_REQUEST"}"#)
            .await,
        2.0
    );
    assert_eq!(
        server.metric("commy_connections_open").await,
        2.0,
        "both transports count connections"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_peers_failures_are_charged_to_its_uid() {
    let server = TestServer::with_config(|config| {
        config.auth_rate_limit = commy_server::config::AuthRateLimit {
            max_failures: 2,
            ..commy_server::config::AuthRateLimit::default()
        };
    })
    .await;
    let bad_key = "commy_0123456789ab_not-a-real-secret";
    // Each guess on a new connection: the allowance belongs to the user, not to the connection.
    for _ in 0..2 {
        let mut local = LocalClient::connect(server.data_dir()).await;
        let ServerMessage::Error(refused) = local.call(authenticate(None, bad_key)).await else {
            panic!("a bad key is refused")
        };
        assert_eq!(refused.code, ErrorCode::Unauthorized);
    }
    let mut local = LocalClient::connect(server.data_dir()).await;
    let ServerMessage::Error(limited) = local.call(authenticate(None, bad_key)).await else {
        panic!("a third guess is refused")
    };
    assert_eq!(limited.code, ErrorCode::LimitExceeded, "{}", limited.message);
    // A remote client from another address is not affected by the local user's failures.
    let mut remote = server.connect(Encoding::Json).await;
    assert_eq!(
        remote.error(authenticate(None, bad_key)).await.code,
        ErrorCode::Unauthorized
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_and_variable_gauges_follow_creation_and_deletion() {
    let server = TestServer::start().await;
    let mut admin = server.admin(Encoding::Json).await;
    admin.create_tenant("acme").await;
    let weather = admin.create_service("acme", "weather").await;
    let _config = admin.create_service("acme", "config").await;
    for name in ["temp", "humidity", "wind"] {
        admin
            .allocate(variable(&weather.service_id, name, ValueType::U64))
            .await;
    }
    assert_eq!(server.metric("commy_services").await, 2.0);
    assert_eq!(server.metric("commy_variables").await, 3.0);

    let dealloc = DeallocateVariable {
        service_id: weather.service_id.clone(),
        variable_name: "wind".into(),
    };
    admin.ok(dealloc).await;
    assert_eq!(server.metric("commy_variables").await, 2.0);

    admin
        .ok(DeleteService {
            tenant_id: "acme".into(),
            service_name: "weather".into(),
        })
        .await;
    assert_eq!(server.metric("commy_services").await, 1.0);
    assert_eq!(server.metric("commy_variables").await, 0.0);
}
