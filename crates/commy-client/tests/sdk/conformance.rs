//! One suite, run against both transports: each case is an async fn of the transport, instantiated once per
//! transport by `conformance!`. Results must be the same on both.

use commy_client::{Allocation, Change, Client, Credentials, Error, Payload, Service, Transport, ValueType, Watch};
use commy_testkit::{TestServer, ALL, READ_ONLY};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tokio::sync::Barrier;

macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod remote {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(commy_client::Transport::Remote).await
                }
            )*
        }
        mod local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    super::$case(commy_client::Transport::Local).await
                }
            )*
        }
    };
}

conformance!(
    services_crud,
    variables_crud,
    typed_reads_and_writes,
    watch_a_variable_to_its_last_version,
    watch_a_whole_service,
    errors_match_the_protocol_codes,
    a_read_only_key_is_denied_writes,
    a_bad_key_is_unauthorized,
    compare_and_set_writes_only_at_the_expected_version,
    compare_and_set_racing_both_transports_loses_no_update,
    handles_read_and_write_every_type,
    a_handle_checks_the_type_once_at_resolve,
    one_handle_reads_across_layout_changes,
);

use super::handles::{
    a_handle_checks_the_type_once_at_resolve, handles_read_and_write_every_type, one_handle_reads_across_layout_changes,
};

/// A server, a tenant `acme` with an all-rights key, and a client of it over `transport`.
async fn fixture(transport: Transport) -> (TestServer, Client) {
    let server = TestServer::start().await;
    let key = server.tenant_key("acme", ALL).await;
    let client = server.sdk_client(transport, "acme", &key).await;
    (server, client)
}

/// Reads changes until one of `variable` reaches `version`; returns every change of it seen on the way.
async fn until_version(watch: &mut Watch, variable: &str, version: u64) -> Vec<Change> {
    let mut seen = Vec::new();
    while let Some(change) = watch.next_change().await {
        if change.variable != variable {
            continue;
        }
        let done = change.version >= version;
        seen.push(change);
        if done {
            return seen;
        }
    }
    panic!("the watch ended before '{variable}' reached version {version}: saw {seen:?}");
}

async fn services_crud(transport: Transport) {
    let (_server, client) = fixture(transport).await;
    let created = client.create_service("weather").await.unwrap();
    assert_eq!(created.name(), "weather");
    assert_eq!(created.tenant(), "acme");
    assert_eq!(created.transport(), transport);
    let got = client.get_service("weather").await.unwrap();
    assert_eq!(got.id(), created.id());
    let names: Vec<_> = client
        .list_services()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.service_name)
        .collect();
    assert_eq!(names, ["weather"]);
    client.delete_service("weather").await.unwrap();
    assert!(matches!(client.get_service("weather").await, Err(Error::NotFound(_))));
    assert!(client.list_services().await.unwrap().is_empty());
}

