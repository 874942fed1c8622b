//! The login case: an `Authenticate` round trip (API key) beside a `Heartbeat` round trip, alternating on one raw
//! WebSocket connection to the server, so both pay the same transport and only the server's work differs. A
//! successful login checks the key and records an audit entry; the aim is at most twice a heartbeat.

use super::progress::Progress;
use super::report::{Figure, Row};
use super::stats::percentiles;
use super::{warmup, Target, DEADLINE};
use anyhow::{bail, Context};
use commy_proto::{
    decode_reply, encode_request, Authenticate, ClientMessage, Credential, Encoding, Frame, Heartbeat, Request,
    ServerMessage, SUBPROTOCOL_JSON,
};
use futures_util::{SinkExt, StreamExt};
use std::time::Instant;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Ws = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// One connection to the server's `/ws`, speaking JSON.
struct Connection {
    ws: Ws,
    next_id: u64,
}

impl Connection {
    async fn open(url: &str) -> anyhow::Result<Connection> {
        let ws_url = format!("{}/ws", url.trim_end_matches('/'));
        let mut request = ws_url.as_str().into_client_request()?;
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", SUBPROTOCOL_JSON.parse()?);
        let (ws, _response) = tokio_tungstenite::connect_async_with_config(request, None, true)
            .await
            .with_context(|| format!("cannot connect to {ws_url}"))?;
        Ok(Connection { ws, next_id: 1 })
    }

    /// Sends `message` and waits for its reply; returns the round trip in ns. An error reply is an error.
    async fn round_trip(&mut self, message: ClientMessage) -> anyhow::Result<f64> {
        let id = self.next_id;
        self.next_id += 1;
        let frame = match encode_request(&Request::new(id, message), Encoding::Json)? {
            Frame::Text(text) => Message::Text(text.into()),
            Frame::Binary(bytes) => Message::Binary(bytes.into()),
        };
        let start = Instant::now();
        self.ws.send(frame).await?;
        loop {
            let next = tokio::time::timeout(DEADLINE, self.ws.next()).await;
            let text = match next {
                Ok(Some(Ok(Message::Text(text)))) => text,
                Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
                Ok(other) => bail!("the server answered {other:?}"),
                Err(_) => bail!("no reply within {DEADLINE:?}"),
            };
            let elapsed = start.elapsed().as_nanos() as f64;
            let reply = decode_reply(text.as_bytes(), Encoding::Json)?;
            if reply.id != Some(id) {
                continue;
            }
            return match reply.message {
                ServerMessage::Error(error) => bail!("{:?}: {}", error.code, error.message),
                _ => Ok(elapsed),
            };
        }
    }
}

/// `n` logins and `n` heartbeats, alternating, after a warm-up.
pub(crate) async fn login(target: &Target, n: usize, progress: &Progress) -> anyhow::Result<Row> {
    let mut connection = Connection::open(&target.url).await?;
    let authenticate = || -> ClientMessage {
        Authenticate {
            tenant_id: Some(target.tenant.clone()),
            credential: Credential::ApiKey {
                key: target.key.clone(),
            },
            client_version: "commy-bench".into(),
        }
        .into()
    };
    let heartbeat = || -> ClientMessage { Heartbeat { client_id: None }.into() };
    connection
        .round_trip(authenticate())
        .await
        .context("authentication failed")?;
    let warm = warmup(n);
    let (mut logins, mut beats) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..warm + n {
        let b = connection.round_trip(heartbeat()).await?;
        let l = connection.round_trip(authenticate()).await?;
        if i >= warm {
            beats.push(b);
            logins.push(l);
            progress.tick();
            progress.tick();
        }
    }
    let _ = connection.ws.close(None).await;
    Ok(Row {
        case: "login (Authenticate, API key), round trip",
        figure: Figure::Latency(percentiles(logins)),
        baseline_name: "Heartbeat round trip, same connection",
        baseline: Figure::Latency(percentiles(beats)),
        aim: Some(2.0),
    })
}
