//! Errors, one enum per kind of operation, all converting into [`Error`].

use std::io;

/// Something in the file is not what the layout allows. Returned instead of faulting or reading out of bounds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Corruption {
    /// A recorded offset points outside the file.
    #[error("offset {offset} (+{len} bytes) lies outside the service file")]
    OutOfBounds {
        /// The offset read from the file.
        offset: u64,
        /// The length that was to be accessed there.
        len: u64,
    },
    /// A header field holds an impossible value.
    #[error("header field {field} is invalid: {reason}")]
    Header {
        /// The field's name.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The layout generation stayed odd, or a read never saw it and the version hold still, for the whole bound:
    /// the owner died mid-change (its next open repairs it) or a read-write peer is tampering with the file.
    #[error("the variable table did not settle within {waited_ms} ms (its owner died mid-change, or the file is being tampered with)")]
    LayoutBusy {
        /// How long the reader retried.
        waited_ms: u64,
    },
    /// A variable-table entry holds an impossible value.
    #[error("variable table entry {index} is invalid: {reason}")]
    Entry {
        /// The entry's index.
        index: u32,
        /// What is wrong with it.
        reason: String,
    },
}

/// Opening or attaching to an existing service file failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// The file could not be opened, inspected or mapped.
    #[error("cannot open service file: {0}")]
    Io(#[from] io::Error),
    /// The file is shorter than the header or than the regions its header describes.
    #[error("service file is truncated: {len} bytes, at least {need} needed")]
    Truncated {
        /// The file's length.
        len: u64,
        /// The length its header requires.
        need: u64,
    },
    /// The file does not start with the Commy magic.
    #[error("not a Commy service file (bad magic)")]
    NotAServiceFile,
    /// The file has another format version.
    #[error("service file has format version {found}; this build reads version {supported}")]
    UnsupportedVersion {
        /// The version in the file.
        found: u32,
        /// The version this build reads.
        supported: u32,
    },
    /// A read-write attachment from another pid namespace than the owner's: its lock identities would name the
    /// wrong processes there. Attach read-only instead, or run in the owner's pid namespace.
    #[error("service file belongs to pid namespace {file}, this process is in {ours}: it may attach read-only only")]
    ForeignPidNamespace {
        /// The namespace inode recorded in the file.
        file: u64,
        /// This process's namespace inode.
        ours: u64,
    },
    /// Another process owns the file (holds its owner lock).
    #[error("service file is owned by another process (another server runs on the same data directory?)")]
    OwnedElsewhere,
    /// Migrating a file of the previous format failed; the old file is untouched.
    #[error("cannot migrate service file from format {from}: {reason}")]
    Migration {
        /// The format found.
        from: u32,
        /// What failed.
        reason: String,
    },
    /// The file's creation never finished (its creator died while initialising it).
    #[error("service file was never fully initialised")]
    NotInitialised,
    /// The header or table is inconsistent.
    #[error("service file is corrupt: {0}")]
    Corrupt(#[from] Corruption),
}

/// Creating a new service file failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CreateError {
    /// The file could not be created, sized or mapped.
    #[error("cannot create service file: {0}")]
    Io(#[from] io::Error),
    /// The options are out of range.
    #[error("invalid service file options: {0}")]
    InvalidOptions(String),
    /// The disk holding the file is full; the half-made file was removed.
    #[error("cannot create service file: the disk is full")]
    DiskFull,
}

/// Reading, writing or looking up a variable failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AccessError {
    /// No live variable has this name.
    #[error("variable '{0}' does not exist")]
    NotFound(String),
    /// The variable this handle named was freed (and its slot possibly reused).
    #[error("variable was deallocated; look it up again")]
    Stale,
    /// The attachment is read-only.
    #[error("the service is attached read-only; writing needs write permission")]
    ReadOnly,
    /// The value is larger than the variable's capacity. Nothing was changed.
    #[error("value of {len} bytes exceeds the variable's capacity of {capacity} bytes")]
    TooLarge {
        /// The value's length.
        len: usize,
        /// The variable's capacity.
        capacity: u32,
    },
    /// The caller's buffer is smaller than the value.
    #[error("buffer of {len} bytes is too small for a value of {needed} bytes")]
    BufferTooSmall {
        /// The buffer's length.
        len: usize,
        /// The value's length.
        needed: usize,
    },
    /// The variable's lock stayed held by a live process (a stopped writer, or a forged lock word) for the whole
    /// wait bound ([`crate::Service::set_wait_bound`]). Nothing was changed.
    #[error("the variable's lock is held by process {holder}, which did not release it within {waited_ms} ms; nothing was written")]
    LockTimeout {
        /// The pid the lock word names.
        holder: u32,
        /// How long the writer waited.
        waited_ms: u64,
    },
    /// [`crate::Service::try_write`] found the variable's lock held and did not wait. Nothing was changed.
    #[error("the variable's lock is held by process {holder}; nothing was written (not waiting)")]
    LockBusy {
        /// The pid the lock word names.
        holder: u32,
    },
    /// Another process took this writer's lock over (it judged this process dead) before the value was published.
    /// The value was not published.
    #[error("another process took the variable's lock over before the value was published; nothing was written")]
    LockLost,
    /// A compare-and-set ([`crate::Service::write_if_version`]) found the variable at another version than the one
    /// expected: another write came first. Nothing was changed.
    #[error("the variable is at version {current}, not the expected {expected}; nothing was written")]
    Conflict {
        /// The version the caller expected.
        expected: u64,
        /// The variable's version when the write was refused.
        current: u64,
    },
    /// The file is inconsistent.
    #[error("service file is corrupt: {0}")]
    Corrupt(#[from] Corruption),
    /// The owner moved the service to a new file (see [`crate::ServiceOwner::relocate`]); this attachment is to the
    /// old one, which nobody reads any more. Nothing was written: attach to the new file (ask the server for it) and
    /// write there.
    #[error("the service moved to a new file; nothing was written to this one")]
    Moved,
    /// A write at a given version ([`crate::Service::write_as_version`]) named a version that is not past the one it
    /// replaces: versions never go back. Nothing was written.
    #[error("version {version} is not past the expected version {expected}; nothing was written")]
    VersionNotAhead {
        /// The version the write replaces.
        expected: u64,
        /// The version it was to publish.
        version: u64,
    },
}

/// Changing the layout (allocate, free, resize, grow) failed. Nothing was changed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LayoutError {
    /// A variable with this name exists already.
    #[error("variable '{0}' already exists")]
    AlreadyExists(String),
    /// No variable has this name.
    #[error("variable '{0}' does not exist")]
    NotFound(String),
    /// The name is empty or longer than 128 bytes.
    #[error("variable name must be 1 to {max} bytes, got {len}", max = crate::layout::MAX_NAME_LEN)]
    BadName {
        /// The name's length.
        len: usize,
    },
    /// The initial value is larger than the capacity.
    #[error("initial value of {len} bytes exceeds the capacity of {capacity} bytes")]
    TooLarge {
        /// The value's length.
        len: usize,
        /// The capacity asked for.
        capacity: u32,
    },
    /// Every table entry is in use.
    #[error("the service already holds its maximum of {max} variables")]
    TableFull {
        /// The table's size.
        max: u32,
    },
    /// Growing the file would pass its maximum size.
    #[error("the service file would need {need} bytes, past its maximum of {max} bytes")]
    OutOfSpace {
        /// The size needed.
        need: u64,
        /// The maximum size.
        max: u64,
    },
    /// The variable's lock stayed held by a live process for the whole wait bound. Nothing was changed.
    #[error("variable '{variable}' is locked by process {holder}, which did not release it within {waited_ms} ms; nothing was changed")]
    LockTimeout {
        /// The variable's name.
        variable: String,
        /// The pid the lock word names.
        holder: u32,
        /// How long the owner waited.
        waited_ms: u64,
    },
    /// The disk holding the file is full: the space a new block or table page needs could not be allocated. Nothing
    /// was changed, and everything already in the file keeps working.
    #[error("the disk is full: {need} more bytes could not be allocated for the service file")]
    DiskFull {
        /// The bytes that were to be allocated.
        need: u64,
    },
    /// Growing the file failed.
    #[error("cannot grow the service file: {0}")]
    Io(#[from] io::Error),
    /// The file is inconsistent.
    #[error("service file is corrupt: {0}")]
    Corrupt(#[from] Corruption),
}

/// Any error of this crate.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// See [`OpenError`].
    #[error(transparent)]
    Open(#[from] OpenError),
    /// See [`CreateError`].
    #[error(transparent)]
    Create(#[from] CreateError),
    /// See [`AccessError`].
    #[error(transparent)]
    Access(#[from] AccessError),
    /// See [`LayoutError`].
    #[error(transparent)]
    Layout(#[from] LayoutError),
}
