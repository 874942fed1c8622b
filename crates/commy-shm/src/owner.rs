//! [`ServiceOwner`]: the one process (the server) that creates a service file and changes its layout.
//!
//! Every layout change follows the same protocol: take the entry's writer lock (so no writer is mid-copy in it),
//! make the layout generation odd, change the entry, publish a new version, make the generation even, release the
//! lock, and signal watchers. Readers that overlap a change retry; writers wait for the lock.

use crate::allocator;
use crate::claim;
use crate::error::{AccessError, Corruption, CreateError, LayoutError, OpenError};
use crate::header;
use crate::intent::{self, Intent};
use crate::layout::{self, entry as e, header as h};
use crate::lock::{self, LockGuard};
use crate::migrate;
use crate::placement;
use crate::platform;
use crate::service::{Service, VarHandle};
use crate::space;
use crate::table::EntrySnapshot;
use crate::waiters;
use crate::watch::WaiterPin;
use std::collections::{HashMap, HashSet};
use std::fs::OpenOptions;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;
use std::sync::atomic::{fence, Ordering};

/// Sizes of a new service file.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// Table entries, fixed for the file's life. The table is sparse, so unused entries cost no memory.
    pub max_variables: u32,
    /// Initial heap size in bytes; the file grows past it on demand.
    pub initial_heap: u64,
    /// The most the file may grow to. Every attached process reserves this much address space (not memory).
    pub max_capacity: u64,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            max_variables: 4096,
            initial_heap: 64 * 1024,
            max_capacity: 1 << 30,
        }
    }
}

/// A variable to allocate.
#[derive(Debug, Clone, Copy)]
pub struct VariableSpec<'a> {
    /// Its name, 1 to 128 bytes.
    pub name: &'a str,
    /// Its capacity in bytes.
    pub capacity: u32,
    /// A type tag, stored and returned but not interpreted by this crate.
    pub type_tag: u8,
    /// Whether its value should survive a server restart.
    pub persistent: bool,
    /// Its initial value (at most `capacity` bytes).
    pub initial: &'a [u8],
}

/// The owner of a service file: creates it and alone changes its layout. Also reads and writes like any attachment
/// through [`ServiceOwner::service`].
///
/// The owner trusts nothing it reads from the file after opening it: it keeps its own record of where every live
/// variable is, and refuses to free or resize an entry that no longer matches that record (a read-write peer may
/// have edited it), instead of using offsets the peer chose.
#[derive(Debug)]
pub struct ServiceOwner {
    service: Service,
    names: HashMap<String, Placement>,
    /// The file opened once more, only to hold the owner lock: a description of its own, so that the lock goes
    /// when the owner is dropped, even while clones of its [`Service`] live on (watcher threads, say).
    _owner_lock: std::fs::File,
}

/// Where the owner put a live variable, as the owner itself recorded it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Placement {
    index: u32,
    incarnation: u32,
    block: u64,
    capacity: u32,
}

