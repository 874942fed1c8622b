//! Variable handles (`Service::variable::<T>`), run on both transports by the conformance suite: typed reads and
//! writes, the type checked once, compare-and-set and `update`, and one handle across layout changes.

use commy_client::{Allocation, Client, Error, Service, Transport};
use commy_testkit::{TestServer, ALL, READ_ONLY};

/// A server, a tenant `acme` with an all-rights key, a client over `transport` and a fresh service `name`.
async fn service(transport: Transport, name: &str) -> (TestServer, Client, Service) {
    let server = TestServer::start().await;
    let key = server.tenant_key("acme", ALL).await;
    let client = server.sdk_client(transport, "acme", &key).await;
    let svc = client.create_service(name).await.unwrap();
    (server, client, svc)
}

pub(super) async fn handles_read_and_write_every_type(transport: Transport) {
    let (_server, _client, svc) = service(transport, "handles").await;
    svc.allocate("u", Allocation::u64(1)).await.unwrap();
    svc.allocate("i", Allocation::i64(-1)).await.unwrap();
    svc.allocate("f", Allocation::f64(0.5)).await.unwrap();
    svc.allocate("b", Allocation::bool(false)).await.unwrap();
    svc.allocate("s", Allocation::string("start").capacity(16))
        .await
        .unwrap();

    let u = svc.variable::<u64>("u").await.unwrap();
    assert_eq!((u.name(), u.value_type()), ("u", commy_client::ValueType::U64));
    assert_eq!(u.read().await.unwrap(), 1);
    let version = u.write(u64::MAX).await.unwrap();
    assert_eq!(u.read_versioned().await.unwrap(), (u64::MAX, version));
    assert_eq!(
        svc.read_u64("u").await.unwrap(),
        u64::MAX,
        "the handle writes what the service reads"
    );
    svc.write_u64("u", 5).await.unwrap();
    assert_eq!(u.read().await.unwrap(), 5, "and reads what the service writes");

    let i = svc.variable::<i64>("i").await.unwrap();
    i.write(-42).await.unwrap();
    assert_eq!(i.read().await.unwrap(), -42);
    let f = svc.variable::<f64>("f").await.unwrap();
    f.write(f64::NAN).await.unwrap();
    assert!(f.read().await.unwrap().is_nan());
    let b = svc.variable::<bool>("b").await.unwrap();
    b.write(true).await.unwrap();
    assert!(b.read().await.unwrap());
    let s = svc.variable::<String>("s").await.unwrap();
    s.write("héllo").await.unwrap();
    assert_eq!(s.read().await.unwrap(), "héllo");
    assert!(matches!(s.write(&"x".repeat(17)).await, Err(Error::InvalidRequest(_))));

    // Raw bytes fit any type, and must still be a value of it.
    let raw = svc.variable::<Vec<u8>>("u").await.unwrap();
    assert_eq!(raw.read().await.unwrap(), 5u64.to_le_bytes());
    raw.write(&7u64.to_le_bytes()).await.unwrap();
    assert_eq!(u.read().await.unwrap(), 7);
    assert!(matches!(raw.write(&[1, 2, 3]).await, Err(Error::InvalidRequest(_))));
    assert_eq!(u.read().await.unwrap(), 7, "a refused write changes nothing");

    // Compare-and-set and update.
    let (now, version) = u.read_versioned().await.unwrap();
    let conflict = u.compare_and_set(version - 1, 100).await;
    assert!(
        matches!(conflict, Err(Error::Conflict { current_version: Some(v), .. }) if v == version),
        "{conflict:?}"
    );
    assert_eq!(u.compare_and_set(version, now + 1).await.unwrap(), version + 1);
    u.update(|n| n * 10).await.unwrap();
    assert_eq!(u.read().await.unwrap(), 80);
    let clone = s.clone();
    clone.update(|text| text + "!").await.unwrap();
    assert_eq!(s.read().await.unwrap(), "héllo!");
}

pub(super) async fn a_handle_checks_the_type_once_at_resolve(transport: Transport) {
    let (server, _client, svc) = service(transport, "typed-handles").await;
    svc.allocate("speed", Allocation::u64(3)).await.unwrap();
    let wrong = svc.variable::<f64>("speed").await;
    assert!(
        matches!(&wrong, Err(Error::InvalidRequest(m)) if m.contains("speed") && m.contains("u64")),
        "{wrong:?}"
    );
    let missing = svc.variable::<u64>("nothing").await;
    assert!(
        matches!(&missing, Err(Error::NotFound(m)) if m.contains("nothing")),
        "{missing:?}"
    );

    // The variable freed, then allocated again under its name with another type: the handle looks again and says.
    let speed = svc.variable::<u64>("speed").await.unwrap();
    svc.deallocate("speed").await.unwrap();
    assert!(matches!(speed.read().await, Err(Error::NotFound(_))));
    svc.allocate("speed", Allocation::string("fast")).await.unwrap();
    assert!(matches!(speed.read().await, Err(Error::InvalidRequest(_))));
    assert!(matches!(speed.write(1).await, Err(Error::InvalidRequest(_))));
    svc.deallocate("speed").await.unwrap();
    svc.allocate("speed", Allocation::u64(9)).await.unwrap();
    assert_eq!(
        speed.read().await.unwrap(),
        9,
        "the same handle reaches the new variable of its type"
    );

    // A read-only credential reads through a handle and is refused writes.
    let key = server.tenant_key("acme", READ_ONLY).await;
    let reader = server.sdk_client(transport, "acme", &key).await;
    let ro = reader
        .get_service("typed-handles")
        .await
        .unwrap()
        .variable::<u64>("speed")
        .await
        .unwrap();
    assert_eq!(ro.read().await.unwrap(), 9);
    assert!(matches!(ro.write(1).await, Err(Error::PermissionDenied(_))));
}

pub(super) async fn one_handle_reads_across_layout_changes(transport: Transport) {
    let (_server, client, svc) = service(transport, "layout").await;
    svc.allocate("speed", Allocation::u64(1)).await.unwrap();
    let speed = svc.variable::<u64>("speed").await.unwrap();
    assert_eq!(speed.read().await.unwrap(), 1);

    // Another variable allocated between two reads, through another handle to the service.
    client
        .get_service("layout")
        .await
        .unwrap()
        .allocate("other", Allocation::bytes(vec![0; 100]).capacity(4000))
        .await
        .unwrap();
    assert_eq!(speed.read().await.unwrap(), 1);
    speed.write(2).await.unwrap();
    assert_eq!(svc.read_u64("speed").await.unwrap(), 2);

    // Many more, and one freed: the table and the heap move, the handle does not lose its variable.
    for n in 0..20 {
        svc.allocate(&format!("v{n}"), Allocation::u64(n)).await.unwrap();
    }
    svc.deallocate("other").await.unwrap();
    assert_eq!(speed.read().await.unwrap(), 2);
    let version = speed.write(3).await.unwrap();
    assert_eq!(speed.read_versioned().await.unwrap(), (3, version));
    assert_eq!(svc.read_u64("v19").await.unwrap(), 19);
}
