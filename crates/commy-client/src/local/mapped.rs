//! [`Mapped`]: one service file mapped into this process, with the variable handles it has looked up.
//!
//! Writes are checked against the variable's type and capacity exactly as the server checks them, so a local write
//! fails with the same error a remote one would.

use crate::payload::Payload;
use crate::snapshot::Snapshot;
use crate::{Error, Result};
use commy_proto::ServiceInfo;
use commy_proto::{ValueType, WriteVariable};
use commy_shm::{Access, AccessError, VarHandle, WriterGroup};
use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock};

/// What a read or write needs to know about a variable.
#[derive(Debug, Clone, Copy)]
struct Target {
    handle: VarHandle,
    value_type: ValueType,
    capacity: u32,
}

/// A write met a file the server moved away from (see `remap.rs`): nothing was written; map the new file and write
/// again.
#[derive(Debug)]
pub(crate) struct Moved;

/// A mapped service file. The server may move the service to a new file (when another process that had it mapped lost
/// its right to it); [`Mapped::replace`] then swaps the new mapping in, and everything that holds this `Mapped` (service
/// handles, watches) goes on with it. Variable handles stay valid: a moved file keeps every table entry.
#[derive(Debug)]
pub(crate) struct Mapped {
    file: RwLock<commy_shm::Service>,
    /// How many times the file was replaced.
    generation: AtomicU64,
    /// The service, to ask for its file again, and its name for messages.
    info: ServiceInfo,
    name: String,
    targets: Mutex<HashMap<String, Target>>,
    /// Every write through this mapping (and its variable handles) is recorded as this group's, so that watches that
    /// skip their client's own writes can tell them (a client maps each service once).
    writer: WriterGroup,
    /// Held while the file is being replaced, so that one move is followed once.
    pub(crate) remapping: tokio::sync::Mutex<()>,
    /// The file belongs to a server the client failed over from: handles go through requests until
    /// [`Mapped::replace`] maps the new server's file.
    detached: AtomicBool,
}

/// Maps the file behind `fd`: read-write if the server opened it so, read-only (`PROT_READ`) otherwise.
fn map(fd: OwnedFd, writable: bool, name: &str) -> Result<commy_shm::Service> {
    let access = if writable { Access::ReadWrite } else { Access::ReadOnly };
    commy_shm::Service::from_fd(fd, access).map_err(|e| {
        Error::io(
            format!("mapping service '{name}'"),
            std::io::Error::other(e.to_string()),
        )
    })
}

impl Mapped {
    /// Maps the file behind `fd` for the service `info`.
    pub(crate) fn new(fd: OwnedFd, writable: bool, info: &ServiceInfo) -> Result<Mapped> {
        Ok(Mapped {
            file: RwLock::new(map(fd, writable, &info.service_name)?),
            generation: AtomicU64::new(0),
            info: info.clone(),
            name: info.service_name.clone(),
            targets: Mutex::default(),
            writer: WriterGroup::new(),
            remapping: tokio::sync::Mutex::new(()),
            detached: AtomicBool::new(false),
        })
    }

    /// Swaps in the service's new file, behind `fd`.
    pub(crate) fn replace(&self, fd: OwnedFd, writable: bool) -> Result<()> {
        let service = map(fd, writable, &self.name)?;
        *self.file.write().unwrap_or_else(PoisonError::into_inner) = service;
        // The new file may be another server's, where the same names sit at other handles.
        self.targets().clear();
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.detached.store(false, Ordering::Release);
        Ok(())
    }

    /// Stops using the file: see [`Mapped::is_detached`].
    pub(crate) fn detach(&self) {
        self.detached.store(true, Ordering::Release);
    }

    /// Whether the file belongs to a server the client failed over from; handles then go through requests.
    pub(crate) fn is_detached(&self) -> bool {
        self.detached.load(Ordering::Acquire)
    }

    /// How many times the file was replaced; a watcher compares it to follow a move.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The service this maps.
    pub(crate) fn info(&self) -> &ServiceInfo {
        &self.info
    }

