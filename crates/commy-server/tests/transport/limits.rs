//! Limits: message size (close 1009), framing abuse (close 1002), and connections served at once (close 1013).

use crate::fake::FakeServer;
use commy_proto::{Heartbeat, Request, ServerMessage};
use commy_server::config::Limits;
use commy_testkit::guard;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;

fn small_messages() -> Limits {
    Limits {
        max_message_size: 1024,
        max_frame_size: 1024,
        ..Limits::default()
    }
}

#[tokio::test]
async fn a_message_over_the_limit_closes_with_1009() {
    let server = FakeServer::with_limits(small_messages()).await;
    let mut client = server.connect(None).await;
    // Just under the limit is fine.
    let heartbeat = Heartbeat {
        client_id: Some("x".repeat(900)),
    };
    let reply = client.call(&Request::new(1, heartbeat)).await;
    assert!(matches!(reply.message, ServerMessage::Heartbeat(_)));

    client.send_raw(Message::text(" ".repeat(64 << 10))).await;
    let frame = client.recv_close().await.expect("a close frame with a code");
    assert_eq!(frame.code, CloseCode::Size);
    assert!(
        frame.reason.contains("over the limit of 1024 bytes"),
        "{}",
        frame.reason
    );
}

/// Opens `/ws` by hand, so that the test can send frames no WebSocket library would.
async fn raw_websocket(server: &FakeServer) -> TcpStream {
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        server.addr
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.push(guard("the handshake", stream.read_u8()).await.unwrap());
    }
    let head = String::from_utf8(head).unwrap();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    stream
}

#[tokio::test]
async fn an_unmasked_frame_closes_with_1002() {
    let server = FakeServer::start().await;
    let mut stream = raw_websocket(&server).await;
    // A final text frame "hi", not masked: clients must mask every frame.
    stream.write_all(&[0x81, 0x02, b'h', b'i']).await.unwrap();
    let mut header = [0; 2];
    guard("the close frame", stream.read_exact(&mut header)).await.unwrap();
    assert_eq!(header[0], 0x88, "a final close frame");
    let mut payload = vec![0; usize::from(header[1] & 0x7f)];
    stream.read_exact(&mut payload).await.unwrap();
    assert_eq!(u16::from_be_bytes([payload[0], payload[1]]), 1002);
    let reason = String::from_utf8_lossy(&payload[2..]);
    assert!(reason.contains("unmasked"), "{reason}");
}

#[tokio::test]
async fn a_connection_over_the_limit_is_told_to_try_again_later() {
    let server = FakeServer::with_limits(Limits {
        max_connections: 2,
        ..Limits::default()
    })
    .await;
    let heartbeat = Request::new(1, Heartbeat::default());
    let mut first = server.connect(None).await;
    let mut second = server.connect(None).await;
    first.call(&heartbeat).await;
    second.call(&heartbeat).await;

    // The third is accepted at once, not left in the kernel's queue, and told why it cannot stay.
    let mut third = server.connect(None).await;
    let frame = third.recv_close().await.expect("a close frame with a code");
    assert_eq!(frame.code, CloseCode::Again);
    assert!(frame.reason.contains("limit of 2 connections"), "{}", frame.reason);
    // The served connections keep working.
    first.call(&heartbeat).await;
    second.call(&heartbeat).await;

    // Once one closes, a new connection is served (its place is free once the closed socket has lingered).
    first.close().await;
    guard("a place for a new connection", async {
        loop {
            let mut next = server.connect(None).await;
            next.send(&heartbeat).await;
            match next.next_message().await {
                Message::Close(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                _ => return,
            }
        }
    })
    .await;
    second.call(&heartbeat).await;
}
