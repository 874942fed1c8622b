//! Moving a service to a fresh file, when a process that has the old one mapped lost its right to it, and opening
//! the current file for a local client.
//!
//! The new file takes the old one's path by a rename, so the store needs no change and a restart finds it; the old
//! inode is unlinked and lives on only in the mappings of processes that had it. `commy_shm::ServiceOwner::relocate`
//! copies every variable under its lock and retires the old file's locks, so that a write to the old file either
//! landed before its copy or fails (`Moved`) and is never acknowledged. Here, around that copy:
//!
//! - the first copy runs beside the clients and beside the server's own lookups; a layout change (allocate, free)
//!   meanwhile is noticed and the copy made again (the third attempt holds the owner's lock throughout); from the
//!   freeze on, the owner's lock is held, so no layout change runs;
//! - for the freeze (the catch-up pass, the rename and the switch) the
//!   current-file lock is held for writing, so no server read or write, and no `GetServiceFilePath`, straddles the
//!   move: each runs entirely on the old file or entirely on the new one;
//! - the fan-out moves to the new file before anyone can write there, and every subscriber is sent the current value
//!   of what it watches (a repeat of a version it already has is harmless: clients drop it), so a change the old
//!   file's watcher had not pushed yet is not lost.

use super::error::LiveError;
use super::service::LiveService;
use super::{Change, ChangeKey};
use commy_proto::{ValueType, VariableChanged};
use commy_shm::Service;
use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Copies made beside the clients before the move copies with the owner locked (layout changes kept it moving).
const PREPARE_ATTEMPTS: u32 = 3;

impl LiveService {
    /// Opens the current file (read-write if `writable`) for a local client. Never an old file: a move waits for the
    /// open, or the open for the move.
    pub(crate) fn open_file(&self, writable: bool) -> std::io::Result<File> {
        let _current = self.file();
        OpenOptions::new().read(true).write(writable).open(self.path())
    }

    /// Moves the service to a fresh file at the same path (a new inode); returns how long the service was frozen (the
    /// catch-up pass, the rename and the switch; not the first copy, which runs beside the clients).
    pub(crate) fn relocate(&self) -> Result<Duration, LiveError> {
        let fail = |doing: &'static str, err: Box<dyn std::error::Error + Send + Sync>| LiveError::File {
            service: self.name().to_owned(),
            doing,
            source: err,
        };
        let staging = staging_path(self.path());
        // The first copy runs while clients go on reading and writing the old file, and while the server goes on
        // serving them (it looks variables up through the owner, which stays unlocked). A layout change meanwhile is
        // noticed and the copy made again; the last attempt holds the owner throughout.
        let mut attempt = 1;
        let (mut owner, prepared) = loop {
            if attempt == PREPARE_ATTEMPTS {
                let owner = self.owner();
                let prepared = owner.prepare_relocation(&staging);
                break (owner, prepared);
            }
            attempt += 1;
            let (plan, before) = {
                let owner = self.owner();
                (owner.relocation_plan(), self.layout_changes())
            };
            let prepared = plan.prepare(&staging);
            let owner = self.owner();
            if self.layout_changes() == before {
                break (owner, prepared);
            }
        };
        let prepared = prepared.map_err(|err| fail("copying the service into a new file", Box::new(err)))?;
        if self.is_deleted() {
            // Deleted meanwhile: its file is gone, and the copy goes with `prepared`.
            return Err(LiveError::ServiceNotFound(self.id().to_owned()));
        }
        let mut current = self.file_mut();
        let started = Instant::now();
        let new_owner = prepared
            .finish(&mut owner)
            .map_err(|err| fail("catching the new service file up", Box::new(err)))?;
        // The old file's locks are retired: from here on it is the new file or nothing.
        if let Err(err) = std::fs::rename(&staging, self.path()) {
            tracing::error!(service = self.id(), %err, "the moved service file could not take its path");
            let _ = std::fs::remove_file(&staging);
            return Err(fail("renaming the new service file over the old one", Box::new(err)));
        }
        let service = new_owner.service().clone();
        *owner = new_owner;
        *current = service.clone();
        let subscriptions = {
            let mut fanout = self.fanout_mut();
            let old = std::mem::replace(&mut *fanout, self.new_fanout(service.clone()));
            let taken = old.take_subscriptions();
            old.stop();
            for (connection, variable, sink, skip_own) in &taken {
                let pin = || owner.hold_in_process_waiter();
                fanout.subscribe_skipping(*connection, variable.clone(), sink.clone(), pin, *skip_own);
            }
            taken
        };
        let frozen = started.elapsed();
        drop(current);
        drop(owner);
        if !subscriptions.is_empty() {
            let values = current_values(self.key(), self.id(), &service);
            for (_, variable, sink, _) in subscriptions {
                let wanted = values
                    .iter()
                    .filter(|v| variable.as_deref().is_none_or(|n| n == v.message().variable_name));
                wanted.for_each(|change| sink.push(change));
            }
        }
        tracing::info!(
            service = self.id(),
            frozen_us = frozen.as_micros() as u64,
            "service moved to a new file"
        );
        Ok(frozen)
    }
}

/// Every variable's current value, as pushes.
fn current_values(key: u64, service_id: &str, service: &Service) -> Vec<Arc<Change>> {
    let Ok(list) = service.list() else {
        return Vec::new();
    };
    list.into_iter()
        .filter_map(|info| {
            let (data, version) = service.read(info.handle).ok()?;
            let value = ValueType::from_tag(info.type_tag).and_then(|ty| ty.decode(&data).ok().flatten());
            let index = info.handle.index();
            let message = VariableChanged {
                service_id: service_id.to_owned(),
                variable_name: info.name,
                data,
                version,
                value,
            };
            Some(Change::new(ChangeKey { service: key, index }, message))
        })
        .collect()
}

fn staging_path(path: &std::path::Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_owned();
    name.push(".moving");
    path.with_file_name(name)
}
