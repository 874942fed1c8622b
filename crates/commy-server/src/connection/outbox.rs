//! [`Outbox`]: one connection's pending pushes, coalesced per variable, within a byte budget.
//!
//! A change pushed while an older change of the same variable is still waiting replaces it in place: the variable
//! keeps its place in the queue (the order of first insertion) and the client gets the newest value. So the queue
//! holds at most one change per variable the connection subscribed to, however slowly the client reads, and the last
//! change of a variable is never dropped.
//!
//! A variable can be large, so the queue is also bounded in bytes: the encoded bytes of the pending pushes, plus
//! those the writer has taken (pushes and replies) and not yet written, may not pass the connection's budget. A push
//! that would pass it makes the connection a slow consumer: the outbox drops what it holds, takes no more pushes, and
//! tells the writer, which closes the connection with the reason (close code 1008 on a WebSocket). Writers and other
//! subscribers never wait for a slow one.
//!
//! Pushes made while the connection's current request is being handled are held back until that request's reply is
//! queued. A client therefore reads the reply to `Subscribe` before any push of that subscription, and the reply to its
//! own `WriteVariable` before the push of that write.
//!
//! A push that finds nothing ahead of it (no push pending, no reply on its way to the writer, nothing the writer took
//! and has not written, no request being handled) is written straight to the socket by the thread that published it,
//! where the transport can ([`StraightWrite`]): no wake-up of the writer task. Otherwise it waits here as above.

use super::straight::{Straight, StraightWrite};
use super::EncodedFrame;
use crate::live::{Change, ChangeKey, PushSink};
use crate::metrics::Metrics;
use commy_proto::{Encoding, ServerMessage, ServiceMoved, SubscriptionEnded};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use tokio::sync::Notify;

/// One connection's pending pushes. It implements [`PushSink`]: hand the live layer an `Arc<Outbox>` (as an
/// `Arc<dyn PushSink>`) for each subscription.
pub struct Outbox {
    queue: Mutex<Queue>,
    /// Wakes the connection's writer when a push is ready.
    ready: Notify,
    /// Wakes the connection's writer when the connection became a slow consumer.
    overflow: Notify,
    closed: AtomicBool,
    /// The connection's encoding: each push is charged its encoded size in it.
    encoding: Encoding,
    /// The byte budget.
    budget: usize,
    /// Bytes the writer has taken and not yet written (set by the writer, and by a straight write it must finish).
    writing: AtomicUsize,
    /// Replies queued for the writer and not yet handed to the transport (see [`super::ReplySender`]).
    replies: AtomicUsize,
    metrics: Arc<Metrics>,
}

#[derive(Default)]
struct Queue {
    /// Keys in order of first insertion.
    order: VecDeque<ChangeKey>,
    /// Pending changes by variable.
    entries: HashMap<ChangeKey, Entry>,
    /// Encoded bytes of the pending changes.
    bytes: usize,
    /// Whether a request is being handled now.
    in_flight: bool,
    /// How many entries are held.
    held: usize,
    /// Notices to send after the pending changes: subscriptions the server ended, services that moved.
    ended: Vec<ServerMessage>,
    /// Why the connection is being closed as a slow consumer, once it is.
    slow: Option<String>,
    /// When to close the connection, and why: every grant it held died.
    closing: Option<(std::time::Instant, String)>,
    /// The transport's straight path, if it has one, until the outbox closes.
    straight: Option<Box<dyn StraightWrite>>,
}

struct Entry {
    change: Arc<Change>,
    /// Its encoded size, as charged to the budget.
    size: usize,
    /// Pushed during the request being handled: wait for its reply.
    held: bool,
}

impl Outbox {
    /// An outbox for a connection that speaks `encoding`, holding at most `budget` bytes.
    pub(crate) fn new(metrics: Arc<Metrics>, encoding: Encoding, budget: usize) -> Self {
        Outbox {
            queue: Mutex::new(Queue::default()),
            ready: Notify::new(),
            overflow: Notify::new(),
            closed: AtomicBool::new(false),
            encoding,
            budget,
            writing: AtomicUsize::new(0),
            replies: AtomicUsize::new(0),
            metrics,
        }
    }

    /// Lets pushes that find nothing ahead of them be written straight through `straight`, until the outbox closes
    /// (which drops it, and with it the transport's hold on the socket).
    pub(crate) fn write_straight_through(&self, straight: Box<dyn StraightWrite>) {
        let mut queue = self.lock();
        if !self.is_closed() {
            queue.straight = Some(straight);
        }
    }

    /// A reply is on its way to the writer: pushes wait in the outbox until [`Outbox::reply_taken`].
    pub(crate) fn reply_queued(&self) {
        self.replies.fetch_add(1, Ordering::SeqCst);
    }

    /// The writer handed a reply to the transport (or it never entered the queue).
    pub(crate) fn reply_taken(&self) {
        self.replies.fetch_sub(1, Ordering::SeqCst);
    }

    /// How many variables have a change waiting to be written.
    pub fn pending(&self) -> usize {
        self.lock().order.len()
    }

