//! The fake side of the transport tests: a [`Fake`] request handler and the transport serving it. Everything else
//! (clients, waits, HTTP) comes from commy-testkit.

use commy_proto::{
    ClientMessage, Disconnected, ErrorCode, HeartbeatReply, OperationResult, Reply, ServerMessage, VariableChanged,
    VariableData,
};
use commy_server::config::{Limits, ServerConfig};
use commy_server::testing::{serve, Answer, Change, ChangeKey, ConnectionContext, Dispatch, Metrics, Outbox};
use commy_testkit::{guard, Client};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A request handler that answers from the request alone.
///
/// - `Heartbeat`: `Heartbeat {timestamp}` with the number of requests the connection has made so far.
/// - `ReadVariable`: `VariableData` echoing the names, version 0.
/// - `WriteVariable`: pushes the write as a `VariableChanged`, then replies `VariableData` with the same version (the
///   data's length).
/// - `Subscribe`: `Result`.
/// - `Disconnect`: `Disconnected`.
/// - anything else: `Error NOT_FOUND`.
#[derive(Debug, Default)]
pub struct Fake {
    /// The outbox of every connection, in the order they opened.
    pub outboxes: Mutex<Vec<Arc<Outbox>>>,
    /// How many connections have closed.
    pub closed: AtomicUsize,
}

impl Fake {
    /// The outbox of the `n`th connection.
    pub fn outbox(&self, n: usize) -> Arc<Outbox> {
        self.outboxes.lock().unwrap()[n].clone()
    }
}

impl Dispatch for Fake {
    type Session = u64;

    fn open(&self, conn: &ConnectionContext) -> u64 {
        self.outboxes.lock().unwrap().push(conn.outbox().clone());
        0
    }

    async fn handle(&self, conn: &ConnectionContext, requests: &mut u64, request: ClientMessage) -> Answer {
        *requests += 1;
        let reply: ServerMessage = match request {
            ClientMessage::Heartbeat(_) => HeartbeatReply { timestamp: *requests }.into(),
            ClientMessage::ReadVariable(read) => VariableData {
                service_id: read.service_id,
                variable_name: read.variable_name,
                data: vec![],
                version: 0,
                value: None,
            }
            .into(),
            ClientMessage::WriteVariable(write) => {
                let data = write.data.unwrap_or_default();
                let version = data.len() as u64;
                conn.push_sink()
                    .push(&change(&write.variable_name, version, data.clone()));
                VariableData {
                    service_id: write.service_id,
                    variable_name: write.variable_name,
                    data,
                    version,
                    value: None,
                }
                .into()
            }
            ClientMessage::Subscribe(_) => OperationResult::ok("subscribed").into(),
            ClientMessage::Disconnect(_) => Disconnected {
                reason: "client asked to disconnect".into(),
            }
            .into(),
            other => ServerMessage::error(
                ErrorCode::NotFound,
                format!("the fake does not do {}", other.type_name()),
            ),
        };
        Answer::from(reply)
    }

    async fn closed(&self, _conn: &ConnectionContext, _requests: u64) {
        self.closed.fetch_add(1, Ordering::SeqCst);
    }
}

/// A change of variable `name` of service `svc`.
pub fn changed(name: &str, version: u64, data: Vec<u8>) -> VariableChanged {
    VariableChanged {
        service_id: "svc".into(),
        variable_name: name.into(),
        data,
        version,
        value: None,
    }
}

/// The same change as the live layer hands a connection's outbox: keyed by a number per variable name.
pub fn change(name: &str, version: u64, data: Vec<u8>) -> Arc<Change> {
    let index = name
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(257).wrapping_add(b.into()));
    Change::new(ChangeKey { service: 1, index }, changed(name, version, data))
}

/// The transport (`serve`) serving a [`Fake`] on `127.0.0.1:0`.
pub struct FakeServer {
    pub addr: SocketAddr,
    pub fake: Arc<Fake>,
    pub metrics: Arc<Metrics>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl FakeServer {
    /// Starts a server with the default limits.
    pub async fn start() -> FakeServer {
        FakeServer::with_limits(Limits::default()).await
    }

    /// Starts a server with these limits.
    pub async fn with_limits(limits: Limits) -> FakeServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let config = ServerConfig {
            listen: addr,
            limits,
            ..ServerConfig::default()
        };
        let fake = Arc::new(Fake::default());
        let metrics = Arc::new(Metrics::new());
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let task = tokio::spawn(serve(listener, config, fake.clone(), metrics.clone(), shutdown));
        FakeServer {
            addr,
            fake,
            metrics,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// Starts the shutdown, without waiting for it.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Shuts down and waits until `serve` has returned.
    pub async fn shutdown(mut self) {
        self.begin_shutdown();
        let task = self.task.take().unwrap();
        guard("the server to shut down", task).await.unwrap().unwrap();
    }

    /// A client connected to `/ws`, offering `subprotocol` (none if `None`).
    pub async fn connect(&self, subprotocol: Option<&str>) -> Client {
        Client::offering(self.addr, subprotocol).await
    }

    /// A client whose socket buffers little, so that a server writing to it soon has to wait.
    pub async fn connect_small_buffer(&self, subprotocol: Option<&str>) -> Client {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let stream = guard("connect", socket.connect(self.addr)).await.unwrap();
        Client::handshake_offering(self.addr, stream, subprotocol).await
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// The `error` code and message of an `Error` reply.
pub fn error_of(reply: &Reply) -> (ErrorCode, &str) {
    match &reply.message {
        ServerMessage::Error(error) => (error.code, error.message.as_str()),
        other => panic!("expected an Error reply, got {other:?}"),
    }
}
