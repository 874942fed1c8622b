//! Helpers for the transport tests: a fake [`Dispatch`], a server on `127.0.0.1:0`, and a WebSocket client.

use commy_proto::{
    decode_reply, encode_request, ClientMessage, Disconnected, Encoding, ErrorCode, Frame, HeartbeatReply,
    OperationResult, Reply, Request, ServerMessage, VariableChanged, VariableData,
};
use commy_server::config::{Limits, ServerConfig};
use commy_server::testing::{serve, Answer, ConnectionContext, Dispatch, Metrics, Outbox};
use futures_util::{SinkExt, StreamExt};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// How long any single wait may take before the test fails. Only a guard against hanging: no test asserts a time.
pub const GUARD: Duration = Duration::from_secs(30);

/// Waits for `future`, failing the test if it hangs.
pub async fn guard<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(GUARD, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

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
                    .push(changed(&write.variable_name, version, data.clone()));
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

/// A server serving a [`Fake`] on `127.0.0.1:0`.
pub struct TestServer {
    pub addr: SocketAddr,
    pub fake: Arc<Fake>,
    pub metrics: Arc<Metrics>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// Starts a server with the default limits.
    pub async fn start() -> TestServer {
        TestServer::with_limits(Limits::default()).await
    }

    /// Starts a server with these limits.
    pub async fn with_limits(limits: Limits) -> TestServer {
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
        TestServer {
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
        let stream = TcpStream::connect(self.addr).await.unwrap();
        Client::handshake(self.addr, stream, subprotocol).await
    }

    /// A client whose socket buffers little, so that a server writing to it soon has to wait.
    pub async fn connect_small_buffer(&self, subprotocol: Option<&str>) -> Client {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let stream = socket.connect(self.addr).await.unwrap();
        Client::handshake(self.addr, stream, subprotocol).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// A WebSocket client speaking one encoding.
pub struct Client {
    pub ws: WebSocketStream<TcpStream>,
    pub encoding: Encoding,
    /// The subprotocol the server chose, if it chose one.
    pub chosen: Option<String>,
}

impl Client {
    /// Opens `/ws` over `stream`.
    pub async fn handshake(addr: SocketAddr, stream: TcpStream, subprotocol: Option<&str>) -> Client {
        let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
        if let Some(subprotocol) = subprotocol {
            request
                .headers_mut()
                .insert("Sec-WebSocket-Protocol", HeaderValue::from_str(subprotocol).unwrap());
        }
        let (ws, response) = guard("the handshake", tokio_tungstenite::client_async(request, stream))
            .await
            .unwrap();
        let chosen = response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .map(|value| value.to_str().unwrap().to_owned());
        let encoding = chosen
            .as_deref()
            .and_then(Encoding::from_subprotocol)
            .unwrap_or(Encoding::Json);
        Client { ws, encoding, chosen }
    }

    /// Sends a request in the connection's encoding.
    pub async fn send(&mut self, request: &Request) {
        let message = match encode_request(request, self.encoding).unwrap() {
            Frame::Text(text) => Message::text(text),
            Frame::Binary(bytes) => Message::binary(bytes),
        };
        self.ws.send(message).await.unwrap();
    }

    /// Sends a raw WebSocket message.
    pub async fn send_raw(&mut self, message: Message) {
        self.ws.send(message).await.unwrap();
    }

    /// The next message other than ping and pong.
    pub async fn next_message(&mut self) -> Message {
        loop {
            let message = guard("a message", self.ws.next())
                .await
                .expect("the connection ended")
                .expect("the connection failed");
            if !matches!(message, Message::Ping(_) | Message::Pong(_)) {
                return message;
            }
        }
    }

    /// The next reply or push, checking that its frame kind matches the encoding.
    pub async fn recv(&mut self) -> Reply {
        match self.next_message().await {
            Message::Text(text) => {
                assert_eq!(self.encoding, Encoding::Json, "a text frame on {}", self.encoding);
                decode_reply(text.as_bytes(), Encoding::Json).unwrap()
            }
            Message::Binary(bytes) => {
                assert_eq!(self.encoding, Encoding::MsgPack, "a binary frame on {}", self.encoding);
                decode_reply(&bytes, Encoding::MsgPack).unwrap()
            }
            other => panic!("expected a reply, got {other:?}"),
        }
    }

    /// Sends a request and returns its reply.
    pub async fn call(&mut self, request: &Request) -> Reply {
        self.send(request).await;
        self.recv().await
    }

    /// The close frame the server sends next (skipping replies and pushes before it).
    pub async fn recv_close(&mut self) -> CloseFrame {
        loop {
            match self.next_message().await {
                Message::Close(Some(frame)) => return frame,
                Message::Close(None) => panic!("a close frame without a code"),
                _ => {}
            }
        }
    }

    /// Closes the connection from this side and waits for the server's close frame.
    pub async fn close(mut self) {
        self.ws.close(None).await.unwrap();
        while let Some(Ok(_)) = guard("the close handshake", self.ws.next()).await {}
    }
}

/// The `error` code and message of an `Error` reply.
pub fn error_of(reply: &Reply) -> (ErrorCode, &str) {
    match &reply.message {
        ServerMessage::Error(error) => (error.code, error.message.as_str()),
        other => panic!("expected an Error reply, got {other:?}"),
    }
}

/// `GET path` over HTTP/1.1; returns the status code, the headers and the body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    guard("an HTTP response", stream.read_to_string(&mut response))
        .await
        .unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_owned(), body.to_owned())
}
