//! Helpers shared by the integration tests: service fixtures, the helper process, and raw access to the file's
//! bytes (read with `pread`, which sees the same page cache as every mapping).

#![allow(dead_code)] // each test file uses a different part of this module

use commy_shm::layout;
use commy_shm::{CreateOptions, ServiceOwner, VarHandle, VariableSpec};
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a test waits for a helper's next line or its exit before failing. A failure guard only: a healthy run
/// never comes near it.
pub const GUARD: Duration = Duration::from_secs(60);

/// A fresh service file in its own temporary directory, removed on drop.
pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub path: PathBuf,
    pub owner: ServiceOwner,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture::with(&CreateOptions::default())
    }

    pub fn with(opts: &CreateOptions) -> Fixture {
        let dir = tempfile::tempdir().expect("temporary directory");
        let path = dir.path().join("test.svc");
        let owner = ServiceOwner::create(&path, opts).expect("create service file");
        Fixture { dir, path, owner }
    }

    pub fn path_str(&self) -> &str {
        self.path.to_str().expect("temporary paths are UTF-8")
    }

    /// Allocates a variable with default type and flags.
    pub fn var(&mut self, name: &str, capacity: u32, initial: &[u8]) -> VarHandle {
        let spec = VariableSpec {
            name,
            capacity,
            type_tag: 0,
            persistent: false,
            initial,
        };
        self.owner.allocate(&spec).expect("allocate")
    }

    /// The variable `stop` that the helper's loops watch: they end once it holds a non-zero byte.
    pub fn stop_var(&mut self) -> VarHandle {
        self.var("stop", 8, &[0])
    }

    /// Offset of table entry `index` in this file.
    pub fn entry(&self, index: u32) -> u64 {
        entry_offset(self.owner.service().max_variables(), index)
    }
}

/// Offset of table entry `index` in a file with `max_variables` entries.
pub fn entry_offset(max_variables: u32, index: u32) -> u64 {
    let (_, table, _) = layout::regions(max_variables);
    table + index as u64 * layout::ENTRY_SIZE as u64
}

/// The uniform value with fill byte `fill` for a variable of `capacity` bytes. Same rule as the helper's.
pub fn uniform(fill: u8, capacity: usize) -> Vec<u8> {
    vec![fill; capacity - (fill as usize * 37) % (capacity / 2)]
}

pub fn read_at(path: &Path, offset: u64, len: usize) -> Vec<u8> {
    let file = std::fs::File::open(path).expect("open service file");
    let mut buf = vec![0u8; len];
    file.read_exact_at(&mut buf, offset).expect("pread");
    buf
}

pub fn u32_at(path: &Path, offset: u64) -> u32 {
    u32::from_le_bytes(read_at(path, offset, 4).try_into().unwrap())
}

pub fn u64_at(path: &Path, offset: u64) -> u64 {
    u64::from_le_bytes(read_at(path, offset, 8).try_into().unwrap())
}

pub fn write_at(path: &Path, offset: u64, bytes: &[u8]) {
    let file = OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open service file for writing");
    file.write_all_at(bytes, offset).expect("pwrite");
}

pub fn put_u32(path: &Path, offset: u64, value: u32) {
    write_at(path, offset, &value.to_le_bytes());
}

pub fn put_u64(path: &Path, offset: u64, value: u64) {
    write_at(path, offset, &value.to_le_bytes());
}

/// A running `commy-shm-helper` process, with its stdout delivered line by line and its stderr collected for
/// failure messages. Killed and reaped on drop if the test did not finish it.
pub struct Helper {
    args: Vec<String>,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    reaped: bool,
}

