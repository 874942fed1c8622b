//! SDK helpers on [`TestServer`] (feature `sdk`): an admin client, a tenant key with permissions, a client over a
//! transport.

use crate::server::TestServer;
use commy_client::{Client, Credentials, Permission, Transport};
use std::net::SocketAddr;
use std::time::Duration;

/// Every permission a tenant key can have.
pub const ALL: &[Permission] = &[
    Permission::Admin,
    Permission::CreateService,
    Permission::DeleteService,
    Permission::Read,
    Permission::Write,
];

/// Read alone.
pub const READ_ONLY: &[Permission] = &[Permission::Read];

impl TestServer {
    /// An SDK client over the remote transport, authenticated with the server admin key (no tenant).
    pub async fn sdk_admin(&self) -> Client {
        let client = Client::builder(&self.url())
            .transport(Transport::Remote)
            .connect()
            .await
            .expect("admin connects");
        client
            .authenticate(None, Credentials::api_key(self.admin_key()))
            .await
            .expect("admin authenticates");
        client
    }

    /// Creates `tenant` (unless it exists) and a key in it with `permissions`; returns the key.
    pub async fn tenant_key(&self, tenant: &str, permissions: &[Permission]) -> String {
        tenant_key_at(self.addr, self.admin_key(), tenant, permissions).await
    }

    /// An SDK client of `tenant` over `transport`, authenticated with `key`.
    pub async fn sdk_client(&self, transport: Transport, tenant: &str, key: &str) -> Client {
        let client = Client::builder(&self.url())
            .transport(transport)
            .request_timeout(Duration::from_secs(20))
            .connect()
            .await
            .expect("client connects");
        client
            .authenticate(Some(tenant), Credentials::api_key(key))
            .await
            .expect("client authenticates");
        assert_eq!(client.transport(), transport);
        client
    }
}

/// An SDK client of the server at `addr` (a `commy serve` process, say) over the remote transport, not authenticated.
pub async fn remote_client(addr: SocketAddr) -> Client {
    Client::builder(&format!("ws://{addr}"))
        .transport(Transport::Remote)
        .connect()
        .await
        .unwrap_or_else(|err| panic!("connect to {addr}: {err}"))
}

/// With the server admin key `admin_key`, creates `tenant` at `addr` (unless it exists, made there or, in a cluster,
/// on another server) and a key in it with `permissions`; returns the key.
pub async fn tenant_key_at(addr: SocketAddr, admin_key: &str, tenant: &str, permissions: &[Permission]) -> String {
    let admin = remote_client(addr).await;
    admin
        .authenticate(None, Credentials::api_key(admin_key))
        .await
        .expect("the admin key");
    match admin.create_tenant(tenant, tenant).await {
        Ok(_) | Err(commy_client::Error::AlreadyExists(_)) => {}
        Err(err) => panic!("create tenant {tenant} at {addr}: {err}"),
    }
    admin
        .create_api_key(tenant, "test", permissions, None)
        .await
        .expect("create key")
        .key
}
