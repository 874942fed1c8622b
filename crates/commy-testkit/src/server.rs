//! The real server in the test's process, on `127.0.0.1:0` over a temporary data directory.

use crate::ws::Client;
use crate::{guard, http_get, ADMIN_KEY};
use commy_proto::Encoding;
use commy_server::config::ServerConfig;
use commy_server::Server;
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;
use tokio::net::TcpSocket;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The real server, in this process, on `127.0.0.1:0` over a temporary data directory, with the admin key
/// [`ADMIN_KEY`]. Dropping it aborts the server; [`TestServer::stop`] shuts it down gracefully.
#[derive(Debug)]
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    dir: Option<TempDir>,
    config: ServerConfig,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// A server with the default configuration.
    pub async fn start() -> TestServer {
        TestServer::with_config(|_| {}).await
    }

    /// A server whose configuration `edit` adjusts (the listen address and data directory are set already).
    pub async fn with_config(edit: impl FnOnce(&mut ServerConfig)) -> TestServer {
        TestServer::start_in(tempfile::tempdir().unwrap(), edit).await
    }

    /// A server over an existing data directory, for example one a stopped server left behind.
    pub async fn start_in(dir: TempDir, edit: impl FnOnce(&mut ServerConfig)) -> TestServer {
        TestServer::start_at(dir, SocketAddr::from(([127, 0, 0, 1], 0)), edit).await
    }

    /// A server over `dir` listening on `listen`: a restart on the same port.
    pub async fn start_at(dir: TempDir, listen: SocketAddr, edit: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let mut config = ServerConfig {
            listen,
            data_dir: dir.path().to_owned(),
            ..ServerConfig::default()
        };
        edit(&mut config);
        TestServer::launch(dir, config).await
    }

    async fn launch(dir: TempDir, config: ServerConfig) -> TestServer {
        // `start` joins the cluster (and catches up with its metadata) when the configuration names one.
        let server = (Server::start(config.clone(), Some(ADMIN_KEY.to_owned())).await).expect("the server starts");
        let listener = server.bind().await.expect("the server binds");
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(listener, async move {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            dir: Some(dir),
            config,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// `ws://<addr>`, the URL clients are given.
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// The server admin key ([`ADMIN_KEY`]).
    pub fn admin_key(&self) -> &'static str {
        ADMIN_KEY
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        self.dir.as_ref().expect("the data directory").path()
    }

    /// The path of a service's mapped file: `<data-dir>/services/<service id>.svc` (docs/service-file.md).
    pub fn service_file(&self, service_id: &str) -> PathBuf {
        self.data_dir().join("services").join(format!("{service_id}.svc"))
    }

    /// A raw protocol client on `/ws`, not authenticated.
    pub async fn connect(&self, encoding: Encoding) -> Client {
        Client::connect(self.addr, encoding).await
    }

    /// A client whose socket buffers little, so that the server writing to it soon has to wait.
    pub async fn connect_small_buffer(&self, encoding: Encoding) -> Client {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let stream = guard("connect", socket.connect(self.addr)).await.unwrap();
        Client::handshake(self.addr, stream, encoding).await
    }

    /// A raw protocol client authenticated with the server admin key.
    pub async fn admin(&self, encoding: Encoding) -> Client {
        let mut client = self.connect(encoding).await;
        client.authenticate(None, ADMIN_KEY).await;
        client
    }

    /// `GET path`; returns the status code and the body.
    pub async fn http_get(&self, path: &str) -> (u16, String) {
        let (status, _head, body) = http_get(self.addr, path).await;
        (status, body)
    }

    /// The value of one Prometheus sample at `/metrics`, such as `commy_pushes_coalesced_total`; 0 if absent.
    pub async fn metric(&self, sample: &str) -> f64 {
        let (status, body) = self.http_get("/metrics").await;
        assert_eq!(status, 200, "{body}");
        body.lines()
            .filter_map(|line| line.strip_prefix(sample)?.strip_prefix(' '))
            .map(|value| value.trim().parse().expect("a number"))
            .next()
            .unwrap_or(0.0)
    }

    /// Starts a graceful shutdown without waiting for it.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Shuts down gracefully and waits until the server has returned.
    async fn shut_down(&mut self) {
        self.begin_shutdown();
        if let Some(task) = self.task.take() {
            guard("the server to shut down", task)
                .await
                .expect("the server task")
                .expect("the server ran");
        }
    }

    /// Shuts down gracefully, waits until the server has returned, and hands back its data directory.
    pub async fn stop(mut self) -> TempDir {
        self.shut_down().await;
        self.dir.take().expect("the data directory")
    }

    /// Shuts down gracefully and starts again over the same data directory, on the same port, with the same
    /// configuration.
    pub async fn restart(&mut self) {
        self.shut_down().await;
        let dir = self.dir.take().expect("the data directory");
        let config = ServerConfig {
            listen: self.addr,
            ..self.config.clone()
        };
        *self = TestServer::launch(dir, config).await;
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// A [`TestServer`] served by its own runtime, for synchronous tests (the CLI's). It lives as long as this value.
#[derive(Debug)]
pub struct BlockingServer {
    server: Option<TestServer>,
    runtime: tokio::runtime::Runtime,
}

impl BlockingServer {
    /// A server with the default configuration, on a runtime of its own.
    pub fn start() -> BlockingServer {
        BlockingServer::start_on(tokio::runtime::Runtime::new().expect("a runtime for the server"))
    }

    /// A server with the default configuration on `runtime` (a benchmark chooses its worker threads).
    pub fn start_on(runtime: tokio::runtime::Runtime) -> BlockingServer {
        let server = runtime.block_on(TestServer::start());
        BlockingServer {
            server: Some(server),
            runtime,
        }
    }

    /// The runtime that serves it, for work beside it (such as an SDK client's).
    pub fn runtime(&self) -> &tokio::runtime::Runtime {
        &self.runtime
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.server().addr
    }

    /// The server.
    pub fn server(&self) -> &TestServer {
        self.server.as_ref().expect("the server")
    }

    /// `ws://<addr>`.
    pub fn url(&self) -> String {
        self.server().url()
    }

    /// The server admin key.
    pub fn admin_key(&self) -> &'static str {
        ADMIN_KEY
    }

    /// `program <args>` against this server: `COMMY_URL` and `COMMY_KEY` set, no `COMMY_TENANT` from the test's own
    /// environment.
    pub fn command(&self, program: impl AsRef<OsStr>, key: &str, args: &[&str]) -> Command {
        crate::process::client_command(program, &self.url(), key, args)
    }
}

impl Drop for BlockingServer {
    fn drop(&mut self) {
        // Abort inside the runtime that runs it.
        let _enter = self.runtime.enter();
        self.server.take();
    }
}
