//! [`Service`]: an attachment to a service file, from which any process reads, writes and watches variables.

use crate::error::{AccessError, Corruption, OpenError};
use crate::header::{self, Geometry};
use crate::layout::{self, entry as e, header as h};
use crate::lock;
use crate::mapping::{Access, Mapping};
use crate::patience::Patience;
use crate::pending_signal::PendingSignal;
use crate::platform;
use crate::table::{self, EntrySnapshot};
use std::fs::{File, OpenOptions};
use std::os::fd::OwnedFd;
use std::path::Path;
use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long an operation waits, by default, for another process: a variable's lock held by a live writer, or a
/// variable table that stays mid-change. See [`Service::set_wait_bound`].
pub const DEFAULT_WAIT_BOUND: Duration = Duration::from_secs(2);

/// A cheap, cloneable handle to a mapped service file. Every clone shares one mapping.
///
/// Reads are lock-free and never torn; writes take the variable's lock for the time of one copy. Both are safe from
/// any number of threads and processes at once.
#[derive(Debug, Clone)]
pub struct Service {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) map: Mapping,
    pub(crate) geo: Geometry,
    /// [`Service::wait_bound`] in nanoseconds.
    wait_bound_ns: AtomicU64,
    /// Waiter registrations of this attachment's process that learn of its own writes without a wake: see
    /// [`ServiceOwner::hold_in_process_waiter`](crate::ServiceOwner::hold_in_process_waiter).
    pub(crate) in_process_waiters: AtomicU32,
}

/// Whether a write waits for a variable's lock held by another writer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// Up to [`Service::wait_bound`], taking the lock over from a dead holder.
    Bounded,
    /// Not at all.
    Never,
}

/// Names one variable: an index in the table and the incarnation it had when it was looked up. A handle to a
/// variable that was freed reports [`AccessError::Stale`] instead of reaching whatever reused its slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VarHandle {
    pub(crate) index: u32,
    pub(crate) incarnation: u32,
}

impl VarHandle {
    /// The variable's index in the table (stable while it lives; reported by watchers).
    pub fn index(&self) -> u32 {
        self.index
    }
}

/// What the table says about one variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableEntry {
    /// The handle to read and write it with.
    pub handle: VarHandle,
    /// Its name.
    pub name: String,
    /// Its type tag, opaque to this crate.
    pub type_tag: u8,
    /// Whether its value should survive a server restart.
    pub persistent: bool,
    /// Its capacity in bytes.
    pub capacity: u32,
    /// Its current version.
    pub version: u64,
}

/// The result of a read into a caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadInfo {
    /// Bytes of the value, at the start of the buffer.
    pub len: usize,
    /// The version that was read.
    pub version: u64,
}

impl Service {
    /// Attaches to the service file at `path`.
    pub fn open(path: impl AsRef<Path>, access: Access) -> Result<Service, OpenError> {
        let file = OpenOptions::new()
            .read(true)
            .write(access == Access::ReadWrite)
            .open(path)?;
        Service::from_file(file, access)
    }

    /// Attaches to a service file given its descriptor, as received over a Unix socket. A descriptor opened
    /// read-only must be attached with [`Access::ReadOnly`]; mapping it read-write fails.
    pub fn from_fd(fd: OwnedFd, access: Access) -> Result<Service, OpenError> {
        Service::from_file(File::from(fd), access)
    }

    pub(crate) fn from_file(file: File, access: Access) -> Result<Service, OpenError> {
        let service = Service::from_file_of(file, access, false)?;
        if access == Access::ReadWrite {
            service.check_pid_namespace()?;
        }
        Ok(service)
    }

    /// Attaches the owner, which defines the file's pid namespace rather than checking it.
    pub(crate) fn for_owner(file: File) -> Result<Service, OpenError> {
        Service::from_file_of(file, Access::ReadWrite, false)
    }

