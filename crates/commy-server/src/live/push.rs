//! [`PushSink`]: how the live layer hands a connection the changes it subscribed to.

use commy_proto::{ServiceMoved, SubscriptionEnded, VariableChanged};

/// Where a subscription's changes go: one connection's outbound pushes.
///
/// Every connection, on either transport, has one: its [`Outbox`](crate::connection::Outbox). The live layer keeps an
/// `Arc<dyn PushSink>` per subscription and calls [`push`](PushSink::push) from whatever thread sees the change.
pub trait PushSink: Send + Sync {
    /// Queues a change for the connection, replacing any undelivered change of the same `(service_id,
    /// variable_name)`: a slow subscriber gets coalesced pushes that always end at the latest version. Never blocks.
    fn push(&self, change: VariableChanged);

    /// Queues the news that a subscription ended (its credential died, or its service or variable was deleted).
    /// Never blocks.
    fn end(&self, ended: SubscriptionEnded);

    /// Queues the news that a service this connection has mapped moved to a new file (local connections only). Never
    /// blocks. A sink that carries no local mappings ignores it.
    fn moved(&self, _moved: ServiceMoved) {}

    /// Closes the connection at `at`, saying `reason` (WebSocket close 1008; on the local socket a last
    /// `Disconnected`), unless [`PushSink::keep_open`] comes first: every grant the connection held has died. Never
    /// blocks.
    fn close_at(&self, _at: std::time::Instant, _reason: String) {}

    /// Cancels a pending [`PushSink::close_at`]: the connection holds a live grant again.
    fn keep_open(&self) {}

    /// True once the connection is gone; the live layer then drops the subscription.
    fn is_closed(&self) -> bool;
}