    /// The encoding the connection speaks.
    pub(crate) fn encoding(&self) -> Encoding {
        self.encoding
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
        for entry in queue.entries.values_mut() {
            entry.held = false;
        }
        drop(queue);
        self.ready.notify_one();
    }

    /// Waits until a push may be ready. Only the connection's writer waits here.
    pub(crate) async fn wait_ready(&self) {
        self.ready.notified().await;
    }

    /// Waits until the connection is a slow consumer; returns why. Only the connection's writer waits here.
    pub(crate) async fn slow_consumer(&self) -> String {
        loop {
            if let Some(reason) = self.lock().slow.clone() {
                return reason;
            }
            self.overflow.notified().await;
        }
    }

    /// Moves up to `max` ready changes into `out`, oldest first; their bytes count as being written until
    /// [`Outbox::written`]. If more are ready, the next [`Outbox::wait_ready`] returns at once.
    pub(crate) fn take_ready(&self, max: usize, out: &mut Vec<Arc<Change>>) {
        let mut guard = self.lock();
        let Queue {
            order, entries, bytes, ..
        } = &mut *guard;
        let mut more = false;
        let mut taken = 0;
        order.retain(|key| match entries.get(key) {
            Some(entry) if entry.held => true,
            Some(_) if out.len() == max => {
                more = true;
                true
            }
            Some(_) => {
                if let Some(entry) = entries.remove(key) {
                    taken += entry.size;
                    out.push(entry.change);
                }
                false
            }
            None => false,
        });
        *bytes -= taken;
        self.writing.fetch_add(taken, Ordering::SeqCst);
        drop(guard);
        if more {
            self.ready.notify_one();
        }
    }

    /// The writer encoded a reply of `bytes` bytes: they count against the budget until [`Outbox::written`].
    pub(crate) fn writing(&self, bytes: usize) {
        self.writing.fetch_add(bytes, Ordering::SeqCst);
    }

    /// The writer wrote everything it had taken.
    pub(crate) fn written(&self) {
        self.writing.store(0, Ordering::SeqCst);
    }

    /// Moves the notices (ended subscriptions, moved services) into `out`, unless a request is being handled (they
    /// then wait
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
        queue.straight = None;
        queue.order.clear();
        queue.entries.clear();
        queue.ended.clear();
        queue.held = 0;
        queue.bytes = 0;
    }

    /// Makes the connection a slow consumer: drops what it holds, takes no more, and wakes the writer to close it.
    fn become_slow(&self, mut queue: MutexGuard<'_, Queue>, wanted: usize) {
        let reason = format!(
            "slow consumer: {wanted} bytes of pushes and replies waiting, over this connection's budget of {} bytes",
            self.budget
        );
        tracing::warn!(%reason, "closing a connection that does not read its pushes");
        self.closed.store(true, Ordering::Release);
        queue.straight = None;
        queue.order.clear();
        queue.entries.clear();
        queue.ended.clear();
        queue.held = 0;
        queue.bytes = 0;
        queue.slow = Some(reason);
        drop(queue);
        self.metrics.slow_consumer();
        self.overflow.notify_one();
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

    /// Writes `frame` (`size` bytes) straight to the connection, if the transport can and nothing is ahead of it: the
    /// caller holds the queue's lock and found no push pending and no request being handled; here, no reply on its
    /// way and nothing the writer took and has not written. Returns whether it went (or the writer now owes its
    /// end).
    fn write_straight(&self, straight: Option<&dyn StraightWrite>, frame: &EncodedFrame, size: usize) -> bool {
        let Some(straight) = straight else {
            return false;
        };
        if self.replies.load(Ordering::SeqCst) != 0 || self.writing.load(Ordering::SeqCst) != 0 {
            return false;
        }
        match straight.try_write(frame) {
            Straight::Written => {}
            Straight::Owed => {
                self.writing.fetch_add(size, Ordering::SeqCst);
                self.ready.notify_one();
            }
            Straight::Refused => return false,
        }
        self.metrics.pushes_sent(1);
        self.metrics.push_straight();
        true
    }
}

