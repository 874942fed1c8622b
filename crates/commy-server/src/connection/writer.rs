//! The writing half of a connection, on either transport: replies in request order, and between them the
//! server-initiated messages (pushes) that are ready.
//!
//! Replies come from the reader through a bounded queue; pushes come from the connection's [`Outbox`], where they
//! are coalesced per variable. Every time it wakes, the writer first writes every reply queued so far, then the
//! pushes that are ready, so a push released by a reply is written after that reply. When the client reads slowly
//! the writer waits on the socket, the reply queue fills, and the reader stops reading requests: the client's own
//! backlog stays in its socket, and the server holds at most `reply_queue_depth` replies and one push per variable.
//! The bytes of the pending pushes and of what the writer holds unwritten count against the connection's budget;
//! past it the [`Outbox`] calls the connection a slow consumer and the writer closes it with the reason.
//!
//! Pushes arrive encoded (once per change and encoding, shared by every subscriber); replies are encoded here.
//! A push that finds nothing ahead of it may have been written straight by the thread that published it (see
//! [`super::StraightWrite`]); the writer then only finishes what such a write left in the transport's buffer, at its
//! next flush.
//!
//! A transport supplies the [`MessageSink`]: how one message is encoded and written, and how the connection closes.

use super::{EncodedFrame, Outbox};
use crate::metrics::Metrics;
use commy_proto::{Disconnected, EncodeError, ErrorCode, Reply};
use std::future::Future;
use std::os::fd::OwnedFd;
use std::time::Duration;
use tokio::sync::mpsc::{self, error::TryRecvError};

/// Pushes written per wake-up at most, so that replies are not kept waiting behind many pushes.
const PUSH_BATCH: usize = 64;

/// How long a slow consumer's connection waits for its goodbye (`Disconnected`, then the close) to be written: the
/// client reads nothing, so they may never leave. Then the connection is dropped.
const SLOW_CLOSE_WAIT: Duration = Duration::from_secs(2);

/// What the reader asks the writer to write.
#[derive(Debug)]
pub(crate) enum Outgoing<C> {
    /// A reply, or a push that must follow the replies before it (`Disconnected` on shutdown), with a descriptor to
    /// pass beside it on the local socket. Boxed, like `last`: the queue's storage is allocated in blocks of 32
    /// entries when the connection opens, so a small entry keeps an idle connection small.
    Reply(Box<Reply>, Option<OwnedFd>),
    /// A last message, if any, then the transport's close; then the writer stops. The two go out together, with no
    /// push between them.
    Close {
        /// The last message: `Disconnected`.
        last: Option<Box<Reply>>,
        /// How the transport closes (a WebSocket close frame).
        close: C,
    },
    /// A transport-level keep-alive probe (a WebSocket ping), with no reply of its own.
    Ping,
}

impl<C> Outgoing<C> {
    /// A reply without a descriptor.
    pub(crate) fn reply(reply: Reply) -> Self {
        Outgoing::Reply(Box::new(reply), None)
    }
}

/// Why a message was not written.
#[derive(Debug)]
pub(crate) enum SinkError {
    /// It cannot be encoded; the connection is fine.
    Encode(EncodeError),
    /// The connection is gone.
    Gone,
}

/// Where one transport writes: encodes each message and buffers it until [`MessageSink::flush`].
pub(crate) trait MessageSink: Send {
    /// How the transport closes a connection.
    type Close: Send;

    /// Encodes and queues one message, with a descriptor beside it; returns its encoded size.
    fn feed(&mut self, reply: &Reply, fd: Option<OwnedFd>) -> impl Future<Output = Result<usize, SinkError>> + Send;

    /// Queues one message encoded already (a push, shared with other connections).
    fn feed_frame(&mut self, frame: &EncodedFrame) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// Writes what was queued; `Err` once the connection is gone.
    fn flush(&mut self) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// Closes the connection.
    fn close(&mut self, close: Self::Close) -> impl Future<Output = ()> + Send;

    /// Queues a keep-alive probe, for a transport that has one.
    fn ping(&mut self) -> impl Future<Output = Result<(), SinkError>> + Send {
        async { Ok(()) }
    }

    /// The close for a connection the server ends by policy (a slow consumer, or every grant it held died), saying
    /// `reason`.
    fn policy_close(reason: &str) -> Self::Close;
}

/// Whether the writer goes on.
enum Flow {
    Continue,
    Stop,
}

/// The writer of one connection.
pub(crate) struct Writer<'a, S> {
    pub(crate) sink: S,
    pub(crate) outbox: &'a Outbox,
    pub(crate) metrics: &'a Metrics,
}

