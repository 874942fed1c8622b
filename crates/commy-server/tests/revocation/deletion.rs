//! Deleted things stay deleted: their subscriptions end with a push, on both transports.

use crate::conn::TRANSPORTS;
use crate::util::TestServer;
use crate::{subscriber, world};
use commy_proto::{DeallocateVariable, DeleteService, Permission};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_service_ends_its_subscriptions() {
    let server = TestServer::start().await;
    for transport in TRANSPORTS {
        let mut fixture = world(&server, transport, &[Permission::Read]).await;
        let mut conn = subscriber(&server, transport, &fixture).await;
        let delete = DeleteService {
            tenant_id: fixture.tenant_id.clone(),
            service_name: "plant".into(),
        };
        fixture.admin.ok(delete).await;
        let ended = conn.ended().await;
        assert_eq!(ended.service_id, fixture.service_id());
        assert_eq!(ended.reason, "the service was deleted");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deallocating_a_variable_ends_its_subscriptions_and_only_those() {
    let server = TestServer::start().await;
    for transport in TRANSPORTS {
        let mut fixture = world(&server, transport, &[Permission::Read]).await;
        let mut conn = subscriber(&server, transport, &fixture).await;
        conn.ok(crate::subscribe(fixture.service_id(), "*")).await;
        let deallocate = DeallocateVariable {
            service_id: fixture.service_id().into(),
            variable_name: "temp".into(),
        };
        fixture.admin.ok(deallocate).await;
        let ended = conn.ended().await;
        assert_eq!(ended.variable_name, "temp");
        assert_eq!(ended.reason, "the variable was deallocated");
        assert!(
            conn.ended_so_far().await.is_empty(),
            "the subscription to every variable stays"
        );
    }
}
