//! Shared by the CLI tests: a server running in the test process, and the built `commy` binary pointed at it.

use commy_server::config::ServerConfig;
use commy_server::Server;
use std::process::Command;

/// A server on `127.0.0.1:0` over a fresh data directory, served by its own runtime.
pub struct TestServer {
    pub url: String,
    pub admin_key: String,
    _runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub fn start() -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let config = ServerConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: dir.path().to_owned(),
            ..ServerConfig::default()
        };
        let addr = runtime.block_on(async {
            let server = Server::open(config, None).unwrap();
            let listener = server.bind().await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(server.run(listener, std::future::pending()));
            addr
        });
        let admin_key = std::fs::read_to_string(dir.path().join("admin.key")).unwrap();
        TestServer {
            url: format!("ws://{addr}"),
            admin_key: admin_key.trim().to_owned(),
            _runtime: runtime,
            _dir: dir,
        }
    }

    /// `commy <args>` against this server, with `key` (and no tenant from the test's own environment).
    pub fn command(&self, key: &str, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_commy"));
        command
            .args(args)
            .env("COMMY_URL", &self.url)
            .env("COMMY_KEY", key)
            .env_remove("COMMY_TENANT");
        command
    }
}
