//! What an owner does to a file before using it: takes the owner lock (one owner per file), reads the format, and
//! frees lock words that no process of this boot and pid namespace can hold.

use crate::error::OpenError;
use crate::layout::{self, entry as e, header as h};
use crate::platform;
use crate::service::Service;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// How long a new owner keeps trying for a lock that is held. A previous owner that has just closed the file may
/// still hold the lock for a moment through a child process that another thread forked and that has not exec'd yet
/// (the child shares the open file until exec closes it); a real second owner holds it for much longer.
const OWNER_LOCK_PATIENCE: Duration = Duration::from_millis(500);

/// Opens the file at `path` once more and takes an exclusive advisory lock on that open file, for as long as the
/// returned handle lives (the kernel drops it when the process dies). A second owner gets
/// [`OpenError::OwnedElsewhere`], after [`OWNER_LOCK_PATIENCE`]. Clients never take it.
pub(crate) fn take_owner_lock(path: &Path) -> Result<File, OpenError> {
    use rustix::fs::{flock, FlockOperation};
    let file = File::open(path)?;
    let deadline = Instant::now() + OWNER_LOCK_PATIENCE;
    loop {
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => return Ok(file),
            Err(rustix::io::Errno::WOULDBLOCK) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(rustix::io::Errno::WOULDBLOCK) => return Err(OpenError::OwnedElsewhere),
            Err(errno) => return Err(OpenError::Io(errno.into())),
        }
    }
}

/// The format version in the header, or 0 if the file is too short to have one (the full open then says why).
pub(crate) fn format_of(file: &File) -> Result<u32, OpenError> {
    let mut word = [0u8; 4];
    match file.read_exact_at(&mut word, h::FORMAT_VERSION as u64) {
        Ok(()) => Ok(u32::from_le_bytes(word)),
        Err(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => Ok(0),
        Err(err) => Err(err.into()),
    }
}

/// Makes the file this owner's: if it was last owned in another boot or another pid namespace, no lock identity in
/// it can name a running process of ours, so every lock word and waiter registration is freed; then records this
/// boot and namespace.
pub(crate) fn claim(service: &Service) {
    let boot = service.header_u64(h::BOOT_ID);
    let namespace = service.header_u64(h::PID_NAMESPACE);
    let (our_boot, our_namespace) = (platform::boot_id(), platform::pid_namespace());
    if boot.load(Ordering::Relaxed) == our_boot && namespace.load(Ordering::Relaxed) == our_namespace {
        return;
    }
    let map = &service.inner.map;
    for index in 0..service.high_water() {
        map.u64_at(service.inner.geo.entry(index) + e::LOCK as u64)
            .store(0, Ordering::Release);
    }
    // Likewise every waiter registration: its process is gone.
    for slot in map.u64_slice(h::WAITER_SLOTS as u64, crate::waiters::SLOTS) {
        slot.store(0, Ordering::Relaxed);
    }
    map.u32_at(h::WAITERS as u64).store(0, Ordering::SeqCst);
    boot.store(our_boot, Ordering::Relaxed);
    namespace.store(our_namespace, Ordering::Relaxed);
    debug_assert_eq!(service.format(), layout::FORMAT_VERSION);
}
