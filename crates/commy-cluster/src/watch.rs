//! A watch over every variable that survives NATS restarts and dropped connections.
//!
//! async-nats (0.51) already recreates a KV watch's ordered consumer from its last stream sequence when the connection
//! comes back. This watch does not rely on that alone: if the underlying watch yields an error or ends, it is started
//! again from the revision after the last one given, with a growing pause (at most [`MAX_PAUSE`]) between attempts,
//! for as long as the caller keeps asking. Revisions it already gave are skipped, so the caller sees each revision at
//! most once and in increasing order.

use crate::error::{bounded, ClusterError};
use crate::VariableKey;
use async_nats::jetstream::kv::{Operation, Store, Watch};
use bytes::Bytes;
use futures_util::StreamExt;
use std::time::Duration;

/// The longest pause between two attempts to start the watch again.
pub const MAX_PAUSE: Duration = Duration::from_secs(1);

/// One change of one variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableChange {
    /// Which variable.
    pub key: VariableKey,
    /// The new value; `None` if the variable was deleted.
    pub value: Option<Bytes>,
    /// The change's JetStream revision.
    pub revision: u64,
}

/// Every change of every variable in `commy-vars`, from a revision on; see the module's description.
pub struct VariableWatch {
    store: Store,
    watch: Option<Watch>,
    next_revision: u64,
    call_timeout: Duration,
    restarts: u64,
}

impl VariableWatch {
    pub(crate) async fn start(store: Store, from: u64, call_timeout: Duration) -> Result<Self, ClusterError> {
        let watch = open(&store, from, call_timeout).await?;
        Ok(VariableWatch {
            store,
            watch: Some(watch),
            next_revision: from,
            call_timeout,
            restarts: 0,
        })
    }

    /// The next change. Waits for one as long as it takes (NATS down included: it keeps trying to resume); bound it
    /// with a timeout where a wait must end. A key that Commy's scheme did not make gives
    /// [`ClusterError::ForeignKey`] and the watch goes on after it.
    pub async fn next(&mut self) -> Result<VariableChange, ClusterError> {
        let mut pause = Duration::from_millis(50);
        loop {
            let Some(watch) = self.watch.as_mut() else {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_PAUSE);
                match open(&self.store, self.next_revision, self.call_timeout).await {
                    Ok(watch) => {
                        self.watch = Some(watch);
                        self.restarts += 1;
                    }
                    Err(error) => tracing::warn!(%error, "the NATS variable watch could not resume yet; trying again"),
                }
                continue;
            };
            match watch.next().await {
                Some(Ok(entry)) if entry.revision < self.next_revision => continue,
                Some(Ok(entry)) => {
                    self.next_revision = entry.revision + 1;
                    let key = VariableKey::from_kv_key(&entry.key)?;
                    let value = (entry.operation == Operation::Put).then_some(entry.value);
                    return Ok(VariableChange {
                        key,
                        value,
                        revision: entry.revision,
                    });
                }
                Some(Err(error)) => {
                    tracing::warn!(%error, from = self.next_revision, "the NATS variable watch failed; resuming");
                    self.watch = None;
                }
                None => {
                    tracing::warn!(from = self.next_revision, "the NATS variable watch ended; resuming");
                    self.watch = None;
                }
            }
        }
    }

    /// The revision the next change will have at least.
    pub fn next_revision(&self) -> u64 {
        self.next_revision
    }

    /// How many times this watch had to start its underlying watch again.
    pub fn restarts(&self) -> u64 {
        self.restarts
    }
}

impl std::fmt::Debug for VariableWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VariableWatch")
            .field("next_revision", &self.next_revision)
            .field("watching", &self.watch.is_some())
            .field("restarts", &self.restarts)
            .finish()
    }
}

async fn open(store: &Store, from: u64, call_timeout: Duration) -> Result<Watch, ClusterError> {
    bounded(
        || format!("watching the variables in NATS from revision {from}"),
        call_timeout,
        store.watch_all_from_revision(from),
    )
    .await
}