    /// Attaches read-only to a file of the current or the previous format, for migration (readers use the same
    /// fields in both; only writers' locks moved).
    pub(crate) fn open_any_format(file: File) -> Result<Service, OpenError> {
        Service::from_file_of(file, Access::ReadOnly, true)
    }

    fn from_file_of(file: File, access: Access, accept_previous: bool) -> Result<Service, OpenError> {
        let (geo, len) = header::read_geometry(&file, accept_previous)?;
        let map = Mapping::new(file, access, geo.max_capacity as usize, len as usize)?;
        let service = Service {
            inner: Arc::new(Inner {
                map,
                geo,
                wait_bound_ns: AtomicU64::new(DEFAULT_WAIT_BOUND.as_nanos() as u64),
                in_process_waiters: AtomicU32::new(0),
            }),
        };
        service.validate_table()?;
        Ok(service)
    }

    /// A writer's lock identity means something only in the owner's pid namespace: refuse to write from another.
    fn check_pid_namespace(&self) -> Result<(), OpenError> {
        let file = self.header_u64(h::PID_NAMESPACE).load(Ordering::Relaxed);
        let ours = platform::pid_namespace();
        if file != 0 && ours != 0 && file != ours {
            return Err(OpenError::ForeignPidNamespace { file, ours });
        }
        Ok(())
    }

    /// The format version of the attached file.
    pub(crate) fn format(&self) -> u32 {
        self.inner.geo.format
    }

    fn validate_table(&self) -> Result<(), Corruption> {
        // An odd layout generation means an owner is changing the table, or died doing so. Waiting for it here would
        // hang the open, and keep a restarted owner from ever opening the file to repair it. Every access validates
        // the entries it reads anyway, once the generation is even.
        if self.header_u64(h::LAYOUT_GENERATION).load(Ordering::Acquire) & 1 == 1 {
            return Ok(());
        }
        for index in 0..self.high_water() {
            self.snapshot(index)?;
        }
        Ok(())
    }

    /// Entry `index` (below `max_variables`), read under the layout seqlock within the wait bound.
    pub(crate) fn snapshot(&self, index: u32) -> Result<EntrySnapshot, Corruption> {
        table::snapshot(&self.inner.map, &self.inner.geo, index, self.wait_bound())
    }

    /// How long an operation on this attachment (and its clones) waits for another process before failing: for a
    /// variable's lock held by a live writer (then [`AccessError::LockTimeout`]), or for a variable table that
    /// stays mid-change ([`Corruption::LayoutBusy`]). [`DEFAULT_WAIT_BOUND`] unless set.
    pub fn wait_bound(&self) -> Duration {
        Duration::from_nanos(self.inner.wait_bound_ns.load(Ordering::Relaxed))
    }

    /// Sets [`Service::wait_bound`] for this attachment and every clone of it.
    pub fn set_wait_bound(&self, bound: Duration) {
        let nanos = bound.as_nanos().min(u64::MAX as u128) as u64;
        self.inner.wait_bound_ns.store(nanos, Ordering::Relaxed);
    }

    /// Whether this attachment may write.
    pub fn access(&self) -> Access {
        self.inner.map.access()
    }

    /// The file's current length in bytes.
    pub fn capacity(&self) -> u64 {
        self.header_u64(h::CAPACITY).load(Ordering::Acquire)
    }

    /// The most variables the table can hold.
    pub fn max_variables(&self) -> u32 {
        self.inner.geo.max_variables
    }

    /// Finds a live variable by name.
    pub fn lookup(&self, name: &str) -> Result<VarHandle, AccessError> {
        self.list()?
            .into_iter()
            .find(|v| v.name == name)
            .map(|v| v.handle)
            .ok_or_else(|| AccessError::NotFound(name.to_owned()))
    }

    /// Every live variable, in table order.
    pub fn list(&self) -> Result<Vec<VariableEntry>, AccessError> {
        let mut out = Vec::new();
        for index in 0..self.high_water() {
            let snap = self.snapshot(index)?;
            if snap.live {
                out.push(self.info(index, snap));
            }
        }
        Ok(out)
    }

