//! The gauges `/metrics` promises (docs/operations.md) follow what the server holds: services and variables go up
//! with creation and down with deletion.

mod util;

use commy_proto::{DeallocateVariable, DeleteService, Encoding, ValueType};
use util::{variable, TestServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_and_variable_gauges_follow_creation_and_deletion() {
    let server = TestServer::start().await;
    let mut admin = server.admin(Encoding::Json).await;
    admin.create_tenant("acme").await;
    let weather = admin.create_service("acme", "weather").await;
    let _config = admin.create_service("acme", "config").await;
    for name in ["temp", "humidity", "wind"] {
        admin
            .allocate(variable(&weather.service_id, name, ValueType::U64))
            .await;
    }
    assert_eq!(server.metric("commy_services").await, 2.0);
    assert_eq!(server.metric("commy_variables").await, 3.0);

    let dealloc = DeallocateVariable {
        service_id: weather.service_id.clone(),
        variable_name: "wind".into(),
    };
    admin.ok(dealloc).await;
    assert_eq!(server.metric("commy_variables").await, 2.0);

    admin
        .ok(DeleteService {
            tenant_id: "acme".into(),
            service_name: "weather".into(),
        })
        .await;
    assert_eq!(server.metric("commy_services").await, 1.0);
    assert_eq!(server.metric("commy_variables").await, 0.0);
}
