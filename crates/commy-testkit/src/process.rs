//! Child processes with a deadline: a test that starts one fails, and kills it, instead of hanging.

use crate::{guard, GUARD};
use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// A running child process, killed (and reaped) when dropped.
#[derive(Debug)]
pub struct ChildProcess {
    child: Child,
    what: String,
}

impl ChildProcess {
    /// Starts `command`; `what` names it in failures.
    pub fn spawn(what: &str, command: &mut Command) -> ChildProcess {
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {what} ({command:?}): {e}"));
        ChildProcess {
            child,
            what: what.to_owned(),
        }
    }

    /// The process.
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits until it exits; kills it and fails the test if that takes longer than `deadline`.
    pub fn wait_within(&mut self, deadline: Duration) -> ExitStatus {
        let until = Instant::now() + deadline;
        loop {
            if let Some(status) = self.child.try_wait().expect("the child's status") {
                return status;
            }
            if Instant::now() >= until {
                self.kill();
                panic!("{} did not exit within {deadline:?}", self.what);
            }
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until it exits, at most [`GUARD`].
    pub fn wait(&mut self) -> ExitStatus {
        self.wait_within(GUARD)
    }

    /// Waits until it exits, at most [`GUARD`], without blocking the async runtime.
    pub async fn wait_async(&mut self) -> ExitStatus {
        let what = format!("{} to exit", self.what);
        guard(&what, async {
            loop {
                if let Some(status) = self.child.try_wait().expect("the child's status") {
                    return status;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
    }

    /// Sends `signal` (such as `-TERM`) with `kill(1)`.
    pub fn signal(&self, signal: &str) {
        let sent = Command::new("kill")
            .args([signal, &self.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill {signal} {}", self.what);
    }

    /// Kills it (if it still runs) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `command` to its end with stdout and stderr captured, at most [`GUARD`]; `what` names it in failures.
pub fn output(what: &str, command: &mut Command) -> Output {
    output_within(what, command, GUARD)
}

/// Runs `command` to its end with stdout and stderr captured; kills it and fails the test after `deadline`.
pub fn output_within(what: &str, command: &mut Command, deadline: Duration) -> Output {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut process = ChildProcess::spawn(what, command);
    let stdout = drain(process.child.stdout.take());
    let stderr = drain(process.child.stderr.take());
    let status = process.wait_within(deadline);
    Output {
        status,
        stdout: stdout.join().expect("the stdout reader"),
        stderr: stderr.join().expect("the stderr reader"),
    }
}

/// Reads a pipe to its end on a thread of its own, so that a child writing much never blocks on a full pipe.
fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// A running server process (`commy serve`) that has logged where it listens, with its log so far.
#[derive(Debug)]
pub struct ServeProcess {
    process: ChildProcess,
    /// The address it reported (`commy serving addr=...`).
    pub addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl ServeProcess {
    /// Starts `command`, a `commy serve` line (its stderr is taken, stdin and stdout are null), and waits, at most
    /// [`GUARD`], until it logs `commy serving addr=<address>`.
    pub fn start(command: &mut Command) -> ServeProcess {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut process = ChildProcess::spawn("commy serve", command);
        let stderr = process.child.stderr.take().expect("the server's stderr");
        let log = Arc::new(Mutex::new(String::new()));
        let (found, addr) = mpsc::channel();
        let lines = log.clone();
        // Keeps reading after the address, so that the server never writes to a closed pipe.
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                let line = strip_ansi(&line);
                {
                    let mut log = lines.lock().unwrap();
                    log.push_str(&line);
                    log.push('\n');
                }
                if let Some(addr) = serving_addr(&line) {
                    let _ = found.send(addr);
                }
            }
        });
        let addr = addr.recv_timeout(GUARD).unwrap_or_else(|_| {
            process.kill();
            panic!("commy serve did not report its address:\n{}", log.lock().unwrap())
        });
        ServeProcess { process, addr, log }
    }

    /// What it has logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// The process.
    pub fn process(&mut self) -> &mut ChildProcess {
        &mut self.process
    }

    /// Sends `signal` (such as `-TERM`) and waits until the process ends.
    pub async fn signal_and_wait(mut self, signal: &str) -> ExitStatus {
        self.process.signal(signal);
        self.process.wait_async().await
    }

    /// Kills it with SIGKILL (no goodbye, no flush) and waits until it is gone.
    pub async fn crash(mut self) {
        self.process.child.kill().expect("SIGKILL");
        self.process.wait_async().await;
    }
}

/// A `commy serve` line for the data directory `dir`, with `commy` the binary (`env!("CARGO_BIN_EXE_commy")`):
/// listening on a port the system picks, logging Commy's info lines without colour, and with no `COMMY_ADMIN_KEY`
/// from the test's environment (the server makes `dir/admin.key` on its first start: [`written_admin_key`]). Add
/// flags and variables to it, then [`ServeProcess::start`] it.
pub fn serve_command(commy: impl AsRef<OsStr>, dir: &Path) -> Command {
    let mut command = Command::new(commy);
    command
        .arg("serve")
        .arg("--data-dir")
        .arg(dir)
        .args(["--listen", "127.0.0.1:0"])
        .env("COMMY_LOG", "info")
        .env("NO_COLOR", "1")
        .env_remove("COMMY_ADMIN_KEY");
    command
}

/// The admin key `commy serve` wrote in `dir/admin.key` on its first start.
pub fn written_admin_key(dir: &Path) -> String {
    let key = std::fs::read_to_string(dir.join("admin.key")).expect("admin.key written on first start");
    key.trim().to_owned()
}

/// The address in the line `... commy serving addr=127.0.0.1:PORT data_dir=...`.
pub fn serving_addr(line: &str) -> Option<SocketAddr> {
    let rest = &line[line.find("commy serving")?..];
    let addr = rest.split_whitespace().find_map(|w| w.strip_prefix("addr="))?;
    addr.parse().ok()
}

/// The line without terminal colour sequences (`ESC [ ... letter`), in case the log has them anyway.
pub fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `program <args>` as a client of `url` with `key`: `COMMY_URL` and `COMMY_KEY` set, no `COMMY_TENANT` from the
/// test's own environment.
pub fn client_command(program: impl AsRef<OsStr>, url: &str, key: &str, args: &[&str]) -> Command {
    let mut command = Command::new(program);
    command
        .args(args)
        .env("COMMY_URL", url)
        .env("COMMY_KEY", key)
        .env_remove("COMMY_TENANT");
    command
}