impl Helper {
    pub fn spawn(args: &[&str]) -> Helper {
        let mut child = Command::new(env!("CARGO_BIN_EXE_commy-shm-helper"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn commy-shm-helper");
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = err_pipe.read_to_string(&mut text);
            sink.lock().unwrap_or_else(|e| e.into_inner()).push_str(&text);
        });
        Helper {
            args: args.iter().map(|a| a.to_string()).collect(),
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
            reaped: false,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    fn fail(&self, what: &str) -> ! {
        // Give the stderr collector a moment to take in what a dying helper said.
        let deadline = Instant::now() + Duration::from_millis(200);
        while Arc::strong_count(&self.stderr) > 1 && Instant::now() < deadline {
            std::thread::yield_now();
        }
        let stderr = self.stderr();
        panic!("helper {:?}: {what}; its stderr: {stderr:?}", self.args);
    }

    /// What the helper has written to stderr so far.
    fn stderr(&self) -> String {
        let text = self.stderr.lock().unwrap_or_else(|e| e.into_inner());
        text.clone()
    }

    /// The next stdout line, which must start with `word`.
    pub fn expect(&mut self, word: &str) -> String {
        match self.lines.recv_timeout(GUARD) {
            Ok(line) if line.starts_with(word) => line,
            Ok(line) => self.fail(&format!("expected a {word} line, got {line:?}")),
            Err(RecvTimeoutError::Timeout) => self.fail(&format!("no {word} line within {GUARD:?}")),
            Err(RecvTimeoutError::Disconnected) => self.fail(&format!("stdout closed before a {word} line")),
        }
    }

    /// Every stdout line that has arrived, without waiting.
    pub fn drain(&mut self) -> Vec<String> {
        self.lines.try_iter().collect()
    }

    /// The helper's exit status if it has exited (reaping it), without waiting.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        let status = self.child.try_wait().ok().flatten();
        self.reaped |= status.is_some();
        status
    }

    /// Sends one request line to a `serve` helper and returns its answer.
    pub fn ask(&mut self, request: &str) -> String {
        let stdin = self.stdin.as_mut().expect("stdin is open");
        writeln!(stdin, "{request}").expect("write to helper");
        stdin.flush().expect("flush to helper");
        match self.lines.recv_timeout(GUARD) {
            Ok(line) => line,
            Err(_) => self.fail(&format!("no answer to {request:?}")),
        }
    }

    /// Closes stdin, collects the remaining stdout lines until the helper closes it, and reaps the helper.
    pub fn finish(mut self) -> (ExitStatus, Vec<String>) {
        drop(self.stdin.take());
        let deadline = Instant::now() + GUARD;
        let mut rest = Vec::new();
        loop {
            match self
                .lines
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            {
                Ok(line) => rest.push(line),
                Err(RecvTimeoutError::Disconnected) => break,
                Err(RecvTimeoutError::Timeout) => self.fail("did not exit"),
            }
        }
        let status = self.reap();
        (status, rest)
    }

    /// Like [`Helper::finish`], and the helper must have succeeded.
    pub fn finish_ok(self) -> Vec<String> {
        let args = self.args.clone();
        let stderr = Arc::clone(&self.stderr);
        let (status, rest) = self.finish();
        let stderr = stderr.lock().unwrap_or_else(|e| e.into_inner()).clone();
        assert!(status.success(), "helper {args:?} failed with {status}: {stderr:?}");
        rest
    }

    /// Sends SIGKILL, without reaping: until [`Helper::reap`], the helper is a zombie.
    pub fn kill(&mut self) {
        self.child.kill().expect("SIGKILL the helper");
    }

    /// Waits for the helper to exit and returns its status.
    pub fn reap(&mut self) -> ExitStatus {
        let status = self.child.wait().expect("wait for the helper");
        self.reaped = true;
        status
    }
}

impl Drop for Helper {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The state letter of process `pid` in `/proc/<pid>/stat` (`Z` for a zombie).
pub fn process_state(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(") ")?.1.chars().next()
}

/// Parses `key=value` words of a helper's report line.
pub fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or_else(|| panic!("no {key}= in {line:?}"))
}

pub fn count(line: &str, key: &str) -> u64 {
    field(line, key)
        .parse()
        .unwrap_or_else(|_| panic!("{key} in {line:?} is not a number"))
}
