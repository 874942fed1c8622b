//! [`Mapped`]: one service file mapped into this process, with the variable handles it has looked up.
//!
//! Writes are checked against the variable's type and capacity exactly as the server checks them, so a local write
//! fails with the same error a remote one would.

use crate::payload::Payload;
use crate::snapshot::Snapshot;
use crate::{Error, Result};
use commy_proto::{ValueType, WriteVariable};
use commy_shm::{Access, AccessError, VarHandle};
use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// What a read or write needs to know about a variable.
#[derive(Debug, Clone, Copy)]
struct Target {
    handle: VarHandle,
    value_type: ValueType,
    capacity: u32,
}

/// A mapped service file.
#[derive(Debug)]
pub(crate) struct Mapped {
    service: commy_shm::Service,
    /// The service's name, for messages.
    name: String,
    targets: Mutex<HashMap<String, Target>>,
}

impl Mapped {
    /// Maps the file behind `fd`: read-write if the server opened it so, read-only (`PROT_READ`) otherwise.
    pub(crate) fn new(fd: OwnedFd, writable: bool, name: &str) -> Result<Mapped> {
        let access = if writable { Access::ReadWrite } else { Access::ReadOnly };
        let service = commy_shm::Service::from_fd(fd, access).map_err(|e| {
            Error::io(
                format!("mapping service '{name}'"),
                std::io::Error::other(e.to_string()),
            )
        })?;
        Ok(Mapped {
            service,
            name: name.to_owned(),
            targets: Mutex::default(),
        })
    }

    /// Whether writes are allowed.
    pub(crate) fn writable(&self) -> bool {
        self.service.access() == Access::ReadWrite
    }

    pub(crate) fn service(&self) -> &commy_shm::Service {
        &self.service
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
        let handle = self.service.lookup(variable).map_err(|e| self.failed(variable, e))?;
        let info = self.service.info_of(handle).map_err(|e| self.failed(variable, e))?;
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
        let (bytes, version, value_type) = self.with_target(variable, |t| {
            let (bytes, version) = self.service.read(t.handle)?;
            Ok((bytes, version, t.value_type))
        })?;
        Ok(snapshot(variable, bytes, version, value_type))
    }

    /// Reads the variable at table `index`, as a watcher reports it.
    pub(crate) fn read_at(&self, index: u32) -> Option<Snapshot> {
        let info = self.service.variable_at(index).ok()?;
        let (bytes, version) = self.service.read(info.handle).ok()?;
        let value_type = ValueType::from_tag(info.type_tag).unwrap_or_default();
        Some(snapshot(&info.name, bytes, version, value_type))
    }

    /// Writes a variable after checking the value against its type and capacity; returns the new version. With
    /// `expected_version`, a compare-and-set under the variable's lock in the file (see
    /// [`commy_shm::Service::write_if_version`]).
    pub(crate) fn write(&self, variable: &str, payload: Payload, expected_version: Option<u64>) -> Result<u64> {
        if !self.writable() {
            return Err(self.read_only());
        }
        let (data, value) = payload.into_wire();
        let request = WriteVariable {
            service_id: String::new(),
            variable_name: variable.to_owned(),
            data,
            value,
            expected_version,
        };
        self.with_target(variable, |t| {
            let bytes = match request.new_bytes(t.value_type, t.capacity) {
                Ok(bytes) => bytes,
                Err(e) => return Ok(Err(e)),
            };
            match expected_version {
                Some(expected) => self.service.write_if_version(t.handle, expected, &bytes).map(Ok),
                None => self.service.write(t.handle, &bytes).map(Ok),
            }
        })?
        .map_err(|e| Error::InvalidRequest(format!("variable '{variable}': {e}")))
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
