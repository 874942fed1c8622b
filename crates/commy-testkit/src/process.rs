//! Child processes with a deadline: a test that starts one fails, and kills it, instead of hanging.

use crate::GUARD;
use std::io::Read;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
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
