//! The local socket is a transport like the WebSocket: the same limits, the same goodbye, and a frame it cannot take
//! is refused before its bytes are held.

use commy_proto::{ErrorCode, GetServiceFilePath, Heartbeat, ServerMessage};
use commy_testkit::{authenticate, LocalClient, TestServer, ADMIN_KEY};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shutdown_says_goodbye_on_the_local_socket() {
    let mut server = TestServer::start().await;
    let mut local = LocalClient::connect(server.data_dir()).await;
    assert!(matches!(
        local.call(Heartbeat::default()).await,
        ServerMessage::Heartbeat(_)
    ));
    server.begin_shutdown();
    let goodbye = local.recv().await.expect("a message before the close");
    assert_eq!(goodbye.id, None, "a push carries no id");
    let ServerMessage::Disconnected(disconnected) = goodbye.message else {
        panic!("expected Disconnected, got {:?}", goodbye.message)
    };
    assert_eq!(disconnected.reason, "server shutting down");
    assert!(local.recv().await.is_none(), "then the server closes the connection");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_local_client_that_does_not_authenticate_is_told_why_and_closed() {
    let server = TestServer::with_config(|config| config.limits.auth_timeout_secs = 1).await;
    let mut stranger = LocalClient::connect(server.data_dir()).await;
    let mut user = LocalClient::connect(server.data_dir()).await;
    assert!(matches!(
        user.call(authenticate(None, ADMIN_KEY)).await,
        ServerMessage::AuthenticationResult(_)
    ));
    let goodbye = stranger.recv().await.expect("a reason before the close");
    let ServerMessage::Disconnected(disconnected) = goodbye.message else {
        panic!("expected Disconnected, got {:?}", goodbye.message)
    };
    assert_eq!(disconnected.reason, "not authenticated within 1 s");
    assert!(stranger.recv().await.is_none(), "then the server closes the connection");
    // The user who authenticated in time stays.
    assert!(matches!(
        user.call(Heartbeat::default()).await,
        ServerMessage::Heartbeat(_)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_connections_over_the_limit_are_told_why_and_closed() {
    let server = TestServer::with_config(|config| config.limits.max_connections = 2).await;
    let mut first = LocalClient::connect(server.data_dir()).await;
    let mut second = LocalClient::connect(server.data_dir()).await;
    for client in [&mut first, &mut second] {
        assert!(matches!(
            client.call(Heartbeat::default()).await,
            ServerMessage::Heartbeat(_)
        ));
    }
    let mut third = LocalClient::connect(server.data_dir()).await;
    let refused = third.recv().await.expect("a reason before the close");
    let ServerMessage::Error(error) = refused.message else {
        panic!("expected an error, got {:?}", refused.message)
    };
    assert_eq!(error.code, ErrorCode::LimitExceeded);
    assert!(error.message.contains("2 local connections"), "{}", error.message);
    assert!(third.recv().await.is_none());

    drop(first);
    // The slot comes back once the server has seen the close: retry until it has.
    let mut fourth = None;
    for _ in 0..200 {
        let mut client = LocalClient::connect(server.data_dir()).await;
        if let Some(reply) = client.try_call(Heartbeat::default()).await {
            assert!(matches!(reply, ServerMessage::Heartbeat(_)), "{reply:?}");
            fourth = Some(client);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(fourth.is_some(), "a closed connection frees its slot");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_over_the_message_limit_is_refused_and_closes_the_connection() {
    let server = TestServer::with_config(|config| config.limits.max_message_size = 1024).await;
    let mut local = LocalClient::connect(server.data_dir()).await;
    // Announce a frame of 1 GiB and send none of it: the server must not wait for (or allocate) it.
    local.send_raw(&(1u32 << 30).to_be_bytes()).await;
    let refused = local.recv().await.expect("a reason before the close");
    let ServerMessage::Error(error) = refused.message else {
        panic!("expected an error, got {:?}", refused.message)
    };
    assert_eq!(error.code, ErrorCode::LimitExceeded);
    assert!(error.message.contains("1073741824 bytes"), "{}", error.message);
    assert!(error.message.contains("limit of 1024 bytes"), "{}", error.message);
    assert!(local.recv().await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_file_is_answered_only_on_the_local_socket() {
    let server = TestServer::start().await;
    let mut admin = server.admin(commy_proto::Encoding::Json).await;
    admin.create_tenant("acme").await;
    admin.create_service("acme", "weather").await;
    let request = GetServiceFilePath {
        tenant_id: "acme".into(),
        service_name: "weather".into(),
    };
    let error = admin.error(request.clone()).await;
    assert_eq!(error.code, ErrorCode::InvalidRequest);
    assert!(
        error.message.contains("only on the local Unix socket"),
        "{}",
        error.message
    );

    let mut local = LocalClient::connect(server.data_dir()).await;
    assert!(matches!(
        local.call(authenticate(None, ADMIN_KEY)).await,
        ServerMessage::AuthenticationResult(_)
    ));
    let ServerMessage::ServiceFilePath(file) = local.call(request).await else {
        panic!("the local socket answers with the file")
    };
    assert!(file.writable, "the server admin may write");
}
