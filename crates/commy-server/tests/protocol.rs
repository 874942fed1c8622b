//! Every request and every error code of the protocol against the real server over a real socket, written once and
//! run over both encodings (`<test>::json` and `<test>::msgpack`).

mod util;

use commy_proto::{
    AllocateVariable, CreateService, CreateTenant, DeallocateVariable, DeleteService, DeleteTenant, Disconnect,
    Encoding, ErrorCode, GetService, GetServiceFilePath, Heartbeat, JwtAlgorithm, ListServices, ListTenants,
    ListVariables, Permission, QueryAudit, Reply, Request, RevokeApiKey, ServerMessage, SetJwtKey, Subscribe,
    Unsubscribe, ValueType,
};
use serde_json::{json, Value};
use util::{
    authenticate, both_encodings, raw_frame, read, variable, write_data, write_value, Client, Fixture, TestServer,
    ADMIN_KEY,
};

use Permission::{Admin, CreateService as Create, DeleteService as Delete, Read, Write};

both_encodings!(
    tenants_keys_and_authentication,
    services,
    variables_of_every_type,
    subscriptions_push_every_change_to_whoever_asked,
    heartbeat_and_disconnect,
    not_found_names_what_is_missing,
    permission_denied_and_unauthorized,
    already_exists,
    invalid_names,
    values_that_do_not_fit_change_nothing,
    undecodable_requests_keep_the_connection,
    limit_exceeded,
    internal_error_when_the_data_directory_breaks,
    pipelined_requests_are_answered_in_order,
    a_slow_subscriber_gets_coalesced_pushes_ending_at_the_latest,
    pushes_of_a_fast_writer_never_repeat_or_reorder_a_version,
);

/// A result reply's success flag and message.
fn result_of(reply: ServerMessage) -> (bool, String) {
    match reply {
        ServerMessage::Result(r) => (r.success, r.message),
        other => panic!("expected Result, got {other:?}"),
    }
}

async fn tenants_keys_and_authentication(enc: Encoding) {
    let server = TestServer::start().await;

    // Heartbeat needs no authentication.
    let mut anonymous = server.connect(enc).await;
    assert!(anonymous.heartbeat().await > 0);

    let mut admin = server.connect(enc).await;
    let auth = admin.authenticate(None, ADMIN_KEY).await;
    assert_eq!(auth.permissions, [Admin]);
    assert!(!auth.server_version.is_empty());

    let acme = admin.create_tenant("acme").await;
    assert_eq!(
        (acme.tenant_id.as_str(), acme.tenant_name.as_str()),
        ("acme", "acme Inc.")
    );
    admin.create_tenant("globex").await;
    let ServerMessage::TenantList(list) = admin.ok(ListTenants {}).await else {
        panic!("expected TenantList")
    };
    let mut ids: Vec<_> = list.tenants.iter().map(|t| t.tenant_id.as_str()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["acme", "globex"]);

    // The server admin makes a tenant admin, who makes a read-only key.
    let tenant_admin_key = admin.create_key("acme", &[Admin]).await;
    assert!(!tenant_admin_key.key_id.is_empty());
    assert!(tenant_admin_key.key.len() >= 32, "a key is a secret");
    let mut tenant_admin = server.connect(enc).await;
    let auth = tenant_admin.authenticate(Some("acme"), &tenant_admin_key.key).await;
    assert!(auth.permissions.contains(&Admin), "{auth:?}");
    let reader_key = tenant_admin.create_key("acme", &[Read]).await;
    assert_ne!(reader_key.key, tenant_admin_key.key);
    let mut reader = server.connect(enc).await;
    let auth = reader.authenticate(Some("acme"), &reader_key.key).await;
    assert_eq!(auth.permissions, [Read]);

    // A JWT key set for the tenant verifies the tenant's tokens.
    let secret = "a shared secret that is at least 32 bytes long";
    let set = SetJwtKey {
        tenant_id: "acme".into(),
        alg: JwtAlgorithm::HS256,
        key: secret.into(),
        issuer: None,
        audience: None,
    };
    let (success, message) = result_of(tenant_admin.ok(set).await);
    assert!(success, "{message}");
    let claims = json!({
        "sub": "sensor-7", "tenant": "acme", "permissions": ["read"],
        "exp": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() + 600,
    });
    let token = jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap();
    let mut jwt = server.connect(enc).await;
    let reply = jwt
        .ok(commy_proto::Authenticate {
            tenant_id: Some("acme".into()),
            client_version: "tests".into(),
            credential: commy_proto::Credential::Jwt { token },
        })
        .await;
    let ServerMessage::AuthenticationResult(auth) = reply else {
        panic!("expected AuthenticationResult, got {reply:?}")
    };
    assert_eq!(auth.permissions, [Read]);

    // A revoked key no longer authenticates.
    let revoke = RevokeApiKey {
        tenant_id: "acme".into(),
        key_id: reader_key.key_id.clone(),
    };
    let (success, message) = result_of(tenant_admin.ok(revoke).await);
    assert!(success && message.contains(&reader_key.key_id), "{message}");
    let mut late = server.connect(enc).await;
    late.expect_error(
        authenticate(Some("acme"), &reader_key.key),
        ErrorCode::Unauthorized,
        &[],
    )
    .await;

    // Deleting a tenant.
    let delete = DeleteTenant {
        tenant_id: "globex".into(),
    };
    let (success, message) = result_of(admin.ok(delete.clone()).await);
    assert!(success && message.contains("globex"), "{message}");
    let ServerMessage::TenantList(list) = admin.ok(ListTenants {}).await else {
        panic!("expected TenantList")
    };
    let ids: Vec<_> = list.tenants.iter().map(|t| t.tenant_id.as_str()).collect();
    assert_eq!(ids, ["acme"]);
    admin.expect_error(delete, ErrorCode::NotFound, &["globex"]).await;
}

