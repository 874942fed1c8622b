//! Services: create, get, list, delete, and their file paths.

use super::*;

both_encodings!(services,);

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
