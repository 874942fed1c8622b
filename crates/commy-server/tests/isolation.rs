//! Tenant isolation and permissions over a real socket: a key of one tenant reaches nothing of another, a key without
//! a permission cannot use it, and a revoked key stops working.

use commy_proto::{
    AllocateVariable, ClientMessage, CreateApiKey, CreateService, CreateTenant, DeallocateVariable, DeleteService,
    DeleteTenant, Encoding, ErrorCode, GetService, ListServices, ListTenants, ListVariables, Permission, QueryAudit,
    RevokeApiKey, ServerMessage, Subscribe, Unsubscribe, ValueType,
};
use commy_testkit::{authenticate, both_encodings, read, variable, write_data, write_value, Client, TestServer};
use serde_json::json;

use Permission::{Admin, CreateService as Create, DeleteService as Delete, Read, Write};

both_encodings!(
    a_key_of_one_tenant_reaches_nothing_of_another,
    the_same_names_in_two_tenants_stay_apart,
    each_permission_allows_exactly_its_requests,
    a_read_only_key_cannot_change_anything,
    a_revoked_key_stops_working_for_new_connections,
);

/// The value of tenant B's variable, which must never reach tenant A.
const SECRET: &str = "beta-secret-value";

/// Two tenants, `alpha` and `beta`, each with a service `secret` and a variable `v`, and an admin key for each.
struct World {
    server: TestServer,
    admin: Client,
    alpha_key: String,
    beta_key: commy_proto::ApiKey,
    beta_sid: String,
    alpha_sid: String,
}

impl World {
    async fn new(enc: Encoding) -> World {
        let server = TestServer::start().await;
        let mut admin = server.admin(enc).await;
        let mut sids = Vec::new();
        for tenant in ["alpha", "beta"] {
            admin.create_tenant(tenant).await;
            let service = admin.create_service(tenant, "secret").await;
            admin
                .allocate(AllocateVariable {
                    value: Some(json!(format!("{tenant}-secret-value"))),
                    ..variable(&service.service_id, "v", ValueType::String)
                })
                .await;
            sids.push(service.service_id);
        }
        let alpha_key = admin.create_key("alpha", &[Admin]).await.key;
        let beta_key = admin.create_key("beta", &[Admin]).await;
        let beta_sid = sids.pop().unwrap();
        let alpha_sid = sids.pop().unwrap();
        World {
            server,
            admin,
            alpha_key,
            beta_key,
            beta_sid,
            alpha_sid,
        }
    }

    async fn client(&self, tenant: &str, key: &str, enc: Encoding) -> Client {
        let mut client = self.server.connect(enc).await;
        client.authenticate(Some(tenant), key).await;
        client
    }

    /// Everything tenant `beta` holds, as its admin sees it.
    async fn beta_state(&mut self) -> String {
        let services = self
            .admin
            .ok(ListServices {
                tenant_id: "beta".into(),
            })
            .await;
        let variables = self.admin.list_variables(&self.beta_sid).await;
        let value = self.admin.read(&self.beta_sid, "v").await;
        let tenants = self.admin.ok(ListTenants {}).await;
        format!("{services:?}\n{variables:?}\n{value:?}\n{tenants:?}")
    }
}

/// Every request a client could make against tenant `beta`, its service `beta_sid` and variable `v`.
fn requests_against_beta(beta_sid: &str, beta_key_id: &str) -> Vec<ClientMessage> {
    let subscribe = |variable_name: &str| Subscribe {
        service_id: beta_sid.into(),
        variable_name: variable_name.into(),
        skip_own_writes: false,
    };
    vec![
        CreateTenant {
            tenant_id: "gamma".into(),
            tenant_name: "g".into(),
        }
        .into(),
        DeleteTenant {
            tenant_id: "beta".into(),
        }
        .into(),
        ListTenants {}.into(),
        CreateApiKey {
            tenant_id: "beta".into(),
            name: "mine now".into(),
            permissions: vec![Admin],
            services: None,
            read_services: None,
            write_services: None,
        }
        .into(),
        RevokeApiKey {
            tenant_id: "beta".into(),
            key_id: beta_key_id.into(),
        }
        .into(),
        commy_testkit::hs256_key("beta", "an attacker's secret of at least 32 bytes").into(),
        QueryAudit {
            tenant_id: Some("beta".into()),
            since_ms: None,
            limit: None,
        }
        .into(),
        CreateService {
            tenant_id: "beta".into(),
            service_name: "planted".into(),
        }
        .into(),
        GetService {
            tenant_id: "beta".into(),
            service_name: "secret".into(),
        }
        .into(),
        DeleteService {
            tenant_id: "beta".into(),
            service_name: "secret".into(),
        }
        .into(),
        ListServices {
            tenant_id: "beta".into(),
        }
        .into(),
        variable(beta_sid, "planted", ValueType::U64).into(),
        read(beta_sid, "v").into(),
        write_value(beta_sid, "v", json!("pwned")).into(),
        write_data(beta_sid, "v", b"pwned".to_vec()).into(),
        DeallocateVariable {
            service_id: beta_sid.into(),
            variable_name: "v".into(),
        }
        .into(),
        ListVariables {
            service_id: beta_sid.into(),
        }
        .into(),
        subscribe("v").into(),
        subscribe("*").into(),
        Unsubscribe {
            service_id: beta_sid.into(),
            variable_name: "v".into(),
        }
        .into(),
    ]
}

