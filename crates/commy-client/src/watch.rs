//! [`Watch`]: a stream of changes to one variable or to every variable of a service.
//!
//! Changes wait in a [`ChangeQueue`] that holds at most one change per variable: a change that arrives while an older
//! one of the same variable is still unread replaces it in place. A slow reader therefore skips intermediate versions
//! of a burst but always gets the latest one, and the queue never grows past the number of variables watched.

use crate::snapshot::Change;
use crate::watch_options::WatchOptions;
use futures_util::task::AtomicWaker;
use futures_util::Stream;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll};

/// The unread changes of one watch, coalesced per variable.
#[derive(Debug)]
pub(crate) struct ChangeQueue {
    state: Mutex<QueueState>,
    waker: AtomicWaker,
    /// The one variable watched, or `None` for every variable of the service.
    variable: Option<String>,
    /// Changes this client wrote are not wanted (see [`WatchOptions::skip_own_writes`]).
    skip_own_writes: bool,
}

#[derive(Debug, Default)]
struct QueueState {
    /// Variables with an unread change, in order of arrival.
    order: VecDeque<String>,
    unread: HashMap<String, Change>,
    /// The last change accepted per variable, to drop repeats of it.
    last: HashMap<String, (u64, Vec<u8>)>,
    closed: bool,
    /// Why the server ended the subscription (`SubscriptionEnded`), if it did.
    ended: Option<String>,
}

impl ChangeQueue {
    #[cfg(test)]
    pub(crate) fn new(variable: Option<String>) -> Arc<ChangeQueue> {
        ChangeQueue::with_options(variable, WatchOptions::new())
    }

    /// A queue for a watch opened with `options`.
    pub(crate) fn with_options(variable: Option<String>, options: WatchOptions) -> Arc<ChangeQueue> {
        Arc::new(ChangeQueue {
            state: Mutex::default(),
            waker: AtomicWaker::new(),
            variable,
            skip_own_writes: options.skips_own_writes(),
        })
    }

    /// Whether the watch skips its client's own writes.
    pub(crate) fn skips_own_writes(&self) -> bool {
        self.skip_own_writes
    }

    fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether this queue takes changes of `variable`.
    pub(crate) fn wants(&self, variable: &str) -> bool {
        self.variable.as_deref().is_none_or(|v| v == variable)
    }

    /// Queues a change, replacing an unread change of the same variable. A repeat of the last change accepted (the
    /// same version and bytes, as after a resubscription) is dropped, and so is a change older than it (a server
    /// failed over to that is behind, or a push that crossed the catch-up read): a watch never goes back.
    pub(crate) fn push(&self, change: Change) {
        if !self.wants(&change.variable) {
            return;
        }
        let mut state = self.lock();
        if state.closed {
            return;
        }
        if let Some((version, bytes)) = state.last.get(&change.variable) {
            if change.version < *version || (change.version == *version && change.bytes == *bytes) {
                return;
            }
        }
        let seen = (change.version, change.bytes.clone());
        state.last.insert(change.variable.clone(), seen);
        if !state.unread.contains_key(&change.variable) {
            state.order.push_back(change.variable.clone());
        }
        state.unread.insert(change.variable.clone(), change);
        drop(state);
        self.waker.wake();
    }

    /// The version of the last change accepted for `variable`.
    pub(crate) fn last_version(&self, variable: &str) -> Option<u64> {
        self.lock().last.get(variable).map(|(version, _)| *version)
    }

    /// Ends the stream once the unread changes are read.
    pub(crate) fn close(&self) {
        self.lock().closed = true;
        self.waker.wake();
    }

    /// Ends the stream because the server ended the subscription, for `reason`.
    pub(crate) fn end(&self, reason: String) {
        self.lock().ended = Some(reason);
        self.close();
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.lock().closed
    }

    fn take(&self) -> Poll<Option<Change>> {
        let mut state = self.lock();
        while let Some(variable) = state.order.pop_front() {
            if let Some(change) = state.unread.remove(&variable) {
                return Poll::Ready(Some(change));
            }
        }
        if state.closed {
            Poll::Ready(None)
        } else {
            Poll::Pending
        }
    }

    fn poll_next(&self, cx: &mut Context<'_>) -> Poll<Option<Change>> {
        if let Poll::Ready(next) = self.take() {
            return Poll::Ready(next);
        }
        self.waker.register(cx.waker());
        // A change pushed between the first look and the registration woke nobody: look again.
        self.take()
    }
}