    /// The live variable at table `index` (as a [`crate::Change`] reports it), or `NotFound` if that entry is free.
    pub fn variable_at(&self, index: u32) -> Result<VariableEntry, AccessError> {
        if index >= self.inner.geo.max_variables {
            return Err(AccessError::NotFound(format!("#{index}")));
        }
        let snap = self.snapshot(index)?;
        if !snap.live {
            return Err(AccessError::NotFound(format!("#{index}")));
        }
        Ok(self.info(index, snap))
    }

    /// What the table says about the variable `var` names now.
    pub fn info_of(&self, var: VarHandle) -> Result<VariableEntry, AccessError> {
        let snap = self.live_snapshot(var)?;
        Ok(self.info(var.index, snap))
    }

    pub(crate) fn live_snapshot(&self, var: VarHandle) -> Result<EntrySnapshot, AccessError> {
        if var.index >= self.inner.geo.max_variables {
            return Err(AccessError::Stale);
        }
        let snap = self.snapshot(var.index)?;
        if !snap.live || snap.incarnation != var.incarnation {
            return Err(AccessError::Stale);
        }
        Ok(snap)
    }

    fn info(&self, index: u32, snap: EntrySnapshot) -> VariableEntry {
        VariableEntry {
            handle: VarHandle {
                index,
                incarnation: snap.incarnation,
            },
            version: self.version_word(index).load(Ordering::Acquire),
            name: snap.name,
            type_tag: snap.type_tag,
            persistent: snap.flags & layout::FLAG_PERSISTENT != 0,
            capacity: snap.capacity,
        }
    }

    /// The variable's current version. It grows by one with every write.
    pub fn version(&self, var: VarHandle) -> Result<u64, AccessError> {
        self.live_snapshot(var)?;
        Ok(self.version_word(var.index).load(Ordering::Acquire))
    }

    /// Reads the variable into a new vector. Returns the bytes and their version.
    pub fn read(&self, var: VarHandle) -> Result<(Vec<u8>, u64), AccessError> {
        let mut buf = vec![0u8; self.live_snapshot(var)?.capacity as usize];
        loop {
            match self.read_into(var, &mut buf) {
                Ok(got) => {
                    buf.truncate(got.len);
                    return Ok((buf, got.version));
                }
                // The owner grew the variable and a longer value landed since the capacity was read: size up, retry.
                Err(AccessError::BufferTooSmall { needed, .. }) => buf.resize(needed, 0),
                Err(other) => return Err(other),
            }
        }
    }

    /// Reads the variable into `buf` without allocating. Never torn: the bytes are exactly one published value.
    ///
    /// This is a seqlock read: copy the active slot with atomic loads, then confirm that neither the variable's
    /// version nor the layout generation moved meanwhile.
    pub fn read_into(&self, var: VarHandle, buf: &mut [u8]) -> Result<ReadInfo, AccessError> {
        if var.index >= self.inner.geo.max_variables {
            return Err(AccessError::Stale);
        }
        let layout_gen = self.header_u64(h::LAYOUT_GENERATION);
        let version = self.version_word(var.index);
        let entry = self.inner.geo.entry(var.index);
        let mut patience = Patience::new(self.wait_bound());
        loop {
            let g1 = layout_gen.load(Ordering::Acquire);
            if g1 & 1 == 1 {
                patience.retry(true)?;
                continue;
            }
            let v1 = version.load(Ordering::Acquire);
            let attempt = self.copy_active(entry, var, v1, buf);
            fence(Ordering::Acquire);
            let stable = version.load(Ordering::Relaxed) == v1 && layout_gen.load(Ordering::Relaxed) == g1;
            if stable {
                return attempt.map(|len| ReadInfo { len, version: v1 });
            }
            patience.retry(false)?;
        }
    }

