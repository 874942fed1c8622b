//! Relocating a service: copy every live variable (name, type, capacity, value and version) into a fresh file, at
//! the same table entry and incarnation (so every [`VarHandle`](crate::VarHandle) stays valid in the new file), and
//! retire the old one so that no write to it is ever acknowledged again.
//!
//! The server relocates a service when a process that has its file mapped must lose it (its credential was
//! revoked): the new file is a new inode that process never received, and the old one, still mapped by that process,
//! becomes a detached copy that nobody reads.
//!
//! Two passes. The first ([`ServiceOwner::prepare_relocation`]) builds the new file while writers go on. The second
//! ([`Relocation::finish`]) is the freeze: every variable's lock is taken (a writer in the middle of a write finishes
//! first) and held while each value written since the first pass is copied again with its version; then each lock
//! word is set to [`RETIRED`], which no writer takes and nobody takes over. No acknowledged write is lost: a write to
//! the old file either published before the freeze took its variable's lock (and the new file has it), or fails with
//! [`AccessError::Moved`](crate::AccessError::Moved) and was never acknowledged. A lock that
//! a live process holds for the whole wait bound (a stopped or hostile holder) is retired all the same: its holder
//! publishes only while the word still names it, so its write fails with `LockLost`.

use crate::allocator;
use crate::error::CreateError;
use crate::layout::{self, entry as e, header as h};
use crate::lock::{self, LockGuard, RETIRED};
use crate::owner::{CreateOptions, ServiceOwner, VariableSpec};
use crate::platform;
use crate::service::{Service, VarHandle};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

/// Relocating a service failed; the old file is untouched and still in use.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RelocateError {
    /// The new file could not be created.
    #[error("cannot create the new service file: {0}")]
    Create(#[from] CreateError),
    /// A variable could not be read from the old file or written into the new one.
    #[error("cannot copy variable '{variable}' into the new service file: {reason}")]
    Copy {
        /// The variable.
        variable: String,
        /// What went wrong.
        reason: String,
    },
}

/// A relocation under way: the new file, filled with every variable as it was when copied, not yet frozen or
/// retired. [`Relocation::finish`] completes it; dropping it abandons it (the new file is removed, the old one serves
/// on unchanged).
#[derive(Debug)]
pub struct Relocation {
    new: Option<ServiceOwner>,
    path: PathBuf,
    /// Each live variable's handle, capacity and the version copied.
    copied: Vec<(VarHandle, u32, u64)>,
}

impl ServiceOwner {
    /// Moves the service to a new file created at `path` and returns the new file's owner: [`prepare_relocation`]
    /// then [`Relocation::finish`]. See [`Relocation::finish`] for what happens to the old file.
    ///
    /// [`prepare_relocation`]: ServiceOwner::prepare_relocation
    pub fn relocate(&mut self, path: &Path) -> Result<ServiceOwner, RelocateError> {
        self.prepare_relocation(path)?.finish(self)
    }

    /// Creates the new file at `path` and copies every variable into it: [`ServiceOwner::relocation_plan`], then
    /// [`RelocationPlan::prepare`], with the owner borrowed throughout, so that no layout change runs meanwhile.
    pub fn prepare_relocation(&self, path: &Path) -> Result<Relocation, RelocateError> {
        self.relocation_plan().prepare(path)
    }

    /// What a relocation copies: this owner's record of its variables, as it is now. The plan does not borrow the
    /// owner; a layout change (allocate, free, resize) between the plan and [`Relocation::finish`] makes the copy
    /// wrong, so a caller that lets one run meanwhile must notice it and plan again.
    pub fn relocation_plan(&self) -> RelocationPlan {
        RelocationPlan {
            service: self.service().clone(),
            placements: (self.placements().into_iter())
                .map(|(name, handle, capacity)| (name.to_owned(), handle, capacity))
                .collect(),
        }
    }
}

/// A service's variables as its owner recorded them at one moment (see [`ServiceOwner::relocation_plan`]).
#[derive(Debug)]
pub struct RelocationPlan {
    service: Service,
    placements: Vec<(String, VarHandle, u32)>,
}