/// Sends a request that must be refused with PERMISSION_DENIED or UNAUTHORIZED (NOT_FOUND for a request naming
/// `beta`'s service by id, which reads like a missing one), leaking nothing of `beta`.
async fn refused(client: &mut Client, request: ClientMessage, secrets: &[&str]) {
    let name = request.type_name();
    let error = client.error(request).await;
    assert!(
        matches!(
            error.code,
            ErrorCode::PermissionDenied | ErrorCode::Unauthorized | ErrorCode::NotFound
        ),
        "{name}: {} {}",
        error.code,
        error.message
    );
    for secret in secrets {
        assert!(
            !error.message.contains(secret),
            "{name} leaks {secret:?}: {}",
            error.message
        );
    }
    client.heartbeat().await;
}

async fn a_key_of_one_tenant_reaches_nothing_of_another(enc: Encoding) {
    let mut world = World::new(enc).await;
    let before = world.beta_state().await;
    let mut beta_subscriber = world.client("beta", &world.beta_key.key, enc).await;
    beta_subscriber.subscribe(&world.beta_sid, "v").await;

    // Alpha's admin, authenticated to alpha, tries everything on beta.
    let mut alpha = world.client("alpha", &world.alpha_key, enc).await;
    alpha.subscribe(&world.alpha_sid, "*").await;
    let secrets = [SECRET, world.beta_key.key.as_str()];
    for request in requests_against_beta(&world.beta_sid, &world.beta_key.key_id) {
        refused(&mut alpha, request, &secrets).await;
    }
    // Nor can alpha's key authenticate to beta.
    alpha
        .expect_error(
            authenticate(Some("beta"), &world.alpha_key),
            ErrorCode::Unauthorized,
            &["beta"],
        )
        .await;
    let mut stranger = world.server.connect(enc).await;
    stranger
        .expect_error(
            authenticate(Some("beta"), &world.alpha_key),
            ErrorCode::Unauthorized,
            &["beta"],
        )
        .await;
    // A connection holding no credential at all gets UNAUTHORIZED for the same requests.
    for request in requests_against_beta(&world.beta_sid, &world.beta_key.key_id) {
        let name = request.type_name();
        let error = stranger.error(request).await;
        assert_eq!(error.code, ErrorCode::Unauthorized, "{name}: {}", error.message);
        stranger.heartbeat().await;
    }

    // Beta is untouched, and beta's own key still works.
    assert_eq!(world.beta_state().await, before);
    let mut beta = world.client("beta", &world.beta_key.key, enc).await;
    let wrote = beta.write(&world.beta_sid, "v", json!("changed by beta")).await;
    // Beta's subscriber gets the change; alpha, subscribed to all of its own service, gets nothing of it.
    beta_subscriber.push_reaching("v", wrote.version).await;
    assert_eq!(alpha.settle().await, []);
}