    /// One attempt at copying the slot that version `v` selects. Its result counts only if the seqlock confirms it.
    fn copy_active(&self, entry: u64, var: VarHandle, v: u64, buf: &mut [u8]) -> Result<usize, AccessError> {
        let map = &self.inner.map;
        let (capacity, block) = self.block_of(entry, var)?;
        let slot = block + (v & 1) * layout::slot_size(capacity);
        let len = map.u64_at(slot).load(Ordering::Relaxed);
        if len > capacity as u64 {
            let reason = format!("slot length {len} exceeds capacity {capacity}");
            return Err(Corruption::Entry {
                index: var.index,
                reason,
            }
            .into());
        }
        let len = len as usize;
        if len > buf.len() {
            return Err(AccessError::BufferTooSmall {
                len: buf.len(),
                needed: len,
            });
        }
        map.copy_out(slot + layout::SLOT_HEADER, &mut buf[..len]);
        Ok(len)
    }

    /// Writes the whole value, or nothing. Returns the new version.
    ///
    /// Takes the variable's lock, fills the inactive slot, publishes it by bumping the version, releases the lock,
    /// then signals watchers (a futex wake only when some watcher sleeps).
    pub fn write(&self, var: VarHandle, data: &[u8]) -> Result<u64, AccessError> {
        self.write_by(0, var, None, None, data, Wait::Bounded, || {})
    }

    /// Writes the whole value as version `version` (not one past the current): only if the variable is still at
    /// version `expected`, else changes nothing and fails with [`AccessError::Conflict`] carrying the current
    /// version. `version` must be past `expected` (else [`AccessError::VersionNotAhead`]). Returns `version`.
    ///
    /// For a server that keeps its file at versions decided elsewhere (a cluster's version of each variable). The
    /// slot a version selects is its parity: a jump to a version of the same parity as the current one first
    /// publishes the value as `version - 1` (the other slot), then as `version`, so that no reader ever copies the
    /// slot being filled. Readers may see the value at `version - 1` for that moment; versions never go back.
    pub fn write_as_version(
        &self,
        var: VarHandle,
        expected: u64,
        version: u64,
        data: &[u8],
    ) -> Result<u64, AccessError> {
        if version <= expected {
            return Err(AccessError::VersionNotAhead { expected, version });
        }
        self.write_by(0, var, Some(expected), Some(version), data, Wait::Bounded, || {})
    }

    /// [`Service::write`] (or, with `expected`, [`Service::write_if_version`]) that does not wait for the variable's
    /// lock: if another writer holds it, fails at once with [`AccessError::LockBusy`] and changes nothing. For callers
    /// that must not block (an async server's worker thread), which then wait elsewhere.
    pub fn try_write(&self, var: VarHandle, expected: Option<u64>, data: &[u8]) -> Result<u64, AccessError> {
        self.write_by(0, var, expected, None, data, Wait::Never, || {})
    }

    /// [`Service::try_write`] that leaves the change signal to the caller: the write is published (readers see it)
    /// but nobody has been woken yet. The caller rings the returned [`PendingSignal`], or drops it, which rings it.
    /// For a server that delivers the change to its own subscribers first, and may then spare its own watcher the
    /// wake ([`PendingSignal::ring_for_others`]).
    pub fn try_write_holding_signal(
        &self,
        var: VarHandle,
        expected: Option<u64>,
        data: &[u8],
    ) -> Result<(u64, PendingSignal<'_>), AccessError> {
        self.write_holding_signal_by(0, var, expected, data)
    }

    /// [`Service::try_write_holding_signal`], recorded as made by `tag` (see [`Service::write_by`]).
    pub(crate) fn write_holding_signal_by(
        &self,
        tag: u64,
        var: VarHandle,
        expected: Option<u64>,
        data: &[u8],
    ) -> Result<(u64, PendingSignal<'_>), AccessError> {
        let version = self.write_quietly(tag, var, expected, None, data, Wait::Never, || {})?;
        Ok((version, PendingSignal::new(self, var.index)))
    }

