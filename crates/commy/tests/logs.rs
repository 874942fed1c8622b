//! `commy serve`'s log written to a file, as a log collector reads it: plain text with no colour codes, Commy's own
//! info lines and no library DEBUG lines at the default level while connections open and close; with
//! `--log-format json`, one JSON object per line.

use commy_proto::{Encoding, ErrorCode};
use commy_testkit::process::{serving_addr, ChildProcess};
use commy_testkit::{authenticate, Client, GUARD};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A `commy serve` whose standard error goes to a file, with no log setting from the test's own environment.
struct LoggedServer {
    process: ChildProcess,
    log_path: PathBuf,
    data_dir: PathBuf,
}

impl LoggedServer {
    fn start(dir: &Path, args: &[&str]) -> LoggedServer {
        let log_path = dir.join("serve.log");
        let data_dir = dir.join("data");
        let log = std::fs::File::create(&log_path).unwrap();
        let process = ChildProcess::spawn(
            "commy serve",
            Command::new(env!("CARGO_BIN_EXE_commy"))
                .arg("serve")
                .arg("--data-dir")
                .arg(&data_dir)
                .args(["--listen", "127.0.0.1:0"])
                .args(args)
                .env_remove("NO_COLOR")
                .env_remove("COMMY_LOG")
                .env_remove("COMMY_LOG_FORMAT")
                .env_remove("RUST_LOG")
                .env_remove("COMMY_ADMIN_KEY")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log),
        );
        LoggedServer {
            process,
            log_path,
            data_dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap()
    }

    /// Waits until a line of the log gives the address, read by `addr`.
    fn addr(&self, addr: impl Fn(&str) -> Option<SocketAddr>) -> SocketAddr {
        let until = Instant::now() + GUARD;
        loop {
            if let Some(found) = self.log().lines().find_map(&addr) {
                return found;
            }
            assert!(
                Instant::now() < until,
                "commy serve did not say where it serves:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Opens connections and closes them: one authenticates and says goodbye, one fails to authenticate, one just
    /// goes away.
    async fn open_and_close_connections(&self, addr: SocketAddr) {
        let admin_key = std::fs::read_to_string(self.data_dir.join("admin.key")).unwrap();
        let mut client = Client::connect(addr, Encoding::Json).await;
        client.authenticate(None, admin_key.trim()).await;
        client.heartbeat().await;
        client.close().await;
        let mut client = Client::connect(addr, Encoding::MsgPack).await;
        client
            .expect_error(authenticate(None, "not-the-key"), ErrorCode::Unauthorized, &[])
            .await;
        client.close().await;
        let mut client = Client::connect(addr, Encoding::Json).await;
        client.heartbeat().await;
        drop(client);
    }

    /// Stops the server gracefully (so that every connection's end has been logged) and returns the whole log.
    fn stop(mut self) -> String {
        self.process.signal("-TERM");
        assert!(self.process.wait().success(), "commy serve failed:\n{}", self.log());
        self.log()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_file_has_commys_info_lines_and_no_library_debug_lines_or_colour() {
    let dir = tempfile::tempdir().unwrap();
    let server = LoggedServer::start(dir.path(), &[]);
    let addr = server.addr(serving_addr);
    server.open_and_close_connections(addr).await;
    let text = server.stop();
    assert!(
        text.contains(" INFO ") && text.contains("commy serving"),
        "Commy's info lines:\n{text}"
    );
    assert!(text.contains("shut down"), "{text}");
    for level in [" DEBUG ", " TRACE "] {
        assert!(!text.contains(level), "no{level}lines at the default level:\n{text}");
    }
    assert!(!text.contains('\u{1b}'), "colour codes in a log file:\n{text:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_log_is_one_object_per_line() {
    let dir = tempfile::tempdir().unwrap();
    let server = LoggedServer::start(dir.path(), &["--log-format", "json"]);
    let addr = server.addr(|line| {
        let event: serde_json::Value = serde_json::from_str(line).ok()?;
        (event["message"] == "commy serving").then(|| event["addr"].as_str()?.parse().ok())?
    });
    server.open_and_close_connections(addr).await;
    let text = server.stop();
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("not JSON ({err}): {line:?}")))
        .collect();
    assert!(events.len() >= 3, "{text}");
    for event in &events {
        assert!(event["timestamp"].is_string() && event["target"].is_string(), "{event}");
        assert!(
            ["INFO", "WARN", "ERROR"].contains(&event["level"].as_str().unwrap()),
            "{event}"
        );
        assert!(event["message"].is_string(), "{event}");
    }
    assert!(events.iter().any(|e| e["message"] == "shut down"), "{text}");
}
