//! A watch over a whole KV bucket that survives NATS restarts, dropped connections and stalled consumers: the one
//! mechanism under [`crate::VariableWatch`] and [`crate::MetaWatch`].
//!
//! async-nats (0.51) recreates a KV watch's ordered consumer by itself when the connection comes back, and reports a
//! consumer that stopped sending heartbeats. This watch does not rely on that alone:
//!
//! - if the underlying watch yields an error or ends, it is opened again from the revision after the last one given,
//!   with a pause growing to [`MAX_PAUSE`] between attempts;
//! - if it delivers nothing for [`PROBE_AFTER`], the bucket's last revision is asked of NATS; when the bucket holds a
//!   revision the watch has not delivered at two such probes in a row, the watch has stalled and is opened again
//!   the same way. Seen with a 3-node JetStream cluster after the node that led its metadata died: async-nats's own
//!   recreation of the consumer went unanswered for minutes, with no error, while a new consumer worked at once.
//!
//! Revisions already given are skipped, so the caller sees each revision at most once and in increasing order. A
//! bucket keeps each key's last revision, so a revision the probe sees stays deliverable until a later one of the
//! same key replaces it, which the watch then delivers instead.

use crate::error::{bounded, ClusterError};
use async_nats::jetstream::kv::{Entry, Store, Watch};
use futures_util::StreamExt;
use std::time::Duration;

/// The longest pause between two attempts to open the watch again.
pub const MAX_PAUSE: Duration = Duration::from_secs(1);

/// How long a watch may deliver nothing before the bucket's last revision is asked of NATS.
pub const PROBE_AFTER: Duration = Duration::from_secs(2);

/// How many probes in a row must find the bucket ahead of the watch before the watch counts as stalled.
const STALLED_PROBES: u32 = 2;

/// Every entry of one bucket from a revision on; see the module's description.
pub(crate) struct ResumingWatch {
    /// What the bucket holds, for the log ("variable", "metadata").
    what: &'static str,
    store: Store,
    watch: Option<Watch>,
    next_revision: u64,
    call_timeout: Duration,
    restarts: u64,
}

impl ResumingWatch {
    pub(crate) async fn start(
        what: &'static str,
        store: Store,
        from: u64,
        call_timeout: Duration,
    ) -> Result<Self, ClusterError> {
        let watch = open(what, &store, from, call_timeout).await?;
        Ok(ResumingWatch {
            what,
            store,
            watch: Some(watch),
            next_revision: from,
            call_timeout,
            restarts: 0,
        })
    }

    /// The next entry, at [`Self::next_revision`] or after. Waits as long as it takes (NATS down included).
    pub(crate) async fn next(&mut self) -> Entry {
        let mut pause = Duration::from_millis(50);
        let mut behind = 0;
        loop {
            let Some(watch) = self.watch.as_mut() else {
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_PAUSE);
                match open(self.what, &self.store, self.next_revision, self.call_timeout).await {
                    Ok(watch) => {
                        self.watch = Some(watch);
                        self.restarts += 1;
                    }
                    Err(error) => tracing::warn!(%error, what = self.what, "a NATS watch could not resume yet"),
                }
                continue;
            };
            // `next` on a stream is cancel-safe: an entry not yet returned stays in the watch.
            let delivered = match tokio::time::timeout(PROBE_AFTER, watch.next()).await {
                Ok(delivered) => delivered,
                Err(_quiet) => {
                    let ahead = bucket_is_ahead(self.what, &self.store, self.next_revision, self.call_timeout).await;
                    behind = if ahead { behind + 1 } else { 0 };
                    if behind >= STALLED_PROBES {
                        tracing::warn!(
                            what = self.what,
                            from = self.next_revision,
                            "a NATS watch stalled (the bucket holds changes it does not deliver); opening it again"
                        );
                        self.watch = None;
                        behind = 0;
                    }
                    continue;
                }
            };
            match delivered {
                Some(Ok(entry)) if entry.revision < self.next_revision => {}
                Some(Ok(entry)) => {
                    self.next_revision = entry.revision + 1;
                    return entry;
                }
                Some(Err(error)) => {
                    tracing::warn!(%error, what = self.what, from = self.next_revision, "a NATS watch failed; resuming");
                    self.watch = None;
                }
                None => {
                    tracing::warn!(
                        what = self.what,
                        from = self.next_revision,
                        "a NATS watch ended; resuming"
                    );
                    self.watch = None;
                }
            }
        }
    }

    /// The revision the next entry will have at least.
    pub(crate) fn next_revision(&self) -> u64 {
        self.next_revision
    }

    /// How many times the underlying watch had to be opened again.
    pub(crate) fn restarts(&self) -> u64 {
        self.restarts
    }
}

impl std::fmt::Debug for ResumingWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResumingWatch")
            .field("what", &self.what)
            .field("next_revision", &self.next_revision)
            .field("watching", &self.watch.is_some())
            .field("restarts", &self.restarts)
            .finish()
    }
}

/// Whether the bucket holds a revision at `next_revision` or after (false when NATS cannot say now). A free function:
/// the watch itself is not `Sync`, and a task's future must not hold a reference to it across this call.
async fn bucket_is_ahead(what: &str, store: &Store, next_revision: u64, call_timeout: Duration) -> bool {
    let info = bounded(
        || format!("reading the {what} bucket's last revision"),
        call_timeout,
        store.stream.get_info(),
    )
    .await;
    matches!(info, Ok(info) if info.state.last_sequence >= next_revision)
}

async fn open(what: &str, store: &Store, from: u64, call_timeout: Duration) -> Result<Watch, ClusterError> {
    bounded(
        || format!("watching the {what} bucket in NATS from revision {from}"),
        call_timeout,
        store.watch_all_from_revision(from),
    )
    .await
}
