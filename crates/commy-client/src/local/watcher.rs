//! Watching a mapped service: a thread blocks in the file's change signal and feeds a watch's queue. When the service
//! moves to a new file, the thread follows it and first reports what changed unseen.

use super::Mapped;
use crate::watch::ChangeQueue;
use crate::{Error, Result};
use commy_shm::Watcher;
use std::sync::Arc;
use std::time::Duration;

/// How long the thread sleeps at most before checking that its watch still exists and its file is still current.
const SLICE: Duration = Duration::from_millis(200);

/// Starts a thread that pushes every change of `mapped` that `queue` wants, until the queue is closed (its watch
/// dropped). Changes made after this call are reported.
pub(crate) fn spawn_watcher(mapped: Arc<Mapped>, queue: Arc<ChangeQueue>) -> Result<()> {
    let mut generation = mapped.generation();
    let mut watcher = Watcher::new(&mapped.service());
    std::thread::Builder::new()
        .name("commy-watch".into())
        .spawn(move || {
            while !queue.is_closed() {
                if mapped.generation() != generation {
                    // The service moved: watch the new file, and report every value the queue has not seen (a repeat
                    // of the last version it got is dropped by the queue).
                    generation = mapped.generation();
                    let service = mapped.service();
                    watcher = Watcher::new(&service);
                    for info in service.list().unwrap_or_default() {
                        if queue.wants(&info.name) && queue.last_version(&info.name) != Some(info.version) {
                            if let Some(snapshot) = mapped.read_at(info.handle.index()) {
                                push_unless_own(&mapped, &queue, info.handle.index(), snapshot);
                            }
                        }
                    }
                }
                for change in watcher.wait(SLICE) {
                    let wanted = change.name.as_deref().is_some_and(|n| queue.wants(n));
                    if !wanted {
                        continue;
                    }
                    // The value now, which may be newer than the version the scan saw: never older.
                    if let Some(snapshot) = mapped.read_at(change.index) {
                        push_unless_own(&mapped, &queue, change.index, snapshot);
                    }
                }
            }
        })
        .map(drop)
        .map_err(|e| Error::io("starting the watch thread", e))
}

/// Queues a change the watcher read, unless the queue skips its client's own writes and this client wrote that very
/// version (the record is read after the value, so a record a later write is overwriting errs towards queueing).
fn push_unless_own(mapped: &Mapped, queue: &ChangeQueue, index: u32, snapshot: crate::Snapshot) {
    if queue.skips_own_writes() && mapped.wrote(index, snapshot.version) {
        return;
    }
    queue.push(snapshot);
}
