//! Requests are answered in order, each reply carrying its request's `id`, however many the client pipelines.

use crate::fake::FakeServer;
use commy_proto::{ReadVariable, Request, ServerMessage};

#[tokio::test]
async fn a_hundred_pipelined_requests_are_answered_in_order() {
    let server = FakeServer::start().await;
    for subprotocol in ["commy.v1.json", "commy.v1.msgpack"] {
        let mut client = server.connect(Some(subprotocol)).await;
        // Every other request has no id: those rely on the order alone.
        for n in 0..100u64 {
            let read = ReadVariable {
                service_id: "svc".into(),
                variable_name: format!("v{n}"),
            };
            let request = if n % 2 == 0 {
                Request::new(1000 + n, read)
            } else {
                Request::without_id(read)
            };
            client.send(&request).await;
        }
        for n in 0..100u64 {
            let reply = client.recv().await;
            let expected_id = (n % 2 == 0).then_some(1000 + n);
            assert_eq!(reply.id, expected_id, "reply {n} on {subprotocol}");
            match reply.message {
                ServerMessage::VariableData(data) => {
                    assert_eq!(data.variable_name, format!("v{n}"))
                }
                other => panic!("reply {n}: {other:?}"),
            }
        }
    }
}
