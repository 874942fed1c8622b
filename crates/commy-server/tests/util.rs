//! Helpers shared by the server's integration tests (`mod util;`): the real server on `127.0.0.1:0` over a fresh data
//! directory with a known admin key, and a WebSocket client that speaks either encoding.
//!
//! Waits are bounded by [`GUARD`] so that a broken server fails a test instead of hanging it; no test asserts a time.

// Each test file uses its own share of these helpers.
#![allow(dead_code)]

use commy_proto::{
    decode_reply, encode_request, AllocateVariable, ApiKey, Authenticate, AuthenticationResult, ClientMessage,
    CreateApiKey, CreateService, CreateTenant, Credential, Encoding, ErrorCode, ErrorReply, Frame, Heartbeat,
    ListVariables, Permission, ReadVariable, Reply, Request, ServerMessage, ServiceInfo, Subscribe, Tenant, ValueType,
    VariableChanged, VariableData, VariableInfo, WriteVariable,
};
use commy_server::config::ServerConfig;
use commy_server::Server;
use futures_util::{SinkExt, StreamExt};
use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// The server admin key of every [`TestServer`] (given as the `COMMY_ADMIN_KEY` override).
pub const ADMIN_KEY: &str = "commy-test-admin-key-0123456789abcdef0123456789abcdef";

/// How long any single wait may take before the test fails. Only a guard against hanging: no test asserts a time.
pub const GUARD: Duration = Duration::from_secs(30);

/// Waits for `future`, failing the test if it hangs.
pub async fn guard<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(GUARD, future)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

/// Makes two tests of each `async fn name(encoding: Encoding)`: `name::json` and `name::msgpack`.
#[allow(unused_macros)]
macro_rules! both_encodings {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn json() {
                super::$name(commy_proto::Encoding::Json).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn msgpack() {
                super::$name(commy_proto::Encoding::MsgPack).await
            }
        }
    )*};
}
#[allow(unused_imports)]
pub(crate) use both_encodings;

