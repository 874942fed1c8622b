//! The life of a connection: ping, `Disconnect`, and the server's graceful shutdown.

use crate::fake::FakeServer;
use commy_proto::{Disconnect, Disconnected, Heartbeat, Reply, Request};
use commy_testkit::guard;
use futures_util::StreamExt;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

#[tokio::test]
async fn ping_gets_pong() {
    let server = FakeServer::start().await;
    let mut client = server.connect(None).await;
    client.send_raw(Message::Ping(b"are you there".to_vec().into())).await;
    let pong = guard("a pong", client.ws().next()).await.unwrap().unwrap();
    assert_eq!(pong, Message::Pong(b"are you there".to_vec().into()));
}

#[tokio::test]
async fn disconnect_is_answered_then_closed() {
    let server = FakeServer::start().await;
    let mut client = server.connect(Some("commy.v1.msgpack")).await;
    let reply = client.call(&Request::new(5, Disconnect::default())).await;
    let reason = "client asked to disconnect".to_owned();
    assert_eq!(reply, Reply::to(Some(5), Disconnected { reason: reason.clone() }));
    let frame = client.recv_close().await.expect("a close frame with a code");
    assert_eq!(frame.code, CloseCode::Normal);
    assert_eq!(frame.reason.as_str(), reason);
}

#[tokio::test]
async fn shutdown_says_goodbye_to_every_connection() {
    let mut server = FakeServer::start().await;
    let mut clients = vec![
        server.connect(Some("commy.v1.json")).await,
        server.connect(Some("commy.v1.msgpack")).await,
    ];
    for client in &mut clients {
        client.call(&Request::new(1, Heartbeat::default())).await;
    }
    server.begin_shutdown();
    for client in &mut clients {
        let goodbye = client.recv().await;
        let expected = Reply::push(Disconnected {
            reason: "server shutting down".into(),
        });
        assert_eq!(goodbye, expected);
        let frame = client.recv_close().await.expect("a close frame with a code");
        assert_eq!(frame.code, CloseCode::Away);
        assert_eq!(frame.reason.as_str(), "server shutting down");
        // Reading on answers the close frame and sees the end of the connection.
        while let Some(Ok(_)) = guard("the end of the connection", client.ws().next()).await {}
    }
    let addr = server.addr;
    server.shutdown().await;
    assert!(
        TcpStream::connect(addr).await.is_err(),
        "still accepting after shutdown"
    );
}