async fn the_same_names_in_two_tenants_stay_apart(enc: Encoding) {
    let world = World::new(enc).await;
    let mut alpha = world.client("alpha", &world.alpha_key, enc).await;
    let mut beta = world.client("beta", &world.beta_key.key, enc).await;

    // Each tenant's `secret` is its own service with its own file.
    let get = |tenant: &str| GetService {
        tenant_id: tenant.into(),
        service_name: "secret".into(),
    };
    let ServerMessage::Service(a) = alpha.ok(get("alpha")).await else {
        panic!("expected Service")
    };
    assert_eq!(a.service_id, world.alpha_sid);
    assert_ne!(
        world.server.service_file(&world.alpha_sid),
        world.server.service_file(&world.beta_sid)
    );

    beta.subscribe(&world.beta_sid, "*").await;
    let wrote = alpha.write(&world.alpha_sid, "v", json!("alpha only")).await;
    assert_eq!(wrote.value, Some(json!("alpha only")));
    assert_eq!(beta.read(&world.beta_sid, "v").await.value, Some(json!(SECRET)));
    // Alpha's change reached no subscriber of beta's service of the same name.
    let mut witness = world.client("alpha", &world.alpha_key, enc).await;
    witness.subscribe(&world.alpha_sid, "v").await;
    let wrote = alpha.write(&world.alpha_sid, "v", json!("again")).await;
    witness.push_reaching("v", wrote.version).await;
    assert_eq!(beta.settle().await, []);

    // Alpha deleting its `secret` leaves beta's.
    alpha
        .ok(DeleteService {
            tenant_id: "alpha".into(),
            service_name: "secret".into(),
        })
        .await;
    assert_eq!(beta.read(&world.beta_sid, "v").await.value, Some(json!(SECRET)));
}

/// One request and the permission it needs.
struct Case {
    needs: Permission,
    request: ClientMessage,
}

async fn each_permission_allows_exactly_its_requests(enc: Encoding) {
    let server = TestServer::start().await;
    let mut admin = server.admin(enc).await;
    admin.create_tenant("acme").await;
    let sid = admin.create_service("acme", "sensors").await.service_id;
    let singles = [Read, Write, Create, Delete];
    for (i, held) in singles.into_iter().enumerate() {
        // Fresh targets for this key, so that an allowed request finds what it needs.
        let victim = format!("victim-{i}");
        admin.create_service("acme", &victim).await;
        for name in ["v", "doomed"] {
            admin
                .allocate(variable(&sid, &format!("{name}-{i}"), ValueType::U64))
                .await;
        }
        let key = admin.create_key("acme", &[held]).await;
        let cases = [
            Case {
                needs: Read,
                request: read(&sid, &format!("v-{i}")).into(),
            },
            Case {
                needs: Read,
                request: ListVariables {
                    service_id: sid.clone(),
                }
                .into(),
            },
            Case {
                needs: Read,
                request: GetService {
                    tenant_id: "acme".into(),
                    service_name: "sensors".into(),
                }
                .into(),
            },
            Case {
                needs: Read,
                request: Subscribe {
                    service_id: sid.clone(),
                    variable_name: "*".into(),
                    skip_own_writes: false,
                }
                .into(),
            },
            Case {
                needs: Write,
                request: write_value(&sid, &format!("v-{i}"), json!(i)).into(),
            },
            Case {
                needs: Write,
                request: variable(&sid, &format!("new-{i}"), ValueType::U64).into(),
            },
            Case {
                needs: Write,
                request: DeallocateVariable {
                    service_id: sid.clone(),
                    variable_name: format!("doomed-{i}"),
                }
                .into(),
            },
            Case {
                needs: Create,
                request: CreateService {
                    tenant_id: "acme".into(),
                    service_name: format!("made-{i}"),
                }
                .into(),
            },
            Case {
                needs: Delete,
                request: DeleteService {
                    tenant_id: "acme".into(),
                    service_name: victim.clone(),
                }
                .into(),
            },
            Case {
                needs: Admin,
                request: CreateApiKey {
                    tenant_id: "acme".into(),
                    name: "escalated".into(),
                    permissions: vec![Admin],
                    services: None,
                    read_services: None,
                    write_services: None,
                }
                .into(),
            },
            Case {
                needs: Admin,
                request: RevokeApiKey {
                    tenant_id: "acme".into(),
                    key_id: key.key_id.clone(),
                }
                .into(),
            },
        ];
        let mut client = server.connect(enc).await;
        client.authenticate(Some("acme"), &key.key).await;
        for case in cases {
            let name = case.request.type_name();
            let reply = client.request(case.request).await;
            if case.needs == held {
                assert!(
                    !matches!(reply, ServerMessage::Error(_)),
                    "{held} allows {name}: {reply:?}"
                );
            } else {
                let ServerMessage::Error(error) = reply else {
                    panic!("{held} does not allow {name}, yet: {reply:?}")
                };
                assert_eq!(error.code, ErrorCode::PermissionDenied, "{name}: {}", error.message);
                assert!(
                    error.message.contains(case.needs.as_str()),
                    "{name}: the message names the missing permission: {}",
                    error.message
                );
            }
        }
    }
}

