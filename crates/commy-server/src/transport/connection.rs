//! One WebSocket connection, from upgrade to close: its context and session, its reader and writer, and its end.

use super::deadlines::Deadlines;
use super::lobby::Pass;
use super::reader::Reader;
use super::server::Shared;
use super::sink::ws_sink;
use crate::connection::ShutdownSignal;
use crate::connection::{reply_queue, ConnectionContext, Dispatch, Outbox, Peer, Writer};
use crate::tls::ClientIdentity;
use axum::extract::ws::WebSocket;
use commy_proto::Encoding;
use futures_util::StreamExt;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;

/// Serves one upgraded connection until it closes, or until the shutdown grace period runs out.
pub(crate) async fn run<D: Dispatch>(
    socket: WebSocket,
    shared: Arc<Shared<D>>,
    peer: SocketAddr,
    identity: Option<Arc<ClientIdentity>>,
    encoding: Encoding,
    pass: Arc<Pass>,
    shutdown: ShutdownSignal,
) {
    let deadlines = Deadlines::start(pass, &shared.limits);
    let limits = &shared.limits;
    let metrics = &shared.metrics;
    let _open = metrics.connection_opened();
    let outbox = Arc::new(Outbox::new(metrics.clone(), encoding, limits.max_pending_bytes));
    let ctx = ConnectionContext::new(
        shared.next_connection_id(),
        Peer::Remote(peer),
        encoding,
        outbox.clone(),
        metrics.clone(),
    )
    .with_client_identity(identity);
    let mut session = shared.dispatch.open(&ctx);
    tracing::debug!(id = ctx.id(), %peer, %encoding, "connection opened");

    let (sink, stream) = socket.split();
    let (sink, straight) = ws_sink(sink, encoding);
    outbox.write_straight_through(Box::new(straight));
    let (replies, queued) = reply_queue(limits.reply_queue_depth, outbox.clone());
    let reader = Reader {
        stream,
        ctx: &ctx,
        dispatch: &*shared.dispatch,
        session: &mut session,
        replies,
        shutdown: shutdown.clone(),
        linger: limits.close_linger,
        deadlines,
    };
    let writer = Writer {
        sink,
        outbox: &outbox,
        metrics,
    };
    let work = async {
        let mut reader = pin!(reader.run());
        let mut writer = pin!(writer.run(queued));
        tokio::select! {
            // The reader is done: the writer has its last replies to write, if the client reads them in time.
            () = &mut reader => {
                let _ = tokio::time::timeout(limits.close_linger, writer).await;
            }
            // The writer is done: the reader waits for the client's close frame, for at most the linger time (a slow
            // consumer's reader may be waiting for requests that never come).
            () = &mut writer => {
                let _ = tokio::time::timeout(limits.close_linger, reader).await;
            }
        }
    };
    let mut signal = shutdown.clone();
    let grace = async {
        signal.wait().await;
        tokio::time::sleep(limits.shutdown_grace).await;
    };
    tokio::select! {
        () = work => {}
        () = grace => tracing::debug!(id = ctx.id(), "connection dropped at the end of the shutdown grace period"),
    }
    outbox.close();
    shared.dispatch.closed(&ctx, session).await;
    tracing::debug!(id = ctx.id(), %peer, "connection closed");
    // The server's shutdown waits for this signal to be dropped, which happens last.
    drop(shutdown);
}
