//! Metadata changes (puts and deletes) this server made while NATS could not take them: kept in order and published
//! when NATS answers again, so that a revocation or update made during an outage reaches the other servers once it is
//! over. Held in memory: a server restarted before NATS returns loses what is still queued (its own redb keeps the
//! change; the cluster does not learn it). Creations never wait here: a create needs NATS's answer to know who won.

use super::Cluster;
use bytes::Bytes;
use commy_cluster::{ClusterError, MetaKey};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// The longest pause between two attempts to publish what is queued.
const MAX_PAUSE: Duration = Duration::from_secs(1);

/// One change to publish: a record's new value, or its deletion.
type Change = (MetaKey, Option<Bytes>);

/// See the module's description.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Change>,
    flushing: bool,
}

impl Outbox {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// How many changes wait for NATS.
    pub(crate) fn pending(&self) -> usize {
        self.state().queue.len()
    }
}

impl Cluster {
    /// For `/healthz`: how many metadata changes made here wait for NATS, if any do.
    pub(crate) fn metadata_note(&self) -> Option<String> {
        let pending = self.meta.outbox.pending();
        (pending > 0).then(|| format!("cluster: {pending} metadata change(s) made here wait for NATS"))
    }
}

/// Publishes `value` under `key` (`None`: deletes it): at once when NATS is up and nothing is queued before it, else
/// queued behind what is. Call from a blocking thread of the server's runtime.
pub(crate) fn send(cluster: &Arc<Cluster>, key: MetaKey, value: Option<Bytes>) {
    let outbox = &cluster.meta.outbox;
    if outbox.state().queue.is_empty() && cluster.is_connected() {
        let runtime = tokio::runtime::Handle::current();
        match runtime.block_on(publish_one(cluster, &key, value.clone())) {
            Ok(()) => return,
            Err(error) => tracing::warn!(%error, "a metadata change waits for NATS to be published"),
        }
    }
    let mut state = outbox.state();
    state.queue.push_back((key, value));
    if !state.flushing {
        state.flushing = true;
        tokio::runtime::Handle::current().spawn(flush(cluster.clone()));
    }
}

async fn publish_one(cluster: &Cluster, key: &MetaKey, value: Option<Bytes>) -> Result<(), ClusterError> {
    match value {
        Some(value) => {
            let revision = cluster.link().put_metadata(key, value).await?;
            cluster.meta.note_own(key, revision);
        }
        None => cluster.link().delete_metadata(key).await?,
    }
    Ok(())
}

/// Publishes the queue in order until it is empty, pausing between attempts while NATS does not answer.
async fn flush(cluster: Arc<Cluster>) {
    let mut pause = Duration::from_millis(100);
    loop {
        let front = {
            let mut state = cluster.meta.outbox.state();
            match state.queue.front() {
                Some(change) => change.clone(),
                None => {
                    state.flushing = false;
                    return;
                }
            }
        };
        match publish_one(&cluster, &front.0, front.1).await {
            Ok(()) => {
                cluster.meta.outbox.state().queue.pop_front();
                pause = Duration::from_millis(100);
            }
            Err(error) => {
                tracing::warn!(%error, pending = cluster.meta.outbox.pending(), "NATS does not take the queued metadata changes yet");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_PAUSE);
            }
        }
    }
}
