//! One local connection: read frames, hand each request to the dispatcher, queue its answer (with a descriptor for
//! `GetServiceFilePath`) for the writer, which also writes the connection's pushes.

use super::sink::UnixSink;
use super::LocalShared;
use crate::connection::{
    reply_queue, ConnectionContext, Dispatch, Outbox, Outgoing, Peer, ReplySender, ShutdownSignal, Writer,
};
use crate::metrics::UNDECODABLE;
use commy_proto::{ClientMessage, Disconnected, Encoding, ErrorCode, LocalFrameBuffer, Reply};
use std::pin::pin;
use std::sync::Arc;
use tokio::io::AsyncReadExt;
use tokio::net::unix::OwnedReadHalf;
use tokio::net::UnixStream;
use tokio::time::Sleep;
use tracing::Instrument;

/// Bytes read per `read`.
const READ_CHUNK: usize = 8 << 10;

/// The reason the server gives when it shuts down.
const SHUTTING_DOWN: &str = "server shutting down";

/// Who the client is, as the kernel says (`SO_PEERCRED`).
fn peer_of(stream: &UnixStream) -> Peer {
    match stream.peer_cred() {
        Ok(cred) => Peer::Local {
            uid: Some(cred.uid()),
            pid: cred.pid(),
        },
        Err(_) => Peer::Local { uid: None, pid: None },
    }
}

/// Serves one local client until it disconnects or the server shuts down, logging its uid and pid with everything it
/// does.
pub(super) async fn serve<D: Dispatch>(
    stream: UnixStream,
    shared: Arc<LocalShared<D>>,
    id: u64,
    signal: ShutdownSignal,
) {
    let peer = peer_of(&stream);
    let span = tracing::info_span!("local", connection = id, %peer);
    run(stream, shared, id, peer, signal).instrument(span).await
}

async fn run<D: Dispatch>(
    stream: UnixStream,
    shared: Arc<LocalShared<D>>,
    id: u64,
    peer: Peer,
    signal: ShutdownSignal,
) {
    tracing::info!("local client connected");
    let (limits, metrics) = (&shared.limits, &shared.metrics);
    let _open = metrics.connection_opened();
    let outbox = Arc::new(Outbox::new(metrics.clone(), Encoding::Json, limits.max_pending_bytes));
    let ctx = ConnectionContext::new(id, peer, Encoding::Json, outbox.clone(), metrics.clone());
    let mut session = shared.dispatch.open(&ctx);
    let (read, write) = stream.into_split();
    let (replies, queued) = reply_queue(limits.reply_queue_depth, outbox.clone());
    let reader = Reader {
        read,
        frames: LocalFrameBuffer::with_limit(limits.max_message_size),
        ctx: &ctx,
        dispatch: &*shared.dispatch,
        session: &mut session,
        replies,
        shutdown: signal.clone(),
        auth_deadline: Some(Box::pin(tokio::time::sleep(limits.auth_timeout()))),
        auth_timeout_secs: limits.auth_timeout().as_secs(),
    };
    let writer = Writer {
        sink: UnixSink::new(write),
        outbox: &outbox,
        metrics,
    };
    let work = async {
        let mut reader = pin!(reader.run());
        let mut writer = pin!(writer.run(queued));
        tokio::select! {
            why = &mut reader => {
                writer.await;
                why
            }
            // The writer stopped first: the socket failed, or the client is a slow consumer. The reader may be waiting
            // for requests that never come.
            () = &mut writer => tokio::time::timeout(limits.close_linger, reader)
                .await
                .unwrap_or_else(|_| "it stopped reading what the server sends".to_owned()),
        }
    };
    let mut grace_signal = signal.clone();
    let grace = async {
        grace_signal.wait().await;
        tokio::time::sleep(limits.shutdown_grace).await;
    };
    let why = tokio::select! {
        why = work => why,
        () = grace => "dropped at the end of the shutdown grace period".to_owned(),
    };
    outbox.close();
    shared.dispatch.closed(&ctx, session).await;
    tracing::info!(reason = %why, "local client gone");
    // The endpoint's shutdown waits for this signal to be dropped, which happens last.
    drop(signal);
}

