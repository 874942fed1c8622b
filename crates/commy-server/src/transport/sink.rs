//! [`WsSink`]: the WebSocket's [`MessageSink`]: text frames for JSON, binary frames for MessagePack, and close frames;
//! and [`WsStraight`], the same socket's [`StraightWrite`], for pushes written from the thread that published them.
//!
//! Both hold the WebSocket's writing half behind one mutex, taken for one poll at a time, never across an `await`.
//! Every byte goes through the WebSocket library's sink (tokio-tungstenite, under axum's `WebSocket`): it frames each
//! message and keeps one write buffer for the connection, so frames from the writer, from a straight write and from
//! the reader's automatic replies (pongs, the close echo) never interleave, on plain TCP and under TLS alike.
//!
//! The writer marks the sink busy from its first `feed` until a `flush` has written everything out. A straight write
//! is tried only while the sink is not busy, so the writer is never waiting on the socket when a publisher polls it:
//! a poll from the publisher (with a waker that does nothing) can then replace no waker that someone relies on. If
//! the straight write does not complete, it leaves the sink busy, and the outbox wakes the writer to finish it.

use crate::connection::{EncodedFrame, MessageSink, SinkError, Straight, StraightWrite};
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use commy_proto::{Encoding, Reply};
use futures_util::stream::SplitSink;
use futures_util::{ready, SinkExt};
use std::future::poll_fn;
use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::task::{Context, Poll, Waker};

/// The writing half of one WebSocket, shared by its writer and by straight writes.
struct Shared {
    sink: SplitSink<WebSocket, Message>,
    /// Something was fed and not yet flushed (or a flush failed): only the writer may touch the sink.
    busy: bool,
    /// The close frame went out: nothing more may.
    closed: bool,
}

type SharedSink = Arc<Mutex<Shared>>;

fn lock(shared: &SharedSink) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The writer's side of one WebSocket.
pub(crate) struct WsSink {
    shared: SharedSink,
    encoding: Encoding,
}

/// The straight side of the same WebSocket, for its outbox.
pub(crate) struct WsStraight {
    shared: SharedSink,
}

/// The writer's sink and the straight path of the WebSocket whose writing half is `sink`.
pub(crate) fn ws_sink(sink: SplitSink<WebSocket, Message>, encoding: Encoding) -> (WsSink, WsStraight) {
    let shared = Arc::new(Mutex::new(Shared {
        sink,
        busy: false,
        closed: false,
    }));
    let straight = WsStraight { shared: shared.clone() };
    (WsSink { shared, encoding }, straight)
}

fn message_of(frame: &EncodedFrame) -> Message {
    // Shares the frame's bytes: no copy.
    match frame {
        EncodedFrame::Text(text) => Message::Text(text.clone()),
        EncodedFrame::Binary(bytes) => Message::Binary(bytes.clone()),
    }
}

impl WsSink {
    /// Queues one message in the WebSocket's buffer (writing the buffer out first if it is full).
    async fn feed_message(&mut self, message: Message) -> Result<(), SinkError> {
        let mut message = Some(message);
        poll_fn(|cx| {
            let mut shared = lock(&self.shared);
            shared.busy = true;
            ready!(shared.sink.poll_ready_unpin(cx)).map_err(|_| SinkError::Gone)?;
            let Some(message) = message.take() else {
                return Poll::Ready(Ok(()));
            };
            Poll::Ready(shared.sink.start_send_unpin(message).map_err(|_| SinkError::Gone))
        })
        .await
    }
}

impl MessageSink for WsSink {
    type Close = CloseFrame;

    /// 1008 (policy violation), with the reason.
    fn policy_close(reason: &str) -> CloseFrame {
        super::close::frame(axum::extract::ws::close_code::POLICY, reason)
    }

    /// A WebSocket cannot pass descriptors; no request answered on it has one.
    async fn feed(&mut self, reply: &Reply, _fd: Option<OwnedFd>) -> Result<usize, SinkError> {
        let frame = EncodedFrame::encode(reply, self.encoding).map_err(SinkError::Encode)?;
        let size = frame.len();
        self.feed_frame(&frame).await?;
        Ok(size)
    }

    async fn feed_frame(&mut self, frame: &EncodedFrame) -> Result<(), SinkError> {
        self.feed_message(message_of(frame)).await
    }

    /// Writes everything out; the sink is then free for straight writes again.
    async fn flush(&mut self) -> Result<(), SinkError> {
        poll_fn(|cx| {
            let mut shared = lock(&self.shared);
            let flushed = ready!(shared.sink.poll_flush_unpin(cx));
            if flushed.is_ok() && !shared.closed {
                shared.busy = false;
            }
            Poll::Ready(flushed.map_err(|_| SinkError::Gone))
        })
        .await
    }

    async fn close(&mut self, frame: CloseFrame) {
        lock(&self.shared).closed = true;
        if self.feed_message(Message::Close(Some(frame))).await.is_ok() {
            let _ = self.flush().await;
        }
    }

    async fn ping(&mut self) -> Result<(), SinkError> {
        self.feed_message(Message::Ping(Bytes::new())).await
    }
}

impl StraightWrite for WsStraight {
    fn try_write(&self, frame: &EncodedFrame) -> Straight {
        let mut shared = match self.shared.try_lock() {
            Ok(shared) => shared,
            Err(TryLockError::WouldBlock | TryLockError::Poisoned(_)) => return Straight::Refused,
        };
        if shared.busy || shared.closed {
            return Straight::Refused;
        }
        // Nobody waits on this sink now (it is not busy), so a waker that does nothing replaces none that matters;
        // whatever is left undone, the writer finishes with its own.
        let mut cx = Context::from_waker(Waker::noop());
        match shared.sink.poll_ready_unpin(&mut cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(_)) | Poll::Pending => return Straight::Refused,
        }
        if shared.sink.start_send_unpin(message_of(frame)).is_err() {
            // The connection is failing: the writer's next flush finds out and ends it.
            shared.busy = true;
            return Straight::Owed;
        }
        match shared.sink.poll_flush_unpin(&mut cx) {
            Poll::Ready(Ok(())) => Straight::Written,
            Poll::Ready(Err(_)) | Poll::Pending => {
                shared.busy = true;
                Straight::Owed
            }
        }
    }
}
