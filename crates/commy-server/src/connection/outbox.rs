//! [`Outbox`]: one connection's pending pushes, coalesced per variable.
//!
//! A change pushed while an older change of the same variable is still waiting replaces it in place: the variable
//! keeps its place in the queue (the order of first insertion) and the client gets the newest value. So the queue
//! holds at most one change per variable the connection subscribed to, however slowly the client reads, and the last
//! change of a variable is never dropped.
//!
//! Pushes made while the connection's current request is being handled are held back until that request's reply is
//! queued. A client therefore reads the reply to `Subscribe` before any push of that subscription, and the reply to its
//! own `WriteVariable` before the push of that write.

use crate::live::PushSink;
use crate::metrics::Metrics;
use commy_proto::{ServerMessage, ServiceMoved, SubscriptionEnded, VariableChanged};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::Notify;

/// One connection's pending pushes. It implements [`PushSink`]: hand the live layer an `Arc<Outbox>` (as an
/// `Arc<dyn PushSink>`) for each subscription.
pub struct Outbox {
    queue: Mutex<Queue>,
    /// Wakes the connection's writer when a push is ready.
    ready: Notify,
    closed: AtomicBool,
    metrics: Arc<Metrics>,
}

#[derive(Default)]
struct Queue {
    /// Keys in order of first insertion.
    order: VecDeque<(String, String)>,
    /// Pending changes by service, then variable.
    entries: HashMap<String, HashMap<String, Entry>>,
    /// Whether a request is being handled now.
    in_flight: bool,
    /// How many entries are held.
    held: usize,
    /// Notices to send after the pending changes: subscriptions the server ended, services that moved.
    ended: Vec<ServerMessage>,
    /// When to close the connection, and why: every grant it held died.
    closing: Option<(std::time::Instant, String)>,
}

struct Entry {
    change: VariableChanged,
    /// Pushed during the request being handled: wait for its reply.
    held: bool,
}

impl Outbox {
    pub(crate) fn new(metrics: Arc<Metrics>) -> Self {
        Outbox {
            queue: Mutex::new(Queue::default()),
            ready: Notify::new(),
            closed: AtomicBool::new(false),
            metrics,
        }
    }

    /// How many variables have a change waiting to be written.
    pub fn pending(&self) -> usize {
        self.lock().order.len()
    }

    /// Marks the start of handling a request: pushes from now on wait for [`Outbox::end_request`].
    pub(crate) fn begin_request(&self) {
        self.lock().in_flight = true;
    }

    /// Marks the request's reply as queued: the pushes made while it was handled may go.
    pub(crate) fn end_request(&self) {
        let mut queue = self.lock();
        queue.in_flight = false;
        if queue.held == 0 {
            if !queue.ended.is_empty() {
                drop(queue);
                self.ready.notify_one();
            }
            return;
        }
        queue.held = 0;
        for entry in queue.entries.values_mut().flat_map(HashMap::values_mut) {
            entry.held = false;
        }
        drop(queue);
        self.ready.notify_one();
    }

    /// Waits until a push may be ready. Only the connection's writer waits here.
    pub(crate) async fn wait_ready(&self) {
        self.ready.notified().await;
    }

    /// Moves up to `max` ready changes into `out`, oldest first. If more are ready, the next
    /// [`Outbox::wait_ready`] returns at once.
    pub(crate) fn take_ready(&self, max: usize, out: &mut Vec<VariableChanged>) {
        let mut guard = self.lock();
        let Queue { order, entries, .. } = &mut *guard;
        let mut more = false;
        order.retain(|(service, variable)| {
            let Some(by_variable) = entries.get_mut(service) else {
                return false;
            };
            match by_variable.get(variable) {
                Some(entry) if entry.held => true,
                Some(_) if out.len() == max => {
                    more = true;
                    true
                }
                Some(_) => {
                    if let Some(entry) = by_variable.remove(variable) {
                        out.push(entry.change);
                    }
                    if by_variable.is_empty() {
                        entries.remove(service);
                    }
                    false
                }
                None => false,
            }
        });
        drop(guard);
        if more {
            self.ready.notify_one();
        }
    }

    /// Moves the notices (ended subscriptions, moved services) into `out`, unless a request is being handled (they then wait
    /// for its reply, like changes do).
    pub(crate) fn take_ended(&self, out: &mut Vec<ServerMessage>) {
        let mut queue = self.lock();
        if !queue.in_flight {
            out.append(&mut queue.ended);
        }
    }

    /// When the connection is to be closed (see [`PushSink::close_at`]), if it is.
    pub(crate) fn close_due(&self) -> Option<std::time::Instant> {
        self.lock().closing.as_ref().map(|(at, _)| *at)
    }

    /// Why the connection is to be closed now, once its close is due and no request is being handled.
    pub(crate) fn take_due_close(&self) -> Option<String> {
        let mut queue = self.lock();
        match &queue.closing {
            Some((at, _)) if !queue.in_flight && *at <= std::time::Instant::now() => queue.closing.take().map(|c| c.1),
            _ => None,
        }
    }