async fn services(enc: Encoding) {
    let server = TestServer::start().await;
    let fixture = Fixture::new(&server, enc, "acme", "sensors", &[Create, Delete, Read]).await;
    let mut client = fixture.client(&server, enc).await;

    let created = client.create_service("acme", "room/1").await;
    assert_eq!(created.service_name, "room/1");
    assert_eq!(created.tenant_id, "acme");
    assert_ne!(created.service_id, fixture.service_id());
    let file = server.service_file(&created.service_id);
    assert!(file.is_file(), "{} exists", file.display());
    assert!(
        !file.to_string_lossy().contains("room"),
        "file names come from ids, never from user strings: {}",
        file.display()
    );

    let get = GetService {
        tenant_id: "acme".into(),
        service_name: "room/1".into(),
    };
    assert_eq!(client.ok(get.clone()).await, ServerMessage::Service(created.clone()));

    let list = ListServices {
        tenant_id: "acme".into(),
    };
    let ServerMessage::ServiceList(listed) = client.ok(list.clone()).await else {
        panic!("expected ServiceList")
    };
    let mut names: Vec<_> = listed.services.iter().map(|s| s.service_name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["room/1", "sensors"]);
    assert!(listed.services.contains(&created));

    let delete = DeleteService {
        tenant_id: "acme".into(),
        service_name: "room/1".into(),
    };
    let (success, message) = result_of(client.ok(delete.clone()).await);
    assert!(success && message.contains("room/1"), "{message}");
    assert!(!file.exists(), "the service file is removed");
    client.expect_error(get, ErrorCode::NotFound, &["room/1"]).await;
    let ServerMessage::ServiceList(listed) = client.ok(list).await else {
        panic!("expected ServiceList")
    };
    assert_eq!(listed.services, std::slice::from_ref(&fixture.service));
    client.expect_error(delete, ErrorCode::NotFound, &["room/1"]).await;

    // The local socket's request is refused over WebSocket, and the connection goes on.
    let path = GetServiceFilePath {
        tenant_id: "acme".into(),
        service_name: "sensors".into(),
    };
    client
        .expect_error(path, ErrorCode::InvalidRequest, &["GetServiceFilePath"])
        .await;
}

