//! [`Replica`]: what this server knows of each variable's state in the cluster, and the rule that writes a change
//! from the cluster into the local file (docs/cluster.md, "Consistency model").
//!
//! For each variable the server keeps a [`Known`]: the cluster's revision and version it last saw, and the file
//! version that holds exactly that value (`synced`). The file is *dirty* when its version is not `synced`: a write
//! landed in it that the cluster does not have yet (a local mapping, or a plain write while NATS was lost). A dirty
//! file is never overwritten by a change from the cluster: its write is published over that change instead (the
//! write published last wins). A clean file takes the change at the cluster's version, so file version == cluster
//! version, and versions only go forwards.

use super::stats::ClusterStats;
use crate::handlers::App;
use crate::live::{LiveError, LiveService};
use commy_cluster::{VariableKey, VersionedValue, Written};
use commy_shm::VarHandle;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// One variable as this server knows it in the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Known {
    /// The cluster's revision of the variable, the last one this server saw.
    pub(crate) revision: u64,
    /// The cluster's version at that revision.
    pub(crate) version: u64,
    /// The file version that holds the cluster's value; the file is dirty when it is at another.
    pub(crate) synced: u64,
}

/// What [`Replica::apply`] did with a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Applied {
    /// Written into the file at the cluster's version.
    Written,
    /// The file already holds it (or a newer change was seen).
    AlreadyThere,
    /// The file holds a write the cluster does not have yet: that write will be published over this change.
    LocalWins,
    /// The file was ahead of the cluster's version: the value was written at the file's next version, which will be
    /// published, lifting the cluster's version above it.
    Lifted,
    /// This server has no such service or variable (yet).
    Unknown,
}

/// A variable this server changed and has not published yet: the service's id and the variable's name.
pub(crate) type PendingChange = (String, String);

/// This server's view of the cluster's variables, and the changes it has to publish.
#[derive(Debug, Default)]
pub(crate) struct Replica {
    known: Mutex<HashMap<VariableKey, Known>>,
    pending: Mutex<HashSet<PendingChange>>,
    wake: tokio::sync::Notify,
    applied_revision: AtomicU64,
    pub(crate) stats: ClusterStats,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The service and variable a key names on this server.
pub(crate) fn resolve(app: &App, key: &VariableKey) -> Option<(Arc<LiveService>, VarHandle)> {
    let record = app.store.get_service(&key.tenant, &key.service).ok()?;
    let live = app.live.get(&record.service_id).ok()?;
    let (handle, _, _) = live.target(&key.variable).ok()?;
    Some((live, handle))
}

/// The cluster's key of a variable of a loaded service.
pub(crate) fn key_of(live: &LiveService, variable: &str) -> VariableKey {
    VariableKey::new(live.tenant_id(), live.name(), variable)
}

impl Replica {
    pub(crate) fn known(&self) -> MutexGuard<'_, HashMap<VariableKey, Known>> {
        lock(&self.known)
    }

    /// The variable's cluster version and revision as this server last saw them (its watch or its own last write),
    /// if it saw any: where a write may start without reading NATS first.
    pub(crate) fn last_seen(&self, key: &VariableKey) -> Option<Written> {
        let known = self.known().get(key).copied()?;
        (known.revision > 0).then_some(Written {
            version: known.version,
            revision: known.revision,
        })
    }

    /// Notes that a variable changed on this server and wakes the publisher.
    pub(crate) fn mark_pending(&self, service_id: &str, variable: &str) {
        let mut pending = lock(&self.pending);
        if pending.insert((service_id.to_owned(), variable.to_owned())) {
            self.stats.pending.set(pending.len() as i64);
        }
        drop(pending);
        self.wake.notify_one();
    }

    /// Takes every pending change out, for the publisher.
    pub(crate) fn take_pending(&self) -> Vec<PendingChange> {
        lock(&self.pending).drain().collect()
    }

    /// Puts changes the publisher could not publish back.
    pub(crate) fn keep_pending(&self, changes: Vec<PendingChange>) {
        let mut pending = lock(&self.pending);
        pending.extend(changes);
        self.stats.pending.set(pending.len() as i64);
    }

    /// Sets the pending gauge after the publisher's pass.
    pub(crate) fn count_pending(&self) {
        self.stats.pending.set(lock(&self.pending).len() as i64);
    }

    /// Waits until a change is pending (or was already signalled).
    pub(crate) async fn pending_changed(&self) {
        self.wake.notified().await
    }

