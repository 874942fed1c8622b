//! Linux: futex for the change signal, `kill(pid, 0)` for lock-holder liveness.

use rustix::io::Errno;
use rustix::thread::futex;
use std::sync::atomic::AtomicU32;
use std::time::Duration;

/// Sleeps while `*word == expected`, for at most `timeout`. Returns early on a wake, a change, or a signal.
pub(crate) fn wait_on(word: &AtomicU32, expected: u32, timeout: Duration) {
    let ts = rustix::time::Timespec {
        tv_sec: timeout.as_secs().min(i64::MAX as u64) as i64,
        tv_nsec: timeout.subsec_nanos().into(),
    };
    // Shared (not PRIVATE) futex: the word lives in a MAP_SHARED mapping used by several processes.
    match futex::wait(word, futex::Flags::empty(), expected, Some(&ts)) {
        Ok(()) | Err(Errno::AGAIN) | Err(Errno::INTR) | Err(Errno::TIMEDOUT) => {}
        // Any other error (EFAULT cannot happen for a valid reference) leaves the caller to re-check and retry.
        Err(_) => {}
    }
}

/// Wakes every process sleeping on `word`.
pub(crate) fn wake_all(word: &AtomicU32) {
    // An error here can only mean a bad address, which a reference rules out; waking is best effort by design
    // since watchers re-check the counter with a timeout.
    let _ = futex::wake(word, futex::Flags::empty(), i32::MAX as u32);
}

/// The calling process's id, as stored in lock words.
pub(crate) fn current_pid() -> u32 {
    rustix::process::getpid().as_raw_nonzero().get() as u32
}

/// Whether a process with this id exists. A process of another user counts as alive.
pub(crate) fn process_alive(pid: u32) -> bool {
    let Some(pid) = rustix::process::Pid::from_raw(pid as i32) else {
        return false;
    };
    let exists = !matches!(rustix::process::test_kill_process(pid), Err(Errno::SRCH));
    exists && !is_zombie(pid.as_raw_nonzero().get() as u32)
}

/// Whether `pid` is a zombie: dead but not yet reaped, so `kill(pid, 0)` still succeeds.
pub(crate) fn is_zombie(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses and may itself contain ") ".
    stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z'))
}
