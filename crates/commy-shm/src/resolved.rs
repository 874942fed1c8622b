//! [`Resolved`]: one variable, resolved once, read and written with nothing but the seqlock's own loads and stores.
//!
//! A [`VarHandle`] names a variable; every read or write through it checks the entry (state, incarnation, block
//! bounds) again. A `Resolved` does that once and caches what the seqlock needs: where the layout generation, the
//! version, the lock and the two slots are, the capacity, and the layout generation it was resolved under. While the
//! file's layout generation still equals that one, the table has not changed since, so the cache is exact; when it
//! moved (this or any other variable allocated, freed or resized), the next access re-resolves from the entry
//! (same index and incarnation) before it goes on, or reports [`AccessError::Stale`] if the variable is gone.
//!
//! Reads and writes through it allocate nothing, take no lock but the variable's own write lock, and hash nothing.
//! The soundness argument is the one in `docs/service-file.md` ("Why the seqlock is sound"): every shared word is
//! accessed atomically, and a copy counts only if the version and the layout generation did not move around it.

use crate::error::{AccessError, Corruption};
use crate::layout::{self, entry as e, header as h};
use crate::lock;
use crate::mapping::{copy_from_words, copy_to_words, Access};
use crate::patience::Patience;
use crate::platform;
use crate::service::{ReadInfo, Service, VarHandle, Wait};
use std::cell::Cell;
use std::ptr::NonNull;
use std::sync::atomic::{fence, AtomicU64, Ordering};

/// A variable resolved once for fast reads and writes: see the module docs. Cheap to clone; one per thread (it is
/// `Send` but not `Sync`: its cache refreshes in place).
#[derive(Debug, Clone)]
pub struct Resolved {
    service: Service,
    var: VarHandle,
    /// The header's layout generation.
    layout_gen: NonNull<AtomicU64>,
    /// The variable's version word.
    version: NonNull<AtomicU64>,
    /// The entry's lock word.
    lock: NonNull<AtomicU64>,
    cache: Cell<Resolution>,
}

// SAFETY: the pointers point into the mapping that `service` (an `Arc` of a `Send + Sync` mapping) keeps alive and in
// place for as long as this value lives, and they are only ever dereferenced as atomics. Nothing here is tied to the
// thread that made it. (`Cell` keeps `Resolved` from being `Sync`, which is what the cache needs.)
unsafe impl Send for Resolved {}

/// What the entry said at one even layout generation.
#[derive(Debug, Clone, Copy)]
struct Resolution {
    layout_gen: u64,
    capacity: u32,
    type_tag: u8,
    /// The length word of each slot; the slot's payload words follow it.
    slots: [NonNull<AtomicU64>; 2],
}

impl Service {
    /// Resolves `var` for fast access: see [`Resolved`].
    pub fn resolve(&self, var: VarHandle) -> Result<Resolved, AccessError> {
        if var.index >= self.inner.geo.max_variables {
            return Err(AccessError::Stale);
        }
        let map = &self.inner.map;
        let entry = self.inner.geo.entry(var.index);
        let resolved = Resolved {
            service: self.clone(),
            var,
            layout_gen: NonNull::from(self.header_u64(h::LAYOUT_GENERATION)),
            version: NonNull::from(self.version_word(var.index)),
            lock: NonNull::from(map.u64_at(entry + e::LOCK as u64)),
            cache: Cell::new(self.resolution(var, &mut Patience::new(self.wait_bound()))?),
        };
        Ok(resolved)
    }

    /// Resolves the live variable called `name`.
    pub fn resolve_name(&self, name: &str) -> Result<Resolved, AccessError> {
        self.resolve(self.lookup(name)?)
    }

    /// Reads `var`'s entry under the layout seqlock and locates its slots.
    #[cold]
    #[inline(never)]
    fn resolution(&self, var: VarHandle, patience: &mut Patience) -> Result<Resolution, AccessError> {
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
            let second = (layout::slot_size(capacity) / 8) as usize;
            return Ok(Resolution {
                layout_gen: g1,
                capacity,
                type_tag,
                slots: [NonNull::from(&words[0]), NonNull::from(&words[second])],
            });
        }
    }
}

impl Resolved {
    /// The handle this was resolved from.
    pub fn handle(&self) -> VarHandle {
        self.var
    }

    /// The service it belongs to.
    pub fn service(&self) -> &Service {
        &self.service
    }

    /// The variable's capacity in bytes, as of the last access (a resize changes it).
    pub fn capacity(&self) -> u32 {
        self.cache.get().capacity
    }

    /// The variable's type tag, opaque to this crate.
    pub fn type_tag(&self) -> u8 {
        self.cache.get().type_tag
    }

    fn word(&self, word: NonNull<AtomicU64>) -> &AtomicU64 {
        // SAFETY: every pointer held here came from a checked accessor of `self.service`'s mapping (a header word, a
        // version word and a lock word of an index below `max_variables`, or a slot inside a block that was checked
        // against the file's length). The mapping stays in place while `self.service` lives and the file never
        // shrinks, so the word is still mapped; shared memory is only accessed atomically.
        unsafe { word.as_ref() }
    }