    /// The last revision of the bucket this server has applied.
    pub(crate) fn applied_revision(&self) -> u64 {
        self.applied_revision.load(Ordering::Acquire)
    }

    /// Notes that every revision up to `revision` has been applied.
    pub(crate) fn set_applied_revision(&self, revision: u64) {
        let before = self.applied_revision.fetch_max(revision, Ordering::AcqRel);
        if revision > before {
            self.stats.applied_revision.set(revision as i64);
        }
    }

    /// Writes a change from the cluster (`value` at `revision`) into this server's file, by the rule in the module
    /// doc.
    pub(crate) fn apply(
        &self,
        app: &App,
        key: &VariableKey,
        value: &VersionedValue,
        revision: u64,
    ) -> Result<Applied, LiveError> {
        let Some((live, handle)) = resolve(app, key) else {
            return Ok(Applied::Unknown);
        };
        let mut known = self.known();
        let before = known.get(key).copied();
        if before.is_some_and(|k| k.revision >= revision) {
            return Ok(Applied::AlreadyThere);
        }
        let stored = live.read(&key.variable)?;
        let file = stored.version;
        let seen = |synced| Known {
            revision,
            version: value.version,
            synced,
        };
        if stored.data[..] == value.data[..] && value.version >= file {
            // The file holds this very value already: this server's own publication coming back through the watch
            // (it may arrive before the publisher has noted it), or the same value written everywhere. It is no
            // local write to publish: the file takes the cluster's version, if it is behind it.
            if value.version > file {
                match live.write_as_version(&key.variable, handle, file, value.version, &value.data) {
                    Ok(_) => {}
                    Err(LiveError::Conflict { .. }) => {
                        // A local write came in between: it is published over this change.
                        known.insert(key.clone(), seen(before.map_or(file, |k| k.synced)));
                        drop(known);
                        self.mark_pending(live.id(), &key.variable);
                        return Ok(Applied::LocalWins);
                    }
                    Err(other) => return Err(other),
                }
            }
            known.insert(key.clone(), seen(value.version));
            return Ok(Applied::AlreadyThere);
        }
        if let Some(before) = before.filter(|k| k.synced != file) {
            known.insert(key.clone(), seen(before.synced));
            drop(known);
            self.mark_pending(live.id(), &key.variable);
            return Ok(Applied::LocalWins);
        }
        if value.version == file {
            known.insert(key.clone(), seen(file));
            return Ok(Applied::AlreadyThere);
        }
        if value.version < file {
            live.write(&key.variable, handle, &value.data)?;
            known.insert(key.clone(), seen(value.version));
            drop(known);
            self.mark_pending(live.id(), &key.variable);
            return Ok(Applied::Lifted);
        }
        match live.write_as_version(&key.variable, handle, file, value.version, &value.data) {
            Ok(_) => {
                known.insert(key.clone(), seen(value.version));
                self.stats.applied.inc();
                Ok(Applied::Written)
            }
            Err(LiveError::Conflict { .. }) => {
                // A local write came in between: it is published over this change.
                known.insert(key.clone(), seen(file));
                drop(known);
                self.mark_pending(live.id(), &key.variable);
                Ok(Applied::LocalWins)
            }
            Err(other) => Err(other),
        }
    }

    /// Writes this server's own remote write into its file once NATS has it: `version` at `revision`, over the file
    /// version `floor` it was made from. A local write that came in since stays, and is published over it.
    pub(crate) fn apply_own(
        &self,
        live: &LiveService,
        handle: VarHandle,
        key: &VariableKey,
        floor: u64,
        data: &[u8],
        (version, revision): (u64, u64),
    ) -> Result<(), LiveError> {
        let mut known = self.known();
        let before = known.get(key).copied();
        if before.is_some_and(|k| k.revision >= revision) {
            return Ok(());
        }
        let mut expected = floor;
        let synced = loop {
            match live.write_as_version(&key.variable, handle, expected, version, data) {
                Ok(_) => break version,
                // The watch applied an older change since `floor` was read: the file is clean, go over it.
                Err(LiveError::Conflict { current, .. })
                    if current < version && before.is_some_and(|k| k.synced == current) =>
                {
                    expected = current;
                }
                Err(LiveError::Conflict { .. }) => break before.map_or(floor, |k| k.synced),
                Err(other) => return Err(other),
            }
        };
        known.insert(
            key.clone(),
            Known {
                revision,
                version,
                synced,
            },
        );
        Ok(())
    }
}
