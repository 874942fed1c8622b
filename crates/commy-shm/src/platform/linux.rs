//! Linux: futex for the change signal, `/proc` for lock identities and their liveness.

use rustix::io::Errno;
use rustix::thread::futex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
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

/// Bits of a lock identity that hold the pid (Linux's `pid_max` is at most 2^22).
const PID_BITS: u32 = 22;
const PID_MASK: u64 = (1 << PID_BITS) - 1;
/// Bits of a lock identity that hold the process's start time, in clock ticks since boot.
const START_MASK: u64 = (1 << 41) - 1;

/// The calling process's lock identity: its pid in bits 0-21 and its start time (clock ticks since boot, field 22
/// of `/proc/self/stat`) in bits 22-62. Bit 63 is always 0 (the lock's contended flag). Never 0.
///
/// Cached in a page the kernel zeroes in a forked child (`MADV_WIPEONFORK`), so the cache costs no system call per
/// write and a child never writes under its parent's identity (which would wedge the variable if the child died
/// holding the lock, its parent being alive). Without that page (kernels before 4.14) every call computes it.
pub(crate) fn current_identity() -> u64 {
    let Some(cache) = identity_cache() else {
        return own_identity();
    };
    match cache.load(Ordering::Relaxed) {
        0 => {
            let identity = own_identity();
            cache.store(identity, Ordering::Relaxed);
            identity
        }
        identity => identity,
    }
}

/// The pid an identity names.
pub(crate) fn pid_of(identity: u64) -> u32 {
    (identity & PID_MASK) as u32
}

fn own_identity() -> u64 {
    let pid = rustix::process::getpid().as_raw_nonzero().get() as u32;
    let start = proc_stat(pid).map_or(0, |stat| stat.start);
    pid as u64 | (start & START_MASK) << PID_BITS
}

/// The word of the wipe-on-fork page, mapped once per process (and inherited, zeroed, by every child).
fn identity_cache() -> Option<&'static AtomicU64> {
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
    // zero-filled, and page-aligned, hence aligned for a u64; it is only ever accessed through this atomic.
    Some(unsafe { &*(address as *const AtomicU64) })
}

/// What a lock needs from `/proc/<pid>/stat`.
struct ProcStat {
    zombie: bool,
    start: u64,
}

fn proc_stat(pid: u32) -> Option<ProcStat> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The fields follow the command name, which is in parentheses and may itself contain ") ". After it come
    // field 3 (the state) and on; the start time is field 22.
    let (_, rest) = stat.rsplit_once(") ")?;
    let mut fields = rest.split_ascii_whitespace();
    let zombie = fields.next()?.starts_with('Z');
    let start = fields.nth(18)?.parse().ok()?;
    Some(ProcStat { zombie, start })
}

/// Whether the process a lock identity names still runs: the pid exists, it started when the identity says (else
/// the pid was reused), and it is not a zombie whose whole thread group has exited. A process of another user counts
/// as alive. An identity without a start time (no `/proc` when it was made) falls back to the pid alone.
pub(crate) fn identity_alive(identity: u64) -> bool {
    let pid = pid_of(identity);
    let start = identity >> PID_BITS & START_MASK;
    let Some(raw) = rustix::process::Pid::from_raw(pid as i32) else {
        return false;
    };
    match proc_stat(pid) {
        Some(stat) if start != 0 && stat.start & START_MASK != start => false,
        Some(stat) => !(stat.zombie && whole_group_exited(pid)),
        // No readable stat (the pid is gone, or /proc hides other users' processes): the pid alone decides, and
        // a hidden live process errs on the side of waiting.
        None => !matches!(rustix::process::test_kill_process(raw), Err(Errno::SRCH)),
    }
}

/// Whether a zombie's whole thread group has exited. A group leader that called `pthread_exit` is a zombie too while
/// its other threads run on (and may hold a lock): `/proc/<pid>/task` still lists them.
fn whole_group_exited(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return true;
    };
    tasks.filter_map(Result::ok).take(2).count() <= 1
}

/// A hash of this boot's id (`/proc/sys/kernel/random/boot_id`), never 0; 0 if it cannot be read.
pub(crate) fn boot_id() -> u64 {
    static BOOT: OnceLock<u64> = OnceLock::new();
    *BOOT.get_or_init(|| {
        let Ok(text) = std::fs::read_to_string("/proc/sys/kernel/random/boot_id") else {
            return 0;
        };
        // FNV-1a: stable across builds and processes, which a std hasher is not.
        let hash = text.trim().bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
        });
        hash.max(1)
    })
}

/// The inode of this process's pid namespace (`/proc/self/ns/pid`), or 0 if it cannot be read.
pub(crate) fn pid_namespace() -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/ns/pid").map_or(0, |m| m.ino())
}
