//! A cluster of `commy serve --cluster` processes over one [`NatsServer`](crate::NatsServer), for process tests.

use crate::process::{serve_command, ServeProcess};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use tempfile::TempDir;

/// The admin key every node of a [`ClusterNode`] cluster is given (`COMMY_ADMIN_KEY`), so that one key works on all.
pub const CLUSTER_ADMIN_KEY: &str = "cluster-test-admin-key-0123456789abcdef";

/// One `commy serve --cluster` process over its own data directory, which it keeps across restarts.
#[derive(Debug)]
pub struct ClusterNode {
    commy: PathBuf,
    nats_url: String,
    key_file: PathBuf,
    /// Further flags of `commy serve` (such as `--cluster-replicas 3`).
    args: Vec<String>,
    dir: TempDir,
    /// The running process (`None` after [`ClusterNode::crash`]).
    pub process: Option<ServeProcess>,
}

/// Writes a cluster key file (64 hex digits, mode 0600) in `dir`; returns its path.
pub fn cluster_key_file(dir: &Path) -> PathBuf {
    let path = dir.join("cluster.key");
    std::fs::write(&path, format!("{}\n", "3c".repeat(32))).expect("write the cluster key");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod 600 the cluster key");
    path
}

impl ClusterNode {
    /// Starts a node of the cluster over NATS at `nats_url`, with `commy` the binary
    /// (`env!("CARGO_BIN_EXE_commy")`) and the key file from [`cluster_key_file`].
    pub fn start(commy: impl AsRef<Path>, nats_url: &str, key_file: &Path) -> ClusterNode {
        Self::start_with(commy, nats_url, key_file, &[])
    }

    /// [`ClusterNode::start`] with further flags of `commy serve`; `nats_urls` may list several, comma-separated.
    pub fn start_with(commy: impl AsRef<Path>, nats_urls: &str, key_file: &Path, args: &[&str]) -> ClusterNode {
        let mut node = ClusterNode {
            commy: commy.as_ref().to_owned(),
            nats_url: nats_urls.to_owned(),
            key_file: key_file.to_owned(),
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
            dir: tempfile::tempdir().expect("a data directory"),
            process: None,
        };
        node.restart();
        node
    }

    /// The `commy serve` line of this node.
    pub fn command(&self) -> Command {
        let mut command = serve_command(&self.commy, self.dir.path());
        command
            .args(["--cluster", &self.nats_url])
            .arg("--cluster-key-file")
            .arg(&self.key_file)
            .args(&self.args)
            .env("COMMY_ADMIN_KEY", CLUSTER_ADMIN_KEY)
            .env("COMMY_LOG", "info,commy_server::cluster=debug");
        command
    }

    /// Starts it (again) on its data directory, and waits until it serves.
    pub fn restart(&mut self) {
        self.process = Some(ServeProcess::start(&mut self.command()));
    }

    /// Its WebSocket URL.
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr())
    }

    /// Its address.
    pub fn addr(&self) -> std::net::SocketAddr {
        self.process.as_ref().expect("the node runs").addr
    }

    /// Its data directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Its log so far.
    pub fn log(&self) -> String {
        self.process.as_ref().map(ServeProcess::log).unwrap_or_default()
    }

    /// Kills it with SIGKILL and waits until it is gone.
    pub async fn crash(&mut self) {
        if let Some(process) = self.process.take() {
            process.crash().await;
        }
    }
}

impl Drop for ClusterNode {
    /// A failing test shows what each node logged.
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!(
                "--- log of the cluster node over {} ---\n{}",
                self.dir.path().display(),
                self.log()
            );
        }
    }
}