/// One row per type: two values, their bytes, and the zero value.
struct TypeCase {
    ty: ValueType,
    first: Value,
    first_bytes: Vec<u8>,
    second: Value,
    second_bytes: Vec<u8>,
    zero: Option<Value>,
}

fn type_cases() -> Vec<TypeCase> {
    let json_first = json!({"a": [1, 2, {"b": null}], "c": "d"});
    let json_second = json!([true, "x", -1.5]);
    vec![
        TypeCase {
            ty: ValueType::U64,
            first: json!(42),
            first_bytes: 42u64.to_le_bytes().to_vec(),
            second: json!(u64::MAX),
            second_bytes: u64::MAX.to_le_bytes().to_vec(),
            zero: Some(json!(0)),
        },
        TypeCase {
            ty: ValueType::I64,
            first: json!(-7),
            first_bytes: (-7i64).to_le_bytes().to_vec(),
            second: json!(i64::MIN),
            second_bytes: i64::MIN.to_le_bytes().to_vec(),
            zero: Some(json!(0)),
        },
        TypeCase {
            ty: ValueType::F64,
            first: json!(21.5),
            first_bytes: 21.5f64.to_le_bytes().to_vec(),
            second: json!(-0.125),
            second_bytes: (-0.125f64).to_le_bytes().to_vec(),
            zero: Some(json!(0.0)),
        },
        TypeCase {
            ty: ValueType::Bool,
            first: json!(true),
            first_bytes: vec![1],
            second: json!(false),
            second_bytes: vec![0],
            zero: Some(json!(false)),
        },
        TypeCase {
            ty: ValueType::String,
            first: json!("héllo wörld"),
            first_bytes: "héllo wörld".as_bytes().to_vec(),
            second: json!(""),
            second_bytes: vec![],
            zero: Some(json!("")),
        },
        TypeCase {
            ty: ValueType::Json,
            first_bytes: serde_json::to_vec(&json_first).unwrap(),
            first: json_first,
            second_bytes: serde_json::to_vec(&json_second).unwrap(),
            second: json_second,
            zero: Some(Value::Null),
        },
    ]
}

