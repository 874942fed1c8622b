//! [`Resolved`]: one variable, resolved once, read and written with nothing but the seqlock's own loads and stores.
//!
//! A [`VarHandle`] names a variable; every read or write through it checks the entry (state, incarnation, block
//! bounds) again. A `Resolved` does that once and caches what the seqlock needs: where the layout generation, the
//! version, the lock and the two slots are, the capacity, and the layout generation it was resolved under. The cache
//! sits behind a small seqlock of its own in this process, so threads share one `Resolved` and a refresh by one is
//! seen whole by the others. While the
//! file's layout generation still equals that one, the table has not changed since, so the cache is exact; when it
//! moved (this or any other variable allocated, freed or resized), the next access re-resolves from the entry
//! (same index and incarnation) before it goes on, or reports [`AccessError::Stale`] if the variable is gone.
//!
//! Reads and writes through it allocate nothing, take no lock but the variable's own write lock, and hash nothing.
//! The soundness argument is the one in `docs/service-file.md` ("Why the seqlock is sound"): every shared word is
//! accessed atomically, and a copy counts only if the version and the layout generation did not move around it.

use crate::change_words::{self, Writer};
use crate::error::{AccessError, Corruption};
use crate::layout::{self, entry as e, header as h};
use crate::lock;
use crate::mapping::{copy_from_words, copy_to_words, Access};
use crate::patience::Patience;
use crate::platform;
use crate::service::{ReadInfo, Service, VarHandle, Wait};
use std::fmt;
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicPtr, AtomicU64, Ordering};

/// A wait on a change word re-checks the version at least this often: a writer of an earlier release of this crate
/// publishes without touching change words, and is seen within this bound (see docs/service-file.md).
pub const CHANGE_WORD_POLL: Duration = Duration::from_millis(50);

/// The next writer tag; each `Resolved` (and each clone) takes one, so that its waits skip its own writes.
static NEXT_TAG: AtomicU64 = AtomicU64::new(1);

/// A tag's low 32 bits tell the resolutions of one writer group (its high 32 bits, see `writer_group.rs`) apart.
fn next_tag() -> u64 {
    (NEXT_TAG.fetch_add(1, Ordering::Relaxed) & 0xffff_ffff).max(1)
}
use std::time::{Duration, Instant};

/// A variable resolved once for fast reads and writes: see the module docs. `Send` and `Sync`: threads share one,
/// and a clone is cheap.
pub struct Resolved {
    service: Service,
    /// The header's layout generation.
    layout_gen: NonNull<AtomicU64>,
    cache: Cache,
    /// This resolution's writer tag in this process: its writes record it, its waits skip writes that carry it.
    tag: u64,
}

// SAFETY: the pointers (here and in the cache) point into the mapping that `service` (an `Arc` of a `Send + Sync`
// mapping) keeps alive and in place for as long as this value lives, and they are only ever dereferenced as atomics.
// The cache's fields are atomics read and written under its own seqlock. Nothing is tied to one thread.
unsafe impl Send for Resolved {}
// SAFETY: as for `Send`: every access through a shared reference is an atomic load or store.
unsafe impl Sync for Resolved {}

/// What the entry said at one even layout generation: the variable, where its words are, its capacity and type.
#[derive(Debug, Clone, Copy)]
struct Resolution {
    layout_gen: u64,
    var: VarHandle,
    capacity: u32,
    type_tag: u8,
    version: NonNull<AtomicU64>,
    lock: NonNull<AtomicU64>,
    /// The length word of slot 0; its payload words follow it, then slot 1.
    slot0: NonNull<AtomicU64>,
}

impl Resolution {
    /// The length word of the slot that version `v` selects.
    #[inline]
    fn slot(&self, v: u64) -> NonNull<AtomicU64> {
        let words = (v & 1) as usize * (layout::slot_size(self.capacity) / 8) as usize;
        // SAFETY: slot 1 starts `slot_size / 8` words after slot 0, inside the block of `block_need(capacity)` bytes
        // that was checked against the file's length when this resolution was made (`Service::resolution`).
        unsafe { self.slot0.add(words) }
    }
}

