//! Service patterns bind creating and deleting services; another tenant's service reads as missing.

use crate::conn::{Conn, TRANSPORTS};
use crate::util::{authenticate, read, TestServer};
use crate::world;
use commy_proto::{CreateApiKey, CreateService, DeleteService, ErrorCode, Permission, ServerMessage};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_patterns_bind_create_and_delete() {
    let server = TestServer::start().await;
    for transport in TRANSPORTS {
        let mut fixture = world(&server, transport, &[Permission::Read]).await;
        let tenant = fixture.tenant_id.clone();
        fixture.admin.create_service(&tenant, "billing").await;
        let scoped = CreateApiKey {
            tenant_id: tenant.clone(),
            name: "plant operator".into(),
            permissions: vec![Permission::CreateService, Permission::DeleteService],
            services: Some(vec!["plant/**".into()]),
            read_services: None,
            write_services: None,
        };
        let ServerMessage::ApiKey(key) = fixture.admin.ok(scoped).await else {
            panic!("a key")
        };
        let mut conn = Conn::open(&server, transport).await;
        conn.ok(authenticate(Some(&tenant), &key.key)).await;
        let create = |name: &str| CreateService {
            tenant_id: tenant.clone(),
            service_name: name.into(),
        };
        let delete = |name: &str| DeleteService {
            tenant_id: tenant.clone(),
            service_name: name.into(),
        };
        let error = conn.refused(create("finance"), ErrorCode::PermissionDenied).await;
        assert!(error.message.contains("finance"), "{}", error.message);
        conn.refused(delete("billing"), ErrorCode::PermissionDenied).await;
        conn.ok(create("plant/line-1")).await;
        conn.ok(delete("plant/line-1")).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_service_reads_as_missing() {
    let server = TestServer::start().await;
    for transport in TRANSPORTS {
        let mine = world(&server, transport, &[Permission::Read, Permission::Write]).await;
        let mut theirs = crate::util::Fixture::new(
            &server,
            commy_proto::Encoding::Json,
            &format!("{}-rival", mine.tenant_id),
            "secret-plans",
            &[Permission::Read],
        )
        .await;
        theirs
            .admin
            .allocate(crate::util::variable(
                theirs.service_id(),
                "temp",
                commy_proto::ValueType::I64,
            ))
            .await;
        let mut conn = Conn::open(&server, transport).await;
        conn.ok(crate::login(&mine)).await;
        let theirs_error = conn
            .refused(read(theirs.service_id(), "temp"), ErrorCode::NotFound)
            .await;
        let missing_error = conn
            .refused(read("svc_does_not_exist", "temp"), ErrorCode::NotFound)
            .await;
        for leak in [theirs.tenant_id.as_str(), "secret-plans"] {
            assert!(!theirs_error.message.contains(leak), "{}", theirs_error.message);
        }
        assert_eq!(
            theirs_error.message.replace(theirs.service_id(), "ID"),
            missing_error.message.replace("svc_does_not_exist", "ID"),
            "another tenant's service reads exactly like a missing one"
        );
    }
}
