//! The error codes every resource shares: not found, permission denied and unauthorized, already exists, invalid names, internal errors.

use super::*;

both_encodings!(
    not_found_names_what_is_missing,
    permission_denied_and_unauthorized,
    already_exists,
    invalid_names,
    internal_error_when_the_data_directory_breaks,
);

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
            skip_own_writes: false,
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
