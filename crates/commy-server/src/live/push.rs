//! [`PushSink`]: how the live layer hands a connection the changes it subscribed to, and [`Change`], one change as
//! every subscriber gets it.

use crate::connection::EncodedFrame;
use commy_proto::{EncodeError, Encoding, Reply, ServerMessage, ServiceMoved, SubscriptionEnded, VariableChanged};
use std::sync::{Arc, OnceLock};

/// Which variable a change is of: the service's key (unique in this server process, never reused) and the variable's
/// table index. Outboxes coalesce by it: two numbers, not two names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ChangeKey {
    /// The service's key (see `LiveService::key`).
    pub service: u64,
    /// The variable's index in the service's table.
    pub index: u32,
}

/// One change of one variable, shared by every subscriber: the `VariableChanged` push, encoded at most once per
/// encoding, on first use, and then shared (the bytes are reference-counted).
#[derive(Debug)]
pub struct Change {
    key: ChangeKey,
    message: VariableChanged,
    json: OnceLock<Result<EncodedFrame, EncodeError>>,
    msgpack: OnceLock<Result<EncodedFrame, EncodeError>>,
}

impl Change {
    /// A change of the variable `key`, as `message` says.
    pub fn new(key: ChangeKey, message: VariableChanged) -> Arc<Change> {
        Arc::new(Change {
            key,
            message,
            json: OnceLock::new(),
            msgpack: OnceLock::new(),
        })
    }

    /// Which variable changed.
    pub fn key(&self) -> ChangeKey {
        self.key
    }

    /// The push, decoded.
    pub fn message(&self) -> &VariableChanged {
        &self.message
    }

    /// The push in `encoding`: encoded by the first caller, shared with every later one.
    pub fn encoded(&self, encoding: Encoding) -> &Result<EncodedFrame, EncodeError> {
        let cell = match encoding {
            Encoding::Json => &self.json,
            Encoding::MsgPack => &self.msgpack,
        };
        cell.get_or_init(|| {
            let reply = Reply::push(ServerMessage::VariableChanged(self.message.clone()));
            EncodedFrame::encode(&reply, encoding)
        })
    }
}

/// Where a subscription's changes go: one connection's outbound pushes.
///
/// Every connection, on either transport, has one: its [`Outbox`](crate::connection::Outbox). The live layer keeps an
/// `Arc<dyn PushSink>` per subscription and calls [`push`](PushSink::push) from whatever thread sees the change.
pub trait PushSink: Send + Sync {
    /// Queues a change for the connection, replacing any undelivered change of the same variable (the same
    /// [`ChangeKey`]): a slow subscriber gets coalesced pushes that always end at the latest version. Never blocks.
    fn push(&self, change: &Arc<Change>);

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
