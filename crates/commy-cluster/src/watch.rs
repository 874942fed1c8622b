//! A watch over every variable, which resumes by itself (the mechanism is in `resuming_watch.rs`).

use crate::error::ClusterError;
use crate::resuming_watch::ResumingWatch;
use crate::VariableKey;
use async_nats::jetstream::kv::{Operation, Store};
use bytes::Bytes;
use std::time::Duration;

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

/// Every change of every variable in `commy-vars`, from a revision on, each revision at most once and in increasing
/// order; it resumes by itself after NATS restarts, dropped connections and stalls.
#[derive(Debug)]
pub struct VariableWatch {
    watch: ResumingWatch,
}

impl VariableWatch {
    pub(crate) async fn start(store: Store, from: u64, call_timeout: Duration) -> Result<Self, ClusterError> {
        let watch = ResumingWatch::start("variables", store, from, call_timeout).await?;
        Ok(VariableWatch { watch })
    }

    /// The next change. Waits for one as long as it takes (NATS down included: it keeps trying to resume); bound it
    /// with a timeout where a wait must end. A key that Commy's scheme did not make gives
    /// [`ClusterError::ForeignKey`] and the watch goes on after it.
    pub async fn next(&mut self) -> Result<VariableChange, ClusterError> {
        let entry = self.watch.next().await;
        let key = VariableKey::from_kv_key(&entry.key)?;
        let value = (entry.operation == Operation::Put).then_some(entry.value);
        Ok(VariableChange {
            key,
            value,
            revision: entry.revision,
        })
    }

    /// The revision the next change will have at least.
    pub fn next_revision(&self) -> u64 {
        self.watch.next_revision()
    }

    /// How many times this watch had to start its underlying watch again.
    pub fn restarts(&self) -> u64 {
        self.watch.restarts()
    }
}