impl ServiceOwner {
    /// Creates a new service file at `path` (mode 0600; fails if it exists).
    pub fn create(path: impl AsRef<Path>, opts: &CreateOptions) -> Result<ServiceOwner, CreateError> {
        let path = path.as_ref();
        if opts.max_variables == 0 || opts.max_variables > header::MAX_TABLE {
            let msg = format!(
                "max_variables {} is outside 1..={}",
                opts.max_variables,
                header::MAX_TABLE
            );
            return Err(CreateError::InvalidOptions(msg));
        }
        let (versions, table, heap) = layout::regions(opts.max_variables);
        let len = layout::round_up_page(heap + opts.initial_heap.max(4096));
        if opts.max_capacity < len || opts.max_capacity > header::MAX_FILE {
            let msg = format!(
                "max_capacity {} is outside {len}..={}",
                opts.max_capacity,
                header::MAX_FILE
            );
            return Err(CreateError::InvalidOptions(msg));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)?;
        let owner_lock =
            claim::take_owner_lock(path).map_err(|e| CreateError::Io(std::io::Error::other(e.to_string())))?;
        file.set_len(len)?;
        // The header is stored into through every mapping: make it real now (the heap is made real block by block).
        if let Err(err) = space::reserve(&file, 0, layout::HEADER_SIZE as u64) {
            let _ = std::fs::remove_file(path);
            return Err(if space::is_disk_full(&err) {
                CreateError::DiskFull
            } else {
                CreateError::Io(err)
            });
        }
        let mut page = vec![0u8; layout::HEADER_SIZE];
        let mut put = |at: usize, bytes: &[u8]| page[at..at + bytes.len()].copy_from_slice(bytes);
        put(h::MAGIC, &layout::MAGIC);
        put(h::FORMAT_VERSION, &layout::FORMAT_VERSION.to_le_bytes());
        put(h::HEADER_SIZE, &(layout::HEADER_SIZE as u32).to_le_bytes());
        put(h::ENTRY_SIZE, &(layout::ENTRY_SIZE as u32).to_le_bytes());
        put(h::MAX_VARIABLES, &opts.max_variables.to_le_bytes());
        put(h::VERSIONS_OFFSET, &versions.to_le_bytes());
        put(h::TABLE_OFFSET, &table.to_le_bytes());
        put(h::HEAP_OFFSET, &heap.to_le_bytes());
        put(h::CAPACITY, &len.to_le_bytes());
        put(h::MAX_CAPACITY, &opts.max_capacity.to_le_bytes());
        put(h::HEAP_TOP, &heap.to_le_bytes());
        put(h::BOOT_ID, &platform::boot_id().to_le_bytes());
        put(h::PID_NAMESPACE, &platform::pid_namespace().to_le_bytes());
        file.write_all_at(&page, 0)?;
        // The "initialised" word goes last, after everything else is on the file; then the file and its name are
        // made durable, so that a crash never leaves metadata naming a file that is not there.
        file.write_all_at(&layout::INITIALISED.to_le_bytes(), h::INITIALISED as u64)?;
        file.sync_all()?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::File::open(dir)?.sync_all()?;
        }
        let service = Service::for_owner(file).map_err(|err| match err {
            OpenError::Io(io) => CreateError::Io(io),
            other => CreateError::InvalidOptions(other.to_string()),
        })?;
        Ok(ServiceOwner {
            service,
            _owner_lock: owner_lock,
            names: HashMap::new(),
        })
    }

    /// Reopens an existing service file as its owner (after a restart). Repairs a layout change that a crashed
    /// owner left half done, frees locks that no process of this boot and pid namespace can hold, and migrates a
    /// file of the previous format (see `docs/service-file.md`, "Migration"). Fails with
    /// [`OpenError::OwnedElsewhere`] while another owner has it open.
    pub fn open(path: impl AsRef<Path>) -> Result<ServiceOwner, OpenError> {
        let path = path.as_ref();
        let file = OpenOptions::new().read(true).write(true).open(path)?;
        let owner_lock = claim::take_owner_lock(path)?;
        if claim::format_of(&file)? == layout::PREVIOUS_FORMAT_VERSION {
            return migrate::from_previous(path, file);
        }
        let service = Service::for_owner(file)?;
        claim::claim(&service);
        // Files written before blocks were made real one by one may have holes in handed-out space. Best effort: a
        // full disk here leaves them as they were, and the next open tries again.
        let real_len = service.inner.map.file().metadata()?.len();
        let top = service.header_u64(h::HEAP_TOP).load(Ordering::Relaxed).min(real_len);
        let _ = space::reserve(service.inner.map.file(), 0, layout::HEADER_SIZE as u64);
        let heap = service.inner.geo.heap;
        let _ = space::reserve(service.inner.map.file(), heap, top.saturating_sub(heap));
        intent::recover(&service);
        waiters::sweep(&service);
        let layout_gen = service.header_u64(h::LAYOUT_GENERATION);
        if layout_gen.load(Ordering::Acquire) & 1 == 1 {
            layout_gen.fetch_add(1, Ordering::Release);
        }
        let mut names = HashMap::new();
        for index in 0..service.high_water() {
            let snap = service.snapshot(index)?;
            if snap.live {
                let placement = Placement {
                    index,
                    incarnation: snap.incarnation,
                    block: snap.block,
                    capacity: snap.capacity,
                };
                if names.insert(snap.name.clone(), placement).is_some() {
                    let reason = format!("a second live variable is named '{}'", snap.name);
                    return Err(Corruption::Entry { index, reason }.into());
                }
            }
        }
        service
            .inner
            .map
            .u32_at(h::VARIABLE_COUNT as u64)
            .store(names.len() as u32, Ordering::Relaxed);
        Ok(ServiceOwner {
            service,
            names,
            _owner_lock: owner_lock,
        })
    }

    /// Every live variable as the owner recorded it (its handle and capacity), in table order.
    pub(crate) fn placements(&self) -> Vec<(&str, VarHandle, u32)> {
        let mut out: Vec<_> = (self.names.iter())
            .map(|(name, p)| {
                let handle = VarHandle {
                    index: p.index,
                    incarnation: p.incarnation,
                };
                (name.as_str(), handle, p.capacity)
            })
            .collect();
        out.sort_by_key(|(_, handle, _)| handle.index);
        out
    }

    /// The attachment through which the owner reads, writes and watches.
    pub fn service(&self) -> &Service {
        &self.service
    }

    /// Takes back the waiter registrations of processes that died while watching (a killed watcher), so that
    /// writers stop paying a futex wake for them. Registrations also sweep, at most once a second per process, and
    /// so does the owner's open. Returns how many it took back.
    pub fn sweep_waiters(&self) -> usize {
        waiters::sweep(&self.service)
    }

    /// Keeps the waiter count raised for as long as the pin lives, so that read-only watchers are woken at once.
    pub fn hold_waiter(&self) -> WaiterPin {
        WaiterPin::new(&self.service)
    }

    /// [`hold_waiter`](ServiceOwner::hold_waiter) for a sleeper of this process that learns of the process's own
    /// writes without being woken (a server's watcher thread, whose pushes the writing request makes itself): writes
    /// that ring [`PendingSignal::ring_for_others`](crate::PendingSignal::ring_for_others) skip the futex wake while
    /// such sleepers are the only ones registered.
    pub fn hold_in_process_waiter(&self) -> WaiterPin {
        WaiterPin::new_in_process(&self.service)
    }

    /// Looks a variable up by name through the owner's index (no table scan).
    pub fn lookup(&self, name: &str) -> Result<VarHandle, AccessError> {
        let placement = self
            .names
            .get(name)
            .ok_or_else(|| AccessError::NotFound(name.to_owned()))?;
        Ok(VarHandle {
            index: placement.index,
            incarnation: placement.incarnation,
        })
    }

    /// Allocates a variable and publishes its initial value.
    pub fn allocate(&mut self, spec: &VariableSpec<'_>) -> Result<VarHandle, LayoutError> {
        self.allocate_inner(spec, None, None)
    }

    /// Allocates a variable and publishes its initial value as `version` (instead of one past the entry's last
    /// version). For a file recreated or migrated from an older one: versions must never go backwards in a
    /// variable's life, since clients compare them.
    pub fn allocate_with_version(&mut self, spec: &VariableSpec<'_>, version: u64) -> Result<VarHandle, LayoutError> {
        self.allocate_inner(spec, Some(version), None)
    }

    /// Allocates a variable at the table entry and incarnation `handle` names, publishing its value as `version`: a
    /// relocated or migrated file keeps every handle valid. The entry must be free and never used in this file.
    pub(crate) fn allocate_as(
        &mut self,
        spec: &VariableSpec<'_>,
        handle: VarHandle,
        version: u64,
    ) -> Result<VarHandle, LayoutError> {
        self.allocate_inner(spec, Some(version), Some(handle))
    }

    fn allocate_inner(
        &mut self,
        spec: &VariableSpec<'_>,
        version: Option<u64>,
        at: Option<VarHandle>,
    ) -> Result<VarHandle, LayoutError> {
        if spec.name.is_empty() || spec.name.len() > layout::MAX_NAME_LEN {
            return Err(LayoutError::BadName { len: spec.name.len() });
        }
        if self.names.contains_key(spec.name) {
            return Err(LayoutError::AlreadyExists(spec.name.to_owned()));
        }
        if spec.initial.len() > spec.capacity as usize {
            return Err(LayoutError::TooLarge {
                len: spec.initial.len(),
                capacity: spec.capacity,
            });
        }
        let index = match at {
            Some(handle) if handle.index < self.service.inner.geo.max_variables => {
                // Publishing adds one to the entry's incarnation.
                let entry = self.service.inner.geo.entry(handle.index);
                allocator::reserve(&self.service, entry, layout::ENTRY_SIZE as u64)?;
                (self.service.inner.map.u32_at(entry + e::INCARNATION as u64))
                    .store(handle.incarnation.wrapping_sub(1), Ordering::Relaxed);
                handle.index
            }
            Some(_) => {
                return Err(LayoutError::TableFull {
                    max: self.service.inner.geo.max_variables,
                })
            }
            None => self.free_index()?,
        };
        let block = allocator::alloc(&self.service, layout::block_need(spec.capacity))?;
        let handle = match self.publish_entry(index, spec, block, version) {
            Ok(handle) => handle,
            Err(err) => {
                allocator::free(&self.service, block, layout::block_need(spec.capacity))?;
                return Err(err);
            }
        };
        let placement = Placement {
            index,
            incarnation: handle.incarnation,
            block,
            capacity: spec.capacity,
        };
        self.names.insert(spec.name.to_owned(), placement);
        Ok(handle)
    }

    /// Frees a variable. Handles to it report [`AccessError::Stale`] from now on; watchers see it change.
    pub fn free(&mut self, name: &str) -> Result<(), LayoutError> {
        let placement = self.placement(name)?;
        let map = &self.service.inner.map;
        let entry = self.service.inner.geo.entry(placement.index);
        {
            let _guard = self.lock_entry(name, placement.index)?;
            self.check_entry(name, placement)?;
            let word = self.service.version_word(placement.index);
            let intent = Intent {
                op: intent::Op::Free,
                index: placement.index,
                block: 0,
                capacity: 0,
                incarnation: placement.incarnation.wrapping_add(1),
                version: word.load(Ordering::Relaxed).wrapping_add(1),
                old_block: placement.block,
                old_capacity: placement.capacity,
            };
            intent::record(&self.service, &intent);
            self.change_layout(|| {
                map.u32_at(entry + e::STATE as u64)
                    .store(layout::STATE_FREE, Ordering::Relaxed);
                crash_point("free");
                map.u32_at(entry + e::INCARNATION as u64)
                    .store(intent.incarnation, Ordering::Relaxed);
                word.store(intent.version, Ordering::Release);
            });
            intent::clear(&self.service);
        }
        self.names.remove(name);
        let count = map.u32_at(h::VARIABLE_COUNT as u64);
        let _ = count.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
        allocator::free(&self.service, placement.block, layout::block_need(placement.capacity))?;
        self.service.signal_layout_change();
        Ok(())
    }

    /// Gives a variable a new capacity, keeping its value (which must fit). Returns its (unchanged) handle.
    pub fn resize(&mut self, name: &str, capacity: u32) -> Result<VarHandle, LayoutError> {
        let placement = self.placement(name)?;
        let map = &self.service.inner.map;
        let entry = self.service.inner.geo.entry(placement.index);
        let new_block = allocator::alloc(&self.service, layout::block_need(capacity))?;
        let moved = self.lock_entry(name, placement.index).and_then(|guard| {
            self.check_entry(name, placement)?;
            let word = self.service.version_word(placement.index);
            let version = word.load(Ordering::Relaxed);
            let old_slot = placement.block + (version & 1) * layout::slot_size(placement.capacity);
            let len = map
                .u64_at(old_slot)
                .load(Ordering::Relaxed)
                .min(placement.capacity as u64) as usize;
            if len > capacity as usize {
                return Err(LayoutError::TooLarge { len, capacity });
            }
            let mut value = vec![0u8; len];
            map.copy_out(old_slot + layout::SLOT_HEADER, &mut value);
            // Versions come from the file, where a damaged one may be u64::MAX: wrap rather than overflow.
            let next = version.wrapping_add(1);
            let new_slot = new_block + (next & 1) * layout::slot_size(capacity);
            map.copy_in(new_slot + layout::SLOT_HEADER, &value);
            map.u64_at(new_slot).store(len as u64, Ordering::Relaxed);
            let intent = Intent {
                op: intent::Op::Resize,
                index: placement.index,
                block: new_block,
                capacity,
                incarnation: placement.incarnation,
                version: next,
                old_block: placement.block,
                old_capacity: placement.capacity,
            };
            intent::record(&self.service, &intent);
            self.change_layout(|| {
                map.u32_at(entry + e::CAPACITY as u64)
                    .store(capacity, Ordering::Relaxed);
                crash_point("resize");
                map.u64_at(entry + e::BLOCK_OFFSET as u64)
                    .store(new_block, Ordering::Relaxed);
                word.store(next, Ordering::Release);
            });
            intent::clear(&self.service);
            drop(guard);
            Ok(())
        });
        if let Err(err) = moved {
            allocator::free(&self.service, new_block, layout::block_need(capacity))?;
            return Err(err);
        }
        allocator::free(&self.service, placement.block, layout::block_need(placement.capacity))?;
        if let Some(p) = self.names.get_mut(name) {
            p.block = new_block;
            p.capacity = capacity;
        }
        self.service.signal_layout_change();
        Ok(VarHandle {
            index: placement.index,
            incarnation: placement.incarnation,
        })
    }

    /// Grows the file to at least `len` bytes. Processes that have it mapped keep working and see the new space.
    pub fn grow(&mut self, len: u64) -> Result<(), LayoutError> {
        allocator::grow_to(&self.service, len)
    }

    /// Number of live variables.
    pub fn variable_count(&self) -> usize {
        self.names.len()
    }

    /// The entry for a new variable, as `placement::choose` prefers it: a version cache line to itself if it can.
    fn free_index(&self) -> Result<u32, LayoutError> {
        let map = &self.service.inner.map;
        let geo = &self.service.inner.geo;
        // The owner's own record says which entries are live; the file's state words only say which free ones it may
        // reuse (a peer that marks a live entry free must not make the owner hand it out twice).
        let live: HashSet<u32> = self.names.values().map(|p| p.index).collect();
        let reusable = |index: u32| {
            !live.contains(&index)
                && map.u32_at(geo.entry(index) + e::STATE as u64).load(Ordering::Relaxed) == layout::STATE_FREE
        };
        placement::choose(
            geo.max_variables,
            self.service.high_water(),
            live.iter().copied(),
            reusable,
        )
        .ok_or(LayoutError::TableFull { max: geo.max_variables })
    }

    fn placement(&self, name: &str) -> Result<Placement, LayoutError> {
        self.names
            .get(name)
            .copied()
            .ok_or_else(|| LayoutError::NotFound(name.to_owned()))
    }

    /// Takes entry `index`'s writer lock within the wait bound.
    fn lock_entry(&self, name: &str, index: u32) -> Result<LockGuard<'_>, LayoutError> {
        let word = self
            .service
            .inner
            .map
            .u64_at(self.service.inner.geo.entry(index) + e::LOCK as u64);
        lock::acquire(word, platform::current_identity(), self.service.wait_bound()).map_err(|t| {
            LayoutError::LockTimeout {
                variable: name.to_owned(),
                holder: t.holder,
                waited_ms: t.waited.as_millis() as u64,
            }
        })
    }

    /// Checks, under the entry's lock, that the file still says what the owner recorded: a live entry of the
    /// recorded incarnation, block and capacity. Anything else was written by someone else, and none of it is used.
    fn check_entry(&self, name: &str, placement: Placement) -> Result<(), LayoutError> {
        let snap: EntrySnapshot = self.service.snapshot(placement.index)?;
        let found = (
            snap.live,
            snap.incarnation,
            snap.block,
            snap.capacity,
            snap.name.as_str(),
        );
        let recorded = (true, placement.incarnation, placement.block, placement.capacity, name);
        if found == recorded {
            return Ok(());
        }
        let reason = format!(
            "changed behind the owner's back: (live, incarnation, block, capacity, name) is {found:?}, the owner recorded {recorded:?}"
        );
        Err(Corruption::Entry {
            index: placement.index,
            reason,
        }
        .into())
    }

    /// Fills entry `index` and publishes the initial value, under the entry lock and an odd layout generation.
    fn publish_entry(
        &self,
        index: u32,
        spec: &VariableSpec<'_>,
        block: u64,
        version: Option<u64>,
    ) -> Result<VarHandle, LayoutError> {
        let map = &self.service.inner.map;
        let entry = self.service.inner.geo.entry(index);
        // The entry's table page and its version word's page may still be holes: make them real before storing.
        allocator::reserve(&self.service, entry, layout::ENTRY_SIZE as u64)?;
        allocator::reserve(&self.service, self.service.inner.geo.versions + 8 * index as u64, 8)?;
        let guard = self.lock_entry(spec.name, index)?;
        let word = self.service.version_word(index);
        let next = version.unwrap_or_else(|| word.load(Ordering::Relaxed).wrapping_add(1));
        let slot = block + (next & 1) * layout::slot_size(spec.capacity);
        map.copy_in(slot + layout::SLOT_HEADER, spec.initial);
        map.u64_at(slot).store(spec.initial.len() as u64, Ordering::Relaxed);
        let incarnation = map
            .u32_at(entry + e::INCARNATION as u64)
            .load(Ordering::Relaxed)
            .wrapping_add(1);
        let flags = if spec.persistent { layout::FLAG_PERSISTENT } else { 0 };
        let packed = u32::from_le_bytes([spec.type_tag, flags, spec.name.len() as u8, 0]);
        let intent = Intent {
            op: intent::Op::Allocate,
            index,
            block,
            capacity: spec.capacity,
            incarnation,
            version: next,
            old_block: 0,
            old_capacity: 0,
        };
        intent::record(&self.service, &intent);
        self.change_layout(|| {
            let mut name = [0u8; layout::MAX_NAME_LEN];
            name[..spec.name.len()].copy_from_slice(spec.name.as_bytes());
            map.copy_in(entry + e::NAME as u64, &name);
            map.u32_at(entry + e::TYPE_FLAGS_NAMELEN as u64)
                .store(packed, Ordering::Relaxed);
            map.u32_at(entry + e::CAPACITY as u64)
                .store(spec.capacity, Ordering::Relaxed);
            crash_point("allocate");
            map.u64_at(entry + e::BLOCK_OFFSET as u64)
                .store(block, Ordering::Relaxed);
            map.u32_at(entry + e::INCARNATION as u64)
                .store(incarnation, Ordering::Relaxed);
            map.u32_at(entry + e::STATE as u64)
                .store(layout::STATE_LIVE, Ordering::Relaxed);
            word.store(next, Ordering::Release);
        });
        intent::clear(&self.service);
        map.u32_at(h::HIGH_WATER as u64).fetch_max(index + 1, Ordering::Release);
        map.u32_at(h::VARIABLE_COUNT as u64).fetch_add(1, Ordering::Relaxed);
        drop(guard);
        self.service.signal_layout_change();
        Ok(VarHandle { index, incarnation })
    }

    /// Runs `change` with the layout generation odd, so that readers overlapping it retry. The generation is set,
    /// not incremented, so that a peer that forged it odd cannot make a change look even.
    fn change_layout(&self, change: impl FnOnce()) {
        let layout_gen = self.service.header_u64(h::LAYOUT_GENERATION);
        let odd = layout_gen.load(Ordering::Relaxed) | 1;
        layout_gen.store(odd, Ordering::Relaxed);
        fence(Ordering::Release);
        change();
        layout_gen.store(odd.wrapping_add(1), Ordering::Release);
    }
}

/// For crash tests: with the `test-hooks` feature, an owner whose environment has `COMMY_SHM_CRASH_AT=<point>`
/// kills itself with SIGKILL at that point in the middle of a layout change (`allocate`, `free` or `resize`).
#[cfg(feature = "test-hooks")]
fn crash_point(point: &str) {
    if std::env::var("COMMY_SHM_CRASH_AT").is_ok_and(|p| p == point) {
        let _ = rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
}

#[cfg(not(feature = "test-hooks"))]
#[inline(always)]
fn crash_point(_point: &str) {}
