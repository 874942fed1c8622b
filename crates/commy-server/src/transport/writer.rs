//! The writing half of a connection: replies in request order, and between them the pushes that are ready.
//!
//! Replies come from the reader through a bounded queue; pushes come from the connection's [`Outbox`], where they
//! are coalesced per variable. Every time it wakes, the writer first writes every reply queued so far, then the
//! pushes that are ready, so a push released by a reply is written after that reply. When the client reads slowly
//! the writer waits on the socket, the reply queue fills, and the reader stops reading requests: the client's own
//! backlog stays in its socket, and the server holds at most `reply_queue_depth` replies and one push per variable.

use super::Outbox;
use crate::metrics::Metrics;
use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use commy_proto::{encode_reply, EncodeError, Encoding, ErrorCode, Frame, Reply};
use futures_util::stream::SplitSink;
use futures_util::SinkExt;
use tokio::sync::mpsc::{self, error::TryRecvError};

/// Pushes written per wake-up at most, so that replies are not kept waiting behind many pushes.
const PUSH_BATCH: usize = 64;

/// What the reader asks the writer to write.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// A reply, or a push that must follow the replies before it (`Disconnected` on shutdown).
    Reply(Reply),
    /// A last message, if any, then a close frame; then the writer stops. The two go out together, with no push
    /// between them.
    Close {
        /// The last message: `Disconnected`.
        last: Option<Reply>,
        /// The close frame.
        frame: CloseFrame,
    },
}

/// Whether the writer goes on.
enum Flow {
    Continue,
    Stop,
}

/// The writer of one connection.
pub(crate) struct Writer<'a> {
    pub(crate) sink: SplitSink<WebSocket, Message>,
    pub(crate) encoding: Encoding,
    pub(crate) outbox: &'a Outbox,
    pub(crate) metrics: &'a Metrics,
}

impl Writer<'_> {
    /// Writes until the reader asks to close or is gone, or the socket fails.
    pub(crate) async fn run(mut self, mut replies: mpsc::Receiver<Outgoing>) {
        let mut pushes = Vec::with_capacity(PUSH_BATCH);
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
            let count = pushes.len() as u64;
            for change in pushes.drain(..) {
                match encode(&Reply::push(change), self.encoding) {
                    Ok(message) => {
                        if self.sink.feed(message).await.is_err() {
                            return;
                        }
                    }
                    Err(err) => tracing::error!(%err, "dropping a push that cannot be encoded"),
                }
            }
            if self.sink.flush().await.is_err() {
                return;
            }
            self.metrics.pushes_sent(count);
            // Then wait for more.
            tokio::select! {
                biased;
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

    /// Queues one reply in the sink, or writes the last reply and the close frame.
    async fn write(&mut self, outgoing: Outgoing) -> Flow {
        match outgoing {
            Outgoing::Reply(reply) => self.write_reply(&reply).await,
            Outgoing::Close { last, frame } => {
                if let Some(last) = last {
                    if let Flow::Stop = self.write_reply(&last).await {
                        return Flow::Stop;
                    }
                }
                let _ = self.sink.send(Message::Close(Some(frame))).await;
                Flow::Stop
            }
        }
    }

    /// Queues one reply in the sink; one that cannot be encoded becomes an `INTERNAL_ERROR` reply.
    async fn write_reply(&mut self, reply: &Reply) -> Flow {
        let message = encode(reply, self.encoding).or_else(|err| {
            tracing::error!(%err, "replying INTERNAL_ERROR instead");
            let error = Reply::error(reply.id, ErrorCode::InternalError, err.to_string());
            encode(&error, self.encoding)
        });
        match message {
            Ok(message) => match self.sink.feed(message).await {
                Ok(()) => Flow::Continue,
                Err(_) => Flow::Stop,
            },
            Err(err) => {
                tracing::error!(%err, "dropping a reply that cannot be encoded");
                Flow::Continue
            }
        }
    }
}

/// Encodes a reply or push as one WebSocket message: text for JSON, binary for MessagePack.
fn encode(reply: &Reply, encoding: Encoding) -> Result<Message, EncodeError> {
    Ok(match encode_reply(reply, encoding)? {
        Frame::Text(text) => Message::Text(Utf8Bytes::from(text)),
        Frame::Binary(bytes) => Message::Binary(Bytes::from(bytes)),
    })
}