    /// The `words` payload words that follow the slot length word `slot`.
    fn payload(&self, slot: NonNull<AtomicU64>, words: usize) -> &[AtomicU64] {
        // SAFETY: callers pass `words <= capacity.div_ceil(8)`, and the slot's length word is followed by
        // `round_up8(capacity) / 8` payload words inside the same checked block (see `Resolved::word`), so the slice
        // lies in the mapping; AtomicU64 has the size and alignment of u64.
        unsafe { std::slice::from_raw_parts(slot.as_ptr().add(1), words) }
    }

    /// The cached resolution, refreshed first if the layout generation moved.
    #[inline]
    fn current(&self) -> Result<Resolution, AccessError> {
        let cached = self.cache.get();
        if self.word(self.layout_gen).load(Ordering::Acquire) == cached.layout_gen {
            return Ok(cached);
        }
        self.refresh()
    }

    #[cold]
    #[inline(never)]
    fn refresh(&self) -> Result<Resolution, AccessError> {
        let fresh = self
            .service
            .resolution(self.var, &mut Patience::new(self.service.wait_bound()))?;
        self.cache.set(fresh);
        Ok(fresh)
    }

    /// The variable's current version.
    pub fn version(&self) -> Result<u64, AccessError> {
        self.current()?;
        Ok(self.word(self.version).load(Ordering::Acquire))
    }

    /// Reads the value into `buf` without allocating: exactly one published value, never torn (a seqlock read).
    pub fn read_into(&self, buf: &mut [u8]) -> Result<ReadInfo, AccessError> {
        let layout_gen = self.word(self.layout_gen);
        let version = self.word(self.version);
        let mut patience: Option<Patience> = None;
        loop {
            let r = self.cache.get();
            let g1 = layout_gen.load(Ordering::Acquire);
            if g1 != r.layout_gen {
                self.refresh()?;
                continue;
            }
            let v1 = version.load(Ordering::Acquire);
            let slot = r.slots[(v1 & 1) as usize];
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
                    Err(len) => Err(self.bad_length(len, r.capacity, buf.len())),
                };
            }
            patience
                .get_or_insert_with(|| Patience::new(self.service.wait_bound()))
                .retry(false)?;
        }
    }

    /// Reads the value into a new vector; returns it with its version.
    pub fn read(&self) -> Result<(Vec<u8>, u64), AccessError> {
        let mut buf = vec![0u8; self.current()?.capacity as usize];
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

    #[cold]
    #[inline(never)]
    fn bad_length(&self, len: u64, capacity: u32, buf: usize) -> AccessError {
        if len > capacity as u64 {
            let reason = format!("slot length {len} exceeds capacity {capacity}");
            return Corruption::Entry {
                index: self.var.index,
                reason,
            }
            .into();
        }
        AccessError::BufferTooSmall {
            len: buf,
            needed: len as usize,
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
        let version = self.word(self.version);
        let next = loop {
            let guard = match wait {
                Wait::Bounded => lock::acquire(
                    self.word(self.lock),
                    platform::current_identity(),
                    self.service.wait_bound(),
                )
                .map_err(|t| AccessError::LockTimeout {
                    holder: t.holder,
                    waited_ms: t.waited.as_millis() as u64,
                })?,
                Wait::Never => lock::try_acquire(self.word(self.lock), platform::current_identity())
                    .map_err(|holder| AccessError::LockBusy { holder })?,
            };
            // Orders the slot stores below after the lock (see `Service::write`).
            fence(Ordering::Release);
            let r = self.cache.get();
            if self.word(self.layout_gen).load(Ordering::Acquire) != r.layout_gen {
                // The table changed since the cache was made: look again, without holding the lock.
                drop(guard);
                self.refresh()?;
                continue;
            }
            // The generation is the one the cache was made under and we hold the lock: the entry is as cached.
            if data.len() > r.capacity as usize {
                return Err(too_large(data.len(), r.capacity));
            }
            let current = version.load(Ordering::Relaxed);
            if let Some(expected) = expected.filter(|&expected| expected != current) {
                return Err(AccessError::Conflict { expected, current });
            }
            let next = current.wrapping_add(1);
            let slot = r.slots[(next & 1) as usize];
            copy_to_words(self.payload(slot, data.len().div_ceil(8)), data);
            self.word(slot).store(data.len() as u64, Ordering::Relaxed);
            if !guard.still_held() {
                return Err(AccessError::LockLost);
            }
            version.store(next, Ordering::Release);
            break next;
        };
        self.service.signal_change();
        Ok(next)
    }
}

#[cold]
#[inline(never)]
fn too_large(len: usize, capacity: u32) -> AccessError {
    AccessError::TooLarge { len, capacity }
}
