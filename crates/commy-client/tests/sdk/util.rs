//! Helpers: a server in this process, and clients for a fresh tenant.

use commy_client::{Client, Credentials, Permission, Transport};
use commy_server::config::ServerConfig;
use commy_server::Server;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A server running in this process.
pub struct TestServer {
    pub url: String,
    pub addr: SocketAddr,
    pub admin_key: String,
    data_dir: PathBuf,
    _temp: Option<tempfile::TempDir>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl TestServer {
    /// A server over a new, empty data directory.
    pub async fn start() -> TestServer {
        let temp = tempfile::tempdir().expect("temp dir");
        let mut server = TestServer::start_at(temp.path(), "127.0.0.1:0".parse().unwrap()).await;
        server._temp = Some(temp);
        server
    }

    /// A server over `data_dir`, listening on `listen`.
    pub async fn start_at(data_dir: &Path, listen: SocketAddr) -> TestServer {
        let config = ServerConfig {
            listen,
            data_dir: data_dir.to_owned(),
            ..ServerConfig::default()
        };
        let server = Server::open(config, None).expect("server opens");
        let listener = server.bind().await.expect("server binds");
        let addr = listener.local_addr().unwrap();
        let admin_key = std::fs::read_to_string(data_dir.join("admin.key"))
            .expect("admin.key")
            .trim()
            .to_owned();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            server.run(listener, shutdown).await.expect("server runs");
        });
        TestServer {
            url: format!("ws://{addr}"),
            addr,
            admin_key,
            data_dir: data_dir.to_owned(),
            _temp: None,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Stops the server and waits until it has shut down.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task");
        }
    }

    /// Stops the server and starts it again on the same data directory and port.
    pub async fn restart(&mut self) {
        self.stop().await;
        let temp = self._temp.take();
        let mut again = TestServer::start_at(&self.data_dir, self.addr).await;
        again._temp = temp;
        *self = again;
    }

    /// A client with the admin key, for the server (no tenant).
    pub async fn admin(&self) -> Client {
        let client = Client::builder(&self.url)
            .transport(Transport::Remote)
            .connect()
            .await
            .expect("admin connects");
        client
            .authenticate(None, Credentials::api_key(&self.admin_key))
            .await
            .expect("admin authenticates");
        client
    }

    /// Creates `tenant` and a key in it with `permissions`; returns the key.
    pub async fn tenant_key(&self, tenant: &str, permissions: &[Permission]) -> String {
        let admin = self.admin().await;
        match admin.create_tenant(tenant, tenant).await {
            Ok(_) | Err(commy_client::Error::AlreadyExists(_)) => {}
            Err(err) => panic!("create tenant: {err}"),
        }
        admin
            .create_api_key(tenant, "test", permissions, None)
            .await
            .expect("create key")
            .key
    }

    /// A client of `tenant` over `transport`, authenticated with `key`.
    pub async fn client(&self, transport: Transport, tenant: &str, key: &str) -> Client {
        let client = Client::builder(&self.url)
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

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

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
