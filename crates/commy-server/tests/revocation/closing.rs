//! A connection whose every grant died is closed with a clear reason once its `SubscriptionEnded` pushes are out: a
//! WebSocket close 1008 with the reason, and on the local socket a last `Disconnected` saying why, then the end of the
//! stream. (The server waits 10 s first, for the client to read and to authenticate again if it can.)

use crate::util::{authenticate, guard, LocalClient, TestServer};
use crate::{subscribe, world, Transport};
use commy_proto::{Permission, RevokeApiKey, ServerMessage};

const REASON: &str = "every credential of this connection ended (the credential was revoked)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_whose_every_grant_died_is_closed_with_the_reason() {
    let server = TestServer::start().await;
    let mut ws_fixture = world(&server, Transport::WebSocket, &[Permission::Read]).await;
    let mut local_fixture = world(&server, Transport::Local, &[Permission::Read]).await;

    let mut ws = server.connect(commy_proto::Encoding::Json).await;
    ws.ok(authenticate(Some(&ws_fixture.tenant_id), &ws_fixture.key.key))
        .await;
    ws.ok(subscribe(ws_fixture.service_id(), "temp")).await;
    let mut local = LocalClient::connect(server.data_dir()).await;
    local
        .call(authenticate(Some(&local_fixture.tenant_id), &local_fixture.key.key))
        .await;
    local.call(subscribe(local_fixture.service_id(), "temp")).await;

    for fixture in [&mut ws_fixture, &mut local_fixture] {
        let revoke = RevokeApiKey {
            tenant_id: fixture.tenant_id.clone(),
            key_id: fixture.key.key_id.clone(),
        };
        fixture.admin.ok(revoke).await;
    }

    let websocket = async {
        let mut ended = false;
        loop {
            match ws.next_message().await {
                tokio_tungstenite::tungstenite::Message::Close(frame) => {
                    let frame = frame.expect("a close frame with a code");
                    assert_eq!(u16::from(frame.code), 1008);
                    assert!(frame.reason.starts_with(REASON), "{}", frame.reason);
                    break;
                }
                message => {
                    let text = message.into_text().expect("JSON text");
                    ended |= text.contains("SubscriptionEnded");
                }
            }
        }
        assert!(ended, "the SubscriptionEnded push came before the close");
    };
    let local_socket = async {
        let mut ended = false;
        let reason = loop {
            match local
                .recv()
                .await
                .expect("a Disconnected before the end of the stream")
                .message
            {
                ServerMessage::SubscriptionEnded(_) => ended = true,
                ServerMessage::Disconnected(last) => break last.reason,
                _ => {}
            }
        };
        assert!(reason.starts_with(REASON), "{reason}");
        assert!(ended, "the SubscriptionEnded push came before the close");
        assert!(local.recv().await.is_none(), "the stream ends");
    };
    guard("both connections to close", async {
        tokio::join!(websocket, local_socket)
    })
    .await;
}