    /// The current file's attachment.
    pub(crate) fn service(&self) -> commy_shm::Service {
        self.file.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The writer group this client's writes to the file are recorded as.
    pub(crate) fn writer(&self) -> WriterGroup {
        self.writer
    }

    /// Whether this client wrote `version` of the variable at table `index` (read just before), by the file's
    /// last-writer record: see [`commy_shm::Service::last_writer_group`].
    pub(crate) fn wrote(&self, index: u32, version: u64) -> bool {
        self.service().last_writer_group(index, version) == Some(self.writer)
    }

    /// The service's name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    fn targets(&self) -> MutexGuard<'_, HashMap<String, Target>> {
        self.targets.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn not_found(&self, variable: &str) -> Error {
        Error::NotFound(format!(
            "variable '{variable}' does not exist in service '{}'",
            self.name
        ))
    }

    pub(crate) fn failed(&self, variable: &str, err: AccessError) -> Error {
        match err {
            AccessError::NotFound(_) | AccessError::Stale => self.not_found(variable),
            AccessError::ReadOnly => self.read_only(),
            AccessError::TooLarge { len, capacity } => Error::InvalidRequest(format!(
                "variable '{variable}': value is {len} bytes long; the variable's capacity is {capacity}"
            )),
            AccessError::Conflict { expected, current } => Error::Conflict {
                current_version: Some(current),
                message: format!(
                    "variable '{variable}' in service '{}' is at version {current}, not the expected {expected}; \
                     nothing was written",
                    self.name
                ),
            },
            AccessError::LockTimeout { .. } | AccessError::LockBusy { .. } => {
                Error::Timeout(format!("variable '{variable}' in service '{}': {err}", self.name))
            }
            other => Error::Internal(format!("service '{}': {other}", self.name)),
        }
    }

    pub(crate) fn read_only(&self) -> Error {
        Error::PermissionDenied(format!(
            "service '{}' is mapped read-only: the credential has no write permission on it",
            self.name
        ))
    }

    /// Looks a variable up in the table (not the cache).
    fn look_up(&self, variable: &str) -> Result<Target> {
        let service = self.service();
        let handle = service.lookup(variable).map_err(|e| self.failed(variable, e))?;
        let info = service.info_of(handle).map_err(|e| self.failed(variable, e))?;
        let target = Target {
            handle,
            value_type: ValueType::from_tag(info.type_tag).unwrap_or_default(),
            capacity: info.capacity,
        };
        self.targets().insert(variable.to_owned(), target);
        Ok(target)
    }

    /// Runs `op` on the variable's cached handle; if the handle went stale (the variable was freed, perhaps allocated
    /// again), looks it up once more and retries.
    fn with_target<T>(&self, variable: &str, op: impl Fn(Target) -> std::result::Result<T, AccessError>) -> Result<T> {
        let cached = self.targets().get(variable).copied();
        if let Some(target) = cached {
            match op(target) {
                Err(AccessError::Stale) => {
                    self.targets().remove(variable);
                }
                other => return other.map_err(|e| self.failed(variable, e)),
            }
        }
        let target = self.look_up(variable)?;
        op(target).map_err(|e| self.failed(variable, e))
    }

    /// Reads a variable: its bytes, version and JSON value.
    pub(crate) fn read(&self, variable: &str) -> Result<Snapshot> {
        let service = self.service();
        let (bytes, version, value_type) = self.with_target(variable, |t| {
            let (bytes, version) = service.read(t.handle)?;
            Ok((bytes, version, t.value_type))
        })?;
        Ok(snapshot(variable, bytes, version, value_type))
    }

    /// Reads the variable at table `index`, as a watcher reports it.
    pub(crate) fn read_at(&self, index: u32) -> Option<Snapshot> {
        let service = self.service();
        let info = service.variable_at(index).ok()?;
        let (bytes, version) = service.read(info.handle).ok()?;
        let value_type = ValueType::from_tag(info.type_tag).unwrap_or_default();
        Some(snapshot(&info.name, bytes, version, value_type))
    }

    /// Writes a variable after checking the value against its type and capacity; returns the new version, or
    /// [`Moved`] if the file was moved away from (nothing was written). With `expected_version`, a compare-and-set
    /// under the variable's lock in the file (see [`commy_shm::Service::write_if_version`]).
    pub(crate) fn write(
        &self,
        variable: &str,
        payload: &Payload,
        expected_version: Option<u64>,
    ) -> Result<std::result::Result<u64, Moved>> {
        let service = self.service();
        if service.access() != Access::ReadWrite {
            return Err(self.read_only());
        }
        let (data, value) = payload.clone().into_wire();
        let request = WriteVariable {
            service_id: String::new(),
            variable_name: variable.to_owned(),
            data,
            value,
            expected_version,
        };
        let written = self.with_target(variable, |t| {
            let bytes = match request.new_bytes(t.value_type, t.capacity) {
                Ok(bytes) => bytes,
                Err(e) => return Ok(Err(e)),
            };
            let as_client = service.writes_as(self.writer);
            let written = match expected_version {
                Some(expected) => as_client.write_if_version(t.handle, expected, &bytes),
                None => as_client.write(t.handle, &bytes),
            };
            match written {
                Err(AccessError::Moved) => Ok(Ok(Err(Moved))),
                other => other.map(|version| Ok(Ok(version))),
            }
        })?;
        written.map_err(|e| Error::InvalidRequest(format!("variable '{variable}': {e}")))
    }
}

fn snapshot(variable: &str, bytes: Vec<u8>, version: u64, value_type: ValueType) -> Snapshot {
    let value = value_type.decode(&bytes).ok().flatten();
    Snapshot {
        variable: variable.to_owned(),
        version,
        bytes,
        value,
    }
}