    /// Marks the connection gone and drops what is pending; later pushes are dropped.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let mut queue = self.lock();
        queue.order.clear();
        queue.entries.clear();
        queue.ended.clear();
        queue.held = 0;
    }

    /// Queues a notice for after the pending changes (and after the reply to the request being handled, if any).
    fn notice(&self, notice: ServerMessage) {
        if self.is_closed() {
            return;
        }
        let mut queue = self.lock();
        queue.ended.push(notice);
        let held = queue.in_flight;
        drop(queue);
        if !held {
            self.ready.notify_one();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl PushSink for Outbox {
    fn push(&self, change: VariableChanged) {
        if self.is_closed() {
            return;
        }
        let mut guard = self.lock();
        let queue = &mut *guard;
        let held = queue.in_flight;
        let existing = queue
            .entries
            .get_mut(change.service_id.as_str())
            .and_then(|by_variable| by_variable.get_mut(change.variable_name.as_str()));
        if let Some(entry) = existing {
            if held && !entry.held {
                queue.held += 1;
            }
            entry.change = change;
            entry.held |= held;
            drop(guard);
            self.metrics.push_coalesced();
        } else {
            if held {
                queue.held += 1;
            }
            let key = (change.service_id.clone(), change.variable_name.clone());
            queue
                .entries
                .entry(key.0.clone())
                .or_default()
                .insert(key.1.clone(), Entry { change, held });
            queue.order.push_back(key);
            drop(guard);
        }
        if !held {
            self.ready.notify_one();
        }
    }

    fn end(&self, ended: SubscriptionEnded) {
        self.notice(ServerMessage::SubscriptionEnded(ended));
    }

    fn moved(&self, moved: ServiceMoved) {
        self.notice(ServerMessage::ServiceMoved(moved));
    }

    fn close_at(&self, at: std::time::Instant, reason: String) {
        self.lock().closing = Some((at, reason));
        self.ready.notify_one();
    }

    fn keep_open(&self) {
        self.lock().closing = None;
    }

    fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }
}

impl fmt::Debug for Outbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outbox")
            .field("pending", &self.pending())
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(variable: &str, version: u64) -> VariableChanged {
        VariableChanged {
            service_id: "svc".into(),
            variable_name: variable.into(),
            data: version.to_le_bytes().to_vec(),
            version,
            value: None,
        }
    }

    fn take(outbox: &Outbox, max: usize) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        outbox.take_ready(max, &mut out);
        out.into_iter().map(|c| (c.variable_name, c.version)).collect()
    }

    #[test]
    fn coalesces_to_the_latest_in_first_insertion_order() {
        let metrics = Arc::new(Metrics::new());
        let outbox = Outbox::new(metrics.clone());
        for version in 1..=10_000 {
            outbox.push(change("a", version));
            outbox.push(change("b", version));
            assert!(outbox.pending() <= 2);
        }
        outbox.push(change("c", 1));
        assert_eq!(
            take(&outbox, 10),
            [("a".into(), 10_000), ("b".into(), 10_000), ("c".into(), 1)]
        );
        assert_eq!(outbox.pending(), 0);
        assert!(metrics.encode().contains("commy_pushes_coalesced_total 19998"));
    }

    #[test]
    fn takes_at_most_max_and_keeps_the_rest() {
        let outbox = Outbox::new(Arc::new(Metrics::new()));
        for name in ["a", "b", "c"] {
            outbox.push(change(name, 1));
        }
        assert_eq!(take(&outbox, 2), [("a".into(), 1), ("b".into(), 1)]);
        assert_eq!(take(&outbox, 2), [("c".into(), 1)]);
    }

    #[test]
    fn holds_pushes_made_during_a_request_until_its_reply() {
        let outbox = Outbox::new(Arc::new(Metrics::new()));
        outbox.push(change("before", 1));
        outbox.begin_request();
        outbox.push(change("during", 1));
        outbox.push(change("before", 2));
        assert!(take(&outbox, 10).is_empty(), "a replaced change is held too");
        outbox.end_request();
        assert_eq!(take(&outbox, 10), [("before".into(), 2), ("during".into(), 1)]);
        // A request that pushes nothing releases nothing; the next one's pushes are held again.
        outbox.begin_request();
        outbox.end_request();
        outbox.begin_request();
        outbox.push(change("later", 1));
        assert!(take(&outbox, 10).is_empty());
        outbox.end_request();
        assert_eq!(take(&outbox, 10), [("later".into(), 1)]);
    }

    #[test]
    fn a_closed_outbox_drops_everything() {
        let outbox = Outbox::new(Arc::new(Metrics::new()));
        outbox.push(change("a", 1));
        outbox.close();
        outbox.push(change("a", 2));
        assert!(outbox.is_closed());
        assert_eq!(outbox.pending(), 0);
    }
}