/// A stream of changes to one variable ([`Service::watch_variable`](crate::Service::watch_variable)) or to every
/// variable of a service ([`Service::watch`](crate::Service::watch)).
///
/// It reports changes made after it was created. A burst of writes may reach it coalesced, but the last change of a
/// burst always arrives: the stream never stops short of a variable's latest version. Across a reconnect it keeps
/// going and reports the latest value of each variable that changed meanwhile. Deallocations are not reported.
///
/// The stream ends when the client is closed, when the connection is lost for good, or when the server ends the
/// subscription (its credential was revoked, deleted or expired, or its service or variable deleted:
/// [`Watch::end_reason`] then says why). Dropping it ends the subscription.
pub struct Watch {
    queue: Arc<ChangeQueue>,
    on_drop: Vec<Box<dyn FnOnce() + Send>>,
}

impl Watch {
    pub(crate) fn new(queue: Arc<ChangeQueue>) -> Watch {
        Watch {
            queue,
            on_drop: Vec::new(),
        }
    }

    /// Runs `cleanup` when the watch is dropped.
    pub(crate) fn on_drop(&mut self, cleanup: impl FnOnce() + Send + 'static) {
        self.on_drop.push(Box::new(cleanup));
    }

    /// The next change; `None` once the stream has ended. The same as `StreamExt::next`.
    pub async fn next_change(&mut self) -> Option<Change> {
        std::future::poll_fn(|cx| self.queue.poll_next(cx)).await
    }

    /// Why the server ended this watch's subscription, if it did: for example `the credential was revoked`, or `the
    /// service was deleted`. The stream ends after the changes that arrived before.
    pub fn end_reason(&self) -> Option<String> {
        self.queue.lock().ended.clone()
    }

    /// An unread change if there is one, without waiting.
    pub fn try_next_change(&mut self) -> Option<Change> {
        match self.queue.take() {
            Poll::Ready(change) => change,
            Poll::Pending => None,
        }
    }
}

impl Stream for Watch {
    type Item = Change;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Change>> {
        self.queue.poll_next(cx)
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.queue.close();
        for cleanup in self.on_drop.drain(..) {
            cleanup();
        }
    }
}

impl fmt::Debug for Watch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Watch")
            .field("variable", &self.queue.variable)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(variable: &str, version: u64) -> Change {
        Change {
            variable: variable.into(),
            version,
            bytes: version.to_le_bytes().to_vec(),
            value: None,
        }
    }

    fn drain(watch: &mut Watch) -> Vec<(String, u64)> {
        std::iter::from_fn(|| watch.try_next_change())
            .map(|c| (c.variable, c.version))
            .collect()
    }

    #[test]
    fn a_burst_coalesces_to_its_last_version() {
        let queue = ChangeQueue::new(None);
        let mut watch = Watch::new(queue.clone());
        for version in 1..=1000 {
            queue.push(change("a", version));
            queue.push(change("b", version));
        }
        queue.push(change("c", 1));
        assert_eq!(
            drain(&mut watch),
            [("a".into(), 1000), ("b".into(), 1000), ("c".into(), 1)]
        );
    }

    #[test]
    fn repeats_and_other_variables_are_dropped() {
        let queue = ChangeQueue::new(Some("a".into()));
        let mut watch = Watch::new(queue.clone());
        queue.push(change("a", 3));
        assert_eq!(drain(&mut watch), [("a".into(), 3)]);
        queue.push(change("a", 3));
        queue.push(change("b", 4));
        queue.push(change("a", 2));
        assert!(drain(&mut watch).is_empty());
        assert_eq!(queue.last_version("a"), Some(3));
    }

    #[tokio::test]
    async fn a_closed_queue_ends_after_its_unread_changes() {
        let queue = ChangeQueue::new(None);
        let mut watch = Watch::new(queue.clone());
        queue.push(change("a", 1));
        queue.close();
        assert_eq!(watch.next_change().await.map(|c| c.version), Some(1));
        assert_eq!(watch.next_change().await, None);
    }

    #[tokio::test]
    async fn a_waiting_reader_is_woken() {
        let queue = ChangeQueue::new(None);
        let mut watch = Watch::new(queue.clone());
        let writer = std::thread::spawn(move || queue.push(change("a", 9)));
        assert_eq!(watch.next_change().await.map(|c| c.version), Some(9));
        writer.join().unwrap();
    }
}
