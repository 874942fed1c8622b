//! A raw protocol WebSocket client that speaks either encoding, request builders, and a tenant-service-key fixture.

use crate::guard;
use crate::server::TestServer;
use commy_proto::{
    decode_reply, encode_request, AllocateVariable, ApiKey, Authenticate, AuthenticationResult, ClientMessage,
    CreateApiKey, CreateService, CreateTenant, Credential, Encoding, ErrorCode, ErrorReply, Frame, Heartbeat,
    ListVariables, Permission, ReadVariable, Reply, Request, ServerMessage, ServiceInfo, Subscribe, Tenant, ValueType,
    VariableChanged, VariableData, VariableInfo, WriteVariable,
};
use futures_util::{SinkExt, StreamExt};
use std::collections::VecDeque;
use std::net::SocketAddr;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// A WebSocket client speaking one encoding. Requests made with [`Client::request`] get ids and have them checked;
/// pushes that arrive while it waits for a reply are kept for [`Client::push`].
#[derive(Debug)]
pub struct Client {
    ws: WebSocketStream<TcpStream>,
    /// The connection's encoding: the chosen subprotocol's, JSON if the server chose none.
    pub encoding: Encoding,
    /// The subprotocol the server chose, if it chose one.
    pub chosen: Option<String>,
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
        let client = Client::handshake_offering(addr, stream, Some(encoding.subprotocol())).await;
        assert_eq!(client.chosen.as_deref(), Some(encoding.subprotocol()));
        client
    }

    /// Connects to `/ws` on `addr`, offering `subprotocol` as given (none if `None`); whatever the server chooses.
    pub async fn offering(addr: SocketAddr, subprotocol: Option<&str>) -> Client {
        let stream = guard("connect", TcpStream::connect(addr)).await.unwrap();
        Client::handshake_offering(addr, stream, subprotocol).await
    }

    /// Opens `/ws` over `stream`, offering `subprotocol` as given (none if `None`).
    pub async fn handshake_offering(addr: SocketAddr, stream: TcpStream, subprotocol: Option<&str>) -> Client {
        let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
        if let Some(subprotocol) = subprotocol {
            request
                .headers_mut()
                .insert("Sec-WebSocket-Protocol", HeaderValue::from_str(subprotocol).unwrap());
        }
        let (ws, response) = guard(
            "the WebSocket handshake",
            tokio_tungstenite::client_async(request, stream),
        )
        .await
        .expect("the WebSocket handshake");
        let chosen = response
            .headers()
            .get("Sec-WebSocket-Protocol")
            .map(|value| value.to_str().unwrap().to_owned());
        let encoding = chosen
            .as_deref()
            .and_then(Encoding::from_subprotocol)
            .unwrap_or(Encoding::Json);
        Client {
            ws,
            encoding,
            chosen,
            next_id: 1,
            pushes: VecDeque::new(),
        }
    }

    /// The WebSocket itself, for tests of the transport.
    pub fn ws(&mut self) -> &mut WebSocketStream<TcpStream> {
        &mut self.ws
    }

    /// Sends `request` as it is and returns the next reply or push.
    pub async fn call(&mut self, request: &Request) -> Reply {
        self.send(request).await;
        self.recv().await
    }

    /// Closes the connection from this side and waits for the server's close frame.
    pub async fn close(mut self) {
        guard("closing", self.ws.close(None)).await.unwrap();
        while let Some(Ok(_)) = guard("the close handshake", self.ws.next()).await {}
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

    /// Sends a request in the connection's encoding; an error once the connection is gone, for tests that outlive
    /// the server.
    pub async fn try_send(&mut self, request: &Request) -> Result<(), tokio_tungstenite::tungstenite::Error> {
        let message = match encode_request(request, self.encoding).unwrap() {
            Frame::Text(text) => Message::text(text),
            Frame::Binary(bytes) => Message::binary(bytes),
        };
        guard("sending", self.ws.send(message)).await
    }

    /// The next reply or push, or `None` once the connection has closed (a close frame, an error or its end).
    pub async fn next_reply(&mut self) -> Option<Reply> {
        loop {
            let bytes = match guard("a message from the server", self.ws.next()).await? {
                Ok(Message::Text(text)) => text.as_bytes().to_vec(),
                Ok(Message::Binary(bytes)) => bytes.to_vec(),
                Ok(Message::Close(_)) | Err(_) => return None,
                Ok(_) => continue,
            };
            return Some(decode_reply(&bytes, self.encoding).expect("a reply in the connection's encoding"));
        }
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
            skip_own_writes: false,
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
#[derive(Debug)]
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
