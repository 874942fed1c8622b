//! The Commy service file: one memory-mapped file of named variables that many processes read and write at memory
//! speed.
//!
//! - A [`ServiceOwner`] (the server) creates the file and alone changes its layout: allocate, free, resize, grow.
//!   The whole layout lives in the file, so another process that maps it sees every variable with no other channel.
//! - A [`Service`] is any process's attachment, read-only or read-write, opened from a path or a descriptor.
//!   Reads are lock-free and never torn; writes are all-or-nothing; a writer killed mid-write wedges nothing.
//! - A [`Resolved`] variable (`service.resolve(handle)`) caches where the seqlock's words are: reads and writes
//!   through it allocate, hash and lock nothing else, and it follows layout changes by itself. Its
//!   `wait_for_change` sleeps on the change signal in the caller's own thread.
//! - A [`Watcher`] blocks until something changes and reports exactly which variables did. A write with nobody
//!   watching costs no system call.
//!
//! The byte layout and the protocols are documented in `docs/service-file.md`.
//!
//! ```
//! use commy_shm::{Access, CreateOptions, Service, ServiceOwner, VariableSpec, Watcher};
//! use std::time::Duration;
//!
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("weather.svc");
//! let mut owner = ServiceOwner::create(&path, &CreateOptions::default())?;
//! let spec = VariableSpec { name: "temperature", capacity: 8, type_tag: 0, persistent: false, initial: &[0; 8] };
//! owner.allocate(&spec)?;
//!
//! // Another process would do exactly this, given the path or a descriptor.
//! let client = Service::open(&path, Access::ReadWrite)?;
//! let temperature = client.lookup("temperature")?;
//! let mut watcher = Watcher::new(owner.service());
//! client.write(temperature, &21.5f64.to_le_bytes())?;
//!
//! let changes = watcher.wait(Duration::from_secs(1));
//! assert_eq!(changes[0].name.as_deref(), Some("temperature"));
//! let (bytes, _version) = owner.service().read(temperature)?;
//! assert_eq!(bytes, 21.5f64.to_le_bytes());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Cargo features, both off by default:
//!
//! - `raw-futex`: `raw_futex::FutexWords`, futex words in a shared file with the very wait and wake calls the
//!   change signal makes, so that a benchmark in a crate without unsafe code can measure commy beside the raw futex.
//! - `test-hooks`: pauses a writer mid-write, for this crate's crash tests, and `test_hooks::DIE_MID_WRITE`, which
//!   kills a whole program (a test's `commy serve`) while it holds a variable's lock. Never enable it in production.

mod allocator;
mod change_words;
mod claim;
mod error;
mod header;
mod intent;
mod latest;
pub mod layout;
mod lock;
mod mapping;
mod migrate;
mod multi_wait;
mod owner;
mod patience;
mod pending_signal;
mod placement;
mod platform;
#[cfg(feature = "raw-futex")]
pub mod raw_futex;
mod relocate;
mod resolved;
pub mod scan;
mod service;
mod space;
mod table;
#[cfg(feature = "test-hooks")]
pub mod test_hooks;
mod waiters;
mod watch;
mod wide_copy;
mod writer_group;

pub use error::{AccessError, Corruption, CreateError, Error, LayoutError, OpenError};
pub use latest::Latest;
pub use mapping::Access;
pub use multi_wait::{wait_any, Doorbell, MAX_SIGNALS};
pub use owner::{CreateOptions, ServiceOwner, VariableSpec};
pub use pending_signal::PendingSignal;
pub use relocate::{RelocateError, Relocation, RelocationPlan};
pub use resolved::{Resolved, CHANGE_WORD_POLL};
pub use service::{ReadInfo, Service, VarHandle, VariableEntry, DEFAULT_WAIT_BOUND};
pub use watch::{Change, WaiterPin, Watcher, READ_ONLY_POLL};
pub use writer_group::{GroupWriter, WriterGroup};