async fn variables_of_every_type(enc: Encoding) {
    let server = TestServer::start().await;
    let fixture = Fixture::new(&server, enc, "acme", "sensors", &[Read, Write]).await;
    let mut c = fixture.client(&server, enc).await;
    let sid = fixture.service_id().to_owned();

    for case in type_cases() {
        let ty = case.ty.as_str();
        let check_json = |data: &[u8], value: &Value| {
            if case.ty == ValueType::Json {
                assert_eq!(&serde_json::from_slice::<Value>(data).unwrap(), value);
            }
        };
        // Allocated from a JSON value.
        let by_value = format!("{ty}/by_value");
        let allocated = c
            .allocate(AllocateVariable {
                value: Some(case.first.clone()),
                ..variable(&sid, &by_value, case.ty)
            })
            .await;
        assert_eq!(allocated.service_id, sid);
        assert_eq!(allocated.variable_name, by_value);
        assert_eq!(allocated.value.as_ref(), Some(&case.first), "{ty}");
        if case.ty != ValueType::Json {
            assert_eq!(allocated.data, case.first_bytes, "{ty}");
        }
        check_json(&allocated.data, &case.first);

        // Allocated from its bytes.
        let by_data = format!("{ty}/by_data");
        let allocated = c
            .allocate(AllocateVariable {
                initial_data: Some(case.first_bytes.clone()),
                ..variable(&sid, &by_data, case.ty)
            })
            .await;
        assert_eq!(allocated.value.as_ref(), Some(&case.first), "{ty}");
        assert_eq!(allocated.data, case.first_bytes, "{ty}");

        // Allocated with neither: the type's zero value.
        let zero = c.allocate(variable(&sid, &format!("{ty}/zero"), case.ty)).await;
        assert_eq!(zero.value, case.zero, "{ty}");

        // Read, written as a value, written as bytes, read again.
        let read = c.read(&sid, &by_value).await;
        assert_eq!(read.value.as_ref(), Some(&case.first), "{ty}");
        let v0 = read.version;
        let written = c.write(&sid, &by_value, case.second.clone()).await;
        assert!(written.version > v0, "{ty}: a write bumps the version");
        assert_eq!(written.value.as_ref(), Some(&case.second), "{ty}");
        if case.ty != ValueType::Json {
            assert_eq!(written.data, case.second_bytes, "{ty}");
        }
        check_json(&written.data, &case.second);
        let rewritten = c.write_data(&sid, &by_value, case.first_bytes.clone()).await;
        assert!(rewritten.version > written.version, "{ty}");
        assert_eq!(rewritten.value.as_ref(), Some(&case.first), "{ty}");
        let read = c.read(&sid, &by_value).await;
        assert_eq!(
            (read.data, read.version, read.value),
            (case.first_bytes.clone(), rewritten.version, Some(case.first.clone())),
            "{ty}"
        );
    }

    // Bytes: no `value`, explicit capacity, persistent flag.
    let blob = c
        .allocate(AllocateVariable {
            initial_data: Some(vec![1, 2, 3]),
            capacity: Some(1024),
            persistent: Some(true),
            ..variable(&sid, "blob", ValueType::Bytes)
        })
        .await;
    assert_eq!((blob.data.as_slice(), blob.value.as_ref()), (&[1, 2, 3][..], None));
    let written = c.write_data(&sid, "blob", vec![9; 1024]).await;
    assert_eq!(written.data, vec![9; 1024]);
    let empty = c.write_data(&sid, "blob", vec![]).await;
    assert!(empty.data.is_empty() && empty.version > written.version);

    // The list says what each variable is.
    let list = c.list_variables(&sid).await;
    let info = |name: &str| {
        list.iter()
            .find(|v| v.variable_name == name)
            .unwrap_or_else(|| panic!("{name} listed in {list:?}"))
    };
    assert_eq!(list.len(), 3 * type_cases().len() + 1);
    let blob = info("blob");
    assert_eq!(
        (blob.value_type, blob.capacity, blob.len, blob.persistent),
        (ValueType::Bytes, 1024, 0, true)
    );
    let u = info("u64/by_value");
    assert_eq!(
        (u.value_type, u.capacity, u.len, u.persistent),
        (ValueType::U64, 8, 8, false)
    );
    assert_eq!(u.version, c.read(&sid, "u64/by_value").await.version);
    let b = info("bool/zero");
    assert_eq!((b.value_type, b.capacity, b.len), (ValueType::Bool, 1, 1));
    let s = info("string/by_value");
    assert_eq!((s.value_type, s.capacity), (ValueType::String, 256));
    assert_eq!(s.len as usize, "héllo wörld".len());

    // Deallocated: gone from reads and from the list.
    let dealloc = DeallocateVariable {
        service_id: sid.clone(),
        variable_name: "blob".into(),
    };
    let (success, message) = result_of(c.ok(dealloc.clone()).await);
    assert!(success && message.contains("blob"), "{message}");
    c.expect_error(read(&sid, "blob"), ErrorCode::NotFound, &["blob"]).await;
    assert!(c.list_variables(&sid).await.iter().all(|v| v.variable_name != "blob"));
    c.expect_error(dealloc, ErrorCode::NotFound, &["blob"]).await;
    // The name is free again.
    c.allocate(variable(&sid, "blob", ValueType::U64)).await;
}

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
        },
        ErrorCode::NotFound,
        &["nope"],
    )
    .await;
}

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