    /// Compare-and-set: writes the whole value only if the variable's version is still `expected`, else changes
    /// nothing and fails with [`AccessError::Conflict`], which carries the current version. Returns the new version
    /// (`expected + 1`).
    ///
    /// The compare happens under the variable's lock, so it is atomic with respect to every other writer in every
    /// process: of several writers that read version `v` and try to replace it, exactly one succeeds.
    pub fn write_if_version(&self, var: VarHandle, expected: u64, data: &[u8]) -> Result<u64, AccessError> {
        self.write_by(0, var, Some(expected), None, data, Wait::Bounded, || {})
    }

    /// [`Service::write`], calling `mid_write` halfway through the copy while the lock is held. For crash tests.
    #[cfg(feature = "test-hooks")]
    pub fn write_with_hook(&self, var: VarHandle, data: &[u8], mid_write: impl FnOnce()) -> Result<u64, AccessError> {
        self.write_by(0, var, None, None, data, Wait::Bounded, mid_write)
    }

    /// The first byte of this process's mapping of the file. For tests that check that a read-only attachment is
    /// mapped without write permission, by storing through it (the store must fault).
    ///
    /// Any access through the pointer is the caller's responsibility: memory that other processes change
    /// concurrently may only be accessed atomically, and only below [`Service::capacity`].
    #[cfg(feature = "test-hooks")]
    pub fn raw_base_for_test(&self) -> *mut u8 {
        self.inner.map.base()
    }

