//! Linux: futex for the change signal, `kill(pid, 0)` for lock-holder liveness.

use rustix::io::Errno;
use rustix::thread::futex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
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
///
/// Cached in a page the kernel zeroes in a forked child (`MADV_WIPEONFORK`), so the cache costs no system call per
/// write and a child never writes under its parent's pid (which would wedge the variable if the child died holding
/// the lock, its parent being alive). Without that page (kernels before 4.14) every call asks the kernel.
pub(crate) fn current_pid() -> u32 {
    let Some(cache) = pid_cache() else {
        return getpid();
    };
    match cache.load(Ordering::Relaxed) {
        0 => {
            let pid = getpid();
            cache.store(pid, Ordering::Relaxed);
            pid
        }
        pid => pid,
    }
}

fn getpid() -> u32 {
    rustix::process::getpid().as_raw_nonzero().get() as u32
}

/// The word of the wipe-on-fork page, mapped once per process (and inherited, zeroed, by every child).
fn pid_cache() -> Option<&'static AtomicU32> {
    static PAGE: OnceLock<Option<usize>> = OnceLock::new();
    let address = (*PAGE.get_or_init(|| {
        use rustix::mm::{madvise, mmap_anonymous, munmap, Advice, MapFlags, ProtFlags};
        let len = 4096;
        // SAFETY: a fresh anonymous private mapping at an address the kernel chooses; nothing else refers to it.
        let page = unsafe {
            mmap_anonymous(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE,
            )
        }
        .ok()?;
        // SAFETY: `page` is the start of the `len`-byte mapping just made, which nothing else uses.
        if unsafe { madvise(page, len, Advice::LinuxWipeOnFork) }.is_err() {
            // SAFETY: unmapping the page just mapped, which no reference points into.
            let _ = unsafe { munmap(page, len) };
            return None;
        }
        Some(page as usize)
    }))?;
    // SAFETY: the page is mapped read-write for the rest of the process's life (never unmapped once published),
    // zero-filled, and page-aligned, hence aligned for a u32; it is only ever accessed through this atomic.
    Some(unsafe { &*(address as *const AtomicU32) })
}

/// Whether a process with this id exists. A process of another user counts as alive.
pub(crate) fn process_alive(pid: u32) -> bool {
    let Some(pid) = rustix::process::Pid::from_raw(pid as i32) else {
        return false;
    };
    let exists = !matches!(rustix::process::test_kill_process(pid), Err(Errno::SRCH));
    exists && !is_exited_zombie(pid.as_raw_nonzero().get() as u32)
}

/// Whether `pid` is a zombie whose whole thread group has exited. A group leader that called `pthread_exit` is a
/// zombie too while its other threads run on (and may hold a lock): `/proc/<pid>/task` still lists them.
fn is_exited_zombie(pid: u32) -> bool {
    if !is_zombie(pid) {
        return false;
    }
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return true;
    };
    tasks.filter_map(Result::ok).take(2).count() <= 1
}

/// Whether `pid` is a zombie: dead but not yet reaped, so `kill(pid, 0)` still succeeds.
pub(crate) fn is_zombie(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses and may itself contain ") ".
    stat.rsplit_once(") ").is_some_and(|(_, rest)| rest.starts_with('Z'))
}
