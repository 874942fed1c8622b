//! Shared metadata across a cluster of Commy servers (docs/cluster.md, "Metadata"): two or three real servers in this
//! process, each on its own loopback port and data directory, joined over one real `nats-server -js`
//! (`COMMY_NATS_SERVER`, set by scripts/test.sh), driven by the SDK as any client would.

mod catch_up;
mod races;
mod revocation;
mod secrets;
mod visible;

use commy_client::{Client, Credentials, Permission, Transport};
use commy_server::config::{ClusterConfig, NatsCredentials};
use commy_testkit::{NatsServer, TestServer};
use std::future::Future;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tempfile::TempDir;

/// One nats-server and the cluster key every Commy server of the test is given.
pub(crate) struct Nats {
    pub(crate) nats: NatsServer,
    key_dir: TempDir,
}

impl Nats {
    pub(crate) async fn start() -> Nats {
        let nats = NatsServer::start().await;
        let key_dir = tempfile::tempdir().unwrap();
        let key_file = key_dir.path().join("cluster.key");
        let key: String = (0..32).map(|i| format!("{:02x}", (i * 37 + 11) % 256)).collect();
        std::fs::write(&key_file, key).unwrap();
        std::fs::set_permissions(&key_file, std::fs::Permissions::from_mode(0o600)).unwrap();
        Nats { nats, key_dir }
    }

    fn key_file(&self) -> PathBuf {
        self.key_dir.path().join("cluster.key")
    }

    /// How a Commy server joins this cluster.
    pub(crate) fn cluster_config(&self) -> ClusterConfig {
        ClusterConfig {
            urls: vec![self.nats.url()],
            key_file: self.key_file(),
            credentials: NatsCredentials::None,
            replicas: 1,
        }
    }

    /// A Commy server of the cluster, over a fresh data directory.
    pub(crate) async fn server(&self) -> TestServer {
        TestServer::with_config(|config| config.cluster = Some(self.cluster_config())).await
    }
}

/// An SDK client of `tenant` on `server`, authenticated with `key`.
pub(crate) async fn tenant_client(server: &TestServer, tenant: &str, key: &str) -> commy_client::Result<Client> {
    let client = Client::builder(&server.url())
        .transport(Transport::Remote)
        .request_timeout(Duration::from_secs(20))
        .connect()
        .await?;
    client.authenticate(Some(tenant), Credentials::api_key(key)).await?;
    Ok(client)
}

/// Creates `tenant` on `server` and a key of it with every permission; returns the key id and the key.
pub(crate) async fn tenant_with_key(server: &TestServer, tenant: &str) -> (String, String) {
    let admin = server.sdk_admin().await;
    admin.create_tenant(tenant, tenant).await.expect("create the tenant");
    let key = (admin.create_api_key(tenant, "app", ALL, None).await).expect("create a key");
    (key.key_id, key.key)
}

pub(crate) const ALL: &[Permission] = commy_testkit::ALL;

/// Polls `check` until it holds, for at most 20 s; panics naming `what` otherwise.
pub(crate) async fn eventually<F: Future<Output = bool>>(what: &str, mut check: impl FnMut() -> F) -> Duration {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        if check().await {
            return started.elapsed();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("{what} did not happen within 20 s");
}
