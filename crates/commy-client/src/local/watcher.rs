//! Watching a mapped service: a thread blocks in the file's change signal and feeds a watch's queue.

use super::Mapped;
use crate::watch::ChangeQueue;
use crate::{Error, Result};
use commy_shm::Watcher;
use std::sync::Arc;
use std::time::Duration;

/// How long the thread sleeps at most before checking that its watch still exists.
const SLICE: Duration = Duration::from_millis(200);

/// Starts a thread that pushes every change of `mapped` that `queue` wants, until the queue is closed (its watch
/// dropped). Changes made after this call are reported.
pub(crate) fn spawn_watcher(mapped: Arc<Mapped>, queue: Arc<ChangeQueue>) -> Result<()> {
    let mut watcher = Watcher::new(mapped.service());
    std::thread::Builder::new()
        .name("commy-watch".into())
        .spawn(move || {
            while !queue.is_closed() {
                for change in watcher.wait(SLICE) {
                    let wanted = change.name.as_deref().is_some_and(|n| queue.wants(n));
                    if !wanted {
                        continue;
                    }
                    // The value now, which may be newer than the version the scan saw: never older.
                    if let Some(snapshot) = mapped.read_at(change.index) {
                        queue.push(snapshot);
                    }
                }
            }
        })
        .map(drop)
        .map_err(|e| Error::io("starting the watch thread", e))
}
