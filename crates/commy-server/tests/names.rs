//! The names rule over a real socket: a bad tenant, service or variable name gets `INVALID_REQUEST` naming it, on
//! every request that carries one (reads and deletes too, not only creates), and the connection keeps working.

use commy_proto::{
    DeleteService, DeleteTenant, Encoding, ErrorCode, GetService, ListServices, Permission, ReadVariable, Subscribe,
    ValueType, WriteVariable,
};
use commy_testkit::{both_encodings, variable, TestServer};

both_encodings!(bad_names_are_invalid_on_every_request);

async fn bad_names_are_invalid_on_every_request(encoding: Encoding) {
    let server = TestServer::start().await;
    let mut admin = server.admin(encoding).await;
    admin.create_tenant("acme").await;
    let _ = admin.create_key("acme", &[Permission::Read]).await;
    let service = admin.create_service("acme", "weather").await;
    admin
        .allocate(variable(&service.service_id, "temp", ValueType::U64))
        .await;

    let bad = ErrorCode::InvalidRequest;
    admin
        .expect_error(
            DeleteTenant {
                tenant_id: "/acme".into(),
            },
            bad,
            &["'/acme'"],
        )
        .await;
    admin
        .expect_error(
            ListServices {
                tenant_id: "ac me".into(),
            },
            bad,
            &["'ac me'"],
        )
        .await;
    let get = GetService {
        tenant_id: "acme".into(),
        service_name: "../weather".into(),
    };
    admin.expect_error(get, bad, &["service", "'../weather'"]).await;
    let delete = DeleteService {
        tenant_id: "acme".into(),
        service_name: "a//b".into(),
    };
    admin.expect_error(delete, bad, &["'a//b'"]).await;
    let read = ReadVariable {
        service_id: service.service_id.clone(),
        variable_name: "t emp".into(),
    };
    admin.expect_error(read, bad, &["variable", "'t emp'"]).await;
    let write = WriteVariable {
        service_id: service.service_id.clone(),
        variable_name: "x".repeat(129),
        data: Some(vec![0; 8]),
        value: None,
        expected_version: None,
    };
    admin.expect_error(write, bad, &["variable"]).await;
    let subscribe = Subscribe {
        service_id: service.service_id.clone(),
        variable_name: "/temp".into(),
        skip_own_writes: false,
    };
    admin.expect_error(subscribe, bad, &["'/temp'"]).await;

    // `*` is not a name but "every variable", and good names still work on the same connection.
    let all = Subscribe {
        service_id: service.service_id.clone(),
        variable_name: "*".into(),
        skip_own_writes: false,
    };
    admin.ok(all).await;
    let read = ReadVariable {
        service_id: service.service_id,
        variable_name: "temp".into(),
    };
    admin.ok(read).await;
}
