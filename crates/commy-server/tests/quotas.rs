//! Tenant quotas over a real server: each quota refuses with `LIMIT_EXCEEDED` naming the quota and its value and
//! creates nothing; the server admin's override takes effect without a restart and survives one.

use commy_proto::{
    AllocateVariable, Encoding, ErrorCode, GetTenantLimits, ListServices, Permission, Quotas, ServerMessage,
    SetTenantLimits, Subscribe, TenantLimits, ValueType,
};
use commy_testkit::{both_encodings, guard, variable, Client, Fixture, TestServer};

both_encodings!(
    each_quota_refuses_naming_itself,
    an_override_applies_without_a_restart_and_survives_one,
    concurrent_creations_never_pass_a_quota,
);

async fn server() -> TestServer {
    TestServer::with_config(|config| {
        let limits = &mut config.limits;
        limits.max_services_per_tenant = 2;
        limits.max_variables_per_service = 2;
        limits.max_bytes_per_tenant = 40;
        limits.max_sessions_per_tenant = 2;
        limits.max_subscriptions_per_connection = 1;
    })
    .await
}

fn bytes_variable(service_id: &str, name: &str, capacity: u32) -> AllocateVariable {
    AllocateVariable {
        capacity: Some(capacity),
        ..variable(service_id, name, ValueType::Bytes)
    }
}

async fn service_count(admin: &mut Client, tenant_id: &str) -> usize {
    let list = ListServices {
        tenant_id: tenant_id.into(),
    };
    match admin.ok(list).await {
        ServerMessage::ServiceList(list) => list.services.len(),
        other => panic!("expected ServiceList, got {other:?}"),
    }
}

async fn limits(admin: &mut Client, request: impl Into<commy_proto::ClientMessage>) -> TenantLimits {
    match admin.ok(request).await {
        ServerMessage::TenantLimits(limits) => limits,
        other => panic!("expected TenantLimits, got {other:?}"),
    }
}

