//! The reading half of a connection: decode each request, hand it to the [`Dispatch`], queue its reply.
//!
//! Requests are handled one at a time, in the order they arrive, so replies go out in request order whether or not
//! requests carry an `id`. A request that cannot be decoded gets an `INVALID_REQUEST` reply carrying its `id` when the
//! `id` could be read, and the connection goes on. A frame of the other kind than the connection negotiated (text on
//! `commy.v1.msgpack`, binary on `commy.v1.json`) is such a request: each connection speaks one encoding.

use super::close::{self, CLIENT_DISCONNECT, SHUTTING_DOWN};
use super::deadlines::{Deadlines, Due};
use crate::connection::ShutdownSignal;
use crate::connection::{ConnectionContext, Dispatch, Outgoing, ReplySender};
use crate::metrics::UNDECODABLE;
use axum::extract::ws::{close_code, CloseFrame, Message, WebSocket};
use commy_proto::{decode_request, ClientMessage, Disconnected, Encoding, ErrorCode, Reply};
use futures_util::stream::SplitStream;
use futures_util::StreamExt;
use std::time::Duration;

/// How the reading ended.
enum End {
    /// The connection is gone, or must not be read again: nothing more to do.
    Gone,
    /// A close frame is on its way: wait for the client's.
    Closing,
    /// The server is shutting down: say goodbye, then wait for the client's close frame.
    Shutdown,
}

/// The reader of one connection.
pub(crate) struct Reader<'a, D: Dispatch> {
    pub(crate) stream: SplitStream<WebSocket>,
    pub(crate) ctx: &'a ConnectionContext,
    pub(crate) dispatch: &'a D,
    pub(crate) session: &'a mut D::Session,
    pub(crate) replies: ReplySender<CloseFrame>,
    pub(crate) shutdown: ShutdownSignal,
    /// How long to wait for the client's close frame after ours.
    pub(crate) linger: Duration,
    /// The authentication deadline, the pings and the idle timeout.
    pub(crate) deadlines: Deadlines,
}

impl<D: Dispatch> Reader<'_, D> {
    /// Reads and handles requests until the connection closes.
    pub(crate) async fn run(mut self) {
        let end = loop {
            if let Some(frame) = self.check_authenticated() {
                self.close(frame).await;
                break End::Closing;
            }
            let item = tokio::select! {
                biased;
                () = self.shutdown.wait() => break End::Shutdown,
                // The writer stopped: the socket failed.
                () = self.replies.closed() => break End::Closing,
                due = self.deadlines.next() => match due {
                    // A full reply queue means the client is not reading: no ping then, the idle timeout decides.
                    Due::Ping => {
                        let _ = self.replies.try_send(Outgoing::Ping);
                        continue;
                    }
                    Due::Close(frame) => {
                        tracing::debug!(id = self.ctx.id(), reason = %frame.reason, "closing a connection");
                        self.close(frame).await;
                        break End::Closing;
                    }
                },
                item = self.stream.next() => item,
            };
            self.deadlines.heard();
            let closing = match item {
                None => break End::Gone,
                Some(Err(err)) => {
                    // After a read error the stream must not be read again: for an oversized frame it would buffer
                    // the whole frame.
                    if let Some(frame) = close::for_read_error(err) {
                        let _ = self
                            .replies
                            .send(Outgoing::Close {
                                last: None,
                                close: frame,
                            })
                            .await;
                    }
                    break End::Gone;
                }
                Some(Ok(Message::Text(text))) => self.request(text.as_str().as_bytes(), Encoding::Json).await,
                Some(Ok(Message::Binary(bytes))) => self.request(&bytes, Encoding::MsgPack).await,
                // Pongs go out automatically; a close frame is answered automatically, and the stream ends next.
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Close(_))) => false,
            };
            if closing {
                break End::Closing;
            }
        };
        match end {
            End::Gone => {}
            End::Closing => self.drain().await,
            End::Shutdown => {
                let last = Reply::push(Disconnected {
                    reason: SHUTTING_DOWN.to_owned(),
                });
                let frame = close::frame(close_code::AWAY, SHUTTING_DOWN);
                let _ = self
                    .replies
                    .send(Outgoing::Close {
                        last: Some(Box::new(last)),
                        close: frame,
                    })
                    .await;
                self.drain().await;
            }
        }
    }

    /// Handles one message received in a `frame` encoding frame; returns whether the connection is closing.
    async fn request(&mut self, bytes: &[u8], frame: Encoding) -> bool {
        let encoding = self.ctx.encoding();
        let metrics = self.ctx.metrics();
        if frame != encoding {
            // Decoded only to find the `id` to echo.
            let id = decode_request(bytes, frame).map_or_else(|err| err.id(), |request| request.id);
            let kind = match encoding {
                Encoding::Json => "text",
                Encoding::MsgPack => "binary",
            };
            let message = format!(
                "this connection speaks {encoding} ({}): send {kind} frames",
                encoding.subprotocol()
            );
            metrics.request(UNDECODABLE, Some(ErrorCode::InvalidRequest));
            return self.reply(Reply::error(id, ErrorCode::InvalidRequest, message)).await;
        }
        let request = match self.ctx.decode(bytes) {
            Ok(request) => request,
            Err(reply) => return self.reply(*reply).await,
        };
        let disconnect = matches!(request.message, ClientMessage::Disconnect(_));
        let outbox = self.ctx.outbox();
        outbox.begin_request();
        // No WebSocket request is answered with a descriptor; one would be dropped (closed) here.
        // Boxed: the handlers' future is large, and held inline it would make every idle connection's task as large.
        let answer = Box::pin(self.dispatch.handle(self.ctx, self.session, request.message)).await;
        let reply = Reply::to(request.id, answer.message);
        let closing = if disconnect {
            let frame = close::frame(close_code::NORMAL, CLIENT_DISCONNECT);
            let _ = self
                .replies
                .send(Outgoing::Close {
                    last: Some(Box::new(reply)),
                    close: frame,
                })
                .await;
            true
        } else {
            self.reply(reply).await
        };
        outbox.end_request();
        closing
    }

    /// The close frame for a session that authenticated when the server has no place for it, or after it was
    /// evicted; `None` when the connection goes on.
    fn check_authenticated(&mut self) -> Option<CloseFrame> {
        if self.deadlines.is_authenticated() || !self.dispatch.authenticated(self.session) {
            return None;
        }
        self.deadlines.authenticated().err()
    }

    /// Queues a close frame, waiting at most the linger time for room in a full queue.
    async fn close(&mut self, frame: CloseFrame) {
        let close = Outgoing::Close {
            last: None,
            close: frame,
        };
        let _ = tokio::time::timeout(self.linger, self.replies.send(close)).await;
    }

    /// Queues a reply, waiting while the queue is full; returns whether the connection is closing.
    async fn reply(&mut self, reply: Reply) -> bool {
        self.replies.send(Outgoing::reply(reply)).await.is_err()
    }

    /// After our close frame: read and drop what the client still sends, until its close frame ends the stream or
    /// the linger time runs out.
    async fn drain(&mut self) {
        let stream = &mut self.stream;
        let _ = tokio::time::timeout(self.linger, async { while let Some(Ok(_)) = stream.next().await {} }).await;
    }
}