async fn not_found_names_what_is_missing(enc: Encoding) {
    let server = TestServer::start().await;
    let fixture = Fixture::new(&server, enc, "acme", "sensors", &[Admin]).await;
    let sid = fixture.service_id().to_owned();
    let mut admin = fixture.admin;
    let mut c = server.connect(enc).await;
    c.authenticate(Some("acme"), &fixture.key.key).await;
    c.allocate(variable(&sid, "here", ValueType::U64)).await;

    let service = |name: &str| GetService {
        tenant_id: "acme".into(),
        service_name: name.into(),
    };
    c.expect_error(service("nope"), ErrorCode::NotFound, &["'nope'", "'acme'"])
        .await;
    c.expect_error(
        DeleteService {
            tenant_id: "acme".into(),
            service_name: "nope".into(),
        },
        ErrorCode::NotFound,
        &["'nope'"],
    )
    .await;
    c.expect_error(read(&sid, "missing"), ErrorCode::NotFound, &["'missing'"])
        .await;
    c.expect_error(
        write_value(&sid, "missing", json!(1)),
        ErrorCode::NotFound,
        &["'missing'"],
    )
    .await;
    c.expect_error(
        DeallocateVariable {
            service_id: sid.clone(),
            variable_name: "missing".into(),
        },
        ErrorCode::NotFound,
        &["'missing'"],
    )
    .await;
    c.expect_error(
        read("0123456789abcdef", "here"),
        ErrorCode::NotFound,
        &["0123456789abcdef"],
    )
    .await;
    c.expect_error(
        ListVariables {
            service_id: "0123456789abcdef".into(),
        },
        ErrorCode::NotFound,
        &["0123456789abcdef"],
    )
    .await;
    c.expect_error(
        RevokeApiKey {
            tenant_id: "acme".into(),
            key_id: "no-such-key".into(),
        },
        ErrorCode::NotFound,
        &["no-such-key"],
    )
    .await;
    // The server admin reaches every tenant, so a missing one is NOT_FOUND.
    admin
        .expect_error(
            CreateService {
                tenant_id: "ghost".into(),
                service_name: "s".into(),
            },
            ErrorCode::NotFound,
            &["ghost"],
        )
        .await;
    admin
        .expect_error(
            ListServices {
                tenant_id: "ghost".into(),
            },
            ErrorCode::NotFound,
            &["ghost"],
        )
        .await;
    admin
        .expect_error(
            DeleteTenant {
                tenant_id: "ghost".into(),
            },
            ErrorCode::NotFound,
            &["ghost"],
        )
        .await;
    // Reads never create: the service is still missing.
    c.expect_error(service("nope"), ErrorCode::NotFound, &["'nope'"]).await;
}

async fn permission_denied_and_unauthorized(enc: Encoding) {
    let server = TestServer::start().await;
    let fixture = Fixture::new(&server, enc, "acme", "sensors", &[Read]).await;
    let sid = fixture.service_id().to_owned();
    let mut admin = fixture.admin;
    admin.allocate(variable(&sid, "v", ValueType::U64)).await;

    // Before authentication: everything but Heartbeat, Disconnect and Authenticate.
    let mut anonymous = server.connect(enc).await;
    let requests: Vec<commy_proto::ClientMessage> = vec![
        ListTenants {}.into(),
        CreateTenant {
            tenant_id: "t".into(),
            tenant_name: "t".into(),
        }
        .into(),
        CreateService {
            tenant_id: "acme".into(),
            service_name: "s".into(),
        }
        .into(),
        ListServices {
            tenant_id: "acme".into(),
        }
        .into(),
        read(&sid, "v").into(),
        write_value(&sid, "v", json!(1)).into(),
        variable(&sid, "w", ValueType::U64).into(),
        Subscribe {
            service_id: sid.clone(),
            variable_name: "v".into(),
        }
        .into(),
        QueryAudit::default().into(),
    ];
    for request in requests {
        let name = request.type_name();
        let message = anonymous.expect_error(request, ErrorCode::Unauthorized, &[]).await;
        assert!(message.contains("authenticat"), "{name}: {message}");
    }

    // A refused credential.
    anonymous
        .expect_error(
            authenticate(Some("acme"), "ck_not-a-real-key"),
            ErrorCode::Unauthorized,
            &[],
        )
        .await;
    anonymous
        .expect_error(
            authenticate(Some("globex"), &fixture.key.key),
            ErrorCode::Unauthorized,
            &["globex"],
        )
        .await;

    // Authenticated, but the read-only key lacks the right.
    let mut reader = server.connect(enc).await;
    reader.authenticate(Some("acme"), &fixture.key.key).await;
    reader
        .expect_error(
            write_value(&sid, "v", json!(1)),
            ErrorCode::PermissionDenied,
            &["write", "acme"],
        )
        .await;
    reader
        .expect_error(
            CreateService {
                tenant_id: "acme".into(),
                service_name: "s".into(),
            },
            ErrorCode::PermissionDenied,
            &["create_service"],
        )
        .await;
    reader
        .expect_error(ListTenants {}, ErrorCode::PermissionDenied, &["admin"])
        .await;
    // And the value did not change.
    assert_eq!(reader.read(&sid, "v").await.value, Some(json!(0)));
}