async fn each_quota_refuses_naming_itself(enc: Encoding) {
    let server = server().await;
    let perms = [Permission::Read, Permission::Write, Permission::CreateService];
    let mut f = Fixture::new(&server, enc, "acme", "one", &perms).await;
    let one = f.service_id().to_owned();
    let mut c = f.client(&server, enc).await;

    // Services per tenant: the fixture's and one more.
    c.create_service("acme", "two").await;
    let over = commy_proto::CreateService {
        tenant_id: "acme".into(),
        service_name: "three".into(),
    };
    c.expect_error(over, ErrorCode::LimitExceeded, &["services", "2"]).await;
    assert_eq!(service_count(&mut f.admin, "acme").await, 2, "nothing half-created");

    // Variables per service: the file's table holds 2.
    c.allocate(variable(&one, "a", ValueType::U64)).await;
    c.allocate(variable(&one, "b", ValueType::U64)).await;
    let third = variable(&one, "c", ValueType::U64);
    c.expect_error(third, ErrorCode::LimitExceeded, &["variables_per_service", "2"])
        .await;
    assert_eq!(c.list_variables(&one).await.len(), 2);

    // Bytes per tenant, across its services: 16 held, 40 allowed.
    let two = match f
        .admin
        .ok(commy_proto::GetService {
            tenant_id: "acme".into(),
            service_name: "two".into(),
        })
        .await
    {
        ServerMessage::Service(service) => service.service_id,
        other => panic!("expected Service, got {other:?}"),
    };
    let too_big = bytes_variable(&two, "blob", 25);
    c.expect_error(too_big, ErrorCode::LimitExceeded, &["bytes", "40"])
        .await;
    assert!(c.list_variables(&two).await.is_empty(), "nothing half-created");
    c.allocate(bytes_variable(&two, "blob", 24)).await;

    // Subscriptions per connection.
    c.subscribe(&one, "a").await;
    let second = Subscribe {
        service_id: one.clone(),
        variable_name: "b".into(),
        skip_own_writes: false,
    };
    c.expect_error(second, ErrorCode::LimitExceeded, &["subscriptions_per_connection", "1"])
        .await;

    // Sessions per tenant: `c` and one more; the server admin's connection is not counted.
    let _second = f.client(&server, enc).await;
    let mut third = server.connect(enc).await;
    let login = commy_testkit::authenticate(Some("acme"), &f.key.key);
    third
        .expect_error(login.clone(), ErrorCode::LimitExceeded, &["sessions", "2"])
        .await;
    c.close().await;
    guard("a closed session's slot to come back", async {
        loop {
            if !matches!(third.request(login.clone()).await, ServerMessage::Error(_)) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
}

async fn an_override_applies_without_a_restart_and_survives_one(enc: Encoding) {
    let mut server = server().await;
    let perms = [Permission::Read, Permission::Write, Permission::CreateService];
    let mut f = Fixture::new(&server, enc, "acme", "old", &perms).await;
    let old = f.service_id().to_owned();
    let mut c = f.client(&server, enc).await;
    c.create_service("acme", "second").await;

    // Only the server admin sets or reads quotas.
    let raise = SetTenantLimits {
        tenant_id: "acme".into(),
        limits: Quotas {
            services: Some(3),
            variables_per_service: Some(3),
            subscriptions_per_connection: Some(2),
            ..Quotas::default()
        },
    };
    let code = c.error(raise.clone()).await.code;
    assert!(
        matches!(code, ErrorCode::PermissionDenied | ErrorCode::Unauthorized),
        "{code:?}"
    );
    let read = GetTenantLimits {
        tenant_id: "acme".into(),
    };
    let code = c.error(read.clone()).await.code;
    assert!(
        matches!(code, ErrorCode::PermissionDenied | ErrorCode::Unauthorized),
        "{code:?}"
    );

    let set = limits(&mut f.admin, raise.clone()).await;
    assert_eq!(set.overrides, raise.limits);
    assert_eq!(set.effective.services, Some(3));
    assert_eq!(
        set.effective.bytes,
        Some(40),
        "a field left out follows the server's default"
    );

    // The same connection, no restart: a third service now fits, a fourth does not.
    let new = c.create_service("acme", "third").await.service_id;
    let fourth = commy_proto::CreateService {
        tenant_id: "acme".into(),
        service_name: "fourth".into(),
    };
    c.expect_error(fourth, ErrorCode::LimitExceeded, &["services", "3"])
        .await;
    // A service made after the override has the larger table; the older one keeps its own.
    for name in ["a", "b", "c"] {
        c.allocate(variable(&new, name, ValueType::Bool)).await;
    }
    c.allocate(variable(&old, "a", ValueType::Bool)).await;
    c.allocate(variable(&old, "b", ValueType::Bool)).await;
    let over = variable(&old, "c", ValueType::Bool);
    c.expect_error(over, ErrorCode::LimitExceeded, &["variables_per_service", "2"])
        .await;
    c.subscribe(&new, "a").await;
    c.subscribe(&new, "b").await;

    // Bad values and unknown tenants are refused.
    let zero = SetTenantLimits {
        tenant_id: "acme".into(),
        limits: Quotas {
            variables_per_service: Some(0),
            ..Quotas::default()
        },
    };
    f.admin
        .expect_error(zero, ErrorCode::InvalidRequest, &["variables_per_service"])
        .await;
    let nobody = GetTenantLimits {
        tenant_id: "nobody".into(),
    };
    f.admin.expect_error(nobody, ErrorCode::NotFound, &["nobody"]).await;

    // The override is in the metadata: it survives a restart.
    server.restart().await;
    let mut admin = server.admin(enc).await;
    let after = limits(&mut admin, read).await;
    assert_eq!(after.overrides, raise.limits);
    assert_eq!(after.effective, set.effective);

    // An empty override returns the tenant to the defaults.
    let reset = SetTenantLimits {
        tenant_id: "acme".into(),
        limits: Quotas::default(),
    };
    let reset = limits(&mut admin, reset).await;
    assert_eq!(reset.overrides, Quotas::default());
    assert_eq!(reset.effective.services, Some(2));
}

async fn concurrent_creations_never_pass_a_quota(enc: Encoding) {
    let server = TestServer::with_config(|config| config.limits.max_services_per_tenant = 2).await;
    let perms = [Permission::Read, Permission::Write, Permission::CreateService];
    let mut f = Fixture::new(&server, enc, "acme", "first", &perms).await;
    // Eight connections race for the one service left under the quota of 2.
    let mut racers = Vec::new();
    for i in 0..8 {
        let mut client = f.client(&server, enc).await;
        racers.push(tokio::spawn(async move {
            let create = commy_proto::CreateService {
                tenant_id: "acme".into(),
                service_name: format!("racer-{i}"),
            };
            match client.request(create).await {
                ServerMessage::Service(_) => true,
                ServerMessage::Error(e) if e.code == ErrorCode::LimitExceeded => false,
                other => panic!("expected Service or LIMIT_EXCEEDED, got {other:?}"),
            }
        }));
    }
    let mut made = 0;
    for racer in racers {
        made += usize::from(guard("a racer", racer).await.expect("the racer's task"));
    }
    assert_eq!(made, 1, "exactly one racer fits under the quota");
    assert_eq!(service_count(&mut f.admin, "acme").await, 2);
}
