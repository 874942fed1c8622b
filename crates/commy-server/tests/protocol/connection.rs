//! The connection itself: heartbeat and disconnect, undecodable requests, limits, pipelining.

use super::*;

both_encodings!(
    heartbeat_and_disconnect,
    undecodable_requests_keep_the_connection,
    limit_exceeded,
    pipelined_requests_are_answered_in_order,
);

async fn heartbeat_and_disconnect(enc: Encoding) {
    let server = TestServer::start().await;
    let mut client = server.connect(enc).await;
    let before = client.heartbeat().await;
    let with_client_id = Heartbeat {
        client_id: Some("dashboard-3".into()),
    };
    let ServerMessage::Heartbeat(beat) = client.ok(with_client_id).await else {
        panic!("expected Heartbeat")
    };
    assert!(beat.timestamp >= before);

    client
        .send(&Request::new(
            77,
            Disconnect {
                client_id: Some("dashboard-3".into()),
            },
        ))
        .await;
    let reply = client.recv().await;
    assert_eq!(reply.id, Some(77));
    let ServerMessage::Disconnected(bye) = reply.message else {
        panic!("expected Disconnected, got {reply:?}")
    };
    assert!(!bye.reason.is_empty());
    let frame = client.recv_close().await.expect("a close frame with a code");
    assert_eq!(u16::from(frame.code), 1000, "{frame:?}");
}

/// Sends a raw document and expects an `INVALID_REQUEST` reply with `id` whose message names each of `naming`; then
/// the connection must still work.
async fn refused_raw(c: &mut Client, document: Value, id: Option<u64>, naming: &[&str]) {
    let frame = raw_frame(c.encoding, &document);
    refused_frame(c, frame, id, naming).await;
}

async fn refused_frame(
    c: &mut Client,
    frame: tokio_tungstenite::tungstenite::Message,
    id: Option<u64>,
    naming: &[&str],
) {
    c.send_raw(frame).await;
    let reply: Reply = c.reply().await;
    assert_eq!(reply.id, id, "{reply:?}");
    let ServerMessage::Error(error) = reply.message else {
        panic!("expected an Error, got {reply:?}")
    };
    assert_eq!(error.code, ErrorCode::InvalidRequest, "{}", error.message);
    for thing in naming {
        assert!(
            error.message.contains(thing),
            "should name {thing:?}: {}",
            error.message
        );
    }
    c.heartbeat().await;
}

