//! The server as a function: serve a listener until a shutdown future completes.
//!
//! One port serves `/ws` (the Commy protocol over WebSocket), `/healthz` and `/metrics`. On shutdown the server stops
//! accepting, tells every WebSocket client `Disconnected {reason: "server shutting down"}` followed by a close frame,
//! and waits for the connections to finish, for at most the configured grace period.

use super::listener::LimitedListener;
use super::lobby::Lobby;
use super::tls::{Peer, TlsListener};
use super::upgrade::upgrade;
use crate::config::{Limits, ServerConfig};
use crate::connection::Dispatch;
use crate::connection::Shutdown;
use crate::metrics::{self, Metrics};
use crate::tls::ServerTls;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::serve::Listener;
use axum::Router;
use std::future::{Future, IntoFuture};
use std::io;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::net::TcpListener;

/// Serves HTTP and WebSocket clients on `listener` until `shutdown` completes, then stops accepting, says goodbye to
/// every WebSocket client, and returns once every connection has finished or the grace period has run out.
///
/// Requests go to `dispatch`; `metrics` are reported at `/metrics` and shared with the rest of the server.
/// `config.listen` is not used here: bind `listener` to it (or to `127.0.0.1:0` in tests). With `config.tls` the
/// port speaks TLS only; a certificate that cannot be loaded fails the call before anything is served.
pub async fn serve<D: Dispatch>(
    listener: TcpListener,
    config: ServerConfig,
    dispatch: Arc<D>,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let tls = match &config.tls {
        Some(tls) => {
            Some(ServerTls::load(tls, &config.data_dir).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?)
        }
        None => None,
    };
    let limits = config.limits;
    let lobby = Lobby::new(
        limits.max_unauthenticated_connections,
        limits.max_connections,
        metrics.clone(),
    );
    let listener = LimitedListener::new(listener, lobby, limits.request_timeout(), limits.close_linger);
    let listener = TlsListener::new(listener, tls.as_ref());
    let scheme = if tls.is_some() { "https and wss" } else { "http and ws" };
    tracing::info!(address = %listener.local_addr()?, scheme, "serving /ws, /healthz and /metrics");
    let shared = Arc::new(Shared {
        limits: limits.clone(),
        dispatch,
        metrics,
        shutdown: Shutdown::new(),
        next_id: AtomicU64::new(1),
    });
    let app = router(shared.clone()).into_make_service_with_connect_info::<Peer>();
    let serving = axum::serve(listener, app).with_graceful_shutdown(shared.shutdown.triggered());
    let mut serving = pin!(serving.into_future());
    tokio::select! {
        // Only an accept loop that ends on its own gets here.
        result = &mut serving => return result,
        () = shutdown => {}
    }

    tracing::info!("shutting down: no new connections; closing the open ones");
    shared.shutdown.trigger();
    // Plain HTTP requests finish; WebSocket connections get their goodbye from their own tasks.
    if tokio::time::timeout(limits.shutdown_grace, &mut serving).await.is_err() {
        tracing::warn!("HTTP connections still open at the end of the shutdown grace period");
    }
    // Each connection task gives up by itself after the grace period; the linger time is a margin.
    let limit = limits.shutdown_grace + limits.close_linger;
    if !shared.shutdown.wait_for_connections(limit).await {
        tracing::warn!("WebSocket connections still open after the shutdown grace period");
    }
    tracing::info!("shut down");
    Ok(())
}

/// What every connection of one server shares.
#[derive(Debug)]
pub(crate) struct Shared<D> {
    pub(crate) limits: Limits,
    pub(crate) dispatch: Arc<D>,
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) shutdown: Shutdown,
    next_id: AtomicU64,
}

impl<D> Shared<D> {
    /// A connection id never handed out before.
    pub(crate) fn next_connection_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }
}

fn router<D: Dispatch>(shared: Arc<Shared<D>>) -> Router {
    Router::new()
        .route("/ws", get(upgrade::<D>))
        .route("/healthz", get(healthz::<D>))
        .route("/metrics", get(metrics_text::<D>))
        .merge(super::dashboard::routes())
        .with_state(shared)
}

/// `GET /healthz`: `200 ok` while serving (followed by a note, such as a cluster's NATS being unreachable, when
/// something the server depends on is not well but it still serves), `503 shutting down` once a shutdown has begun.
async fn healthz<D: Dispatch>(State(shared): State<Arc<Shared<D>>>) -> impl IntoResponse {
    if shared.shutdown.is_triggered() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down".to_owned());
    }
    match shared.dispatch.health_note() {
        Some(note) => (StatusCode::OK, format!("ok; {note}")),
        None => (StatusCode::OK, "ok".to_owned()),
    }
}

/// `GET /metrics`: every metric in the Prometheus text format.
async fn metrics_text<D: Dispatch>(State(shared): State<Arc<Shared<D>>>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, metrics::CONTENT_TYPE)], shared.metrics.encode())
}