/// The real server, in this process, on `127.0.0.1:0` over a temporary data directory.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    dir: TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl TestServer {
    /// A server with the default configuration.
    pub async fn start() -> TestServer {
        TestServer::with_config(|_| {}).await
    }

    /// A server whose configuration `edit` adjusts (the listen address and data directory are set already).
    pub async fn with_config(edit: impl FnOnce(&mut ServerConfig)) -> TestServer {
        TestServer::start_in(tempfile::tempdir().unwrap(), edit).await
    }

    /// A server over an existing data directory, for example one a stopped server left behind.
    pub async fn start_in(dir: TempDir, edit: impl FnOnce(&mut ServerConfig)) -> TestServer {
        let mut config = ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            data_dir: dir.path().to_owned(),
            ..ServerConfig::default()
        };
        edit(&mut config);
        let server = Server::open(config, Some(ADMIN_KEY.to_owned())).expect("the server opens");
        let listener = server.bind().await.expect("the server binds");
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run(listener, async move {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            dir,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The path of a service's mapped file: `<data-dir>/services/<service id>.svc` (docs/service-file.md).
    pub fn service_file(&self, service_id: &str) -> PathBuf {
        self.dir.path().join("services").join(format!("{service_id}.svc"))
    }

    /// A client on `/ws`, not authenticated.
    pub async fn connect(&self, encoding: Encoding) -> Client {
        Client::connect(self.addr, encoding).await
    }

    /// A client whose socket buffers little, so that the server writing to it soon has to wait.
    pub async fn connect_small_buffer(&self, encoding: Encoding) -> Client {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let stream = guard("connect", socket.connect(self.addr)).await.unwrap();
        Client::handshake(self.addr, stream, encoding).await
    }

    /// A client authenticated with the server admin key.
    pub async fn admin(&self, encoding: Encoding) -> Client {
        let mut client = self.connect(encoding).await;
        client.authenticate(None, ADMIN_KEY).await;
        client
    }

    /// `GET path`; returns the status code and the body.
    pub async fn http_get(&self, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(self.addr).await.unwrap();
        let request = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            self.addr
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        guard("an HTTP response", stream.read_to_string(&mut response))
            .await
            .unwrap();
        let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        (status, body.to_owned())
    }

    /// The value of one Prometheus sample at `/metrics`, such as `commy_pushes_coalesced_total`; 0 if absent.
    pub async fn metric(&self, sample: &str) -> f64 {
        let (status, body) = self.http_get("/metrics").await;
        assert_eq!(status, 200, "{body}");
        body.lines()
            .filter_map(|line| line.strip_prefix(sample)?.strip_prefix(' '))
            .map(|value| value.trim().parse().expect("a number"))
            .next()
            .unwrap_or(0.0)
    }

    /// Starts a graceful shutdown without waiting for it.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Shuts down gracefully, waits until the server has returned, and hands back its data directory.
    pub async fn stop(mut self) -> TempDir {
        self.begin_shutdown();
        let task = self.task.take().unwrap();
        guard("the server to shut down", task)
            .await
            .expect("the server task")
            .expect("the server ran");
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// A WebSocket client speaking one encoding. Requests made with [`Client::request`] get ids and have them checked;
/// pushes that arrive while it waits for a reply are kept for [`Client::push`].
pub struct Client {
    ws: WebSocketStream<TcpStream>,
    /// The connection's encoding.
    pub encoding: Encoding,
    next_id: u64,
    pushes: VecDeque<VariableChanged>,
}

impl Client {
    /// Connects to `/ws` on `addr`, asking for `encoding`'s subprotocol.
    pub async fn connect(addr: SocketAddr, encoding: Encoding) -> Client {
        let stream = guard("connect", TcpStream::connect(addr)).await.unwrap();
        Client::handshake(addr, stream, encoding).await
    }

    /// Opens `/ws` over `stream`; the server must choose `encoding`'s subprotocol.
    pub async fn handshake(addr: SocketAddr, stream: TcpStream, encoding: Encoding) -> Client {
        let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(encoding.subprotocol()),
        );
        let (ws, response) = guard(
            "the WebSocket handshake",
            tokio_tungstenite::client_async(request, stream),
        )
        .await
        .expect("the WebSocket handshake");
        let chosen = response.headers().get("Sec-WebSocket-Protocol");
        assert_eq!(chosen.and_then(|v| v.to_str().ok()), Some(encoding.subprotocol()));
        Client {
            ws,
            encoding,
            next_id: 1,
            pushes: VecDeque::new(),
        }
    }

    /// A fresh request id.
    pub fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        self.next_id
    }

    /// Sends a request in the connection's encoding.
    pub async fn send(&mut self, request: &Request) {
        let message = match encode_request(request, self.encoding).unwrap() {
            Frame::Text(text) => Message::text(text),
            Frame::Binary(bytes) => Message::binary(bytes),
        };
        self.send_raw(message).await;
    }

    /// Sends a raw WebSocket message.
    pub async fn send_raw(&mut self, message: Message) {
        guard("sending", self.ws.send(message))
            .await
            .expect("the connection takes a message");
    }

    /// The next WebSocket message other than ping and pong.
    pub async fn next_message(&mut self) -> Message {
        loop {
            let message = guard("a message from the server", self.ws.next())
                .await
                .expect("the connection ended")
                .expect("the connection failed");
            if !matches!(message, Message::Ping(_) | Message::Pong(_)) {
                return message;
            }
        }
    }

    /// The next reply or push off the wire, checking that its frame kind matches the encoding.
    pub async fn recv(&mut self) -> Reply {
        match (self.next_message().await, self.encoding) {
            (Message::Text(text), Encoding::Json) => {
                decode_reply(text.as_bytes(), Encoding::Json).expect("a JSON reply")
            }
            (Message::Binary(bytes), Encoding::MsgPack) => {
                decode_reply(&bytes, Encoding::MsgPack).expect("a MessagePack reply")
            }
            (other, encoding) => panic!("expected a {encoding} reply, got {other:?}"),
        }
    }

    /// The next message that is not a `VariableChanged` push; pushes before it are kept for [`Client::push`].
    pub async fn reply(&mut self) -> Reply {
        loop {
            let reply = self.recv().await;
            match reply.message {
                ServerMessage::VariableChanged(change) => {
                    assert_eq!(reply.id, None, "a push carries no id");
                    self.pushes.push_back(change);
                }
                _ => return reply,
            }
        }
    }

    /// Sends `message` with a fresh id and returns the reply, which must carry that id.
    pub async fn request(&mut self, message: impl Into<ClientMessage>) -> ServerMessage {
        let id = self.next_id();
        self.send(&Request::new(id, message)).await;
        let reply = self.reply().await;
        assert_eq!(reply.id, Some(id), "the reply echoes the id: {reply:?}");
        reply.message
    }

    /// Like [`Client::request`], failing the test on an `Error` reply.
    pub async fn ok(&mut self, message: impl Into<ClientMessage>) -> ServerMessage {
        let message = message.into();
        let name = message.type_name();
        match self.request(message).await {
            ServerMessage::Error(e) => panic!("{name} failed: {} {}", e.code, e.message),
            reply => reply,
        }
    }

    /// Like [`Client::request`], failing the test unless the reply is an `Error`.
    pub async fn error(&mut self, message: impl Into<ClientMessage>) -> ErrorReply {
        let message = message.into();
        let name = message.type_name();
        match self.request(message).await {
            ServerMessage::Error(e) => e,
            reply => panic!("{name} should have failed, got {reply:?}"),
        }
    }

    /// Sends `message`; the reply must be an `Error` with `code` whose message contains each of `naming`; then the
    /// connection must still answer a `Heartbeat`. Returns the error message.
    pub async fn expect_error(
        &mut self,
        message: impl Into<ClientMessage>,
        code: ErrorCode,
        naming: &[&str],
    ) -> String {
        let message = message.into();
        let name = message.type_name();
        let error = self.error(message).await;
        assert_eq!(error.code, code, "{name}: {}", error.message);
        for thing in naming {
            assert!(
                error.message.contains(thing),
                "{name}: the message should name {thing:?}: {}",
                error.message
            );
        }
        self.heartbeat().await;
        error.message
    }

    /// A `Heartbeat`, which must be answered: the connection works. Returns the server's timestamp.
    pub async fn heartbeat(&mut self) -> u64 {
        match self.request(Heartbeat::default()).await {
            ServerMessage::Heartbeat(beat) => beat.timestamp,
            other => panic!("expected a Heartbeat reply, got {other:?}"),
        }
    }

    /// The next `VariableChanged` push: a kept one, or the next message, which must be a push.
    pub async fn push(&mut self) -> VariableChanged {
        if let Some(change) = self.pushes.pop_front() {
            return change;
        }
        let reply = self.recv().await;
        assert_eq!(reply.id, None, "a push carries no id: {reply:?}");
        match reply.message {
            ServerMessage::VariableChanged(change) => change,
            other => panic!("expected a VariableChanged push, got {other:?}"),
        }
    }

    /// How many pushes arrived while waiting for replies and have not been taken yet.
    pub fn kept_pushes(&self) -> usize {
        self.pushes.len()
    }

    /// Pushes until one of `variable_name` at `version` or later; returns it. Earlier versions are skipped.
    pub async fn push_reaching(&mut self, variable_name: &str, version: u64) -> VariableChanged {
        loop {
            let change = self.push().await;
            if change.variable_name == variable_name && change.version >= version {
                return change;
            }
        }
    }

    /// Makes sure every push the server had ready for this connection has arrived, then returns (and forgets) the
    /// pushes kept so far. Two heartbeats: the writer sends the pushes ready when the first reply goes out right
    /// after it, so they arrive before the second reply.
    pub async fn settle(&mut self) -> Vec<VariableChanged> {
        self.heartbeat().await;
        self.heartbeat().await;
        self.pushes.drain(..).collect()
    }

    /// The close frame the server sends next, skipping replies and pushes before it.
    pub async fn recv_close(&mut self) -> Option<CloseFrame> {
        loop {
            if let Message::Close(frame) = self.next_message().await {
                return frame;
            }
        }
    }

    /// Authenticates with an API key (`tenant_id: None` for a server-level key).
    pub async fn authenticate(&mut self, tenant_id: Option<&str>, key: &str) -> AuthenticationResult {
        match self.ok(authenticate(tenant_id, key)).await {
            ServerMessage::AuthenticationResult(result) => {
                assert!(result.success, "{result:?}");
                result
            }
            other => panic!("expected AuthenticationResult, got {other:?}"),
        }
    }

    /// Creates a tenant (server admin).
    pub async fn create_tenant(&mut self, tenant_id: &str) -> Tenant {
        let request = CreateTenant {
            tenant_id: tenant_id.into(),
            tenant_name: format!("{tenant_id} Inc."),
        };
        match self.ok(request).await {
            ServerMessage::Tenant(tenant) => tenant,
            other => panic!("expected Tenant, got {other:?}"),
        }
    }

    /// Creates an API key for a tenant (tenant admin or server admin).
    pub async fn create_key(&mut self, tenant_id: &str, permissions: &[Permission]) -> ApiKey {
        let request = CreateApiKey {
            tenant_id: tenant_id.into(),
            name: format!("key with {permissions:?}"),
            permissions: permissions.to_vec(),
            services: None,
            read_services: None,
            write_services: None,
        };
        match self.ok(request).await {
            ServerMessage::ApiKey(key) => key,
            other => panic!("expected ApiKey, got {other:?}"),
        }
    }

    /// Creates a service.
    pub async fn create_service(&mut self, tenant_id: &str, service_name: &str) -> ServiceInfo {
        let request = CreateService {
            tenant_id: tenant_id.into(),
            service_name: service_name.into(),
        };
        match self.ok(request).await {
            ServerMessage::Service(service) => service,
            other => panic!("expected Service, got {other:?}"),
        }
    }

    /// Allocates a variable.
    pub async fn allocate(&mut self, request: AllocateVariable) -> VariableData {
        match self.ok(request).await {
            ServerMessage::VariableData(data) => data,
            other => panic!("expected VariableData, got {other:?}"),
        }
    }

    /// Reads a variable.
    pub async fn read(&mut self, service_id: &str, variable_name: &str) -> VariableData {
        match self.ok(read(service_id, variable_name)).await {
            ServerMessage::VariableData(data) => data,
            other => panic!("expected VariableData, got {other:?}"),
        }
    }

    /// Writes a typed JSON value.
    pub async fn write(&mut self, service_id: &str, variable_name: &str, value: serde_json::Value) -> VariableData {
        match self.ok(write_value(service_id, variable_name, value)).await {
            ServerMessage::VariableData(data) => data,
            other => panic!("expected VariableData, got {other:?}"),
        }
    }

    /// Writes raw bytes.
    pub async fn write_data(&mut self, service_id: &str, variable_name: &str, data: Vec<u8>) -> VariableData {
        match self.ok(write_data(service_id, variable_name, data)).await {
            ServerMessage::VariableData(data) => data,
            other => panic!("expected VariableData, got {other:?}"),
        }
    }

    /// Subscribes to one variable, or to every variable with `"*"`.
    pub async fn subscribe(&mut self, service_id: &str, variable_name: &str) {
        let request = Subscribe {
            service_id: service_id.into(),
            variable_name: variable_name.into(),
        };
        match self.ok(request).await {
            ServerMessage::Result(result) => assert!(result.success, "{result:?}"),
            other => panic!("expected Result, got {other:?}"),
        }
    }

    /// Lists a service's variables.
    pub async fn list_variables(&mut self, service_id: &str) -> Vec<VariableInfo> {
        let request = ListVariables {
            service_id: service_id.into(),
        };
        match self.ok(request).await {
            ServerMessage::VariableList(list) => list.variables,
            other => panic!("expected VariableList, got {other:?}"),
        }
    }
}

/// `Authenticate` with an API key.
pub fn authenticate(tenant_id: Option<&str>, key: &str) -> Authenticate {
    Authenticate {
        tenant_id: tenant_id.map(str::to_owned),
        client_version: "commy-server-tests".into(),
        credential: Credential::ApiKey { key: key.into() },
    }
}

/// `AllocateVariable` of a type, with no initial value, default capacity, not persistent.
pub fn variable(service_id: &str, variable_name: &str, value_type: ValueType) -> AllocateVariable {
    AllocateVariable {
        service_id: service_id.into(),
        variable_name: variable_name.into(),
        initial_data: None,
        value: None,
        capacity: None,
        value_type: Some(value_type),
        persistent: None,
    }
}

/// `ReadVariable`.
pub fn read(service_id: &str, variable_name: &str) -> ReadVariable {
    ReadVariable {
        service_id: service_id.into(),
        variable_name: variable_name.into(),
    }
}

/// `WriteVariable` of a typed JSON value.
pub fn write_value(service_id: &str, variable_name: &str, value: serde_json::Value) -> WriteVariable {
    WriteVariable {
        service_id: service_id.into(),
        variable_name: variable_name.into(),
        data: None,
        value: Some(value),
        expected_version: None,
    }
}

/// `WriteVariable` of raw bytes.
pub fn write_data(service_id: &str, variable_name: &str, data: Vec<u8>) -> WriteVariable {
    WriteVariable {
        service_id: service_id.into(),
        variable_name: variable_name.into(),
        data: Some(data),
        value: None,
        expected_version: None,
    }
}

/// Any JSON document as one message of `encoding`: a text frame, or the same document as MessagePack (maps with
/// string keys, numbers, arrays). For requests the codec would refuse to encode.
pub fn raw_frame(encoding: Encoding, document: &serde_json::Value) -> Message {
    match encoding {
        Encoding::Json => Message::text(document.to_string()),
        Encoding::MsgPack => Message::binary(rmp_serde::to_vec(document).unwrap()),
    }
}

/// A tenant with a service, and a key of the tenant with some permissions; made by the server admin.
pub struct Fixture {
    /// A connection authenticated as the server admin.
    pub admin: Client,
    /// The tenant's id.
    pub tenant_id: String,
    /// The key.
    pub key: ApiKey,
    /// The service.
    pub service: ServiceInfo,
}

impl Fixture {
    /// Creates tenant `tenant_id`, its service `service_name`, and a key with `permissions`.
    pub async fn new(
        server: &TestServer,
        encoding: Encoding,
        tenant_id: &str,
        service_name: &str,
        permissions: &[Permission],
    ) -> Fixture {
        let mut admin = server.admin(encoding).await;
        admin.create_tenant(tenant_id).await;
        let service = admin.create_service(tenant_id, service_name).await;
        let key = admin.create_key(tenant_id, permissions).await;
        Fixture {
            admin,
            tenant_id: tenant_id.to_owned(),
            key,
            service,
        }
    }

    /// A new connection authenticated with the fixture's key.
    pub async fn client(&self, server: &TestServer, encoding: Encoding) -> Client {
        let mut client = server.connect(encoding).await;
        client.authenticate(Some(&self.tenant_id), &self.key.key).await;
        client
    }

    /// The service's id.
    pub fn service_id(&self) -> &str {
        &self.service.service_id
    }
}

/// The error code a reply carries, if it is an `Error`.
pub fn code_of(message: &ServerMessage) -> Option<ErrorCode> {
    match message {
        ServerMessage::Error(e) => Some(e.code),
        _ => None,
    }
}

/// A client on the server's local Unix socket, speaking its length-prefixed JSON frames.
pub struct LocalClient {
    stream: tokio::net::UnixStream,
    frames: commy_proto::LocalFrameBuffer,
    next_id: u64,
}

impl LocalClient {
    /// Connects to `<data-dir>/run/commy.sock`.
    pub async fn connect(data_dir: &Path) -> LocalClient {
        let path = data_dir.join("run").join("commy.sock");
        let stream = guard("connect to the local socket", tokio::net::UnixStream::connect(&path))
            .await
            .unwrap_or_else(|e| panic!("connect to {}: {e}", path.display()));
        LocalClient {
            stream,
            frames: commy_proto::LocalFrameBuffer::default(),
            next_id: 1,
        }
    }

    /// Writes raw bytes, framed or not.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        use tokio::io::AsyncWriteExt;
        self.stream.write_all(bytes).await.expect("write to the local socket");
    }

    /// The next message the server sends; `None` once it closes (or resets) the connection.
    pub async fn recv(&mut self) -> Option<Reply> {
        use tokio::io::AsyncReadExt;
        let mut chunk = [0u8; 4096];
        loop {
            if let Some(frame) = self.frames.next_frame().expect("a frame within the limit") {
                return Some(decode_reply(&frame, Encoding::Json).expect("a decodable reply"));
            }
            let n = guard("a local frame", self.stream.read(&mut chunk))
                .await
                .expect("read");
            if n == 0 {
                return None;
            }
            self.frames.extend(&chunk[..n]);
        }
    }

    /// Sends a request and returns its reply's message.
    pub async fn call(&mut self, message: impl Into<ClientMessage>) -> ServerMessage {
        self.try_call(message).await.expect("a reply before the server closed")
    }

    /// Sends a request and returns its reply's message; `None` if the server closed the connection instead. The
    /// descriptor a `ServiceFilePath` reply carries is not received (the kernel closes it).
    pub async fn try_call(&mut self, message: impl Into<ClientMessage>) -> Option<ServerMessage> {
        use tokio::io::AsyncWriteExt;
        let id = self.next_id;
        self.next_id += 1;
        let Frame::Text(text) = encode_request(&Request::new(id, message), Encoding::Json).unwrap() else {
            panic!("JSON encodes to text")
        };
        self.stream
            .write_all(&commy_proto::encode_local_frame(text.as_bytes()))
            .await
            .ok()?;
        let reply = self.recv().await?;
        // A reply without the request's id: the server refused the connection before reading the request.
        (reply.id == Some(id)).then_some(reply.message)
    }
}