async fn undecodable_requests_keep_the_connection(enc: Encoding) {
    use tokio_tungstenite::tungstenite::Message;
    let server = TestServer::start().await;
    let mut c = server.connect(enc).await;

    // Not a document of the encoding at all.
    match enc {
        Encoding::Json => {
            refused_frame(&mut c, Message::text("{ ]"), None, &["not valid JSON"]).await;
            refused_frame(
                &mut c,
                Message::text(r#"{"type":"Heartbeat","data":{"#),
                None,
                &["JSON"],
            )
            .await;
        }
        Encoding::MsgPack => {
            refused_frame(&mut c, Message::binary(vec![0xc1]), None, &[]).await;
            // A map announcing more entries than it has.
            refused_frame(&mut c, Message::binary(vec![0x83, 0xa4, b't']), None, &[]).await;
        }
    }
    refused_raw(&mut c, json!([1, 2]), None, &["not a message"]).await;
    refused_raw(&mut c, json!({"data": {}}), None, &["`type`"]).await;
    refused_raw(
        &mut c,
        json!({"type": "Frobnicate", "data": {}, "id": 5}),
        Some(5),
        &["'Frobnicate'"],
    )
    .await;
    refused_raw(
        &mut c,
        json!({"type": "createService", "data": {}, "id": 6}),
        Some(6),
        &["'createService'", "'CreateService'"],
    )
    .await;
    refused_raw(
        &mut c,
        json!({"type": "Heartbeat", "data": {}, "id": "7"}),
        None,
        &["`id`"],
    )
    .await;
    refused_raw(
        &mut c,
        json!({"type": "CreateService", "data": {"service_name": "s"}, "id": 8}),
        Some(8),
        &["tenant_id", "CreateService"],
    )
    .await;
    refused_raw(
        &mut c,
        json!({"type": "AllocateVariable", "data": {"service_id": "s", "variable_name": "v", "capacity": "big"}, "id": 9}),
        Some(9),
        &["capacity", "AllocateVariable"],
    )
    .await;
    refused_raw(
        &mut c,
        json!({"type": "WriteVariable", "data": {"service_id": "s", "variable_name": "v", "data": [1, 300]}, "id": 10}),
        Some(10),
        &["data", "WriteVariable"],
    )
    .await;
    refused_raw(
        &mut c,
        json!({"type": "AllocateVariable", "data": {"service_id": "s", "variable_name": "v", "type": "u128"}, "id": 11}),
        Some(11),
        &["u128"],
    )
    .await;
    refused_raw(
        &mut c,
        json!({"type": "CreateApiKey", "data": {"tenant_id": "t", "name": "n", "permissions": ["root"]}, "id": 12}),
        Some(12),
        &["root"],
    )
    .await;
    refused_raw(
        &mut c,
        json!({"type": "Authenticate", "data": {"client_version": "x", "method": "password", "password": "p"}, "id": 13}),
        Some(13),
        &["password"],
    )
    .await;
    // And the connection still serves real requests.
    c.authenticate(None, ADMIN_KEY).await;
    c.create_tenant("acme").await;
}

async fn limit_exceeded(enc: Encoding) {
    let server = TestServer::with_config(|config| {
        config.limits.max_subscriptions_per_connection = 2;
        config.limits.max_variables_per_service = 3;
        config.auth_rate_limit.max_failures = 2;
    })
    .await;
    let fixture = Fixture::new(&server, enc, "acme", "sensors", &[Read, Write]).await;
    let sid = fixture.service_id().to_owned();
    let mut c = fixture.client(&server, enc).await;

    // Variables per service.
    for name in ["v1", "v2", "v3"] {
        c.allocate(variable(&sid, name, ValueType::U64)).await;
    }
    c.expect_error(
        variable(&sid, "v4", ValueType::U64),
        ErrorCode::LimitExceeded,
        &["sensors"],
    )
    .await;
    c.ok(DeallocateVariable {
        service_id: sid.clone(),
        variable_name: "v1".into(),
    })
    .await;
    c.allocate(variable(&sid, "v4", ValueType::U64)).await;

    // A capacity over the server's limit.
    c.expect_error(
        AllocateVariable {
            capacity: Some(64 << 20),
            ..variable(&sid, "huge", ValueType::Bytes)
        },
        ErrorCode::LimitExceeded,
        &["'huge'", "capacity"],
    )
    .await;

    // Subscriptions per connection; another connection has its own allowance.
    c.subscribe(&sid, "v2").await;
    c.subscribe(&sid, "v3").await;
    let message = c
        .expect_error(
            Subscribe {
                service_id: sid.clone(),
                variable_name: "v4".into(),
                skip_own_writes: false,
            },
            ErrorCode::LimitExceeded,
            &["2 subscriptions"],
        )
        .await;
    assert!(message.contains("limit"), "{message}");
    let mut other = fixture.client(&server, enc).await;
    other.subscribe(&sid, "*").await;
    c.ok(Unsubscribe {
        service_id: sid.clone(),
        variable_name: "v2".into(),
    })
    .await;
    c.subscribe(&sid, "v4").await;

    // Authentication failures per peer.
    let mut guesser = server.connect(enc).await;
    for _ in 0..2 {
        guesser
            .expect_error(authenticate(Some("acme"), "ck_guess"), ErrorCode::Unauthorized, &[])
            .await;
    }
    guesser
        .expect_error(authenticate(Some("acme"), "ck_guess"), ErrorCode::LimitExceeded, &[])
        .await;
    // Even the right key now waits.
    guesser
        .expect_error(
            authenticate(Some("acme"), &fixture.key.key),
            ErrorCode::LimitExceeded,
            &[],
        )
        .await;
}

/// What the `n`th pipelined request is, and what its reply must be.
enum Pipelined {
    Write(u64),
    ReadWithoutId,
    Heartbeat,
    Missing,
}

async fn pipelined_requests_are_answered_in_order(enc: Encoding) {
    const REQUESTS: u64 = 200;
    let server = TestServer::start().await;
    let fixture = Fixture::new(&server, enc, "acme", "sensors", &[Read, Write]).await;
    let sid = fixture.service_id().to_owned();
    let mut c = fixture.client(&server, enc).await;
    c.allocate(variable(&sid, "n", ValueType::U64)).await;

    let kind = |i: u64| match i % 4 {
        0 => Pipelined::Write(i),
        1 => Pipelined::ReadWithoutId,
        2 => Pipelined::Heartbeat,
        _ => Pipelined::Missing,
    };
    // Ids that are neither sequential nor small, including both ends of the range.
    let id_of = |i: u64| match i {
        2 => 0,
        6 => u64::MAX,
        _ => i.wrapping_mul(0x9e37_79b9_7f4a_7c15),
    };
    for i in 0..REQUESTS {
        let request = match kind(i) {
            Pipelined::Write(n) => Request::new(id_of(i), write_value(&sid, "n", json!(n))),
            Pipelined::ReadWithoutId => Request::without_id(read(&sid, "n")),
            Pipelined::Heartbeat => Request::new(id_of(i), Heartbeat::default()),
            Pipelined::Missing => Request::new(id_of(i), read(&sid, "missing")),
        };
        c.send(&request).await;
    }
    let mut last_written = None;
    let mut last_version = 0;
    for i in 0..REQUESTS {
        let reply = c.reply().await;
        match (kind(i), reply.message) {
            (Pipelined::Write(n), ServerMessage::VariableData(data)) => {
                assert_eq!(reply.id, Some(id_of(i)));
                assert_eq!(data.value, Some(json!(n)));
                assert!(data.version > last_version, "versions only go up");
                last_version = data.version;
                last_written = Some(n);
            }
            (Pipelined::ReadWithoutId, ServerMessage::VariableData(data)) => {
                assert_eq!(reply.id, None);
                // The read sees exactly the write sent just before it: replies come in request order.
                assert_eq!(data.value, last_written.map(|n| json!(n)), "reply {i}");
                assert_eq!(data.version, last_version);
            }
            (Pipelined::Heartbeat, ServerMessage::Heartbeat(_)) => {
                assert_eq!(reply.id, Some(id_of(i)));
            }
            (Pipelined::Missing, ServerMessage::Error(error)) => {
                assert_eq!(reply.id, Some(id_of(i)));
                assert_eq!(error.code, ErrorCode::NotFound);
            }
            (_, other) => panic!("reply {i} is out of order: {other:?}"),
        }
    }
    c.heartbeat().await;
}