    /// The write itself, recorded in the last-writer record as made by `tag` in this process (0: no writer group; see
    /// `writer_group.rs`).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn write_by(
        &self,
        tag: u64,
        var: VarHandle,
        expected: Option<u64>,
        publish_as: Option<u64>,
        data: &[u8],
        wait: Wait,
        mid_write: impl FnOnce(),
    ) -> Result<u64, AccessError> {
        let version = self.write_quietly(tag, var, expected, publish_as, data, wait, mid_write)?;
        self.signal_write(var.index);
        Ok(version)
    }

    /// The write of [`Service::write_by`] up to the publish, without the change signal.
    #[allow(clippy::too_many_arguments)]
    fn write_quietly(
        &self,
        tag: u64,
        var: VarHandle,
        expected: Option<u64>,
        publish_as: Option<u64>,
        data: &[u8],
        wait: Wait,
        mid_write: impl FnOnce(),
    ) -> Result<u64, AccessError> {
        if self.access() == Access::ReadOnly {
            return Err(AccessError::ReadOnly);
        }
        if var.index >= self.inner.geo.max_variables {
            return Err(AccessError::Stale);
        }
        let map = &self.inner.map;
        let entry = self.inner.geo.entry(var.index);
        let version = {
            let word = map.u64_at(entry + e::LOCK as u64);
            let guard = match wait {
                Wait::Bounded => lock::acquire(word, platform::current_identity(), self.wait_bound())?,
                Wait::Never => lock::try_acquire(word, platform::current_identity())
                    .map_err(|holder| AccessError::LockBusy { holder })?,
            };
            // Orders the slot stores below after the lock; a reader whose copy sees them also sees any version
            // published before we took the lock (see docs/service-file.md, "Why the seqlock is sound").
            fence(Ordering::Release);
            // While we hold the lock the owner cannot change this entry, so its fields are stable.
            let (capacity, block) = self.block_of(entry, var)?;
            if data.len() > capacity as usize {
                return Err(AccessError::TooLarge {
                    len: data.len(),
                    capacity,
                });
            }
            let word = self.version_word(var.index);
            // Only lock holders store the version, so this is the version the write replaces.
            let current = word.load(Ordering::Relaxed);
            if let Some(expected) = expected.filter(|&expected| expected != current) {
                return Err(AccessError::Conflict { expected, current });
            }
            // Wraps rather than overflows if the file holds a damaged version of u64::MAX; the parity still flips.
            let next = publish_as.unwrap_or_else(|| current.wrapping_add(1));
            let fill = |version: u64| {
                let slot = block + (version & 1) * layout::slot_size(capacity);
                map.copy_in(slot + layout::SLOT_HEADER, data);
                map.u64_at(slot).store(data.len() as u64, Ordering::Relaxed);
            };
            if next & 1 == current & 1 {
                // The slot `next` selects is the one readers copy now: publish through the other one first.
                let between = next.wrapping_sub(1);
                fill(between);
                if !guard.still_held() {
                    return Err(AccessError::LockLost);
                }
                word.store(between, Ordering::Release);
                fill(next);
            } else {
                let slot = block + (next & 1) * layout::slot_size(capacity);
                let (head, tail) = data.split_at((data.len() / 2) & !7);
                map.copy_in(slot + layout::SLOT_HEADER, head);
                mid_write();
                #[cfg(feature = "test-hooks")]
                crate::test_hooks::die_if_marked(data);
                map.copy_in(slot + layout::SLOT_HEADER + head.len() as u64, tail);
                map.u64_at(slot).store(data.len() as u64, Ordering::Relaxed);
            }
            // Publish only while the lock is still ours: a process that judged us dead and took it over may be
            // writing this very slot. (It can only have done so by misjudging a live process; see lock.rs.)
            if !guard.still_held() {
                return Err(AccessError::LockLost);
            }
            crate::change_words::record(self, var.index, crate::change_words::Writer::me(tag), next);
            word.store(next, Ordering::Release);
            next
        };
        Ok(version)
    }

    /// The capacity and checked data block of the entry at `entry`, if it still holds the variable `var` names.
    /// Reads only the fields a copy needs (no name), so the read and write paths never allocate.
    pub(crate) fn block_of(&self, entry: u64, var: VarHandle) -> Result<(u32, u64), AccessError> {
        let map = &self.inner.map;
        let state = map.u32_at(entry + e::STATE as u64).load(Ordering::Relaxed);
        let incarnation = map.u32_at(entry + e::INCARNATION as u64).load(Ordering::Relaxed);
        if state != layout::STATE_LIVE || incarnation != var.incarnation {
            return Err(AccessError::Stale);
        }
        let capacity = map.u32_at(entry + e::CAPACITY as u64).load(Ordering::Relaxed);
        let block = map.u64_at(entry + e::BLOCK_OFFSET as u64).load(Ordering::Relaxed);
        if block < self.inner.geo.heap || !block.is_multiple_of(layout::MIN_BLOCK) {
            let reason = format!("data block offset {block} is not a heap block");
            return Err(Corruption::Entry {
                index: var.index,
                reason,
            }
            .into());
        }
        map.check(block, layout::block_need(capacity))?;
        Ok((capacity, block))
    }

    /// Counts a publish and wakes sleeping watchers, if any. No syscall when nobody watches.
    pub(crate) fn signal_change(&self) {
        let counter = self.inner.map.u32_at(h::CHANGE_COUNTER as u64);
        counter.fetch_add(1, Ordering::SeqCst);
        if self.inner.map.u32_at(h::WAITERS as u64).load(Ordering::SeqCst) > 0 {
            platform::wake_all(counter);
        }
    }

    pub(crate) fn version_word(&self, index: u32) -> &AtomicU64 {
        self.inner.map.u64_at(self.inner.geo.versions + 8 * index as u64)
    }

    pub(crate) fn header_u64(&self, field: usize) -> &AtomicU64 {
        self.inner.map.u64_at(field as u64)
    }

    /// One past the highest table index ever used.
    pub(crate) fn high_water(&self) -> u32 {
        let hw = self.inner.map.u32_at(h::HIGH_WATER as u64).load(Ordering::Acquire);
        hw.min(self.inner.geo.max_variables)
    }
}
