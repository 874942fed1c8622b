//! Subscriptions and pushes: who gets which change, coalescing for a slow subscriber, order for a fast writer.

use super::*;

both_encodings!(
    subscriptions_push_every_change_to_whoever_asked,
    a_slow_subscriber_gets_coalesced_pushes_ending_at_the_latest,
    pushes_of_a_fast_writer_never_repeat_or_reorder_a_version,
);

async fn subscriptions_push_every_change_to_whoever_asked(enc: Encoding) {
    let server = TestServer::start().await;
    let fixture = Fixture::new(&server, enc, "acme", "sensors", &[Read, Write]).await;
    let sid = fixture.service_id().to_owned();
    let mut writer = fixture.client(&server, enc).await;
    writer.allocate(variable(&sid, "a", ValueType::U64)).await;
    writer.allocate(variable(&sid, "b", ValueType::String)).await;

    let mut one = fixture.client(&server, enc).await;
    one.subscribe(&sid, "a").await;
    let mut all = fixture.client(&server, enc).await;
    all.subscribe(&sid, "*").await;

    let wrote = writer.write(&sid, "a", json!(5)).await;
    for subscriber in [&mut one, &mut all] {
        let push = subscriber.push().await;
        assert_eq!(push.service_id, sid);
        assert_eq!(push.variable_name, "a");
        assert_eq!(push.version, wrote.version);
        assert_eq!(push.data, 5u64.to_le_bytes());
        assert_eq!(push.value, Some(json!(5)));
    }
    let wrote = writer.write(&sid, "b", json!("x")).await;
    let push = all.push().await;
    assert_eq!(
        (push.variable_name.as_str(), push.version, push.value),
        ("b", wrote.version, Some(json!("x")))
    );
    assert_eq!(one.settle().await, [], "'b' is not pushed to a subscriber of 'a'");

    // A subscriber's own write: its reply comes before the push of that write.
    all.settle().await;
    let own = all.write(&sid, "a", json!(6)).await;
    assert_eq!(all.kept_pushes(), 0, "the push follows the reply");
    assert_eq!(all.push().await.version, own.version);
    assert_eq!(one.push().await.version, own.version);

    // Unsubscribed: no more pushes. The other subscriber shows that the change was pushed.
    let unsubscribe = Unsubscribe {
        service_id: sid.clone(),
        variable_name: "a".into(),
    };
    let (success, message) = result_of(one.ok(unsubscribe.clone()).await);
    assert!(success, "{message}");
    let wrote = writer.write(&sid, "a", json!(7)).await;
    assert_eq!(all.push_reaching("a", wrote.version).await.value, Some(json!(7)));
    assert_eq!(one.settle().await, []);
    let (success, message) = result_of(one.ok(unsubscribe).await);
    assert!(!success && message.contains("not subscribed"), "{message}");

    // Unsubscribing "*" ends the service-wide subscription.
    let (success, _) = result_of(
        all.ok(Unsubscribe {
            service_id: sid.clone(),
            variable_name: "*".into(),
        })
        .await,
    );
    assert!(success);
    writer.write(&sid, "b", json!("y")).await;
    // A fresh subscriber proves the change went out before `all` checks it got nothing.
    let mut witness = fixture.client(&server, enc).await;
    witness.subscribe(&sid, "b").await;
    let wrote = writer.write(&sid, "b", json!("z")).await;
    witness.push_reaching("b", wrote.version).await;
    assert_eq!(all.settle().await, []);

    // Subscribing to a variable that does not exist.
    one.expect_error(
        Subscribe {
            service_id: sid.clone(),
            variable_name: "nope".into(),
            skip_own_writes: false,
        },
        ErrorCode::NotFound,
        &["nope"],
    )
    .await;
}

async fn a_slow_subscriber_gets_coalesced_pushes_ending_at_the_latest(enc: Encoding) {
    const WRITES: u64 = 300;
    const SIZE: usize = 16 << 10;
    let server = TestServer::start().await;
    let fixture = Fixture::new(&server, enc, "acme", "sensors", &[Read, Write]).await;
    let sid = fixture.service_id().to_owned();
    let mut writer = fixture.client(&server, enc).await;
    writer
        .allocate(AllocateVariable {
            capacity: Some(SIZE as u32),
            ..variable(&sid, "frame", ValueType::Bytes)
        })
        .await;
    let mut slow = server.connect_small_buffer(enc).await;
    slow.authenticate(Some("acme"), &fixture.key.key).await;
    slow.subscribe(&sid, "frame").await;

    // The subscriber reads nothing while the writes, each acknowledged, pile up.
    let value = |n: u64| {
        let mut data = vec![0; SIZE];
        data[..8].copy_from_slice(&n.to_le_bytes());
        data
    };
    let mut last = None;
    for n in 1..=WRITES {
        last = Some(writer.write_data(&sid, "frame", value(n)).await);
    }
    let last = last.unwrap();

    // Now it reads: versions only go up, every push is a whole value, and the last is the last write.
    let mut received = 0;
    let mut version = 0;
    let mut data = vec![];
    while version < last.version {
        let push = slow.push().await;
        assert!(push.version > version, "version {} after {version}", push.version);
        assert_eq!(push.data.len(), SIZE);
        (version, data) = (push.version, push.data);
        received += 1;
    }
    assert_eq!(version, last.version);
    assert_eq!(data, value(WRITES), "the last push carries the last value");
    assert_eq!(slow.read(&sid, "frame").await.data, value(WRITES));
    assert!(
        received < WRITES,
        "all {WRITES} writes were pushed: nothing was coalesced"
    );
    assert!(
        server.metric("commy_pushes_coalesced_total").await > 0.0,
        "the subscriber's queue coalesced"
    );
    assert_eq!(slow.settle().await, [], "nothing after the latest version");
}

async fn pushes_of_a_fast_writer_never_repeat_or_reorder_a_version(enc: Encoding) {
    const WRITES: u64 = 2000;
    let server = TestServer::start().await;
    let fixture = Fixture::new(&server, enc, "acme", "sensors", &[Read, Write]).await;
    let sid = fixture.service_id().to_owned();
    let mut writer = fixture.client(&server, enc).await;
    writer.allocate(variable(&sid, "n", ValueType::U64)).await;
    let mut subscriber = fixture.client(&server, enc).await;
    subscriber.subscribe(&sid, "n").await;

    // Pipelined, so that writes land while the server's watcher is between its scan and its read.
    for n in 1..=WRITES {
        writer
            .send(&Request::without_id(write_value(&sid, "n", json!(n))))
            .await;
    }
    let mut last = 0;
    for _ in 1..=WRITES {
        let reply = writer.reply().await;
        let ServerMessage::VariableData(data) = reply.message else {
            panic!("expected VariableData, got {reply:?}")
        };
        last = data.version;
    }
    let mut version = 0;
    while version < last {
        let push = subscriber.push().await;
        assert!(
            push.version > version,
            "version {} pushed after {version}",
            push.version
        );
        // The value is the one written at that version: the n-th write made version n + the allocation's.
        assert_eq!(push.value, Some(json!(push.version - (last - WRITES))));
        version = push.version;
    }
    assert_eq!(subscriber.settle().await, []);
}