impl<S: MessageSink> Writer<'_, S> {
    /// Writes until the reader asks to close or is gone, the socket fails, or the connection becomes a slow consumer
    /// (then it says why and closes).
    pub(crate) async fn run(mut self, replies: mpsc::Receiver<Outgoing<S::Close>>) {
        let outbox = self.outbox;
        let slow = {
            let work = self.write_all(replies);
            tokio::select! {
                () = work => None,
                reason = outbox.slow_consumer() => Some(reason),
            }
        };
        if let Some(reason) = slow {
            let last = Reply::push(Disconnected { reason: reason.clone() });
            let close = S::policy_close(&reason);
            let goodbye = async {
                if self.sink.feed(&last, None).await.is_ok() && self.sink.flush().await.is_ok() {
                    self.sink.close(close).await;
                }
            };
            let _ = tokio::time::timeout(SLOW_CLOSE_WAIT, goodbye).await;
        }
    }

    async fn write_all(&mut self, mut replies: mpsc::Receiver<Outgoing<S::Close>>) {
        // Grown on the first pushes, not before: a connection that never subscribes never pays for it.
        let mut pushes = Vec::new();
        let mut ended = Vec::new();
        let encoding = self.outbox.encoding();
        loop {
            // Every reply queued so far, in order.
            loop {
                let flow = match replies.try_recv() {
                    Ok(outgoing) => self.write(outgoing).await,
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => Flow::Stop,
                };
                if let Flow::Stop = flow {
                    let _ = self.sink.flush().await;
                    return;
                }
            }
            // Then the pushes that are ready.
            self.outbox.take_ready(PUSH_BATCH, &mut pushes);
            self.outbox.take_ended(&mut ended);
            let count = pushes.len() as u64;
            for change in pushes.drain(..) {
                // The outbox took only changes that encode.
                let Ok(frame) = change.encoded(encoding) else { continue };
                if let Err(SinkError::Gone) = self.sink.feed_frame(frame).await {
                    return;
                }
            }
            for end in ended.drain(..) {
                match self.sink.feed(&Reply::push(end), None).await {
                    Ok(_) => {}
                    Err(SinkError::Gone) => return,
                    Err(SinkError::Encode(err)) => tracing::error!(%err, "dropping a push that cannot be encoded"),
                }
            }
            if self.sink.flush().await.is_err() {
                return;
            }
            self.outbox.written();
            self.metrics.pushes_sent(count);
            // Then, once every grant has died and the grace period passed, the close (after the announcements).
            if let Some(reason) = self.outbox.take_due_close() {
                tracing::info!(%reason, "closing a connection whose every grant died");
                let last = Reply::push(Disconnected { reason: reason.clone() });
                let close = S::policy_close(&reason);
                self.write_one(Outgoing::Close {
                    last: Some(Box::new(last)),
                    close,
                })
                .await;
                return;
            }
            let close_due = self.outbox.close_due();
            // Then wait for more.
            tokio::select! {
                biased;
                () = until(close_due) => {}
                outgoing = replies.recv() => {
                    let flow = match outgoing {
                        Some(outgoing) => self.write(outgoing).await,
                        None => Flow::Stop,
                    };
                    if let Flow::Stop = flow {
                        let _ = self.sink.flush().await;
                        return;
                    }
                }
                () = self.outbox.wait_ready() => {}
            }
        }
    }

    /// Queues one reply in the sink, or writes the last reply and closes. Either way the reply is no longer on its way
    /// (see [`super::ReplySender`]): a push written straight after this goes after it.
    async fn write(&mut self, outgoing: Outgoing<S::Close>) -> Flow {
        let flow = self.write_one(outgoing).await;
        self.outbox.reply_taken();
        flow
    }

    async fn write_one(&mut self, outgoing: Outgoing<S::Close>) -> Flow {
        match outgoing {
            Outgoing::Reply(reply, fd) => self.write_reply(&reply, fd).await,
            Outgoing::Ping => match self.sink.ping().await {
                Err(SinkError::Gone) => Flow::Stop,
                Ok(()) | Err(SinkError::Encode(_)) => Flow::Continue,
            },
            Outgoing::Close { last, close } => {
                if let Some(last) = last {
                    if let Flow::Stop = self.write_reply(&last, None).await {
                        return Flow::Stop;
                    }
                }
                if self.sink.flush().await.is_ok() {
                    self.sink.close(close).await;
                }
                Flow::Stop
            }
        }
    }

    /// Queues one reply in the sink; one that cannot be encoded becomes an `INTERNAL_ERROR` reply.
    async fn write_reply(&mut self, reply: &Reply, fd: Option<OwnedFd>) -> Flow {
        match self.sink.feed(reply, fd).await {
            Ok(bytes) => {
                self.outbox.writing(bytes);
                Flow::Continue
            }
            Err(SinkError::Gone) => Flow::Stop,
            Err(SinkError::Encode(err)) => {
                tracing::error!(%err, "replying INTERNAL_ERROR instead");
                let error = Reply::error(reply.id, ErrorCode::InternalError, err.to_string());
                match self.sink.feed(&error, None).await {
                    Ok(_) => Flow::Continue,
                    Err(SinkError::Gone) => Flow::Stop,
                    Err(SinkError::Encode(err)) => {
                        tracing::error!(%err, "dropping a reply that cannot be encoded");
                        Flow::Continue
                    }
                }
            }
        }
    }
}

/// Sleeps until `at`; for ever without one.
async fn until(at: Option<std::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
