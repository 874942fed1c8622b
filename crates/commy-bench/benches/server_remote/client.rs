//! A lean WebSocket client over tokio-tungstenite: the Commy protocol in either encoding, or raw messages for the
//! echo baseline. No timeouts and no bookkeeping beyond what the measurement needs.

use commy_proto::{decode_reply, encode_request, ClientMessage, Encoding, Frame, Reply, Request, ServerMessage};
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

/// The WebSocket settings of the bench's clients and of the echo server: a 4 KiB read buffer, the Commy server's
/// default (`ws_read_buffer_size`). tungstenite zeroes its whole read buffer before every read, 128 KiB by default:
/// a cost per message that neither the Commy server nor the Redis client (an 8 KiB `BufReader`) pays, and that on
/// two vCPUs, with 100 subscribers reading, took a fifth of the clients' time.
pub fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4 << 10)
}

/// One WebSocket connection.
pub struct Conn {
    ws: WebSocketStream<TcpStream>,
    encoding: Encoding,
    next_id: u64,
}

impl Conn {
    /// Connects to the Commy server at `ws://addr/ws`, asking for `encoding`'s subprotocol.
    pub async fn connect(addr: SocketAddr, encoding: Encoding) -> Conn {
        Conn::open(addr, Some(encoding)).await
    }

    /// Connects to the echo server, asking for no subprotocol.
    pub async fn connect_raw(addr: SocketAddr) -> Conn {
        Conn::open(addr, None).await
    }

    async fn open(addr: SocketAddr, encoding: Option<Encoding>) -> Conn {
        let stream = TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).expect("TCP_NODELAY");
        let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
        if let Some(encoding) = encoding {
            request.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                HeaderValue::from_static(encoding.subprotocol()),
            );
        }
        let (ws, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(ws_config()))
            .await
            .expect("the WebSocket handshake");
        Conn {
            ws,
            encoding: encoding.unwrap_or(Encoding::Json),
            next_id: 0,
        }
    }

    /// Sends one raw message.
    pub async fn send_raw(&mut self, message: Message) {
        self.ws.send(message).await.expect("send");
    }

    /// The next data message (text or binary).
    pub async fn next_raw(&mut self) -> Message {
        loop {
            match self.ws.next().await {
                Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => return message,
                Some(Ok(_)) => {}
                other => panic!("the connection ended: {other:?}"),
            }
        }
    }

    /// Sends a request with a fresh id; returns the id.
    pub async fn send(&mut self, message: impl Into<ClientMessage>) -> u64 {
        self.next_id += 1;
        let request = Request::new(self.next_id, message);
        let message = match encode_request(&request, self.encoding).expect("encode") {
            Frame::Text(text) => Message::text(text),
            Frame::Binary(bytes) => Message::binary(bytes),
        };
        self.send_raw(message).await;
        self.next_id
    }

    /// The next reply or push.
    pub async fn recv(&mut self) -> Reply {
        let bytes = match self.next_raw().await {
            Message::Text(text) => text.as_bytes().to_vec(),
            Message::Binary(bytes) => bytes.to_vec(),
            _ => unreachable!("next_raw returns data messages"),
        };
        decode_reply(&bytes, self.encoding).expect("decode")
    }

    /// Sends a request and returns its reply, which must not be an `Error`. Pushes before it are dropped.
    pub async fn call(&mut self, message: impl Into<ClientMessage>) -> ServerMessage {
        let id = self.send(message).await;
        loop {
            let reply = self.recv().await;
            if reply.id != Some(id) {
                continue;
            }
            if let ServerMessage::Error(e) = &reply.message {
                panic!("request failed: {} {}", e.code, e.message);
            }
            return reply.message;
        }
    }
}
