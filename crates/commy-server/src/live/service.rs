//! [`LiveService`]: one loaded service file and the operations the protocol performs on it.

use super::error::LiveError;
use super::fanout::Fanout;
use super::watch_pool::WatchPool;
use crate::live::PushSink;
use crate::store::ServiceRecord;
use commy_proto::ValueType;
use commy_shm::{AccessError, LayoutError, Service, ServiceOwner, VarHandle, VariableSpec};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The next service key: unique among the services this process ever loads, never reused.
static NEXT_KEY: AtomicU64 = AtomicU64::new(1);

/// A variable's value as read.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredValue {
    /// The raw bytes.
    pub data: Vec<u8>,
    /// Their version.
    pub version: u64,
    /// The variable's type.
    pub value_type: ValueType,
}

/// What the table says about a variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableMeta {
    /// Its name.
    pub name: String,
    /// Its type.
    pub value_type: ValueType,
    /// Its capacity in bytes.
    pub capacity: u32,
    /// Current length of its value in bytes.
    pub len: u32,
    /// Current version.
    pub version: u64,
    /// Whether it survives a restart.
    pub persistent: bool,
}

/// A service file owned by this server.
#[derive(Debug)]
pub struct LiveService {
    service_id: String,
    tenant_id: String,
    name: String,
    path: PathBuf,
    owner: Mutex<ServiceOwner>,
    /// The current file's attachment. A move (see `relocate.rs`) replaces it under the write lock; reads, writes and
    /// descriptor opens hold the read lock, so none of them straddles a move.
    service: RwLock<Service>,
    fanout: RwLock<Fanout>,
    /// The key of the service's changes in outboxes (unique in this process; kept across a move, whose table indexes
    /// are the same).
    key: u64,
    /// The watcher threads, for the fan-out of a new file after a move.
    pool: Arc<WatchPool>,
    /// Counts the owner's layout changes (allocate, free), each counted while the owner is still locked: a move
    /// compares it around its first copy, which runs with the owner unlocked.
    layout_changes: AtomicU64,
    /// Set, under the owner's lock, when the service is deleted: a move in progress then leaves no file behind.
    deleted: std::sync::atomic::AtomicBool,
}

impl LiveService {
    pub(crate) fn new(record: &ServiceRecord, path: PathBuf, owner: ServiceOwner, pool: Arc<WatchPool>) -> Self {
        let service = owner.service().clone();
        let key = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
        let fanout = Fanout::new(key, record.service_id.clone(), service.clone(), pool.clone());
        LiveService {
            service_id: record.service_id.clone(),
            tenant_id: record.tenant_id.clone(),
            name: record.service_name.clone(),
            path,
            owner: Mutex::new(owner),
            service: RwLock::new(service),
            fanout: RwLock::new(fanout),
            key,
            pool,
            layout_changes: AtomicU64::new(0),
            deleted: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The service's id.
    pub fn id(&self) -> &str {
        &self.service_id
    }

    /// The tenant it belongs to.
    pub fn tenant_id(&self) -> &str {
        &self.tenant_id
    }

    /// Its name inside the tenant.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The service file's path (under the server's private data directory).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Counts one sleeper in the file's waiter count for as long as the pin lives, so that every write wakes the
    /// file's watchers. The local socket holds one for each read-only client that watches: such a client cannot
    /// write the count itself.
    pub fn hold_waiter(&self) -> commy_shm::WaiterPin {
        self.owner().hold_waiter()
    }

    /// The most variables the service's file can hold: its table's size, fixed when the file was made.
    pub fn max_variables(&self) -> u32 {
        self.owner().service().max_variables()
    }

    /// The key of the service's changes in outboxes.
    pub(super) fn key(&self) -> u64 {
        self.key
    }

    /// A fan-out for `service`, the service's new file after a move, with the same change key.
    pub(super) fn new_fanout(&self, service: Service) -> Fanout {
        Fanout::new(self.key, self.service_id.clone(), service, self.pool.clone())
    }

    /// Number of variables, from the owner's index (no table scan).
    pub fn variable_count(&self) -> usize {
        self.owner().variable_count()
    }

    pub(super) fn owner(&self) -> MutexGuard<'_, ServiceOwner> {
        self.owner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The current file's attachment, held so that no move replaces it meanwhile.
    /// Marks the service deleted, waiting for a move in progress to finish or to notice (see `relocate.rs`).
    pub(super) fn mark_deleted(&self) {
        let _owner = self.owner();
        self.deleted.store(true, Ordering::Release);
    }

    /// Whether the service was deleted (checked under the owner's lock).
    pub(super) fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Acquire)
    }

    /// How many layout changes the owner has made (see `relocate.rs`).
    pub(super) fn layout_changes(&self) -> u64 {
        self.layout_changes.load(Ordering::Acquire)
    }

