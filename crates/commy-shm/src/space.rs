//! Making pages real before anyone stores into them, so that a full disk is an error and never a `SIGBUS`.
//!
//! A service file is sparse: pages nobody has written are holes, and an unused table costs no disk. But a store
//! through a mapping into a hole must allocate a page, and on a full filesystem (or a full tmpfs) the kernel can only
//! answer with `SIGBUS`, which kills the process. So the owner allocates, with `fallocate`, every page it hands out
//! before anyone can store into it: the header at creation, the heap on every growth, and the pages of an entry and
//! of its version word when the entry is first used. `ENOSPC` then reaches the owner as an ordinary error.

use std::fs::File;
use std::io;

/// Allocates disk space for `[offset, offset + len)` of `file` without changing its length. `Ok` also when the
/// filesystem cannot preallocate (`EOPNOTSUPP`): the file then stays sparse there, as before.
pub(crate) fn reserve(file: &File, offset: u64, len: u64) -> io::Result<()> {
    if len == 0 {
        return Ok(());
    }
    match rustix::fs::fallocate(file, rustix::fs::FallocateFlags::KEEP_SIZE, offset, len) {
        Ok(()) => Ok(()),
        Err(rustix::io::Errno::OPNOTSUPP) => Ok(()),
        Err(errno) => Err(errno.into()),
    }
}

/// Whether an I/O error says the disk (or its quota) is full.
pub(crate) fn is_disk_full(err: &io::Error) -> bool {
    matches!(err.raw_os_error(), Some(code) if code == rustix::io::Errno::NOSPC.raw_os_error() || code == rustix::io::Errno::DQUOT.raw_os_error())
}