async fn variables_crud(transport: Transport) {
    let (_server, client) = fixture(transport).await;
    let svc = client.create_service("plant").await.unwrap();
    let first = svc
        .allocate("count", Allocation::u64(5).persistent(true))
        .await
        .unwrap();
    assert_eq!(first.as_u64().unwrap(), 5);
    assert_eq!(first.value, Some(5.into()));
    svc.allocate("raw", Allocation::bytes(vec![1, 2, 3]).capacity(16))
        .await
        .unwrap();
    let list = svc.list().await.unwrap();
    let count = list.iter().find(|v| v.variable_name == "count").unwrap();
    assert_eq!(
        (count.value_type, count.capacity, count.len, count.persistent),
        (ValueType::U64, 8, 8, true)
    );
    let raw = list.iter().find(|v| v.variable_name == "raw").unwrap();
    assert_eq!((raw.value_type, raw.capacity, raw.len), (ValueType::Bytes, 16, 3));

    let before = svc.read("count").await.unwrap();
    let version = svc.write("count", 6u64).await.unwrap();
    assert!(version > before.version);
    let after = svc.read("count").await.unwrap();
    assert_eq!((after.as_u64().unwrap(), after.version), (6, version));
    assert_eq!(after.value, Some(6.into()));

    svc.deallocate("raw").await.unwrap();
    assert!(matches!(svc.read("raw").await, Err(Error::NotFound(_))));
    assert!(matches!(svc.write("raw", vec![1u8]).await, Err(Error::NotFound(_))));
    // A freed name can be allocated again, with another type.
    svc.allocate("raw", Allocation::string("again")).await.unwrap();
    assert_eq!(svc.read_string("raw").await.unwrap(), "again");
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Reading {
    station: String,
    celsius: f64,
    tags: Vec<String>,
}

#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, bytemuck::Pod, bytemuck::Zeroable)]
struct Position {
    x: f32,
    y: f32,
    heading: u32,
    flags: u32,
}

async fn typed_reads_and_writes(transport: Transport) {
    let (_server, client) = fixture(transport).await;
    let svc: Service = client.create_service("typed").await.unwrap();
    svc.allocate("u", Allocation::u64(0)).await.unwrap();
    svc.allocate("i", Allocation::i64(0)).await.unwrap();
    svc.allocate("f", Allocation::f64(0.0)).await.unwrap();
    svc.allocate("b", Allocation::bool(false)).await.unwrap();
    svc.allocate("s", Allocation::string("").capacity(32)).await.unwrap();
    let reading = Reading {
        station: "north".into(),
        celsius: 21.5,
        tags: vec!["roof".into()],
    };
    svc.allocate("j", Allocation::json(&reading).unwrap()).await.unwrap();
    svc.allocate("raw", Allocation::bytes(vec![]).capacity(8))
        .await
        .unwrap();
    let origin = Position {
        x: 0.0,
        y: 0.0,
        heading: 0,
        flags: 0,
    };
    svc.allocate("pos", Allocation::pod(&origin)).await.unwrap();

    svc.write_u64("u", u64::MAX).await.unwrap();
    assert_eq!(svc.read_u64("u").await.unwrap(), u64::MAX);
    svc.write_i64("i", -42).await.unwrap();
    assert_eq!(svc.read_i64("i").await.unwrap(), -42);
    svc.write_f64("f", 0.1 + 0.2).await.unwrap();
    assert_eq!(svc.read_f64("f").await.unwrap(), 0.1 + 0.2);
    svc.write_f64("f", f64::NAN).await.unwrap();
    assert!(svc.read_f64("f").await.unwrap().is_nan());
    svc.write_bool("b", true).await.unwrap();
    assert!(svc.read_bool("b").await.unwrap());
    svc.write_string("s", "héllo").await.unwrap();
    assert_eq!(svc.read_string("s").await.unwrap(), "héllo");
    assert_eq!(svc.read("s").await.unwrap().value, Some("héllo".into()));
    let colder = Reading {
        celsius: -3.25,
        ..reading
    };
    svc.write_json("j", &colder).await.unwrap();
    assert_eq!(svc.read_json::<Reading>("j").await.unwrap(), colder);
    svc.write_bytes("raw", &[9, 8, 7]).await.unwrap();
    assert_eq!(svc.read_bytes("raw").await.unwrap(), [9, 8, 7]);
    assert_eq!(svc.read("raw").await.unwrap().value, None);
    let moved = Position {
        x: 1.5,
        y: -2.0,
        heading: 270,
        flags: 3,
    };
    svc.write_pod("pos", &moved).await.unwrap();
    assert_eq!(svc.read_pod::<Position>("pos").await.unwrap(), moved);
}

async fn watch_a_variable_to_its_last_version(transport: Transport) {
    let (_server, client) = fixture(transport).await;
    let svc = client.create_service("burst").await.unwrap();
    svc.allocate("n", Allocation::u64(0)).await.unwrap();
    svc.allocate("other", Allocation::u64(0)).await.unwrap();
    let mut watch = svc.watch_variable("n").await.unwrap();
    let mut last = 0;
    for n in 1..=200u64 {
        last = svc.write_u64("n", n).await.unwrap();
        svc.write_u64("other", n).await.unwrap();
    }
    let seen = until_version(&mut watch, "n", last).await;
    let values: Vec<u64> = seen.iter().map(|c| c.as_u64().unwrap()).collect();
    assert_eq!(values.last(), Some(&200), "the last write always arrives");
    assert!(values.windows(2).all(|w| w[0] < w[1]), "in order: {values:?}");
    assert!(seen.iter().all(|c| c.variable == "n"));
    assert_eq!(seen.last().unwrap().value, Some(200.into()));
}

async fn watch_a_whole_service(transport: Transport) {
    let (_server, client) = fixture(transport).await;
    let svc = client.create_service("all").await.unwrap();
    svc.allocate("a", Allocation::string("").capacity(16)).await.unwrap();
    svc.allocate("b", Allocation::f64(0.0)).await.unwrap();
    let mut watch = svc.watch().await.unwrap();
    let va = svc.write("a", "first").await.unwrap();
    let vb = svc.write("b", 2.5).await.unwrap();
    let mut latest = std::collections::HashMap::new();
    while latest.get("a").is_none_or(|c: &Change| c.version < va)
        || latest.get("b").is_none_or(|c: &Change| c.version < vb)
    {
        let change = watch.next_change().await.expect("watch continues");
        latest.insert(change.variable.clone(), change);
    }
    assert_eq!(latest["a"].as_str().unwrap(), "first");
    assert_eq!(latest["b"].as_f64().unwrap(), 2.5);
    // A variable allocated after the watch started is watched too.
    svc.allocate("c", Allocation::bool(false)).await.unwrap();
    let vc = svc.write_bool("c", true).await.unwrap();
    let seen = until_version(&mut watch, "c", vc).await;
    assert!(seen.last().unwrap().as_bool().unwrap());
}

async fn errors_match_the_protocol_codes(transport: Transport) {
    let (_server, client) = fixture(transport).await;
    assert!(matches!(client.get_service("nope").await, Err(Error::NotFound(_))));
    let svc = client.create_service("errs").await.unwrap();
    assert!(matches!(
        client.create_service("errs").await,
        Err(Error::AlreadyExists(_))
    ));
    assert!(matches!(
        client.create_service("../bad").await,
        Err(Error::InvalidRequest(_))
    ));
    svc.allocate("n", Allocation::u64(1)).await.unwrap();
    svc.allocate("s", Allocation::string("x").capacity(4)).await.unwrap();
    assert!(matches!(
        svc.allocate("n", Allocation::u64(1)).await,
        Err(Error::AlreadyExists(_))
    ));
    assert!(matches!(svc.read("missing").await, Err(Error::NotFound(_))));
    assert!(matches!(svc.write("missing", 1u64).await, Err(Error::NotFound(_))));
    assert!(matches!(svc.watch_variable("missing").await, Err(Error::NotFound(_))));
    // A value of the wrong kind or size, or over capacity, changes nothing.
    let before = svc.read("n").await.unwrap();
    assert!(matches!(svc.write("n", "text").await, Err(Error::InvalidRequest(_))));
    assert!(matches!(svc.write("n", -1i64).await, Err(Error::InvalidRequest(_))));
    assert!(matches!(
        svc.write("n", vec![1u8, 2]).await,
        Err(Error::InvalidRequest(_))
    ));
    assert!(matches!(
        svc.write("s", "too long").await,
        Err(Error::InvalidRequest(_))
    ));
    assert_eq!(svc.read("n").await.unwrap(), before);
    // Reading as the wrong type is the caller's mistake.
    assert!(matches!(svc.read_bool("s").await, Err(Error::InvalidRequest(_))));
    let code = svc.read("missing").await.unwrap_err().code();
    assert_eq!(code, Some(commy_client::proto::ErrorCode::NotFound));
}

async fn a_read_only_key_is_denied_writes(transport: Transport) {
    let (server, admin) = fixture(transport).await;
    let svc = admin.create_service("guarded").await.unwrap();
    svc.allocate("n", Allocation::u64(7)).await.unwrap();
    let key = server.tenant_key("acme", READ_ONLY).await;
    let reader = server.sdk_client(transport, "acme", &key).await;
    let ro = reader.get_service("guarded").await.unwrap();
    assert_eq!(ro.read_u64("n").await.unwrap(), 7);
    assert!(matches!(ro.write_u64("n", 8).await, Err(Error::PermissionDenied(_))));
    assert!(matches!(
        ro.allocate("m", Allocation::u64(0)).await,
        Err(Error::PermissionDenied(_))
    ));
    assert!(matches!(ro.deallocate("n").await, Err(Error::PermissionDenied(_))));
    assert!(matches!(
        reader.create_service("mine").await,
        Err(Error::PermissionDenied(_))
    ));
    assert!(matches!(
        reader.delete_service("guarded").await,
        Err(Error::PermissionDenied(_))
    ));
    assert_eq!(ro.read_u64("n").await.unwrap(), 7);
    // Reading includes watching, and the watch sees the writer's changes.
    let mut watch = ro.watch_variable("n").await.unwrap();
    let version = svc.write_u64("n", 9).await.unwrap();
    let seen = until_version(&mut watch, "n", version).await;
    assert_eq!(seen.last().unwrap().as_u64().unwrap(), 9);
}

async fn a_bad_key_is_unauthorized(transport: Transport) {
    let (server, _client) = fixture(transport).await;
    let stranger = Client::builder(&server.url())
        .transport(transport)
        .connect()
        .await
        .unwrap();
    let refused = stranger
        .authenticate(Some("acme"), Credentials::api_key("not-a-key"))
        .await;
    assert!(matches!(refused, Err(Error::Unauthorized(_))), "{refused:?}");
    assert!(matches!(
        stranger.get_service("anything").await,
        Err(Error::InvalidRequest(_))
    ));
}

async fn compare_and_set_writes_only_at_the_expected_version(transport: Transport) {
    let (_server, client) = fixture(transport).await;
    let svc = client.create_service("cas").await.unwrap();
    let first = svc.allocate("n", Allocation::u64(1)).await.unwrap();
    let mut watch = svc.watch_variable("n").await.unwrap();

    let version = svc.compare_and_set("n", first.version, 2u64).await.unwrap();
    assert_eq!(version, first.version + 1);
    assert_eq!(svc.read_u64("n").await.unwrap(), 2);
    assert_eq!(
        until_version(&mut watch, "n", version)
            .await
            .last()
            .unwrap()
            .as_u64()
            .unwrap(),
        2
    );

    let stale = svc.compare_and_set("n", first.version, 3u64).await;
    let Err(Error::Conflict {
        current_version,
        message,
    }) = stale
    else {
        panic!("a stale version should conflict: {stale:?}")
    };
    assert_eq!(current_version, Some(version));
    assert!(
        message.contains("'n'") && message.contains(&version.to_string()),
        "{message}"
    );
    let now = svc.read("n").await.unwrap();
    assert_eq!((now.version, now.as_u64().unwrap()), (version, 2), "nothing changed");

    // The value is checked as for a write, whatever the version; typed payloads work as for write.
    assert!(matches!(
        svc.compare_and_set("n", version, "text").await,
        Err(Error::InvalidRequest(_))
    ));
    assert!(matches!(
        svc.compare_and_set("missing", 0, 1u64).await,
        Err(Error::NotFound(_))
    ));
    let reading = Reading {
        station: "roof".into(),
        celsius: 4.5,
        tags: vec![],
    };
    let j = svc.allocate("j", Allocation::json(&reading).unwrap()).await.unwrap();
    let json = Payload::json(&reading).unwrap();
    assert_eq!(svc.compare_and_set("j", j.version, json).await.unwrap(), j.version + 1);
}

/// Once every racer is at `start`, adds one to `n` by compare-and-set `times` times, retrying on conflict. Returns
/// the conflicts met.
async fn increment(svc: Service, times: u64, start: Arc<Barrier>) -> u64 {
    start.wait().await;
    let mut conflicts = 0;
    for _ in 0..times {
        loop {
            let now = svc.read("n").await.unwrap();
            // A local read and write never yield: let the other racers in between, as another process would.
            tokio::task::yield_now().await;
            match svc.compare_and_set("n", now.version, now.as_u64().unwrap() + 1).await {
                Ok(_) => break,
                Err(Error::Conflict { .. }) => conflicts += 1,
                Err(other) => panic!("compare-and-set failed: {other}"),
            }
        }
    }
    conflicts
}

/// Two clients on `transport` and one on the other race to increment one counter: the compare is atomic across a
/// mapping and the server alike, so no increment is lost.
async fn compare_and_set_racing_both_transports_loses_no_update(transport: Transport) {
    const TIMES: u64 = 150;
    let (server, client) = fixture(transport).await;
    let svc = client.create_service("race").await.unwrap();
    svc.allocate("n", Allocation::u64(0)).await.unwrap();
    let other = match transport {
        Transport::Local => Transport::Remote,
        _ => Transport::Local,
    };
    let key = server.tenant_key("acme", ALL).await;
    let racers = [transport, transport, other];
    let start = Arc::new(Barrier::new(racers.len()));
    let mut tasks = Vec::new();
    for t in racers {
        let racer = server
            .sdk_client(t, "acme", &key)
            .await
            .get_service("race")
            .await
            .unwrap();
        assert_eq!(racer.transport(), t);
        tasks.push(tokio::spawn(increment(racer, TIMES, start.clone())));
    }
    let mut conflicts = 0;
    for task in tasks {
        conflicts += task.await.unwrap();
    }
    println!("3 racers x {TIMES} increments: {conflicts} conflicts retried");
    assert_eq!(svc.read_u64("n").await.unwrap(), 3 * TIMES, "an increment was lost");
}