/// The latest resolution, shared by every thread using one [`Resolved`]: atomics under a seqlock of their own, so
/// that a refresh by one thread is seen whole by the others.
struct Cache {
    seq: AtomicU64,
    layout_gen: AtomicU64,
    /// Index in the low 32 bits, incarnation in the high ones.
    var: AtomicU64,
    /// Capacity in the low 32 bits, type tag above.
    shape: AtomicU64,
    version: AtomicPtr<AtomicU64>,
    lock: AtomicPtr<AtomicU64>,
    slot0: AtomicPtr<AtomicU64>,
}

impl Cache {
    fn new(r: Resolution) -> Cache {
        Cache {
            seq: AtomicU64::new(0),
            layout_gen: AtomicU64::new(r.layout_gen),
            var: AtomicU64::new(r.var.index as u64 | (r.var.incarnation as u64) << 32),
            shape: AtomicU64::new(r.capacity as u64 | (r.type_tag as u64) << 32),
            version: AtomicPtr::new(r.version.as_ptr()),
            lock: AtomicPtr::new(r.lock.as_ptr()),
            slot0: AtomicPtr::new(r.slot0.as_ptr()),
        }
    }

    /// The resolution last stored, or `None` while another thread is storing one.
    #[inline]
    fn load(&self) -> Option<Resolution> {
        let s1 = self.seq.load(Ordering::Acquire);
        if s1 & 1 == 1 {
            return None;
        }
        let layout_gen = self.layout_gen.load(Ordering::Relaxed);
        let var = self.var.load(Ordering::Relaxed);
        let shape = self.shape.load(Ordering::Relaxed);
        let version = self.version.load(Ordering::Relaxed);
        let lock = self.lock.load(Ordering::Relaxed);
        let slot0 = self.slot0.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        if self.seq.load(Ordering::Relaxed) != s1 {
            return None;
        }
        Some(Resolution {
            layout_gen,
            var: VarHandle {
                index: var as u32,
                incarnation: (var >> 32) as u32,
            },
            capacity: shape as u32,
            type_tag: (shape >> 32) as u8,
            // The pointers were stored non-null (from references) and are read whole.
            version: NonNull::new(version)?,
            lock: NonNull::new(lock)?,
            slot0: NonNull::new(slot0)?,
        })
    }

    /// Stores `r`, unless another thread is storing one right now (then that one wins; both are current).
    fn store(&self, r: &Resolution) {
        let s = self.seq.load(Ordering::Relaxed);
        if s & 1 == 1
            || self
                .seq
                .compare_exchange(s, s + 1, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        fence(Ordering::Release);
        self.layout_gen.store(r.layout_gen, Ordering::Relaxed);
        self.var
            .store(r.var.index as u64 | (r.var.incarnation as u64) << 32, Ordering::Relaxed);
        self.shape
            .store(r.capacity as u64 | (r.type_tag as u64) << 32, Ordering::Relaxed);
        self.version.store(r.version.as_ptr(), Ordering::Relaxed);
        self.lock.store(r.lock.as_ptr(), Ordering::Relaxed);
        self.slot0.store(r.slot0.as_ptr(), Ordering::Relaxed);
        self.seq.store(s + 2, Ordering::Release);
    }
}

impl Service {
    /// Resolves `var` for fast access: see [`Resolved`].
    pub fn resolve(&self, var: VarHandle) -> Result<Resolved, AccessError> {
        self.resolve_in(var, 0)
    }

    /// [`Service::resolve`] for a writer group whose tags' high 32 bits are `group_bits`.
    pub(crate) fn resolve_in(&self, var: VarHandle, group_bits: u64) -> Result<Resolved, AccessError> {
        let resolution = self.resolution(var, &mut Patience::new(self.wait_bound()))?;
        Ok(Resolved {
            service: self.clone(),
            layout_gen: NonNull::from(self.header_u64(h::LAYOUT_GENERATION)),
            cache: Cache::new(resolution),
            tag: group_bits | next_tag(),
        })
    }

    /// Resolves the live variable called `name`.
    pub fn resolve_name(&self, name: &str) -> Result<Resolved, AccessError> {
        self.resolve(self.lookup(name)?)
    }