    /// The owner, for a layout change: counted before the lock is released.
    fn owner_changing(&self) -> LayoutChange<'_> {
        LayoutChange {
            owner: self.owner(),
            changes: &self.layout_changes,
        }
    }

    pub(super) fn file(&self) -> RwLockReadGuard<'_, Service> {
        self.service.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn file_mut(&self) -> RwLockWriteGuard<'_, Service> {
        self.service.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn fanout(&self) -> RwLockReadGuard<'_, Fanout> {
        self.fanout.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn fanout_mut(&self) -> RwLockWriteGuard<'_, Fanout> {
        self.fanout.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Allocates a variable with its initial value.
    pub fn allocate(
        &self,
        name: &str,
        value_type: ValueType,
        capacity: u32,
        persistent: bool,
        initial: &[u8],
    ) -> Result<StoredValue, LiveError> {
        let spec = VariableSpec {
            name,
            capacity,
            type_tag: value_type.as_tag(),
            persistent,
            initial,
        };
        let handle = self
            .owner_changing()
            .allocate(&spec)
            .map_err(|err| self.layout_error(name, err))?;
        self.read_handle(name, handle)
    }

    /// Allocates a variable of a recreated file, publishing its initial value as `version` (see `startup`).
    pub(crate) fn allocate_at_version(
        &self,
        record: &crate::store::VariableRecord,
        version: u64,
    ) -> Result<(), LiveError> {
        let spec = VariableSpec {
            name: &record.variable_name,
            capacity: record.capacity,
            type_tag: record.type_tag,
            persistent: record.persistent,
            initial: &record.initial_data,
        };
        self.owner_changing()
            .allocate_with_version(&spec, version)
            .map(drop)
            .map_err(|err| self.layout_error(&record.variable_name, err))
    }

    /// Frees a variable.
    pub fn deallocate(&self, name: &str) -> Result<(), LiveError> {
        self.owner_changing()
            .free(name)
            .map_err(|err| self.layout_error(name, err))
    }

    /// The handle, type and capacity of a variable: what a write needs, without reading the value.
    pub fn target(&self, name: &str) -> Result<(VarHandle, ValueType, u32), LiveError> {
        let handle = self.owner().lookup(name).map_err(|err| self.access_error(name, err))?;
        let info = self
            .file()
            .info_of(handle)
            .map_err(|err| self.access_error(name, err))?;
        Ok((
            handle,
            ValueType::from_tag(info.type_tag).unwrap_or_default(),
            info.capacity,
        ))
    }

    /// The handle and metadata of a variable.
    pub fn meta(&self, name: &str) -> Result<(VarHandle, VariableMeta), LiveError> {
        let handle = self.owner().lookup(name).map_err(|err| self.access_error(name, err))?;
        let info = self
            .file()
            .info_of(handle)
            .map_err(|err| self.access_error(name, err))?;
        let (data, version) = self.file().read(handle).map_err(|err| self.access_error(name, err))?;
        let meta = VariableMeta {
            name: info.name,
            value_type: ValueType::from_tag(info.type_tag).unwrap_or_default(),
            capacity: info.capacity,
            len: data.len() as u32,
            version,
            persistent: info.persistent,
        };
        Ok((handle, meta))
    }

    /// Reads a variable.
    pub fn read(&self, name: &str) -> Result<StoredValue, LiveError> {
        let handle = self.owner().lookup(name).map_err(|err| self.access_error(name, err))?;
        self.read_handle(name, handle)
    }

    fn read_handle(&self, name: &str, handle: VarHandle) -> Result<StoredValue, LiveError> {
        let info = self
            .file()
            .info_of(handle)
            .map_err(|err| self.access_error(name, err))?;
        let (data, version) = self.file().read(handle).map_err(|err| self.access_error(name, err))?;
        Ok(StoredValue {
            data,
            version,
            value_type: ValueType::from_tag(info.type_tag).unwrap_or_default(),
        })
    }

    /// Writes bytes that the caller has checked against the variable's type and pushes the change to its subscribers;
    /// returns the new version.
    pub fn write(&self, name: &str, handle: VarHandle, data: &[u8]) -> Result<u64, LiveError> {
        let service = self.file();
        let version = service
            .write(handle, data)
            .map_err(|err| self.access_error(name, err))?;
        self.wrote(&service, name, handle, data, version);
        Ok(version)
    }

    /// Pushes a write made through this server (see `fanout`), while the file it went to is still the current one.
    /// Returns whether the fan-out is done with it (see [`Fanout::wrote`](super::fanout::Fanout::wrote)).
    fn wrote(&self, service: &Service, name: &str, handle: VarHandle, data: &[u8], version: u64) -> bool {
        self.wrote_by(service, name, handle, data, version, None)
    }

    /// [`LiveService::wrote`] for a write recorded as made by `writer` (a connection's group; see `own_writes.rs`).
    pub(super) fn wrote_by(
        &self,
        service: &Service,
        name: &str,
        handle: VarHandle,
        data: &[u8],
        version: u64,
        writer: Option<commy_shm::WriterGroup>,
    ) -> bool {
        let value_type = || {
            let info = service.info_of(handle).ok()?;
            ValueType::from_tag(info.type_tag)
        };
        self.fanout().wrote(handle, name, data, version, value_type, writer)
    }

    /// Writes `data` as version `version` (a cluster's), only over the file's version `expected`, else
    /// [`LiveError::Conflict`] (a write came in between); pushes it like any write through this server.
    pub fn write_as_version(
        &self,
        name: &str,
        handle: VarHandle,
        expected: u64,
        version: u64,
        data: &[u8],
    ) -> Result<u64, LiveError> {
        let service = self.file();
        let version = service
            .write_as_version(handle, expected, version, data)
            .map_err(|err| self.access_error(name, err))?;
        self.wrote(&service, name, handle, data, version);
        Ok(version)
    }

    /// Every variable, in table order.
    pub fn list(&self) -> Result<Vec<VariableMeta>, LiveError> {
        let service = self.file();
        let infos = service.list().map_err(|err| self.access_error("*", err))?;
        let mut out = Vec::with_capacity(infos.len());
        for info in infos {
            let Ok((data, version)) = service.read(info.handle) else {
                continue;
            };
            out.push(VariableMeta {
                value_type: ValueType::from_tag(info.type_tag).unwrap_or_default(),
                capacity: info.capacity,
                len: data.len() as u32,
                version,
                persistent: info.persistent,
                name: info.name,
            });
        }
        Ok(out)
    }

    /// Subscribes a connection to one variable (`Some`) or to all (`None`).
    pub fn subscribe(&self, connection: u64, variable: Option<String>, sink: Arc<dyn PushSink>) {
        self.subscribe_skipping(connection, variable, sink, None)
    }

    /// Ends a subscription; returns whether it existed.
    pub fn unsubscribe(&self, connection: u64, variable: Option<&str>) -> bool {
        self.fanout().unsubscribe(connection, variable)
    }

    /// Number of subscriptions the connection holds on this service.
    pub fn subscriptions_of(&self, connection: u64) -> usize {
        self.fanout().count_for(connection)
    }

    pub(crate) fn drop_connection(&self, connection: u64) {
        self.fanout().drop_connection(connection)
    }

    pub(crate) fn stop(&self) {
        self.fanout().stop()
    }

    /// Flushes the mapping's dirty pages to the file (on shutdown).
    pub fn flush(&self) -> std::io::Result<()> {
        std::fs::File::open(&self.path)?.sync_data()
    }

    pub(super) fn access_error(&self, variable: &str, err: AccessError) -> LiveError {
        match err {
            AccessError::NotFound(_) | AccessError::Stale => self.not_found(variable),
            AccessError::TooLarge { len, capacity } => LiveError::TooLarge {
                variable: variable.to_owned(),
                len,
                capacity,
            },
            AccessError::Conflict { expected, current } => LiveError::Conflict {
                service: self.name.clone(),
                variable: variable.to_owned(),
                expected,
                current,
            },
            AccessError::LockTimeout { .. } => LiveError::Busy {
                service: self.name.clone(),
                variable: variable.to_owned(),
                reason: err.to_string(),
            },
            other => LiveError::File {
                service: self.name.clone(),
                doing: "reading or writing a variable",
                source: Box::new(other),
            },
        }
    }

    fn layout_error(&self, variable: &str, err: LayoutError) -> LiveError {
        let service = self.name.clone();
        match err {
            LayoutError::AlreadyExists(_) => LiveError::VariableExists {
                service,
                variable: variable.to_owned(),
            },
            LayoutError::NotFound(_) => self.not_found(variable),
            LayoutError::TooLarge { len, capacity } => LiveError::TooLarge {
                variable: variable.to_owned(),
                len,
                capacity,
            },
            LayoutError::TableFull { .. } | LayoutError::OutOfSpace { .. } | LayoutError::DiskFull { .. } => {
                LiveError::Full {
                    service,
                    reason: err.to_string(),
                }
            }
            LayoutError::LockTimeout { .. } => LiveError::Busy {
                service,
                variable: variable.to_owned(),
                reason: err.to_string(),
            },
            other => LiveError::File {
                service,
                doing: "changing the service file's layout",
                source: Box::new(other),
            },
        }
    }

    fn not_found(&self, variable: &str) -> LiveError {
        LiveError::VariableNotFound {
            service: self.name.clone(),
            variable: variable.to_owned(),
        }
    }
}

/// The owner, locked for a layout change; the change is counted when the lock is released.
struct LayoutChange<'a> {
    owner: MutexGuard<'a, ServiceOwner>,
    changes: &'a AtomicU64,
}

impl std::ops::Deref for LayoutChange<'_> {
    type Target = ServiceOwner;

    fn deref(&self) -> &ServiceOwner {
        &self.owner
    }
}

impl std::ops::DerefMut for LayoutChange<'_> {
    fn deref_mut(&mut self) -> &mut ServiceOwner {
        &mut self.owner
    }
}

impl Drop for LayoutChange<'_> {
    fn drop(&mut self) {
        // Runs before the guard's own drop: the count moves while the owner is still locked.
        self.changes.fetch_add(1, Ordering::AcqRel);
    }
}
