//! Group commit for the audit log: records that may wait (a successful login's) are queued, and one flusher thread
//! commits everything queued in one durable transaction, so a burst of logins costs one fsync instead of one each.
//! The flusher lets [`GATHER`] pass after the first record arrives before it commits, so that even logins that come
//! one after another share a commit.
//!
//! Nothing queued is overtaken: every write transaction of the store first appends whatever is queued, in order, so a
//! record that must be durable before its reply (a refusal, an admin action) also makes every earlier record durable.
//! The queue is bounded: when it is full, an append commits at once on the caller's thread instead of waiting. A
//! record waits in the queue at most [`GATHER`] plus one commit; a crash in that window loses the queued successes,
//! never a refusal or a change.

use super::audit::AuditRecord;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long the flusher gathers records after the first one arrives before it commits them.
pub(crate) const GATHER: Duration = Duration::from_millis(5);

/// Records queued at most; beyond this an append commits on its own thread (backpressure).
pub(crate) const MAX_QUEUED: usize = 4096;

/// The records waiting for the flusher.
#[derive(Debug, Default)]
pub(crate) struct AuditQueue {
    state: Mutex<QueueState>,
    wake: Condvar,
}

#[derive(Debug, Default)]
struct QueueState {
    pending: Vec<AuditRecord>,
    stopping: bool,
}

impl AuditQueue {
    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `record` for the next group commit (`None`), or gives it back if the queue is full.
    pub(crate) fn push(&self, record: AuditRecord) -> Option<AuditRecord> {
        let mut state = self.lock();
        if state.pending.len() >= MAX_QUEUED {
            return Some(record);
        }
        state.pending.push(record);
        self.wake.notify_one();
        None
    }

    /// Takes every queued record, oldest first.
    pub(crate) fn take(&self) -> Vec<AuditRecord> {
        std::mem::take(&mut self.lock().pending)
    }

    /// Puts back records a failed transaction had taken, ahead of any queued since, so the order is kept.
    pub(crate) fn put_back(&self, mut records: Vec<AuditRecord>) {
        if records.is_empty() {
            return;
        }
        let mut state = self.lock();
        records.append(&mut state.pending);
        state.pending = records;
    }

    /// Blocks until something is queued and [`GATHER`] has passed since, or half the queue is full, or the queue is
    /// stopping (`true`: commit); `false` once the queue is stopping with nothing left.
    fn wait_for_work(&self) -> bool {
        let mut state = self.lock();
        while state.pending.is_empty() {
            if state.stopping {
                return false;
            }
            state = self.wake.wait(state).unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        let until = Instant::now() + GATHER;
        while !state.stopping && state.pending.len() < MAX_QUEUED / 2 {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = match self.wake.wait_timeout(state, left) {
                Ok((state, _)) => state,
                Err(poisoned) => poisoned.into_inner().0,
            };
        }
        true
    }

    fn stop(&self) {
        self.lock().stopping = true;
        self.wake.notify_all();
    }
}

/// The flusher thread. Dropping the last handle stops it after it has committed what is queued.
#[derive(Debug)]
pub(crate) struct Flusher {
    queue: Arc<AuditQueue>,
    thread: Option<JoinHandle<()>>,
}

impl Flusher {
    /// Starts a thread that calls `commit` whenever records are queued. `commit` takes them (through the store's
    /// write path) and returns whether it succeeded; after a failure the thread waits a little before trying again.
    pub(crate) fn start(
        queue: Arc<AuditQueue>,
        commit: impl Fn() -> bool + Send + 'static,
    ) -> std::io::Result<Flusher> {
        let worker = queue.clone();
        let thread = std::thread::Builder::new().name("commy-audit".into()).spawn(move || {
            while worker.wait_for_work() {
                if !commit() {
                    if worker.lock().stopping {
                        tracing::error!("the audit log cannot be written; queued audit records are lost");
                        break;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
            }
        })?;
        Ok(Flusher {
            queue,
            thread: Some(thread),
        })
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        self.queue.stop();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the audit flusher thread panicked; queued audit records may be lost");
            }
        }
    }
}