    /// Reads `var`'s entry under the layout seqlock and locates its words.
    #[cold]
    #[inline(never)]
    fn resolution(&self, var: VarHandle, patience: &mut Patience) -> Result<Resolution, AccessError> {
        if var.index >= self.inner.geo.max_variables {
            return Err(AccessError::Stale);
        }
        let map = &self.inner.map;
        let layout_gen = self.header_u64(h::LAYOUT_GENERATION);
        let entry = self.inner.geo.entry(var.index);
        loop {
            let g1 = layout_gen.load(Ordering::Acquire);
            if g1 & 1 == 1 {
                patience.retry(true)?;
                continue;
            }
            let found = self.block_of(entry, var).map(|(capacity, block)| {
                let packed = map.u32_at(entry + e::TYPE_FLAGS_NAMELEN as u64).load(Ordering::Relaxed);
                (capacity, block, packed.to_le_bytes()[0])
            });
            fence(Ordering::Acquire);
            if layout_gen.load(Ordering::Relaxed) != g1 {
                patience.retry(false)?;
                continue;
            }
            let (capacity, block, type_tag) = found?;
            // `block_of` checked the whole block against the file's length: both slots lie inside the mapping.
            let words = map.u64_slice(block, (layout::block_need(capacity) / 8) as usize);
            return Ok(Resolution {
                layout_gen: g1,
                var,
                capacity,
                type_tag,
                version: NonNull::from(self.version_word(var.index)),
                lock: NonNull::from(map.u64_at(entry + e::LOCK as u64)),
                slot0: NonNull::from(&words[0]),
            });
        }
    }
}

impl Clone for Resolved {
    fn clone(&self) -> Self {
        let current = self.current_or_fresh();
        let cache = match current {
            Ok(r) => Cache::new(r),
            // Whatever the failure, the clone fails the same way on its first access.
            Err(_) => Cache::new(self.cached_or_wait()),
        };
        Resolved {
            service: self.service.clone(),
            layout_gen: self.layout_gen,
            cache,
            // The clone writes in the same group, with a tag of its own.
            tag: (self.tag & !0xffff_ffff) | next_tag(),
        }
    }
}

impl fmt::Debug for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolved")
            .field("var", &self.handle())
            .finish_non_exhaustive()
    }
}

impl Resolved {
    /// The handle of the variable it resolves now.
    pub fn handle(&self) -> VarHandle {
        self.cached_or_wait().var
    }

    /// The service it belongs to.
    pub fn service(&self) -> &Service {
        &self.service
    }

    /// The variable's capacity in bytes, as of the last access (a resize changes it).
    pub fn capacity(&self) -> u32 {
        self.cached_or_wait().capacity
    }

    /// The variable's type tag, opaque to this crate.
    pub fn type_tag(&self) -> u8 {
        self.cached_or_wait().type_tag
    }

    /// Points this resolution at another variable of the same service, for example the one a name was allocated to
    /// again after the variable it named was freed ([`AccessError::Stale`]). Every clone keeps its own target.
    pub fn retarget(&self, var: VarHandle) -> Result<(), AccessError> {
        let fresh = self
            .service
            .resolution(var, &mut Patience::new(self.service.wait_bound()))?;
        self.cache.store(&fresh);
        Ok(())
    }

    fn word(&self, word: NonNull<AtomicU64>) -> &AtomicU64 {
        // SAFETY: every pointer held here came from a checked accessor of `self.service`'s mapping (the header's
        // layout generation; a version word and a lock word of an index below `max_variables`; a slot inside a block
        // that was checked against the file's length). The mapping stays in place while `self.service` lives and the
        // file never shrinks, so the word is still mapped; shared memory is only accessed atomically.
        unsafe { word.as_ref() }
    }

    /// The `words` payload words that follow the slot length word `slot`.
    fn payload(&self, slot: NonNull<AtomicU64>, words: usize) -> &[AtomicU64] {
        // SAFETY: callers pass `words <= capacity.div_ceil(8)` for the resolution the slot came from, and a slot's
        // length word is followed by `round_up8(capacity) / 8` payload words inside the same checked block (see
        // `Resolved::word`), so the slice lies in the mapping; AtomicU64 has the size and alignment of u64.
        unsafe { std::slice::from_raw_parts(slot.as_ptr().add(1), words) }
    }

    /// The cached resolution. While another thread of this process stores a fresh one (a few stores), waits.
    #[inline]
    fn cached_or_wait(&self) -> Resolution {
        loop {
            if let Some(r) = self.cache.load() {
                return r;
            }
            std::hint::spin_loop();
        }
    }