impl RelocationPlan {
    /// Creates the new file at `path` and copies every variable into it, at the same table entry and incarnation
    /// (free entries keep their incarnation too), with its value and version. Writers of the old file are not held up
    /// meanwhile: what they write after their variable's copy is caught up by [`Relocation::finish`].
    pub fn prepare(self, path: &Path) -> Result<Relocation, RelocateError> {
        let service = self.service;
        let geo = service.inner.geo;
        let options = CreateOptions {
            max_variables: geo.max_variables,
            initial_heap: service.capacity().saturating_sub(geo.heap),
            max_capacity: geo.max_capacity,
        };
        let _ = std::fs::remove_file(path);
        let mut relocation = Relocation {
            new: Some(ServiceOwner::create(path, &options)?),
            path: path.to_owned(),
            copied: Vec::new(),
        };
        let new = relocation.new.as_mut().expect("just created");
        // Every entry keeps its incarnation, also a free one: a stale handle stays stale in the new file.
        for index in 0..service.high_water() {
            let (from, to) = (geo.entry(index), new.service().inner.geo.entry(index));
            let incarnation = service
                .inner
                .map
                .u32_at(from + e::INCARNATION as u64)
                .load(Ordering::Relaxed);
            if incarnation != 0 {
                allocator::reserve(new.service(), to, layout::ENTRY_SIZE as u64).map_err(|err| {
                    RelocateError::Copy {
                        variable: format!("#{index}"),
                        reason: err.to_string(),
                    }
                })?;
                (new.service().inner.map.u32_at(to + e::INCARNATION as u64)).store(incarnation, Ordering::Relaxed);
            }
        }
        for (name, handle, capacity) in self.placements {
            let fail = |reason: String| RelocateError::Copy {
                variable: name.clone(),
                reason,
            };
            let info = service.info_of(handle).map_err(|err| fail(err.to_string()))?;
            let (value, version) = service.read(handle).map_err(|err| fail(err.to_string()))?;
            let spec = VariableSpec {
                name: &name,
                capacity,
                type_tag: info.type_tag,
                persistent: info.persistent,
                initial: &value,
            };
            new.allocate_as(&spec, handle, version)
                .map_err(|err| fail(err.to_string()))?;
            relocation.copied.push((handle, capacity, version));
        }
        Ok(relocation)
    }
}

impl Relocation {
    /// Completes the move from `old` (the owner [`ServiceOwner::prepare_relocation`] was called on, unchanged since)
    /// and returns the new file's owner; `old` then owns a retired file, whose every write fails with
    /// [`AccessError::Moved`](crate::AccessError::Moved). The caller makes the new file the service's (for example
    /// by renaming it over the old path, which unlinks the old inode) and drops `old`.
    ///
    /// The freeze: every variable's lock in the old file is taken (a writer in the middle of a write finishes first)
    /// and held while each value written since its copy is copied again, with its version; then every lock word is
    /// retired. Writers of the old file wait only for this catch-up pass.
    pub fn finish(mut self, old: &mut ServiceOwner) -> Result<ServiceOwner, RelocateError> {
        let service = old.service().clone();
        let geo = service.inner.geo;
        let new = self.new.take().expect("finished once");
        let me = platform::current_identity();
        let mut held: Vec<LockGuard<'_>> = Vec::with_capacity(self.copied.len());
        for (handle, _, _) in &self.copied {
            let word = service.inner.map.u64_at(geo.entry(handle.index) + e::LOCK as u64);
            // A lock a live process holds past the wait bound is retired below without being held: its holder
            // publishes only while the word names it.
            if let Ok(guard) = lock::acquire(word, me, service.wait_bound()) {
                held.push(guard);
            }
        }
        for (handle, capacity, copied) in &self.copied {
            let now = service.version_word(handle.index).load(Ordering::Acquire);
            if now == *copied {
                continue;
            }
            let (value, version) = service.read(*handle).map_err(|err| RelocateError::Copy {
                variable: format!("#{}", handle.index),
                reason: err.to_string(),
            })?;
            publish_at(new.service(), *handle, *capacity, &value, version);
        }
        // Retire every entry ever used, live or not, while the locks are still held: from here on a write to the old
        // file fails at once instead of waiting.
        for index in 0..service.high_water() {
            let word = service.inner.map.u64_at(geo.entry(index) + e::LOCK as u64);
            word.store(RETIRED, Ordering::Release);
        }
        // The guards see a word that no longer names this process and leave it alone.
        drop(held);
        // The change counter carries on in the new file, so that nobody comparing it sees it go back.
        let counter = service
            .inner
            .map
            .u32_at(h::CHANGE_COUNTER as u64)
            .load(Ordering::Relaxed);
        (new.service().inner.map.u32_at(h::CHANGE_COUNTER as u64)).store(counter.wrapping_add(1), Ordering::Relaxed);
        // Wake the old file's watchers, so that a local watcher notices the move without waiting for its next slice.
        service.signal_layout_change();
        Ok(new)
    }
}

