//! Shared metadata: what a server publishes to `commy-meta` when its own clients change metadata, and how a request
//! that missed locally waits for the cluster (docs/cluster.md, "Metadata").
//!
//! Every metadata change of a server runs in its **turn** ([`turn`]): the local change, then the publication, with
//! no record of another server applied in between (the watch applies under the same lock, see `meta_watch`). A
//! create is local first, then claimed in NATS with create-if-absent ([`claim`]): if another server's record was
//! there first, the local change is undone and the request answers `ALREADY_EXISTS`, so of two servers racing to
//! create the same tenant, service, key or variable exactly one wins. Updates are [`publish`]ed (put), deletions
//! [`retract`]ed (KV delete), through the outbox that holds them while NATS does not answer (`outbox`). Without a
//! cluster each of these does nothing.

use super::meta_records::encode;
use super::outbox::{self, Outbox};
use super::Cluster;
use crate::handlers::{App, HandlerError};
use bytes::Bytes;
use commy_cluster::{ClusterError, MetaKey};
use commy_proto::ErrorCode;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// A server's progress through the cluster's metadata.
#[derive(Debug)]
pub(crate) struct MetaState {
    /// Held for one local change and its publication, or for applying one record of the cluster.
    turn: Mutex<()>,
    /// The last revision of `commy-meta` applied here.
    applied: tokio::sync::watch::Sender<u64>,
    /// The revision of this server's own last publication of each record: an older change of that record seen later
    /// on the watch is already superseded here and is not applied again.
    own: Mutex<HashMap<String, u64>>,
    /// Changes made here that wait for NATS.
    pub(crate) outbox: Outbox,
}

impl Default for MetaState {
    fn default() -> Self {
        MetaState {
            turn: Mutex::new(()),
            applied: tokio::sync::watch::Sender::new(0),
            own: Mutex::default(),
            outbox: Outbox::default(),
        }
    }
}

impl MetaState {
    /// The turn lock (see the module's description).
    pub(crate) fn turn(&self) -> MutexGuard<'_, ()> {
        self.turn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The last revision applied here.
    pub(crate) fn applied(&self) -> u64 {
        *self.applied.borrow()
    }

    /// Notes that every revision up to `revision` is applied here.
    pub(crate) fn set_applied(&self, revision: u64) {
        self.applied.send_if_modified(|applied| {
            let moved = revision > *applied;
            *applied = (*applied).max(revision);
            moved
        });
    }

    /// Whether a change of `kv_key` at `revision` is older than this server's own last publication of that record.
    pub(crate) fn superseded(&self, kv_key: &str, revision: u64) -> bool {
        let own = self.own.lock().unwrap_or_else(PoisonError::into_inner);
        own.get(kv_key).is_some_and(|&mine| revision < mine)
    }

    pub(crate) fn note_own(&self, key: &MetaKey, revision: u64) {
        if let Ok(kv_key) = key.to_kv_key() {
            let mut own = self.own.lock().unwrap_or_else(PoisonError::into_inner);
            own.insert(kv_key, revision);
        }
    }

    /// Waits until `revision` is applied here, at most `bound`; whether it is.
    pub(crate) async fn wait_applied(&self, revision: u64, bound: Duration) -> bool {
        let mut applied = self.applied.subscribe();
        let reached = tokio::time::timeout(bound, applied.wait_for(|applied| *applied >= revision)).await;
        matches!(reached, Ok(Ok(_)))
    }
}

/// This server's turn to change metadata (see the module's description); `None` without a cluster.
pub(crate) fn turn(app: &App) -> Option<MutexGuard<'_, ()>> {
    app.cluster.as_deref().map(|cluster| cluster.meta.turn())
}

