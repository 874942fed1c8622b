//! Bad requests get an `INVALID_REQUEST` reply, with the request's `id` when it could be read, and the connection
//! goes on.

use crate::fake::{error_of, FakeServer};
use commy_proto::{encode_request, ErrorCode, Frame, Heartbeat, Request, ServerMessage};
use tokio_tungstenite::tungstenite::Message;

async fn still_works(client: &mut commy_testkit::Client) {
    let reply = client.call(&Request::new(99, Heartbeat::default())).await;
    assert_eq!(reply.id, Some(99));
    assert!(matches!(reply.message, ServerMessage::Heartbeat(_)));
}

#[tokio::test]
async fn malformed_json_gets_invalid_request_and_the_connection_goes_on() {
    let server = FakeServer::start().await;
    let mut client = server.connect(Some("commy.v1.json")).await;
    client
        .send_raw(Message::text(r#"{"type": "Heartbeat", "data": {"#))
        .await;
    let reply = client.recv().await;
    let (code, message) = error_of(&reply);
    assert_eq!(code, ErrorCode::InvalidRequest);
    assert!(message.contains("not valid JSON"), "{message}");
    assert_eq!(reply.id, None);
    still_works(&mut client).await;
    let metrics = server.metrics.encode();
    assert!(
        metrics.contains(r#"commy_requests_total{request="undecodable",outcome="INVALID_REQUEST"} 1"#),
        "{metrics}"
    );
}

#[tokio::test]
async fn unknown_type_echoes_the_id() {
    let server = FakeServer::start().await;
    let mut client = server.connect(None).await;
    client
        .send_raw(Message::text(r#"{"type":"heartbeat","data":{},"id":12}"#))
        .await;
    let reply = client.recv().await;
    assert_eq!(reply.id, Some(12));
    let (code, message) = error_of(&reply);
    assert_eq!(code, ErrorCode::InvalidRequest);
    assert!(message.contains("unknown message type 'heartbeat'"), "{message}");
    assert!(message.contains("did you mean 'Heartbeat'"), "{message}");
    still_works(&mut client).await;
}

#[tokio::test]
async fn a_missing_field_is_named() {
    let server = FakeServer::start().await;
    let mut client = server.connect(None).await;
    client
        .send_raw(Message::text(
            r#"{"type":"ReadVariable","data":{"service_id":"s"},"id":5}"#,
        ))
        .await;
    let reply = client.recv().await;
    assert_eq!(reply.id, Some(5));
    let (code, message) = error_of(&reply);
    assert_eq!(code, ErrorCode::InvalidRequest);
    assert!(message.contains("variable_name"), "{message}");
    still_works(&mut client).await;
}

#[tokio::test]
async fn malformed_msgpack_gets_invalid_request() {
    let server = FakeServer::start().await;
    let mut client = server.connect(Some("commy.v1.msgpack")).await;
    client.send_raw(Message::binary(vec![0xc1, 0xff, 0x00])).await;
    let (code, _) = error_of(&client.recv().await);
    assert_eq!(code, ErrorCode::InvalidRequest);
    still_works(&mut client).await;
}

#[tokio::test]
async fn a_text_frame_on_a_msgpack_connection_is_refused_with_its_id() {
    let server = FakeServer::start().await;
    let mut client = server.connect(Some("commy.v1.msgpack")).await;
    let Frame::Text(json) =
        encode_request(&Request::new(3, Heartbeat::default()), commy_proto::Encoding::Json).unwrap()
    else {
        unreachable!("JSON is text")
    };
    client.send_raw(Message::text(json)).await;
    let reply = client.recv().await;
    assert_eq!(reply.id, Some(3));
    let (code, message) = error_of(&reply);
    assert_eq!(code, ErrorCode::InvalidRequest);
    assert!(message.contains("send binary frames"), "{message}");
    still_works(&mut client).await;
}

#[tokio::test]
async fn a_binary_frame_on_a_json_connection_is_refused_with_its_id() {
    let server = FakeServer::start().await;
    let mut client = server.connect(Some("commy.v1.json")).await;
    let bytes = encode_request(&Request::new(4, Heartbeat::default()), commy_proto::Encoding::MsgPack)
        .unwrap()
        .into_bytes();
    client.send_raw(Message::binary(bytes)).await;
    let reply = client.recv().await;
    assert_eq!(reply.id, Some(4));
    let (code, message) = error_of(&reply);
    assert_eq!(code, ErrorCode::InvalidRequest);
    assert!(message.contains("send text frames"), "{message}");
    still_works(&mut client).await;
}

#[tokio::test]
async fn requests_the_handler_refuses_get_its_error() {
    let server = FakeServer::start().await;
    let mut client = server.connect(None).await;
    let reply = client.call(&Request::new(1, commy_proto::ListTenants {})).await;
    assert_eq!(error_of(&reply).0, ErrorCode::NotFound);
    still_works(&mut client).await;
}