/// The reading half of one local connection.
struct Reader<'a, D: Dispatch> {
    read: OwnedReadHalf,
    frames: LocalFrameBuffer,
    ctx: &'a ConnectionContext,
    dispatch: &'a D,
    session: &'a mut D::Session,
    replies: ReplySender<()>,
    shutdown: ShutdownSignal,
    /// Until the session authenticates: when it must have (`auth_timeout`, as on the WebSocket).
    auth_deadline: Option<std::pin::Pin<Box<Sleep>>>,
    auth_timeout_secs: u64,
}

impl<D: Dispatch> Reader<'_, D> {
    /// Reads and handles requests until the connection ends; returns why it ended.
    async fn run(mut self) -> String {
        let mut chunk = [0u8; READ_CHUNK];
        loop {
            if self.auth_deadline.is_some() && self.dispatch.authenticated(self.session) {
                self.auth_deadline = None;
            }
            let deadline = &mut self.auth_deadline;
            let missed = async move {
                match deadline {
                    Some(deadline) => deadline.as_mut().await,
                    None => std::future::pending().await,
                }
            };
            let read = tokio::select! {
                biased;
                () = self.shutdown.wait() => {
                    let last = Reply::push(Disconnected { reason: SHUTTING_DOWN.to_owned() });
                    let _ = self.replies.send(Outgoing::Close { last: Some(Box::new(last)), close: () }).await;
                    return SHUTTING_DOWN.to_owned();
                }
                // The writer stopped: the socket failed.
                () = self.replies.closed() => return "the connection failed".to_owned(),
                () = missed => {
                    let why = format!("not authenticated within {} s", self.auth_timeout_secs);
                    let last = Reply::push(Disconnected { reason: why.clone() });
                    let _ = self.replies.send(Outgoing::Close { last: Some(Box::new(last)), close: () }).await;
                    return why;
                }
                read = self.read.read(&mut chunk) => read,
            };
            match read {
                Ok(0) if self.frames.is_mid_frame() => return "client closed in the middle of a frame".to_owned(),
                Ok(0) => return "client closed".to_owned(),
                Ok(n) => self.frames.extend(&chunk[..n]),
                Err(err) => return format!("read failed: {err}"),
            }
            loop {
                let bytes = match self.frames.next_frame() {
                    Ok(Some(bytes)) => bytes,
                    Ok(None) => break,
                    Err(oversized) => {
                        // The rest of the stream cannot be framed: answer, then close.
                        let why = oversized.to_string();
                        self.ctx.metrics().request(UNDECODABLE, Some(ErrorCode::LimitExceeded));
                        let last = Reply::error(None, ErrorCode::LimitExceeded, why.clone());
                        let _ = self
                            .replies
                            .send(Outgoing::Close {
                                last: Some(Box::new(last)),
                                close: (),
                            })
                            .await;
                        return why;
                    }
                };
                if let Some(why) = self.request(&bytes).await {
                    return why;
                }
            }
        }
    }

    /// Handles one frame; returns why the connection ends, if it does.
    async fn request(&mut self, bytes: &[u8]) -> Option<String> {
        let request = match self.ctx.decode(bytes) {
            Ok(request) => request,
            Err(reply) => return self.send(Outgoing::reply(*reply)).await,
        };
        let disconnect = matches!(request.message, ClientMessage::Disconnect(_));
        let outbox = self.ctx.outbox();
        outbox.begin_request();
        let answer = self.dispatch.handle(self.ctx, self.session, request.message).await;
        let reply = Reply::to(request.id, answer.message);
        let ended = if disconnect {
            let _ = self
                .send(Outgoing::Close {
                    last: Some(Box::new(reply)),
                    close: (),
                })
                .await;
            Some("client disconnected".to_owned())
        } else {
            self.send(Outgoing::Reply(Box::new(reply), answer.fd)).await
        };
        outbox.end_request();
        ended
    }

    /// Queues something for the writer, waiting while the queue is full.
    async fn send(&mut self, outgoing: Outgoing<()>) -> Option<String> {
        self.replies
            .send(outgoing)
            .await
            .err()
            .map(|_| "the connection failed".to_owned())
    }
}