/// Publishes a new record with create-if-absent. If the cluster already has it, runs `undo` (which takes back the
/// local change) and answers `ALREADY_EXISTS` with `exists`. Call from a blocking thread, in the server's turn.
pub(crate) fn claim(
    app: &App,
    key: MetaKey,
    record: &impl Serialize,
    exists: impl FnOnce() -> String,
    undo: impl FnOnce(),
) -> Result<(), HandlerError> {
    let Some(cluster) = app.cluster.as_deref() else {
        return Ok(());
    };
    if !cluster.is_connected() {
        undo();
        let message = format!("nothing was created: NATS is unreachable, and a creation needs it ({key:?})");
        return Err(HandlerError::new(ErrorCode::Timeout, message));
    }
    let value = encoded(&key, record)?;
    let created = block_on(cluster.link().create_metadata(&key, value));
    match created {
        Ok(Some(revision)) => {
            cluster.meta.note_own(&key, revision);
            Ok(())
        }
        Ok(None) => {
            undo();
            Err(HandlerError::new(ErrorCode::AlreadyExists, exists()))
        }
        Err(error) => {
            undo();
            Err(unclaimed(&key, error))
        }
    }
}

/// Publishes a changed record (a put), or queues it while NATS does not answer (see `outbox`). Call from a blocking
/// thread, in the server's turn.
pub(crate) fn publish(app: &App, key: MetaKey, record: &impl Serialize) -> Result<(), HandlerError> {
    let Some(cluster) = app.cluster.as_ref() else {
        return Ok(());
    };
    let value = encoded(&key, record)?;
    outbox::send(cluster, key, Some(value));
    Ok(())
}

/// Publishes a changed record made by `make` from the cluster's key, for records with secrets to seal.
pub(crate) fn publish_with<T: Serialize>(
    app: &App,
    key: MetaKey,
    make: impl FnOnce(&Cluster, &MetaKey) -> Result<T, ClusterError>,
) -> Result<(), HandlerError> {
    let Some(cluster) = app.cluster.as_deref() else {
        return Ok(());
    };
    let record = make(cluster, &key).map_err(|error| unpublished(&key, error))?;
    publish(app, key, &record)
}

/// Deletes records from the cluster (a delete marker each), or queues the deletions while NATS does not answer (see
/// `outbox`). Call from a blocking thread, in the server's turn.
pub(crate) fn retract(app: &App, keys: impl IntoIterator<Item = MetaKey>) -> Result<(), HandlerError> {
    let Some(cluster) = app.cluster.as_ref() else {
        return Ok(());
    };
    for key in keys {
        outbox::send(cluster, key, None);
    }
    Ok(())
}

/// After a local miss: asks NATS for the metadata's last revision and waits (at most the link's call timeout) until
/// this server has applied it. `true` once it has: the request is worth trying again (once).
pub(crate) async fn caught_up_after_miss(app: &App) -> bool {
    let Some(cluster) = app.cluster.as_deref() else {
        return false;
    };
    // Without NATS there is nothing newer to wait for: the local answer stands (and comes without a 5 s wait).
    if !cluster.is_connected() {
        return false;
    }
    let bound = cluster.link().call_timeout();
    let latest = match cluster.link().metadata_revision().await {
        Ok(latest) => latest,
        Err(error) => {
            tracing::warn!(%error, "a local metadata miss could not be checked against the cluster");
            return false;
        }
    };
    // Even when `latest` is applied already, it may have been applied after the miss: the caller tries again.
    cluster.meta.wait_applied(latest, bound).await
}

fn encoded(key: &MetaKey, record: &impl Serialize) -> Result<Bytes, HandlerError> {
    encode(record).map_err(|error| HandlerError::internal(&format!("encoding the cluster record {key:?}"), error))
}

/// A change made here whose record could not be made for the cluster (its secret not sealed).
fn unpublished(key: &MetaKey, error: ClusterError) -> HandlerError {
    let message =
        format!("the change was made on this server but could not be published to the cluster ({key:?}): {error}");
    HandlerError::new(code_of(&error), message)
}

/// A creation the cluster could not confirm: taken back here, nothing made.
fn unclaimed(key: &MetaKey, error: ClusterError) -> HandlerError {
    let message = format!("nothing was created: the cluster could not confirm {key:?} ({error})");
    HandlerError::new(code_of(&error), message)
}

fn code_of(error: &ClusterError) -> ErrorCode {
    match error {
        ClusterError::Timeout { .. } => ErrorCode::Timeout,
        _ => ErrorCode::InternalError,
    }
}

/// Runs a NATS call from a blocking thread of the server's runtime.
fn block_on<T>(call: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Handle::current().block_on(call)
}