impl Drop for Relocation {
    fn drop(&mut self) {
        if self.new.take().is_some() {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Publishes `value` as `version` of the variable at `handle` in a file nobody else writes yet (a relocation's new
/// file): the slot that `version` selects, then its length, then the version.
fn publish_at(new: &Service, handle: VarHandle, capacity: u32, value: &[u8], version: u64) {
    let map = &new.inner.map;
    let Ok(snap) = new.snapshot(handle.index) else {
        return;
    };
    let slot = snap.block + (version & 1) * layout::slot_size(capacity);
    map.copy_in(slot + layout::SLOT_HEADER, value);
    map.u64_at(slot).store(value.len() as u64, Ordering::Relaxed);
    new.version_word(handle.index).store(version, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use crate::{Access, AccessError, CreateOptions, Service, ServiceOwner, VariableSpec};

    #[test]
    fn the_new_file_has_every_value_and_version_and_the_old_one_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        let (old_path, new_path) = (dir.path().join("a.svc"), dir.path().join("b.svc"));
        let mut owner = ServiceOwner::create(&old_path, &CreateOptions::default()).unwrap();
        for (name, value) in [("gone", 0u64), ("x", 1), ("y", 2)] {
            let spec = VariableSpec {
                name,
                capacity: 8,
                type_tag: 3,
                persistent: name == "y",
                initial: &value.to_le_bytes(),
            };
            owner.allocate(&spec).unwrap();
        }
        // A freed entry below the live ones, and a live one past its first incarnation.
        let gone = owner.lookup("gone").unwrap();
        owner.free("gone").unwrap();
        owner.free("y").unwrap();
        let spec = VariableSpec {
            name: "y",
            capacity: 8,
            type_tag: 3,
            persistent: true,
            initial: &2u64.to_le_bytes(),
        };
        owner.allocate(&spec).unwrap();
        let y_handle = owner.lookup("y").unwrap();
        let writer = Service::open(&old_path, Access::ReadWrite).unwrap();
        let x = writer.lookup("x").unwrap();
        for n in 0..5u64 {
            writer.write(x, &(100 + n).to_le_bytes()).unwrap();
        }
        let before = writer.version(x).unwrap();
        let new = owner.relocate(&new_path).unwrap();
        let moved = new.service();
        let (value, version) = moved.read(moved.lookup("x").unwrap()).unwrap();
        assert_eq!((value, version), (104u64.to_le_bytes().to_vec(), before));
        // Handles of the old file are valid in the new one.
        assert_eq!(moved.lookup("x").unwrap(), x);
        assert_eq!(moved.lookup("y").unwrap(), y_handle);
        assert!(moved.lookup("gone").is_err());
        assert_eq!(moved.read(gone), Err(AccessError::Stale), "a stale handle stays stale");
        let y = moved.info_of(moved.lookup("y").unwrap()).unwrap();
        assert!(y.persistent && y.type_tag == 3 && y.capacity == 8);
        assert_eq!(writer.write(x, &[0; 8]), Err(AccessError::Moved));
        assert_eq!(writer.read(x).unwrap().0, 104u64.to_le_bytes());
        // The new file takes writes, and its versions carry on from the old ones.
        assert_eq!(moved.write(moved.lookup("x").unwrap(), &[1; 8]).unwrap(), before + 1);
    }
}