async fn already_exists(enc: Encoding) {
    let server = TestServer::start().await;
    let fixture = Fixture::new(&server, enc, "acme", "sensors", &[Admin]).await;
    let sid = fixture.service_id().to_owned();
    let mut admin = fixture.admin;
    admin
        .expect_error(
            CreateTenant {
                tenant_id: "acme".into(),
                tenant_name: "again".into(),
            },
            ErrorCode::AlreadyExists,
            &["'acme'"],
        )
        .await;
    admin
        .expect_error(
            CreateService {
                tenant_id: "acme".into(),
                service_name: "sensors".into(),
            },
            ErrorCode::AlreadyExists,
            &["'sensors'"],
        )
        .await;
    admin.allocate(variable(&sid, "v", ValueType::U64)).await;
    admin.write(&sid, "v", json!(3)).await;
    admin
        .expect_error(
            AllocateVariable {
                value: Some(json!(9)),
                ..variable(&sid, "v", ValueType::U64)
            },
            ErrorCode::AlreadyExists,
            &["'v'"],
        )
        .await;
    assert_eq!(admin.read(&sid, "v").await.value, Some(json!(3)), "unchanged");
}

async fn invalid_names(enc: Encoding) {
    let server = TestServer::start().await;
    let fixture = Fixture::new(&server, enc, "acme", "sensors", &[Admin]).await;
    let sid = fixture.service_id().to_owned();
    let mut admin = fixture.admin;
    let too_long = "x".repeat(129);
    let bad = [
        "",
        "/lead",
        "a//b",
        "trail/",
        "..",
        "a/../b",
        "sp ace",
        "ünï",
        "semi;colon",
        too_long.as_str(),
    ];
    for name in bad {
        let quoted = format!("'{name}'");
        admin
            .expect_error(
                CreateTenant {
                    tenant_id: name.into(),
                    tenant_name: "n".into(),
                },
                ErrorCode::InvalidRequest,
                &["tenant", &quoted],
            )
            .await;
        admin
            .expect_error(
                CreateService {
                    tenant_id: "acme".into(),
                    service_name: name.into(),
                },
                ErrorCode::InvalidRequest,
                &["service", &quoted],
            )
            .await;
        admin
            .expect_error(
                variable(&sid, name, ValueType::U64),
                ErrorCode::InvalidRequest,
                &["variable", &quoted],
            )
            .await;
    }
    // Nothing was made, and the limits are inclusive.
    assert!(admin.list_variables(&sid).await.is_empty());
    let longest = "y".repeat(128);
    admin.create_service("acme", &longest).await;
    admin.create_service("acme", "a-b_c.d/e").await;
    admin.allocate(variable(&sid, &longest, ValueType::U64)).await;
    admin.allocate(variable(&sid, "room.1/t-x_2", ValueType::U64)).await;
}