impl PushSink for Outbox {
    fn push(&self, change: &Arc<Change>) {
        if self.is_closed() {
            return;
        }
        let frame = match change.encoded(self.encoding) {
            Ok(frame) => frame,
            Err(err) => {
                tracing::error!(%err, "dropping a push that cannot be encoded");
                return;
            }
        };
        let size = frame.len();
        let key = change.key();
        let mut guard = self.lock();
        let queue = &mut *guard;
        let replaced = queue.entries.get(&key).map_or(0, |entry| entry.size);
        let wanted = queue.bytes - replaced + size + self.writing.load(Ordering::SeqCst);
        if wanted > self.budget {
            self.become_slow(guard, wanted);
            return;
        }
        let held = queue.in_flight;
        let nothing_ahead = !held && queue.order.is_empty() && queue.ended.is_empty();
        if nothing_ahead && self.write_straight(queue.straight.as_deref(), frame, size) {
            return;
        }
        queue.bytes = queue.bytes - replaced + size;
        if let Some(entry) = queue.entries.get_mut(&key) {
            if held && !entry.held {
                queue.held += 1;
            }
            entry.change = change.clone();
            entry.size = size;
            entry.held |= held;
            drop(guard);
            self.metrics.push_coalesced();
        } else {
            if held {
                queue.held += 1;
            }
            let entry = Entry {
                change: change.clone(),
                size,
                held,
            };
            queue.entries.insert(key, entry);
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
    use commy_proto::VariableChanged;

    fn sized(variable: &str, version: u64, data: Vec<u8>) -> Arc<Change> {
        // Distinct short names get distinct indexes.
        let index = variable
            .bytes()
            .fold(0u32, |h, b| h.wrapping_mul(257).wrapping_add(b.into()));
        let message = VariableChanged {
            service_id: "svc".into(),
            variable_name: variable.into(),
            data,
            version,
            value: None,
        };
        Change::new(ChangeKey { service: 1, index }, message)
    }

    fn change(variable: &str, version: u64) -> Arc<Change> {
        sized(variable, version, version.to_le_bytes().to_vec())
    }

    fn outbox(metrics: &Arc<Metrics>) -> Outbox {
        Outbox::new(metrics.clone(), Encoding::Json, usize::MAX)
    }

    fn take(outbox: &Outbox, max: usize) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        outbox.take_ready(max, &mut out);
        out.iter()
            .map(|c| (c.message().variable_name.clone(), c.message().version))
            .collect()
    }

    #[test]
    fn coalesces_to_the_latest_in_first_insertion_order() {
        let metrics = Arc::new(Metrics::new());
        let outbox = outbox(&metrics);
        for version in 1..=10_000 {
            outbox.push(&change("a", version));
            outbox.push(&change("b", version));
            assert!(outbox.pending() <= 2);
        }
        outbox.push(&change("c", 1));
        assert_eq!(
            take(&outbox, 10),
            [("a".into(), 10_000), ("b".into(), 10_000), ("c".into(), 1)]
        );
        assert_eq!(outbox.pending(), 0);
        assert!(metrics.encode().contains("commy_pushes_coalesced_total 19998"));
    }

    #[test]
    fn takes_at_most_max_and_keeps_the_rest() {
        let outbox = outbox(&Arc::new(Metrics::new()));
        for name in ["a", "b", "c"] {
            outbox.push(&change(name, 1));
        }
        assert_eq!(take(&outbox, 2), [("a".into(), 1), ("b".into(), 1)]);
        assert_eq!(take(&outbox, 2), [("c".into(), 1)]);
    }

    #[test]
    fn holds_pushes_made_during_a_request_until_its_reply() {
        let outbox = outbox(&Arc::new(Metrics::new()));
        outbox.push(&change("before", 1));
        outbox.begin_request();
        outbox.push(&change("during", 1));
        outbox.push(&change("before", 2));
        assert!(take(&outbox, 10).is_empty(), "a replaced change is held too");
        outbox.end_request();
        assert_eq!(take(&outbox, 10), [("before".into(), 2), ("during".into(), 1)]);
        // A request that pushes nothing releases nothing; the next one's pushes are held again.
        outbox.begin_request();
        outbox.end_request();
        outbox.begin_request();
        outbox.push(&change("later", 1));
        assert!(take(&outbox, 10).is_empty());
        outbox.end_request();
        assert_eq!(take(&outbox, 10), [("later".into(), 1)]);
    }

    #[test]
    fn a_closed_outbox_drops_everything() {
        let outbox = outbox(&Arc::new(Metrics::new()));
        outbox.push(&change("a", 1));
        outbox.close();
        outbox.push(&change("a", 2));
        assert!(outbox.is_closed());
        assert_eq!(outbox.pending(), 0);
    }

    #[test]
    fn over_its_budget_a_connection_is_a_slow_consumer() {
        let metrics = Arc::new(Metrics::new());
        let outbox = Outbox::new(metrics.clone(), Encoding::Json, 5000);
        outbox.push(&sized("a", 1, vec![1; 1000]));
        // A newer change of the same variable replaces the old one's bytes: still within the budget.
        outbox.push(&sized("a", 2, vec![2; 1000]));
        assert!(!outbox.is_closed());
        assert_eq!(outbox.pending(), 1);
        // Taken by the writer, its bytes still count until written.
        let mut out = Vec::new();
        outbox.take_ready(10, &mut out);
        outbox.push(&sized("b", 1, vec![3; 1000]));
        assert!(
            !outbox.is_closed(),
            "two changes of about 2,100 bytes each (JSON arrays) fit in 5,000"
        );
        outbox.push(&sized("c", 1, vec![4; 1000]));
        assert!(outbox.is_closed(), "a third one does not");
        assert_eq!(outbox.pending(), 0);
        let reason = outbox.lock().slow.clone().expect("a reason");
        assert!(reason.contains("slow consumer") && reason.contains("5000"), "{reason}");
        assert!(metrics.encode().contains("commy_slow_consumers_total 1"));
        // Once written, the writer's bytes no longer count; but a slow consumer stays closed.
        outbox.written();
        outbox.push(&sized("d", 1, vec![]));
        assert_eq!(outbox.pending(), 0);
    }
}
