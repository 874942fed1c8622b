//! The remote link: a WebSocket to the server's `/ws`, with the `commy.v1.json` or `commy.v1.msgpack` subprotocol.
//!
//! [`WsLink::connect`] is the one place that turns a URL into a byte stream: TCP, then TLS for a `wss://` URL.

use super::link::Incoming;
use crate::tls::{ClientStream, TlsSetup};
use crate::url::ServerUrl;
use commy_proto::{decode_reply, encode_request, Encoding, Frame, Request};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::WebSocketStream;

/// The link's WebSocket settings: a 4 KiB read buffer, as the server's (`ws_read_buffer_size`). tungstenite zeroes
/// its whole read buffer before every read, 128 KiB by default, a cost per message larger than a small push itself;
/// larger messages are still read whole, a buffer at a time.
fn link_config() -> WebSocketConfig {
    WebSocketConfig::default().read_buffer_size(4 << 10)
}

/// A WebSocket connection to the server.
#[derive(Debug)]
pub(crate) struct WsLink {
    ws: WebSocketStream<ClientStream>,
    encoding: Encoding,
}

impl WsLink {
    pub(crate) async fn connect(url: &ServerUrl, encoding: Encoding, tls: Option<&TlsSetup>) -> Result<WsLink, String> {
        let ws_url = url.websocket();
        let mut request = ws_url
            .as_str()
            .into_client_request()
            .map_err(|e| format!("bad server URL '{ws_url}': {e}"))?;
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            HeaderValue::from_static(encoding.subprotocol()),
        );
        let tcp = TcpStream::connect((url.host(), url.port()))
            .await
            .map_err(|e| format!("cannot connect to {ws_url}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        let stream = match (url.is_tls(), tls) {
            (false, _) => ClientStream::Plain(tcp),
            (true, Some(tls)) => tls
                .connect(url.host(), tcp)
                .await
                .map_err(|e| format!("cannot connect to {ws_url}: {e}"))?,
            (true, None) => return Err(format!("cannot connect to {ws_url}: no TLS settings")),
        };
        let (ws, _response) = tokio_tungstenite::client_async_with_config(request, stream, Some(link_config()))
            .await
            .map_err(|e| match &e {
                WsError::Io(io) => match crate::tls::tls_error(io) {
                    Some(tls) => format!(
                        "cannot connect to {ws_url}: {}",
                        crate::tls::describe_tls_error(url.host(), tls)
                    ),
                    None => format!("cannot connect to {ws_url}: {e}"),
                },
                _ => format!("cannot connect to {ws_url}: {e}"),
            })?;
        Ok(WsLink { ws, encoding })
    }

    pub(crate) async fn send(&mut self, request: &Request) -> Result<(), String> {
        let frame = encode_request(request, self.encoding).map_err(|e| e.to_string())?;
        let message = match frame {
            Frame::Text(text) => Message::text(text),
            Frame::Binary(bytes) => Message::binary(bytes),
        };
        self.ws
            .send(message)
            .await
            .map_err(|e| format!("sending to the server failed: {e}"))
    }

    /// The next message. Cancel-safe.
    pub(crate) async fn recv(&mut self) -> Result<Incoming, String> {
        loop {
            let message = match self.ws.next().await {
                None => return Err("the server closed the connection".into()),
                Some(Err(e)) => return Err(format!("reading from the server failed: {e}")),
                Some(Ok(message)) => message,
            };
            let bytes = match &message {
                Message::Text(text) => text.as_bytes(),
                Message::Binary(bytes) => bytes,
                Message::Close(frame) => {
                    let why = frame
                        .as_ref()
                        .map_or("no reason given".to_owned(), |f| format!("{} ({})", f.reason, f.code));
                    return Err(format!("the server closed the connection: {why}"));
                }
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            };
            let reply = decode_reply(bytes, self.encoding)
                .map_err(|e| format!("the server sent an undecodable message: {e}"))?;
            return Ok(Incoming { reply, fd: None });
        }
    }

    pub(crate) async fn close(&mut self) {
        let _ = self.ws.close(None).await;
    }
}
