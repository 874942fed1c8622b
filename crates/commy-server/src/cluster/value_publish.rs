//! Publishing the writes made on this server that the cluster does not have yet: writes through a local mapping
//! (a process writing the file), and plain writes made while NATS was lost.
//!
//! Every service has one more subscriber from its creation or load on (`Live::subscribe_every_service`),
//! [`ClusterSink`], on the connection id [`CLUSTER_CONNECTION`]: the fan-out (and its watcher threads, which see a process's writes to the mapping) hands it every change, and it
//! notes the variable as pending. The publisher task takes the pending variables, and for each whose file is dirty
//! (see `replica.rs`) writes the file's value to NATS with a compare-and-set on the revision this server last saw,
//! at version `max(file version, cluster version + 1)`; a change this server applied from the cluster is clean and
//! is not published back. A conflict (another server wrote meanwhile) reads the cluster's state and goes again, so
//! the write published last wins. While NATS is lost the changes stay pending and go out when it returns.

use super::replica::{key_of, Known, Replica};
use crate::handlers::App;
use crate::live::{Change, LiveError, LiveService, PushSink};
use commy_cluster::VariableKey;
use commy_cluster::{ClusterError, ClusterLink, VersionedValue};
use commy_proto::SubscriptionEnded;
use commy_shm::VarHandle;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// The connection id of the cluster's subscriptions (no client connection ever has it).
pub(crate) const CLUSTER_CONNECTION: u64 = u64::MAX;

/// How often the publisher retries what it could not publish.
const TICK: Duration = Duration::from_millis(250);

/// How many times one publish goes again after a conflict before it waits for the next pass.
const CONFLICT_ROUNDS: usize = 16;

/// The cluster's subscriber on every service: notes each change as pending for the publisher.
#[derive(Debug)]
pub(crate) struct ClusterSink {
    replica: Arc<Replica>,
}

impl ClusterSink {
    pub(crate) fn new(replica: Arc<Replica>) -> Arc<Self> {
        Arc::new(ClusterSink { replica })
    }
}

impl PushSink for ClusterSink {
    fn push(&self, change: &Arc<Change>) {
        let message = change.message();
        self.replica.mark_pending(&message.service_id, &message.variable_name);
    }

    fn end(&self, _ended: SubscriptionEnded) {}

    fn is_closed(&self) -> bool {
        false
    }
}

/// The publisher task: runs for as long as the server does.
pub(crate) async fn run(app: Weak<App>, link: ClusterLink, replica: Arc<Replica>) {
    loop {
        let Some(app) = app.upgrade() else { return };
        if link.is_connected() {
            let mut unpublished = Vec::new();
            for (service_id, variable) in replica.take_pending() {
                if let Err(error) = publish(&app, &link, &replica, &service_id, &variable).await {
                    tracing::debug!(%error, service_id, variable, "a local change is not published yet; retrying");
                    unpublished.push((service_id, variable));
                }
            }
            replica.keep_pending(unpublished);
            replica.count_pending();
        }
        drop(app);
        tokio::select! {
            () = replica.pending_changed() => {}
            () = tokio::time::sleep(TICK) => {}
        }
    }
}

/// Why a publish did not happen.
#[derive(Debug, thiserror::Error)]
enum PublishError {
    #[error(transparent)]
    Nats(#[from] ClusterError),
    #[error(transparent)]
    File(#[from] LiveError),
    #[error("other servers kept writing it first")]
    Contended,
}

/// Publishes one variable's file value if its file is dirty.
async fn publish(
    app: &App,
    link: &ClusterLink,
    replica: &Replica,
    service_id: &str,
    variable: &str,
) -> Result<(), PublishError> {
    let Ok(live) = app.live.get(service_id) else {
        return Ok(());
    };
    let Ok((handle, _, _)) = live.target(variable) else {
        return Ok(());
    };
    let key = key_of(&live, variable);
    if replica.known().get(&key).is_none() {
        let cluster = link.read_versioned(&key).await?;
        adopt(replica, &live, handle, &key, cluster)?;
    }
    for _ in 0..CONFLICT_ROUNDS {
        // The file and what is known of it, read together: a change from the cluster writes the file under the same
        // lock, so it is never mistaken for a local write.
        let (file, known) = {
            let map = replica.known();
            let Some(&known) = map.get(&key) else {
                return Ok(());
            };
            (live.read(variable)?, known)
        };
        if file.version == known.synced {
            return Ok(());
        }
        let value = VersionedValue {
            version: file.version.max(known.version + 1),
            data: file.data.into(),
        };
        match link.put_versioned(&key, &value, known.revision).await {
            Ok(revision) => {
                let mut map = replica.known();
                let entry = map.entry(key.clone()).or_insert(known);
                if entry.revision < revision {
                    let mut synced = value.version;
                    if value.version > file.version {
                        // The file's value, lifted to the version the cluster gave it. A local write since then (the
                        // lift conflicts) leaves the file at another version than the one read: dirty, so it goes out
                        // next, even if it reached the published version by itself.
                        match live.write_as_version(variable, handle, file.version, value.version, &value.data) {
                            Ok(_) => {}
                            Err(LiveError::Conflict { .. }) => synced = file.version,
                            Err(error) => {
                                synced = file.version;
                                tracing::warn!(%error, %key, "could not lift the file's version to the cluster's")
                            }
                        }
                    }
                    *entry = Known {
                        revision,
                        version: value.version,
                        synced,
                    };
                }
                replica.stats.published.inc();
                return Ok(());
            }
            Err(ClusterError::Conflict { .. }) => {
                replica.stats.conflicts.inc();
                if let Some((now, revision)) = link.read_versioned(&key).await? {
                    let mut map = replica.known();
                    let entry = map.entry(key.clone()).or_insert(known);
                    if entry.revision < revision {
                        entry.revision = revision;
                        entry.version = now.version;
                    }
                }
            }
            Err(other) => return Err(other.into()),
        }
    }
    Err(PublishError::Contended)
}

/// First sight of a variable since start (just allocated here, or written for the first time since the server
/// started): a file behind the cluster takes the cluster's value (an allocation is not a write); a file ahead of it
/// holds a local write, to publish; a variable the cluster does not have yet is published as it is.
fn adopt(
    replica: &Replica,
    live: &LiveService,
    handle: VarHandle,
    key: &VariableKey,
    cluster: Option<(VersionedValue, u64)>,
) -> Result<(), LiveError> {
    let mut map = replica.known();
    if map.contains_key(key) {
        return Ok(());
    }
    let Some((value, revision)) = cluster else {
        map.insert(key.clone(), Known::default());
        return Ok(());
    };
    let file = live.read(&key.variable)?.version;
    if value.version > file {
        match live.write_as_version(&key.variable, handle, file, value.version, &value.data) {
            Ok(_) | Err(LiveError::Conflict { .. }) => {}
            Err(other) => return Err(other),
        }
    }
    let known = Known {
        revision,
        version: value.version,
        synced: value.version,
    };
    map.insert(key.clone(), known);
    Ok(())
}