    /// A resolution made at the file's current layout generation: the cached one, or a fresh one (then cached).
    #[inline]
    fn current(&self, cached: Resolution, now: u64) -> Result<Resolution, AccessError> {
        if now == cached.layout_gen {
            return Ok(cached);
        }
        self.refresh(cached.var)
    }

    fn current_or_fresh(&self) -> Result<Resolution, AccessError> {
        let cached = self.cached_or_wait();
        self.current(cached, self.word(self.layout_gen).load(Ordering::Acquire))
    }

    #[cold]
    #[inline(never)]
    fn refresh(&self, var: VarHandle) -> Result<Resolution, AccessError> {
        let fresh = self
            .service
            .resolution(var, &mut Patience::new(self.service.wait_bound()))?;
        self.cache.store(&fresh);
        Ok(fresh)
    }

    /// The variable's current version.
    pub fn version(&self) -> Result<u64, AccessError> {
        let r = self.current_or_fresh()?;
        Ok(self.word(r.version).load(Ordering::Acquire))
    }

    /// Blocks this thread until the variable's version differs from `seen` by a write this resolution did not make
    /// itself, or `timeout` passes; returns the version then (`seen` on a timeout). Writes made through this very
    /// `Resolved` (not a clone) are skipped: the wait goes on from the version they published.
    ///
    /// On a read-write attachment the thread sleeps on the variable's change word (docs/service-file.md, "Change
    /// words"): a write to this variable in any process wakes it directly, one context switch as with a raw futex,
    /// and writes to variables of other groups never do; writers make no system call while nobody sleeps on their
    /// group. It re-checks at least every [`CHANGE_WORD_POLL`]. A read-only attachment cannot mark the word; it
    /// sleeps on the service's change counter and wakes every [`crate::READ_ONLY_POLL`] at the latest (or at once
    /// while any writable watcher, such as the server, is registered).
    pub fn wait_for_change(&self, seen: u64, timeout: Duration) -> Result<u64, AccessError> {
        let deadline = Instant::now() + timeout;
        if self.service.access() == Access::ReadOnly {
            return self.wait_on_counter(seen, deadline);
        }
        let me = Writer::me(self.tag);
        let mut skipped = seen;
        loop {
            let r = self.current_or_fresh()?;
            let word = change_words::word_of(&self.service, r.var.index);
            let armed = change_words::arm(&self.service, word);
            let now_version = self.word(r.version).load(Ordering::Acquire);
            if now_version != skipped {
                if !change_words::made_by(&self.service, r.var.index, now_version, me) {
                    return Ok(now_version);
                }
                // Our own write: wait on from it.
                skipped = now_version;
                continue;
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(seen);
            }
            platform::wait_on(word, armed, (deadline - now).min(CHANGE_WORD_POLL));
        }
    }

    /// The wait of a read-only attachment, on the service's change counter.
    fn wait_on_counter(&self, seen: u64, deadline: Instant) -> Result<u64, AccessError> {
        let counter = self.service.inner.map.u32_at(h::CHANGE_COUNTER as u64);
        loop {
            // The counter before the version: a publish after this load moves it, so the futex will not sleep.
            let before = counter.load(Ordering::SeqCst);
            let now_version = self.version()?;
            if now_version != seen {
                return Ok(now_version);
            }
            let now = Instant::now();
            if now >= deadline {
                return Ok(seen);
            }
            platform::wait_on(counter, before, (deadline - now).min(crate::READ_ONLY_POLL));
        }
    }

    /// Reads the value into `buf` without allocating: exactly one published value, never torn (a seqlock read).
    pub fn read_into(&self, buf: &mut [u8]) -> Result<ReadInfo, AccessError> {
        let layout_gen = self.word(self.layout_gen);
        let mut patience: Option<Patience> = None;
        loop {
            let g1 = layout_gen.load(Ordering::Acquire);
            let r = self.cached_or_wait();
            if g1 != r.layout_gen {
                self.refresh(r.var)?;
                continue;
            }
            let version = self.word(r.version);
            let v1 = version.load(Ordering::Acquire);
            let slot = r.slot(v1);
            let len = self.word(slot).load(Ordering::Relaxed);
            let attempt = if len > r.capacity as u64 || len as usize > buf.len() {
                Err(len)
            } else {
                copy_from_words(self.payload(slot, (len as usize).div_ceil(8)), &mut buf[..len as usize]);
                Ok(len as usize)
            };
            fence(Ordering::Acquire);
            if version.load(Ordering::Relaxed) == v1 && layout_gen.load(Ordering::Relaxed) == g1 {
                return match attempt {
                    Ok(len) => Ok(ReadInfo { len, version: v1 }),
                    Err(len) => Err(bad_length(r, len, buf.len())),
                };
            }
            patience
                .get_or_insert_with(|| Patience::new(self.service.wait_bound()))
                .retry(false)?;
        }
    }

