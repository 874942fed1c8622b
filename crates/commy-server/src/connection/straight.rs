//! [`StraightWrite`]: writing a push to a connection's socket from the thread that published it, without waking the
//! connection's writer task.
//!
//! A push normally goes into the connection's [`Outbox`](super::Outbox) and the writer task, woken by a `Notify`,
//! writes it. When that task sleeps on another worker, waking it is a cross-thread wake-up, which on a small virtual
//! machine costs more than the whole write. So when a subscriber's outbox is empty and nothing is being written on its
//! connection, the outbox asks the transport to write the push at once, from the publisher's thread: one attempt that
//! never waits. Whatever does not go out whole is finished by the writer task; a transport that cannot do it refuses,
//! and the push takes the outbox.

use super::EncodedFrame;

/// What became of one straight write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Straight {
    /// It is on the wire (in the kernel's socket buffer).
    Written,
    /// It is in the transport's buffer, after everything written before it, but not all of it went out: the writer
    /// must flush it (the socket was full, or the reader half held the connection for a moment).
    Owed,
    /// Nothing was done: the connection is busy (its writer is writing, or another publisher is), or closed.
    Refused,
}

/// A transport that can write a push from any thread without waiting. Its [`MessageSink`](super::MessageSink) and
/// this share one lock: a straight write is tried only when the lock is free and the writer has flushed everything
/// it wrote, so that the two never write at once and the writer is never waiting on the socket when a publisher
/// polls it.
pub(crate) trait StraightWrite: Send + Sync {
    /// Tries to write `frame` now: never blocks, never waits.
    fn try_write(&self, frame: &EncodedFrame) -> Straight;
}