async fn a_read_only_key_cannot_change_anything(enc: Encoding) {
    let mut world = World::new(enc).await;
    let reader_key = world.admin.create_key("beta", &[Read]).await;
    let before = world.beta_state().await;
    let mut reader = world.client("beta", &reader_key.key, enc).await;

    // Everything a reader may do.
    assert_eq!(reader.read(&world.beta_sid, "v").await.value, Some(json!(SECRET)));
    assert_eq!(reader.list_variables(&world.beta_sid).await.len(), 1);
    reader
        .ok(GetService {
            tenant_id: "beta".into(),
            service_name: "secret".into(),
        })
        .await;
    reader.subscribe(&world.beta_sid, "v").await;

    // Everything else.
    let attempts: Vec<ClientMessage> = vec![
        write_value(&world.beta_sid, "v", json!("pwned")).into(),
        write_data(&world.beta_sid, "v", b"pwned".to_vec()).into(),
        variable(&world.beta_sid, "planted", ValueType::U64).into(),
        DeallocateVariable {
            service_id: world.beta_sid.clone(),
            variable_name: "v".into(),
        }
        .into(),
        CreateService {
            tenant_id: "beta".into(),
            service_name: "planted".into(),
        }
        .into(),
        DeleteService {
            tenant_id: "beta".into(),
            service_name: "secret".into(),
        }
        .into(),
        CreateApiKey {
            tenant_id: "beta".into(),
            name: "escalated".into(),
            permissions: vec![Admin],
            services: None,
            read_services: None,
            write_services: None,
        }
        .into(),
        RevokeApiKey {
            tenant_id: "beta".into(),
            key_id: world.beta_key.key_id.clone(),
        }
        .into(),
        commy_testkit::hs256_key("beta", "a reader's secret of at least 32 bytes!").into(),
        QueryAudit {
            tenant_id: Some("beta".into()),
            since_ms: None,
            limit: None,
        }
        .into(),
        CreateTenant {
            tenant_id: "gamma".into(),
            tenant_name: "g".into(),
        }
        .into(),
        DeleteTenant {
            tenant_id: "beta".into(),
        }
        .into(),
        ListTenants {}.into(),
    ];
    for request in attempts {
        let name = request.type_name();
        let error = reader.error(request).await;
        assert_eq!(error.code, ErrorCode::PermissionDenied, "{name}: {}", error.message);
        reader.heartbeat().await;
    }
    assert_eq!(world.beta_state().await, before, "nothing changed");
    assert_eq!(reader.settle().await, [], "no write happened to push");
    // The admin key the reader tried to revoke still works.
    world.client("beta", &world.beta_key.key, enc).await;
}

async fn a_revoked_key_stops_working_for_new_connections(enc: Encoding) {
    let mut world = World::new(enc).await;
    let key = world.admin.create_key("beta", &[Read, Write]).await;
    let mut before = world.client("beta", &key.key, enc).await;
    before.read(&world.beta_sid, "v").await;

    world
        .admin
        .ok(RevokeApiKey {
            tenant_id: "beta".into(),
            key_id: key.key_id.clone(),
        })
        .await;
    let mut after = world.server.connect(enc).await;
    after
        .expect_error(authenticate(Some("beta"), &key.key), ErrorCode::Unauthorized, &[])
        .await;
    // With the refused authentication, the new connection holds no credential.
    after
        .expect_error(read(&world.beta_sid, "v"), ErrorCode::Unauthorized, &[])
        .await;
    // Revoking again: the key is gone.
    world
        .admin
        .expect_error(
            RevokeApiKey {
                tenant_id: "beta".into(),
                key_id: key.key_id.clone(),
            },
            ErrorCode::NotFound,
            &[&key.key_id],
        )
        .await;
    // Other keys of the tenant are unaffected.
    world.client("beta", &world.beta_key.key, enc).await;
}