    /// Reads the value into a new vector; returns it with its version.
    pub fn read(&self) -> Result<(Vec<u8>, u64), AccessError> {
        let mut buf = vec![0u8; self.current_or_fresh()?.capacity as usize];
        loop {
            match self.read_into(&mut buf) {
                Ok(got) => {
                    buf.truncate(got.len);
                    return Ok((buf, got.version));
                }
                Err(AccessError::BufferTooSmall { needed, .. }) => buf.resize(needed, 0),
                Err(other) => return Err(other),
            }
        }
    }

    /// Writes the whole value, or nothing; returns the new version. See [`Service::write`].
    pub fn write(&self, data: &[u8]) -> Result<u64, AccessError> {
        self.write_with(None, data, Wait::Bounded)
    }

    /// Compare-and-set: see [`Service::write_if_version`].
    pub fn write_if_version(&self, expected: u64, data: &[u8]) -> Result<u64, AccessError> {
        self.write_with(Some(expected), data, Wait::Bounded)
    }

    /// A write that does not wait for the variable's lock: see [`Service::try_write`].
    pub fn try_write(&self, expected: Option<u64>, data: &[u8]) -> Result<u64, AccessError> {
        self.write_with(expected, data, Wait::Never)
    }

    fn write_with(&self, expected: Option<u64>, data: &[u8], wait: Wait) -> Result<u64, AccessError> {
        if self.service.access() == Access::ReadOnly {
            return Err(AccessError::ReadOnly);
        }
        let layout_gen = self.word(self.layout_gen);
        let (next, index) = loop {
            let r = self.cached_or_wait();
            let lock_word = self.word(r.lock);
            let guard = match wait {
                Wait::Bounded => lock::acquire(lock_word, platform::current_identity(), self.service.wait_bound())?,
                Wait::Never => lock::try_acquire(lock_word, platform::current_identity())
                    .map_err(|holder| AccessError::LockBusy { holder })?,
            };
            // Orders the slot stores below after the lock (see `Service::write`).
            fence(Ordering::Release);
            if layout_gen.load(Ordering::Acquire) != r.layout_gen {
                // The table changed since the resolution was made: look again, without holding the lock.
                drop(guard);
                self.refresh(r.var)?;
                continue;
            }
            // The generation is the one the resolution was made under and we hold the lock: the entry is as
            // resolved (the owner changes an entry only while holding its lock, and the table not at all since).
            if data.len() > r.capacity as usize {
                return Err(too_large(data.len(), r.capacity));
            }
            let version = self.word(r.version);
            let current = version.load(Ordering::Relaxed);
            if let Some(expected) = expected.filter(|&expected| expected != current) {
                return Err(AccessError::Conflict { expected, current });
            }
            let next = current.wrapping_add(1);
            let slot = r.slot(next);
            copy_to_words(self.payload(slot, data.len().div_ceil(8)), data);
            self.word(slot).store(data.len() as u64, Ordering::Relaxed);
            if !guard.still_held() {
                return Err(AccessError::LockLost);
            }
            change_words::record(&self.service, r.var.index, Writer::me(self.tag), next);
            version.store(next, Ordering::Release);
            break (next, r.var.index);
        };
        self.service.signal_write(index);
        Ok(next)
    }
}

#[cold]
#[inline(never)]
fn bad_length(r: Resolution, len: u64, buf: usize) -> AccessError {
    if len > r.capacity as u64 {
        let reason = format!("slot length {len} exceeds capacity {}", r.capacity);
        return Corruption::Entry {
            index: r.var.index,
            reason,
        }
        .into();
    }
    AccessError::BufferTooSmall {
        len: buf,
        needed: len as usize,
    }
}

#[cold]
#[inline(never)]
fn too_large(len: usize, capacity: u32) -> AccessError {
    AccessError::TooLarge { len, capacity }
}
