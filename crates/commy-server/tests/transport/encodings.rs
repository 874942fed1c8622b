//! Subprotocol negotiation: JSON text frames, MessagePack binary frames, JSON when none is asked for.

use crate::fake::FakeServer;
use commy_proto::{Encoding, Heartbeat, HeartbeatReply, Reply, Request, ServerMessage};
use commy_testkit::guard;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::Error as WsError;

fn heartbeat(id: u64) -> Request {
    Request::new(id, Heartbeat::default())
}

fn heartbeat_reply(id: u64, timestamp: u64) -> Reply {
    Reply::to(Some(id), HeartbeatReply { timestamp })
}

#[tokio::test]
async fn json_subprotocol_speaks_text_frames() {
    let server = FakeServer::start().await;
    let mut client = server.connect(Some("commy.v1.json")).await;
    assert_eq!(client.chosen.as_deref(), Some("commy.v1.json"));
    assert_eq!(client.call(&heartbeat(7)).await, heartbeat_reply(7, 1));
    assert_eq!(client.call(&heartbeat(8)).await, heartbeat_reply(8, 2));
}

#[tokio::test]
async fn msgpack_subprotocol_speaks_binary_frames() {
    let server = FakeServer::start().await;
    let mut client = server.connect(Some("commy.v1.msgpack")).await;
    assert_eq!(client.chosen.as_deref(), Some("commy.v1.msgpack"));
    assert_eq!(client.encoding, Encoding::MsgPack);
    assert_eq!(client.call(&heartbeat(u64::MAX)).await, heartbeat_reply(u64::MAX, 1));
}

#[tokio::test]
async fn no_subprotocol_means_json() {
    let server = FakeServer::start().await;
    let mut client = server.connect(None).await;
    assert_eq!(client.chosen, None);
    let reply = client.call(&Request::without_id(Heartbeat::default())).await;
    assert_eq!(reply.id, None);
    assert!(matches!(reply.message, ServerMessage::Heartbeat(_)));
}

#[tokio::test]
async fn the_clients_first_known_preference_wins() {
    let server = FakeServer::start().await;
    let client = server.connect(Some("chat, commy.v1.msgpack, commy.v1.json")).await;
    assert_eq!(client.chosen.as_deref(), Some("commy.v1.msgpack"));
}

#[tokio::test]
async fn only_unknown_subprotocols_are_refused() {
    let server = FakeServer::start().await;
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let mut request = format!("ws://{}/ws", server.addr).into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("commy.v9.json"));
    let refused = guard("the handshake", tokio_tungstenite::client_async(request, stream)).await;
    match refused {
        Err(WsError::Http(response)) => assert_eq!(response.status(), 400),
        other => panic!("expected 400 Bad Request, got {:?}", other.map(|_| ())),
    }
}