async fn values_that_do_not_fit_change_nothing(enc: Encoding) {
    let server = TestServer::start().await;
    let fixture = Fixture::new(&server, enc, "acme", "sensors", &[Read, Write]).await;
    let sid = fixture.service_id().to_owned();
    let mut c = fixture.client(&server, enc).await;
    let small = |name: &str, ty: ValueType, capacity: u32| AllocateVariable {
        capacity: Some(capacity),
        ..variable(&sid, name, ty)
    };
    c.allocate(variable(&sid, "u", ValueType::U64)).await;
    c.allocate(variable(&sid, "i", ValueType::I64)).await;
    c.allocate(variable(&sid, "b", ValueType::Bool)).await;
    c.allocate(small("s", ValueType::String, 4)).await;
    c.allocate(small("j", ValueType::Json, 8)).await;
    c.allocate(small("raw", ValueType::Bytes, 8)).await;
    let before: Vec<_> = c.list_variables(&sid).await;

    let value = |name: &str, v: Value| write_value(&sid, name, v);
    let data = |name: &str, d: Vec<u8>| write_data(&sid, name, d);
    let cases: Vec<(commy_proto::WriteVariable, &[&str])> = vec![
        (value("u", json!(-1)), &["'u'", "-1"]),
        (value("u", json!(1.5)), &["'u'", "1.5"]),
        (value("u", json!("7")), &["'u'"]),
        (data("u", vec![0; 7]), &["'u'", "7"]),
        (value("i", json!(9_223_372_036_854_775_808u64)), &["'i'"]),
        (value("b", json!("yes")), &["'b'", "yes"]),
        (data("b", vec![2]), &["'b'"]),
        (value("s", json!("hello")), &["'s'", "capacity"]),
        (data("s", vec![0xff, 0xfe]), &["'s'", "UTF-8"]),
        (value("j", json!({"long": "object"})), &["'j'", "capacity"]),
        (data("j", b"{".to_vec()), &["'j'", "JSON"]),
        (data("raw", vec![0; 9]), &["'raw'", "capacity"]),
        (value("raw", json!([1, 2])), &["'raw'", "bytes"]),
        (
            commy_proto::WriteVariable {
                data: Some(vec![0; 8]),
                ..value("u", json!(1))
            },
            &["'u'", "data", "value"],
        ),
        (
            commy_proto::WriteVariable {
                data: None,
                value: None,
                ..data("u", vec![])
            },
            &["'u'", "data", "value"],
        ),
    ];
    for (request, naming) in cases {
        c.expect_error(request, ErrorCode::InvalidRequest, naming).await;
    }
    assert_eq!(c.list_variables(&sid).await, before, "no write took effect");

    // An allocation whose initial value does not fit leaves nothing behind.
    let refused: Vec<(AllocateVariable, &[&str])> = vec![
        (
            AllocateVariable {
                value: Some(json!(-1)),
                ..variable(&sid, "n1", ValueType::U64)
            },
            &["'n1'", "-1"],
        ),
        (small("n2", ValueType::U64, 4), &["'n2'", "4"]),
        (
            AllocateVariable {
                initial_data: Some(vec![0; 300]),
                ..small("n3", ValueType::Bytes, 256)
            },
            &["'n3'", "300"],
        ),
        (
            AllocateVariable {
                initial_data: Some(vec![0; 8]),
                value: Some(json!(1)),
                ..variable(&sid, "n4", ValueType::U64)
            },
            &["'n4'"],
        ),
    ];
    for (request, naming) in refused {
        c.expect_error(request, ErrorCode::InvalidRequest, naming).await;
    }
    assert_eq!(c.list_variables(&sid).await, before, "nothing was allocated");
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

async fn internal_error_when_the_data_directory_breaks(enc: Encoding) {
    let server = TestServer::start().await;
    let mut admin = server.admin(enc).await;
    admin.create_tenant("acme").await;
    // A service file cannot be made where the services directory should be.
    let services = server.data_dir().join("services");
    let moved = server.data_dir().join("services.moved");
    std::fs::rename(&services, &moved).unwrap();
    std::fs::write(&services, b"not a directory").unwrap();
    let create = CreateService {
        tenant_id: "acme".into(),
        service_name: "sensors".into(),
    };
    admin
        .expect_error(create.clone(), ErrorCode::InternalError, &["sensors", "acme", "file"])
        .await;
    // No metadata was left behind for the service that could not be made.
    let ServerMessage::ServiceList(list) = admin
        .ok(ListServices {
            tenant_id: "acme".into(),
        })
        .await
    else {
        panic!("expected ServiceList")
    };
    assert_eq!(list.services, []);
    std::fs::remove_file(&services).unwrap();
    std::fs::rename(&moved, &services).unwrap();
    let service = admin.create_service("acme", "sensors").await;
    assert_eq!(service.service_name, "sensors");
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
